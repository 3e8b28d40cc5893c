// LoginChecker: tokens of both kinds, resume tickets, and checks on its own threads, on a
// real store and a clock the test sets.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <atomic>
#include <future>

#include "daemon/login_checker.hpp"
#include "daemon/net/socket_transport.hpp"
#include "storage/open_store.hpp"
#include "storage/token_hash.hpp"
#include "storage_test_support.hpp"

using callpop::daemon::Credentials;
using callpop::daemon::LoginChecker;
using callpop::daemon::LoginVerdict;
using callpop::domain::AgentRole;
namespace storage = callpop::storage;
namespace config = callpop::config;

namespace {

using Time = std::chrono::system_clock::time_point;
constexpr std::int64_t start_s = 1'800'000'000;

// A store with a generated-token agent (1001), a chosen-token agent (1002, PBKDF2 at 1000
// iterations, as stored before generated tokens) and a supervisor (super, generated).
struct Logins {
    callpop::test::TempDir dir;
    config::Config config;
    std::unique_ptr<storage::Store> store;
    std::string token_1001 = storage::generate_token();
    std::string token_super = storage::generate_token();
    Time now{std::chrono::seconds(start_s)};
    std::unique_ptr<LoginChecker> checker;

    explicit Logins(std::uint32_t ticket_ttl_s = 3600) {
        config.storage.path = (dir / "callpop.db").string();
        config.sessions.ticket_ttl_s = ticket_ttl_s;
        store = storage::open_store(config.storage);
        store->put_agent(
            {"1001", "Alex", AgentRole::agent, storage::hash_generated_token(token_1001)});
        store->put_agent({"1002", "Sam", AgentRole::agent, storage::hash_token("chosen", 1000)});
        store->put_agent(
            {"super", "Kim", AgentRole::supervisor, storage::hash_generated_token(token_super)});
        checker = std::make_unique<LoginChecker>(config, store->ticket_key(), 1,
                                                 [this] { return now; });
    }

    LoginVerdict with_token(const std::string& agent, const std::string& token) {
        return checker->check(*store, Credentials{agent, token, ""});
    }
    LoginVerdict with_ticket(const std::string& agent, const std::string& ticket) {
        return checker->check(*store, Credentials{agent, "", ticket});
    }
    std::string ticket_of(const std::string& agent, const std::string& token) {
        const auto verdict = with_token(agent, token);
        REQUIRE(verdict.account);
        REQUIRE(verdict.ticket);
        return verdict.ticket->ticket;
    }
};

}  // namespace

TEST_CASE("logins: a generated token and a chosen one log in, and each login gets a ticket") {
    Logins logins;
    const auto generated = logins.with_token("1001", logins.token_1001);
    REQUIRE(generated.account);
    CHECK(generated.account->id == "1001");
    CHECK(generated.account->role == AgentRole::agent);
    REQUIRE(generated.ticket);
    CHECK(generated.ticket->ticket.substr(0, 16) == "1001." + std::to_string(start_s + 3600) + ".");
    CHECK(generated.ticket->expires == logins.now + std::chrono::seconds(3600));

    const auto chosen = logins.with_token("1002", "chosen");
    REQUIRE(chosen.account);
    CHECK(chosen.account->name == "Sam");
    CHECK(chosen.ticket);

    const auto supervisor = logins.with_token("super", logins.token_super);
    REQUIRE(supervisor.account);
    CHECK(supervisor.account->role == AgentRole::supervisor);
}

TEST_CASE("logins: wrong tokens and unknown agents are refused alike") {
    Logins logins;
    auto refused = [&](const std::string& agent, const std::string& token) {
        const auto verdict = logins.with_token(agent, token);
        CHECK_FALSE(verdict.account);
        CHECK_FALSE(verdict.ticket);
        CHECK_FALSE(verdict.store_failed);
        return verdict.refusal;
    };
    CHECK(refused("1001", storage::generate_token()) == "wrong token");
    CHECK(refused("1001", "chosen") == "wrong token");  // a token of the other kind
    CHECK(refused("1001", logins.token_super) == "wrong token");  // another agent's
    CHECK(refused("1002", "Chosen") == "wrong token");
    CHECK(refused("1002", logins.token_1001) == "wrong token");
    CHECK(refused("nobody", logins.token_1001) == "wrong token");
    CHECK(refused("nobody", "chosen") == "wrong token");
}

