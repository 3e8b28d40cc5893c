// PeerLink on a real PostgreSQL server (tests/support/postgres_cluster.hpp): what it tells
// the loop when its link is made and made again, and what health() says of it.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "daemon/peers/peer_link.hpp"
#include "storage/open_store.hpp"
#include "storage/postgresql/connection.hpp"
#include "storage_test_support.hpp"

using callpop::daemon::PeerLink;
using callpop::storage::BusMessage;

namespace peer_link_test {

// Runs the loop until `done` holds; fails the test after ten seconds.
template <typename Condition>
void run_until(boost::asio::io_context& loop, Condition done, const char* what) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
        REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "waited 10 s for " << what);
        loop.restart();
        loop.run_for(std::chrono::milliseconds(20));
        // run_for() returns at once when nothing is posted yet: the link's thread posts.
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}


TEST_CASE("peer link: tells the loop each time it is made, counts the outage when the server "
          "ends it, and hears the others again") {
    const callpop::test::TempDir dir;
    const auto settings = callpop::test::PostgresBackend::settings(dir);
    boost::asio::io_context loop;
    std::vector<std::string> heard;
    int connections = 0;
    PeerLink link(
        settings, {"callpop_test"}, loop.get_executor(),
        [&](const BusMessage& message) { heard.push_back(message.payload); },
        [&] { ++connections; });
    run_until(loop, [&] { return connections == 1; }, "the first connection");
    auto health = link.health();
    CHECK(health.connected);
    CHECK(health.outages == 0);
    CHECK(health.dropped == 0);
    CHECK(health.last_error.empty());

    const auto other = callpop::storage::open_bus(settings);
    callpop::test::publish_and_wait(*other, "callpop_test", {"before"});
    run_until(loop, [&] { return heard.size() == 1; }, "the message before");

    // The server ends the link's session, as a restart does: the link is made again, and the
    // loop told so, since whatever was said meanwhile was not heard.
    callpop::storage::postgresql::Connection admin(settings.conninfo);
    CHECK(admin.query("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                      "datname = current_database() AND query LIKE 'LISTEN%' AND "
                      "pid <> pg_backend_pid()")
              .integer(0, 0) == 1);
    run_until(loop, [&] { return connections == 2; }, "the link made again");
    health = link.health();
    CHECK(health.connected);
    CHECK(health.outages == 1);
    INFO("last error: " << health.last_error);
    CHECK_FALSE(health.last_error.empty());

    callpop::test::publish_and_wait(*other, "callpop_test", {"after"});
    run_until(loop, [&] { return heard.size() == 2; }, "the message after");
    CHECK(heard == std::vector<std::string>{"before", "after"});
}

TEST_CASE("peer link: a long run reaches the others whole and in order; after an outage it "
          "says since when what it published may have been missed") {
    const callpop::test::TempDir dir;
    const auto settings = callpop::test::PostgresBackend::settings(dir);
    boost::asio::io_context loop;
    int connections = 0;
    PeerLink link(
        settings, {"callpop_test"}, loop.get_executor(), [](const BusMessage&) {},
        [&] { ++connections; });
    run_until(loop, [&] { return connections == 1; }, "the first connection");
    const auto other = callpop::storage::open_bus(settings);
    other->listen("callpop_test");

    // More than one publish holds: sent in parts, each in order.
    const auto before_run = std::chrono::steady_clock::now();
    constexpr int messages = 700;
    for (int index = 0; index < messages; ++index)
        link.publish("callpop_test", "m" + std::to_string(index));
    std::vector<std::string> heard;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (heard.size() < messages && std::chrono::steady_clock::now() < deadline) {
        for (auto& message : other->receive()) heard.push_back(std::move(message.payload));
        // The link sends on the loop, a run once the one before is answered.
        loop.restart();
        loop.run_for(std::chrono::milliseconds(5));
    }
    REQUIRE(heard.size() == messages);
    for (int index = 0; index < messages; ++index) CHECK(heard[index] == "m" + std::to_string(index));
    // The answer to the last publish read too.
    loop.restart();
    loop.run_for(std::chrono::milliseconds(300));

    // The link's session ends after all of it went out: what may have been missed is what
    // was published from the last send on, not before the run.
    callpop::storage::postgresql::Connection admin(settings.conninfo);
    CHECK(admin.query("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                      "datname = current_database() AND query LIKE 'SELECT pg_notify%' AND "
                      "pid <> pg_backend_pid()")
              .integer(0, 0) == 1);
    run_until(loop, [&] { return connections == 2; }, "the link made again");
    const auto health = link.health();
    CHECK(health.outages == 1);
    CHECK(health.missed_since >= before_run);
    CHECK(health.missed_since <= std::chrono::steady_clock::now());
}

TEST_CASE("peer link: a message that comes right after the answer to its publish is heard") {
    const callpop::test::TempDir dir;
    const auto settings = callpop::test::PostgresBackend::settings(dir);
    boost::asio::io_context loop;
    std::vector<std::string> heard;
    int connections = 0;
    PeerLink link(
        settings, {"callpop_test"}, loop.get_executor(),
        [&](const BusMessage& message) { heard.push_back(message.payload); },
        [&] { ++connections; });
    run_until(loop, [&] { return connections == 1; }, "the first connection");
    const auto other = callpop::storage::open_bus(settings);
    // The link's publish is answered while the loop does not run; then the other's message
    // comes, in the same read as that answer: reading the answer reads it too, and the
    // socket never turns readable for it again.
    link.publish("callpop_test", "mine");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    callpop::test::publish_and_wait(*other, "callpop_test", {"theirs"});
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    run_until(loop, [&] { return !heard.empty(); }, "the other's message");
    CHECK(heard == std::vector<std::string>{"theirs"});
}

}  // namespace peer_link_test
