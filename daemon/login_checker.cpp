#include "daemon/login_checker.hpp"

#include <algorithm>
#include <exception>

#include "storage/open_store.hpp"
#include "storage/token_hash.hpp"

namespace callpop::daemon {

namespace {

constexpr const char* stand_in_token = "no agent has this token";

std::int64_t unix_seconds(std::chrono::system_clock::time_point when) {
    return std::chrono::duration_cast<std::chrono::seconds>(when.time_since_epoch()).count();
}

LoginVerdict refused(std::string why) {
    LoginVerdict verdict;
    verdict.refusal = std::move(why);
    return verdict;
}

}  // namespace

LoginChecker::LoginChecker(const config::Config& config, std::string ticket_key,
                           std::size_t threads, WallClock now)
    : storage_settings_(config.storage),
      ticket_ttl_s_(config.sessions.ticket_ttl_s),
      signer_(std::move(ticket_key)),
      now_(std::move(now)),
      stand_in_slow_hash_(storage::hash_token(stand_in_token)),
      stand_in_fast_hash_(storage::hash_generated_token(stand_in_token)),
      stand_in_account_{"", "", domain::AgentRole::agent, stand_in_fast_hash_},
      threads_(threads) {}

LoginChecker::~LoginChecker() { join(); }

void LoginChecker::join() { threads_.join(); }

LoginVerdict LoginChecker::check(storage::AgentAccounts& accounts,
                                 const Credentials& credentials) const {
    const std::int64_t now_s = unix_seconds(now_());
    LoginVerdict verdict = credentials.ticket.empty()
                               ? check_token(accounts, credentials)
                               : check_ticket(accounts, credentials, now_s);
    if (verdict.account) welcome(verdict, now_s);
    return verdict;
}

LoginVerdict LoginChecker::check_token(storage::AgentAccounts& accounts,
                                       const Credentials& credentials) const {
    auto found = accounts.agent(credentials.agent);
    const bool generated_shape = storage::looks_generated(credentials.token);
    // What to verify against. An account's own hash, but for an unknown agent, or a token
    // its (generated, fast) hash can never match, a stand-in that costs what an unknown
    // agent would: the answer takes as long either way.
    const std::string* against = nullptr;
    if (found && (generated_shape || storage::is_slow_hash(found->token_hash)))
        against = &found->token_hash;
    else
        against = generated_shape ? &stand_in_fast_hash_ : &stand_in_slow_hash_;
    const bool own_hash = found && against == &found->token_hash;
    if (storage::verify_token(credentials.token, *against) && own_hash) {
        LoginVerdict verdict;
        verdict.account = std::move(found);
        return verdict;
    }
    return refused("wrong token");
}

LoginVerdict LoginChecker::check_ticket(storage::AgentAccounts& accounts,
                                        const Credentials& credentials,
                                        std::int64_t now_s) const {
    if (ticket_ttl_s_ == 0) return refused("tickets are off");
    const auto claim = storage::parse_ticket(credentials.ticket);
    // Another agent's ticket, or text that is not one, is refused on its face: nothing
    // about the account is looked at.
    if (!claim || claim->agent != credentials.agent) return refused("bad ticket");
    auto found = accounts.agent(credentials.agent);
    // Signed for the account as it is now: its role and token unchanged since.
    if (!signer_.signed_for(*claim, found ? *found : stand_in_account_) || !found)
        return refused("bad ticket");
    // A ticket from before sessions.ticket_ttl_s was lowered lasts no longer than the new one.
    if (claim->expires_at <= now_s || claim->expires_at > now_s + ticket_ttl_s_)
        return refused("expired ticket");
    LoginVerdict verdict;
    verdict.account = std::move(found);
    return verdict;
}

void LoginChecker::welcome(LoginVerdict& verdict, std::int64_t now_s) const {
    if (ticket_ttl_s_ == 0) return;
    const std::int64_t expires_at = now_s + ticket_ttl_s_;
    verdict.ticket = protocol::ResumeTicket{
        signer_.issue(*verdict.account, expires_at),
        std::chrono::system_clock::time_point(std::chrono::seconds(expires_at))};
}

void LoginChecker::check_later(Credentials credentials, std::function<bool()> wanted,
                               std::function<void(LoginVerdict)> done) {
    asio::post(threads_, [this, credentials = std::move(credentials), wanted = std::move(wanted),
                          done = std::move(done)] {
        if (!wanted()) return;
        LoginVerdict verdict;
        try {
            auto store = borrow_store();
            verdict = check(*store, credentials);
            give_back(std::move(store));
        } catch (const std::exception& error) {
            verdict = refused(error.what());
            verdict.store_failed = true;
        }
        done(std::move(verdict));
    });
}

std::unique_ptr<storage::Store> LoginChecker::borrow_store() {
    {
        const std::lock_guard lock(stores_mutex_);
        if (!idle_stores_.empty()) {
            auto store = std::move(idle_stores_.back());
            idle_stores_.pop_back();
            return store;
        }
    }
    return storage::open_store(storage_settings_);
}

void LoginChecker::give_back(std::unique_ptr<storage::Store> store) {
    const std::lock_guard lock(stores_mutex_);
    idle_stores_.push_back(std::move(store));
}

LoginGate::LoginGate(const asio::any_io_executor& executor, std::size_t limit,
                     Clock::duration hold)
    : limit_(std::max<std::size_t>(1, limit)), hold_(hold), wake_(executor) {}

bool LoginGate::has_room(Clock::time_point now) {
    while (!logging_in_.empty() && now - logging_in_.front().second >= hold_)
        logging_in_.pop_front();
    return logging_in_.size() < limit_;
}

void LoginGate::wait_in_line(std::unique_ptr<SessionTransport> connection) {
    if (closed_) return;
    line_.push_back(std::move(connection));
    wake_.cancel();
}

awaitable<void> LoginGate::next() {
    while (!closed_ && !(has_room(Clock::now()) && !line_.empty())) {
        // Until a connection comes, a slot frees (settled()), or the oldest stops counting.
        if (line_.empty() || logging_in_.empty()) {
            wake_.expires_at(Clock::time_point::max());
        } else {
            wake_.expires_at(logging_in_.front().second + hold_);
        }
        boost::system::error_code ignored;
        co_await wake_.async_wait(asio::redirect_error(use_awaitable, ignored));
    }
}

std::unique_ptr<SessionTransport> LoginGate::take() {
    if (closed_ || line_.empty() || !has_room(Clock::now())) return nullptr;
    auto connection = std::move(line_.front());
    line_.pop_front();
    return connection;
}

void LoginGate::entered(const void* connection) {
    logging_in_.emplace_back(connection, Clock::now());
}

void LoginGate::settled(const void* connection) {
    const auto found = std::find_if(logging_in_.begin(), logging_in_.end(),
                                    [&](const auto& entry) { return entry.first == connection; });
    if (found == logging_in_.end()) return;
    logging_in_.erase(found);
    wake_.cancel();
}

void LoginGate::close() {
    closed_ = true;
    line_.clear();
    wake_.cancel();
}

}  // namespace callpop::daemon