TEST_CASE("logins: a ticket logs its agent in until it expires, and brings a new one") {
    Logins logins;
    const auto ticket = logins.ticket_of("1001", logins.token_1001);

    logins.now += std::chrono::seconds(3599);
    const auto resumed = logins.with_ticket("1001", ticket);
    REQUIRE(resumed.account);
    CHECK(resumed.account->id == "1001");
    REQUIRE(resumed.ticket);
    CHECK(resumed.ticket->expires == logins.now + std::chrono::seconds(3600));
    CHECK(resumed.ticket->ticket != ticket);

    logins.now += std::chrono::seconds(1);
    const auto expired = logins.with_ticket("1001", ticket);
    CHECK_FALSE(expired.account);
    CHECK(expired.refusal == "expired ticket");
    // The one it brought still works.
    CHECK(logins.with_ticket("1001", resumed.ticket->ticket).account);

    // A chosen token's agent resumes the same way, with no slow hash.
    const auto sams = logins.ticket_of("1002", "chosen");
    CHECK(logins.with_ticket("1002", sams).account);
}

TEST_CASE("logins: tampered tickets, another agent's, and tickets of changed accounts are refused") {
    Logins logins;
    const auto ticket = logins.ticket_of("1001", logins.token_1001);
    auto refusal = [&](const std::string& agent, const std::string& presented) {
        const auto verdict = logins.with_ticket(agent, presented);
        CHECK_FALSE(verdict.account);
        CHECK_FALSE(verdict.ticket);
        return verdict.refusal;
    };

    SUBCASE("a changed MAC") {
        std::string tampered = ticket;
        tampered.back() = tampered.back() == '0' ? '1' : '0';
        CHECK(refusal("1001", tampered) == "bad ticket");
    }
    SUBCASE("a later expiry") {
        CHECK(refusal("1001", "1001." + std::to_string(start_s + 3000) + ticket.substr(15)) ==
              "bad ticket");
    }
    SUBCASE("presented by another agent, or made over for it") {
        CHECK(refusal("1002", ticket) == "bad ticket");
        CHECK(refusal("1002", "1002" + ticket.substr(4)) == "bad ticket");
    }
    SUBCASE("not a ticket") {
        CHECK(refusal("1001", "1001") == "bad ticket");
        CHECK(refusal("1001", logins.token_1001) == "bad ticket");
    }
    SUBCASE("the agent's token was changed since") {
        logins.store->put_agent({"1001", "Alex", AgentRole::agent,
                                 storage::hash_generated_token(storage::generate_token())});
        CHECK(refusal("1001", ticket) == "bad ticket");
    }
    SUBCASE("the agent's role was changed since") {
        logins.store->put_agent({"1001", "Alex", AgentRole::supervisor,
                                 logins.store->agent("1001")->token_hash});
        CHECK(refusal("1001", ticket) == "bad ticket");
    }
    SUBCASE("the agent is gone") {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open(logins.config.storage.path.c_str(), &db) == SQLITE_OK);
        CHECK(sqlite3_exec(db, "DELETE FROM agents WHERE id = '1001'", nullptr, nullptr,
                           nullptr) == SQLITE_OK);
        sqlite3_close(db);
        CHECK(refusal("1001", ticket) == "bad ticket");
    }
}

TEST_CASE("logins: a ticket longer-lived than sessions.ticket_ttl_s now allows counts as expired") {
    Logins logins;
    const auto ticket = logins.ticket_of("1001", logins.token_1001);  // one hour
    config::Config shorter = logins.config;
    shorter.sessions.ticket_ttl_s = 600;
    LoginChecker checker(shorter, logins.store->ticket_key(), 1, [&] { return logins.now; });
    CHECK(checker.check(*logins.store, {"1001", "", ticket}).refusal == "expired ticket");
    const auto fresh = checker.check(*logins.store, {"1001", logins.token_1001, ""});
    REQUIRE(fresh.ticket);
    CHECK(checker.check(*logins.store, {"1001", "", fresh.ticket->ticket}).account);
}

TEST_CASE("logins: with ticket_ttl_s 0 there are no tickets") {
    Logins logins(0);
    const auto verdict = logins.with_token("1001", logins.token_1001);
    REQUIRE(verdict.account);
    CHECK_FALSE(verdict.ticket);
    CHECK(logins.with_ticket("1001", "1001.1800003600." + std::string(64, '0')).refusal ==
          "tickets are off");
}

