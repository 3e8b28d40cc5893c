#pragma once
// Checks agent logins: a token against the account's stored hash, or a resume ticket, and
// makes the ticket the welcome hands out. Checks run on the checker's own threads, each
// with its own connection to the store, so that neither the account lookup nor a slow hash
// (PBKDF2, for tokens people chose) ever runs on the event loop.
//
// How long a check takes does not tell whether the agent exists: an unknown agent is
// checked against a stand-in of the kind the presented token would need (SHA-256 for the
// shape of a generated token, PBKDF2 for any other), and a token that cannot be an
// account's generated token costs the PBKDF2 stand-in too. What the time can still tell is
// that an account with a chosen (PBKDF2) token exists, to someone who sends it a token of
// the generated shape.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "daemon/net/session_transport.hpp"
#include "daemon/net/asio.hpp"
#include "protocol/agent_message.hpp"
#include "storage/agent_accounts.hpp"
#include "storage/resume_ticket.hpp"
#include "storage/store.hpp"

namespace callpop::daemon {

// What a login presents: the agent and its token, or a resume ticket.
struct Credentials {
    std::string agent;
    std::string token;
    std::string ticket;
};

struct LoginVerdict {
    std::optional<storage::AgentAccount> account;  // set: the login is good
    std::optional<protocol::ResumeTicket> ticket;   // for the welcome; none when tickets are off
    // Why not, for the daemon's log (the client is told less): "wrong token", "bad ticket",
    // "expired ticket", "tickets are off"; or the store's error, with store_failed.
    std::string refusal;
    bool store_failed = false;
};

class LoginChecker {
public:
    using WallClock = std::function<std::chrono::system_clock::time_point()>;

    // `ticket_key`: the store's (storage::AgentAccounts::ticket_key()). `threads`: how many
    // checks run at once, each thread opening its own store connection when it first needs
    // one. `now` is the clock tickets are issued and checked by.
    LoginChecker(const config::Config& config, std::string ticket_key, std::size_t threads,
                 WallClock now = &std::chrono::system_clock::now);
    ~LoginChecker();
    LoginChecker(const LoginChecker&) = delete;
    LoginChecker& operator=(const LoginChecker&) = delete;

    // The whole check against `accounts`, on the calling thread.
    LoginVerdict check(storage::AgentAccounts& accounts, const Credentials& credentials) const;

    // check() on the checker's threads; `done` is called there, with the verdict. `wanted`
    // is asked first: a client that went away while its check waited costs nothing more.
    void check_later(Credentials credentials, std::function<bool()> wanted,
                     std::function<void(LoginVerdict)> done);

    // Waits for the checks already queued, then stops the threads.
    void join();

private:
    LoginVerdict check_token(storage::AgentAccounts& accounts,
                             const Credentials& credentials) const;
    LoginVerdict check_ticket(storage::AgentAccounts& accounts, const Credentials& credentials,
                              std::int64_t now_s) const;
    void welcome(LoginVerdict& verdict, std::int64_t now_s) const;
    std::unique_ptr<storage::Store> borrow_store();
    void give_back(std::unique_ptr<storage::Store> store);

    config::Storage storage_settings_;
    std::int64_t ticket_ttl_s_;
    storage::TicketSigner signer_;
    WallClock now_;
    std::string stand_in_slow_hash_;  // for unknown agents: PBKDF2 ...
    std::string stand_in_fast_hash_;  // ... or SHA-256, as the token presented would need
    storage::AgentAccount stand_in_account_;  // for tickets naming an unknown agent
    std::mutex stores_mutex_;
    std::vector<std::unique_ptr<storage::Store>> idle_stores_;  // one per thread at most
    asio::thread_pool threads_;
};

// How many agent connections may be logging in at once. Every connection costs the loop an
// accept, a session, a read, a welcome to write: a reconnect storm (thousands of terminals
// coming back after a restart) let in all at once would queue seconds of that work ahead
// of the switch events, and the pops would wait behind it. So the agent listener accepts
// eagerly, which keeps the kernel's backlog from overflowing (a refused connection is
// retried only a second later), and connections wait in line here until there is room. A
// connection stops counting once it is logged in or closed (settled), or after `hold` in
// any case, so that clients who connect and say nothing cannot keep the door shut.
class LoginGate {
public:
    using Clock = std::chrono::steady_clock;

    LoginGate(const asio::any_io_executor& executor, std::size_t limit, Clock::duration hold);

    // A connection accepted (on the agent port, or a browser's WebSocket), to start when
    // there is room.
    void wait_in_line(std::unique_ptr<SessionTransport> connection);
    // Returns once there is room and a connection waiting, or once closed.
    awaitable<void> next();
    // The next connection whose turn it is, if any; it counts as logging in from now.
    std::unique_ptr<SessionTransport> take();
    void entered(const void* connection);
    void settled(const void* connection);
    // Drops the waiting connections and lets next() return at once, from now on (the
    // daemon is stopping).
    void close();
    bool closed() const { return closed_; }

private:
    bool has_room(Clock::time_point now);

    std::size_t limit_;
    Clock::duration hold_;
    asio::steady_timer wake_;
    std::deque<std::unique_ptr<SessionTransport>> line_;
    // Connections logging in, oldest first; identity only.
    std::deque<std::pair<const void*, Clock::time_point>> logging_in_;
    bool closed_ = false;
};

}  // namespace callpop::daemon