TEST_CASE("logins: checks run on the checker's threads, with their own store connection") {
    Logins logins;
    std::promise<LoginVerdict> good;
    std::promise<LoginVerdict> bad;
    logins.checker->check_later({"1001", logins.token_1001, ""}, [] { return true; },
                                [&](LoginVerdict verdict) { good.set_value(std::move(verdict)); });
    logins.checker->check_later({"1002", "wrong", ""}, [] { return true; },
                                [&](LoginVerdict verdict) { bad.set_value(std::move(verdict)); });
    std::atomic<bool> unwanted_done{false};
    logins.checker->check_later({"1001", logins.token_1001, ""}, [] { return false; },
                                [&](const LoginVerdict&) { unwanted_done = true; });
    auto good_future = good.get_future();
    auto bad_future = bad.get_future();
    REQUIRE(good_future.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    REQUIRE(bad_future.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    const auto good_verdict = good_future.get();
    CHECK(good_verdict.account);
    CHECK(good_verdict.ticket);
    CHECK(bad_future.get().refusal == "wrong token");
    logins.checker->join();
    CHECK_FALSE(unwanted_done);
}

TEST_CASE("logins: a store the threads cannot open fails the check, not the daemon") {
    Logins logins;
    config::Config broken = logins.config;
    broken.storage.path = logins.dir.path().string();  // a directory: SQLite cannot open it
    LoginChecker checker(broken, logins.store->ticket_key(), 1);
    std::promise<LoginVerdict> result;
    checker.check_later({"1001", logins.token_1001, ""}, [] { return true; },
                        [&](LoginVerdict verdict) { result.set_value(std::move(verdict)); });
    auto future = result.get_future();
    REQUIRE(future.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    const auto verdict = future.get();
    CHECK_FALSE(verdict.account);
    CHECK(verdict.store_failed);
    CHECK_FALSE(verdict.refusal.empty());
}

// ---- the gate ------------------------------------------------------------------------------

namespace {

using callpop::daemon::LoginGate;
namespace asio = boost::asio;

// Takes every connection the gate lets through now; each counts as logging in.
std::size_t take_all(LoginGate& gate, std::vector<int>& ids, int& next_id) {
    std::size_t taken = 0;
    while (auto socket = gate.take()) {
        ids.push_back(next_id++);
        gate.entered(&ids.back());
        ++taken;
    }
    return taken;
}

}  // namespace

TEST_CASE("login gate: at most `limit` connections log in at once; the rest wait their turn") {
    asio::io_context io;
    LoginGate gate(io.get_executor(), 2, std::chrono::seconds(60));
    for (int i = 0; i < 5; ++i) gate.wait_in_line(callpop::daemon::socket_transport(asio::ip::tcp::socket(io)));
    std::vector<int> ids;
    ids.reserve(16);
    int next_id = 0;
    CHECK(take_all(gate, ids, next_id) == 2);
    // One logs in: one more may start.
    gate.settled(&ids[0]);
    CHECK(take_all(gate, ids, next_id) == 1);
    // One closes without logging in: the same.
    gate.settled(&ids[1]);
    CHECK(take_all(gate, ids, next_id) == 1);
    // Settling one that no longer counts changes nothing.
    gate.settled(&ids[0]);
    CHECK(take_all(gate, ids, next_id) == 0);
    gate.settled(&ids[2]);
    CHECK(take_all(gate, ids, next_id) == 1);
    CHECK(take_all(gate, ids, next_id) == 0);  // the line is empty
}

TEST_CASE("login gate: a connection that says nothing stops counting after the hold") {
    asio::io_context io;
    LoginGate gate(io.get_executor(), 1, std::chrono::milliseconds(50));
    gate.wait_in_line(callpop::daemon::socket_transport(asio::ip::tcp::socket(io)));
    gate.wait_in_line(callpop::daemon::socket_transport(asio::ip::tcp::socket(io)));
    std::vector<int> ids;
    ids.reserve(4);
    int next_id = 0;
    CHECK(take_all(gate, ids, next_id) == 1);
    // next() waits for the silent one's hold to pass, then lets the second in.
    bool admitted = false;
    const auto started = std::chrono::steady_clock::now();
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            co_await gate.next();
            admitted = take_all(gate, ids, next_id) == 1;
        },
        asio::detached);
    io.run_for(std::chrono::seconds(5));
    CHECK(admitted);
    CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(50));
}

TEST_CASE("login gate: next() wakes for a new connection, and at once when closed") {
    asio::io_context io;
    LoginGate gate(io.get_executor(), 4, std::chrono::seconds(60));
    int woken = 0;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            co_await gate.next();  // nobody in line yet: waits
            ++woken;
            CHECK(gate.take());
            co_await gate.next();  // waits again, until closed
            ++woken;
        },
        asio::detached);
    io.poll();
    CHECK(woken == 0);
    gate.wait_in_line(callpop::daemon::socket_transport(asio::ip::tcp::socket(io)));
    io.poll();
    CHECK(woken == 1);
    gate.wait_in_line(callpop::daemon::socket_transport(asio::ip::tcp::socket(io)));
    gate.close();
    io.poll();
    CHECK(woken == 2);
    CHECK(gate.closed());
    CHECK_FALSE(gate.take());  // closing dropped the line
}
