// Faults of daemons sharing a PostgreSQL database: the database restarted under load while
// calls flow through two daemons, and one daemon killed (-9) in the middle of a burst of
// outcomes. What the agents were told and what the store holds must agree: every call
// logged once, every acknowledged outcome committed.
#include <doctest/doctest.h>

#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "peers_support.hpp"
#include "storage/postgresql/connection.hpp"
#include "support/postgres_cluster.hpp"
#include "support/wait_until.hpp"

using namespace callpop::test;

namespace peer_faults_test {

Daemon::Options sharing(const std::string& conninfo, const std::string& daemon_name) {
    Daemon::Options options = on_database(conninfo, daemon_name);
    options.extra_config = without_missed_call_followups;  // only the switches' records
    return options;
}

// Calls of `prefix` whose records of one kind are not exactly one, as "call kind count"
// lines: empty when each call's ring and hangup (or other kinds) are in the log once.
std::string logged_more_than_once(const std::string& conninfo, const std::string& prefix) {
    callpop::storage::postgresql::Connection db(conninfo);
    const auto rows = db.query(
        "SELECT call_id, kind, count(*) FROM call_log WHERE call_id LIKE $1 "
        "GROUP BY call_id, kind HAVING count(*) <> 1 ORDER BY call_id, kind",
        {prefix + "%"});
    std::string found;
    for (int row = 0; row < rows.rows(); ++row)
        found += std::string(rows.text(row, 0)) + " " + std::string(rows.text(row, 1)) + " " +
                 std::string(rows.text(row, 2)) + "\n";
    return found;
}

// The body of GET /metrics on the daemon's web port.
std::string metrics_of(const Daemon& daemon) {
    Client web(daemon.http_port());
    web.send_raw("GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    const std::string reply = web.read_until_closed(10s);
    REQUIRE_MESSAGE(reply.rfind("HTTP/1.1 200", 0) == 0, reply);
    return reply.substr(reply.find("\r\n\r\n") + 4);
}

// GET /healthz on the daemon's web port: the status line and the body.
std::string health_of(const Daemon& daemon) {
    Client web(daemon.http_port());
    web.send_raw("GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    const std::string reply = web.read_until_closed(10s);
    return reply.substr(0, reply.find("\r\n")) + "\n" + reply.substr(reply.find("\r\n\r\n") + 4);
}

// `callpop status` as the tests' supervisor, of the daemon.
std::vector<std::string> status_command(const Daemon& daemon) {
    return {"status", "--config", daemon.config_path().string(), "--port",
            std::to_string(daemon.agent_port()), "--user", "super", "--token", "boss"};
}

// Asks until `done` holds for the daemon's status, for at most `timeout`; the last answer.
template <typename Condition>
json status_once(Client& supervisor, Condition done, std::chrono::milliseconds timeout,
                 const std::string& what) {
    json status;
    wait_until([&] {
        status = ask_status(supervisor);
        return done(status);
    }, timeout, what);
    return status;
}

// `calls` calls `<prefix>0`, `<prefix>1`, ... rung at 1001 and hung up, sent in one write.
void ring_and_hang_up(Client& pbx, const std::string& prefix, int calls) {
    std::string events;
    for (int call = 0; call < calls; ++call) {
        const std::string id = prefix + std::to_string(call);
        events += ring(id, "+15550102000", "1001").dump() + "\n" +
                  json{{"event", "hangup"}, {"call", id}}.dump() + "\n";
    }
    pbx.send_raw(events);
}


TEST_CASE("peer faults: PostgreSQL restarted under load: the switch's own daemon keeps popping, "
          "its writes wait and are flushed once each, status and /metrics show the outage, and "
          "the daemons hear each other again") {
    // A server of the test's own: it is stopped and started again below.
    const auto cluster = PostgresCluster::of_its_own();
    const std::string conninfo = cluster->fresh_database();
    auto east_options = sharing(conninfo, "east");
    // A small memory queue: the outage's records go through the spool too.
    east_options.writer_queue_max = 20;
    east_options.http = "";
    Daemon east(east_options);
    Daemon west(sharing(conninfo, "west"));
    east.start();
    west.start();
    Client agent_east(east.agent_port());
    login(agent_east, "1001", "secret-1001", {"1001"});
    Client agent_west(west.agent_port());
    login(agent_west, "1002", "secret-1002", {"1002"});
    // Logged in before the outage: a login needs the store.
    Client status_east(east.agent_port());
    login(status_east, "super", "boss");
    Client status_west(west.agent_port());
    login(status_west, "super", "boss");
    Client tail_west(west.agent_port());
    follow_call_log(tail_west);
    Client pbx(east.switch_port());

    // Before: a call of east's switch pops on both daemons and is answered at east.
    json both = ring("c-before", "+15550102000", "1001");
    both["ext"] = {"1001", "1002"};
    pbx.send(both);
    CHECK(agent_east.expect("pop")["customer"]["name"] == "Pat Doe");
    CHECK(agent_west.expect("pop")["call"] == "c-before");
    pbx.send({{"event", "answer"}, {"call", "c-before"}, {"ext", "1001"}});
    pbx.send({{"event", "hangup"}, {"call", "c-before"}});
    expect_log(tail_west, "hangup", "c-before");
    const json before = ask_status(status_east);
    CHECK(before["store"] == json{{"up", true}, {"outages", 0}, {"last_error", nullptr}});
    CHECK(before["peer_link"]["connected"] == true);
    CHECK(before["peer_link"]["outages"] == 0);

    // A call ringing for west's agent as the link goes down.
    pbx.send(ring("c-gone", "+15550102000", "1002"));
    CHECK(agent_west.expect("pop")["call"] == "c-gone");

    // Under load: a burst is on its way to the store as the server stops.
    constexpr int burst_calls = 100;
    ring_and_hang_up(pbx, "c-load-", burst_calls);
    cluster->stop_server();
    for (int call = 0; call < burst_calls; ++call)
        CHECK(agent_east.expect("pop", 15s)["call"] == "c-load-" + std::to_string(call));

    // While the link is down, a call rings for west's agent, and the one it had ends: west
    // cannot hear of either yet.
    pbx.send(ring("c-unheard", "+15550102000", "1002"));
    pbx.send({{"event", "hangup"}, {"call", "c-gone"}});

    // While the database is down the switch's own daemon pops, with what the switch said.
    constexpr int outage_calls = 40;
    ring_and_hang_up(pbx, "c-down-", outage_calls);
    for (int call = 0; call < outage_calls; ++call) {
        const json pop = agent_east.expect("pop", 15s);
        CHECK(pop["call"] == "c-down-" + std::to_string(call));
        CHECK(pop["caller"]["number"] == "+15550102000");
        CHECK(pop["match"] == "lookup_failed");
        CHECK(pop["customer"].is_null());
    }
    json down = status_once(status_east, [](const json& status) {
        return status["store"]["up"] == false && status["peer_link"]["connected"] == false;
    }, 30s, "east's status to show the store and the link down");
    // Every event of the outage was for the others, and none could be sent: each counted as
    // it was published (the last hangup may still be on its way to the link), not at the
    // link's next try to connect, seconds on.
    down = status_once(status_east, [&](const json& status) {
        return status["peer_link"]["dropped"].get<int>() >= 2 * outage_calls;
    }, 1s, "east's status to count the outage's events dropped");
    MESSAGE("east during the outage: store " << down["store"].dump() << ", peer link "
                                             << down["peer_link"].dump() << ", queue "
                                             << down["writer_queue"] << ", spooled "
                                             << down["writer_spooled"]);
    CHECK(down["store"]["outages"] == 1);
    CHECK(down["store"]["last_error"].is_string());
    CHECK(down["peer_link"]["outages"] == 1);
    CHECK(down["peer_link"]["last_error"].is_string());
    CHECK(down["writer_spooled"].get<int>() > 0);
    const std::string metrics_down = metrics_of(east);
    CHECK(has(metrics_down, "\ncallpop_peer_link_up 0\n"));
    CHECK(has(metrics_down, "\ncallpop_peer_link_outages_total 1\n"));
    CHECK(has(metrics_down, "\ncallpop_store_outages_total 1\n"));
    CHECK(has(metrics_down, "\ncallpop_store_writable 0\n"));
    const std::string health_down = health_of(east);
    CHECK_MESSAGE(health_down.rfind("HTTP/1.1 503", 0) == 0, health_down);
    CHECK_MESSAGE(has(health_down, "\npeers: the link to the other daemons is down (PostgreSQL: "),
                  health_down);
    // `callpop status` logs in afresh, and a login cannot be checked without the store.
    const auto asked_down = run_callpop(status_command(east));
    CHECK(asked_down.exit_code == 1);
    CHECK_MESSAGE(has(asked_down.output, "storage_error: the login could not be checked"),
                  asked_down.output);
    // An outcome now would be acknowledged ahead of the records waiting for the store: refused.
    agent_east.send({{"type", "outcome"}, {"call", "c-before"}, {"code", "resolved"}});
    const json refused = agent_east.expect("error", 10s);
    CHECK(refused["code"] == "storage_error");

    cluster->start_server();
    const json back = status_once(status_east, [](const json& status) {
        return status["store"]["up"] == true && status["peer_link"]["connected"] == true &&
               status["writer_spooled"] == 0 && status["writer_queue"] == 0;
    }, 60s, "east's status to show the store and the link up, and nothing waiting");
    CHECK(back["store"]["outages"] == 1);
    CHECK(back["peer_link"]["outages"] == 1);
    const std::string metrics_back = metrics_of(east);
    CHECK(has(metrics_back, "\ncallpop_peer_link_up 1\n"));
    CHECK(has(metrics_back, "\ncallpop_store_writable 1\n"));
    CHECK(has(metrics_back, "\ncallpop_store_outages_total 1\n"));
    CHECK(health_of(east) == "HTTP/1.1 200 OK\nok\n");
    const auto shown = run_callpop(status_command(east));
    REQUIRE_MESSAGE(shown.exit_code == 0, shown.output);
    CHECK_MESSAGE(has(shown.output, "\nstore: up, 1 outage since start (the last: PostgreSQL: "),
                  shown.output);
    CHECK_MESSAGE(has(shown.output, "\nlink to the other daemons: up, 1 outage since start, " +
                                        back["peer_link"]["dropped"].dump() +
                                        " messages dropped (the last: PostgreSQL: "),
                  shown.output);
    status_once(status_west, [](const json& status) {
        return status["peer_link"]["connected"] == true;
    }, 30s, "west's link up again");
    // Once the link is back east tells the others of its calls as they stand: west's agent
    // gets the pop of the call still ringing for it, and the one that ended ends there.
    std::set<std::string> heard;
    const auto heard_by = std::chrono::steady_clock::now() + 30s;
    while (heard.size() < 2 && std::chrono::steady_clock::now() < heard_by) {
        const json message = agent_west.next(30s);
        if (message["type"] == "pop" && message["call"] == "c-unheard") {
            CHECK(message["caller"]["number"] == "+15550102000");
            heard.insert("pop c-unheard");
        }
        if (message["type"] == "call" && message["call"] == "c-gone" && message["state"] == "ended")
            heard.insert("ended c-gone");
    }
    CHECK(heard == std::set<std::string>{"pop c-unheard", "ended c-gone"});

    // Every call of the burst and of the outage is in the log, its ring and hangup once each.
    wait_until([&] {
        return count_of(conninfo, "SELECT count(DISTINCT call_id) FROM call_log WHERE call_id "
                                  "LIKE 'c-load-%' OR call_id LIKE 'c-down-%'") ==
               burst_calls + outage_calls;
    }, 30s, "every call in the store");
    CHECK(logged_more_than_once(conninfo, "c-load-") == "");
    CHECK(logged_more_than_once(conninfo, "c-down-") == "");
    CHECK(count_of(conninfo, "SELECT count(*) FROM call_log WHERE call_id LIKE 'c-down-%'") ==
          2 * outage_calls);
    CHECK(count_of(conninfo, "SELECT count(*) FROM call_log WHERE call_id LIKE 'c-load-%'") ==
          2 * burst_calls);
    // West's tail caught up with what east flushed, though no word of it came on the bus
    // while west was not listening.
    std::set<std::string> hung_up;
    while (hung_up.size() < static_cast<std::size_t>(outage_calls)) {
        const json record = tail_west.expect("log", 30s);
        if (record["kind"] == "hangup" && record["call"].get<std::string>().starts_with("c-down-"))
            hung_up.insert(record["call"].get<std::string>());
    }

    // The outcome refused during the outage is saved now, once.
    agent_east.send({{"type", "outcome"}, {"call", "c-before"}, {"code", "resolved"}});
    CHECK(agent_east.expect("outcome_saved", 10s)["call"] == "c-before");
    CHECK(count_of(conninfo, "SELECT count(*) FROM call_log WHERE call_id = 'c-before' AND "
                             "kind = 'outcome'") == 1);

    // Pops cross the daemons again.
    json after = ring("c-after", "+15550102000", "1001");
    after["ext"] = {"1001", "1002"};
    pbx.send(after);
    CHECK(agent_east.expect("pop")["customer"]["name"] == "Pat Doe");
    const json crossed = agent_west.expect("pop", 10s);
    CHECK(crossed["call"] == "c-after");
    CHECK(crossed["customer"]["name"] == "Pat Doe");
    CHECK(expect_log(tail_west, "ring", "c-after")["ext"] == "1001,1002");
}

TEST_CASE("peer faults: a daemon whose own link was cut asks to be told again, and keeps "
          "nothing of the calls that rang and ended while it was deaf") {
    const std::string conninfo = PostgresCluster::shared().fresh_database();
    Daemon east(sharing(conninfo, "east"));
    Daemon west(sharing(conninfo, "west"));
    east.start();
    west.start();
    Client agent_west(west.agent_port());
    login(agent_west, "1002", "secret-1002", {"1002"});
    Client agent_east(east.agent_port());
    login(agent_east, "1001", "secret-1001", {"1001"});
    Client status_west(west.agent_port());
    login(status_west, "super", "boss");
    Client pbx(east.switch_port());
    pbx.send(ring("d-before", "+15550102000", "1002"));
    CHECK(agent_west.expect("pop")["call"] == "d-before");
    const json before = ask_status(status_west);

    // West's bus session ends (the sessions are named by daemon: callpop <name> bus), as a
    // network between it and the database would end it, and it cannot connect again for a
    // while: the database takes no new sessions. Those the daemons hold go on, east's link
    // among them.
    callpop::storage::postgresql::Connection test_database(conninfo);
    const std::string database(test_database.query("SELECT current_database()").text(0, 0));
    callpop::storage::postgresql::Connection admin(conninfo + " dbname=postgres");
    const auto allow_connections = [&](bool allow) {
        admin.exec("ALTER DATABASE \"" + database + "\" ALLOW_CONNECTIONS " +
                   (allow ? "true" : "false"));
    };
    // Whatever happens below: the tests after this one use the same server.
    struct AllowedAgain {
        std::function<void()> allow;
        ~AllowedAgain() {
            try {
                allow();
            } catch (const std::exception& error) {
                MESSAGE("could not let the database take sessions again: " << error.what());
            }
        }
    } allowed_again{[&] { allow_connections(true); }};
    allow_connections(false);
    CHECK(admin.query("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                      "WHERE application_name = 'callpop west bus'")
              .integer(0, 0) == 1);
    status_once(status_west, [](const json& status) {
        return status["peer_link"]["connected"] == false;
    }, 10s, "west's link to notice it is down");
    // Meanwhile calls ring for its agent and end; then one rings at east's agent, whose pop
    // says east has dealt with, and published, those before it.
    constexpr int deaf_calls = 30;
    std::string events;
    for (int call = 0; call < deaf_calls; ++call) {
        const std::string id = "d-deaf-" + std::to_string(call);
        events += ring(id, "+15550102000", "1002").dump() + "\n" +
                  json{{"event", "hangup"}, {"call", id}}.dump() + "\n";
    }
    pbx.send_raw(events);
    pbx.send(ring("d-mark", "+15550102000", "1001"));
    CHECK(agent_east.expect("pop", 15s)["call"] == "d-mark");
    std::this_thread::sleep_for(500ms);  // for east's link to send them (at once, in fact)
    allow_connections(true);

    // Back, west asks east to tell it again; east's answer holds every call that ended since
    // west may have missed events, those it never heard ring among them.
    wait_until([&] { return has(east.log(), "as a daemon whose link came back asked"); }, 30s,
               "east to answer west's request to be told again");
    // A call rung after the answer reaches west after it: the bus keeps each daemon's order.
    pbx.send(ring("d-after", "+15550102000", "1002"));
    int heard_ring = 0;
    for (;;) {
        const json message = agent_west.expect("pop", 15s);
        if (message["call"] == "d-after") break;
        if (message["call"].get<std::string>().starts_with("d-deaf-")) ++heard_ring;
    }
    // What west keeps is what it heard: the calls live before (d-before) may have ended,
    // and the deaf calls whose ring it heard after all, and no others.
    const json after = ask_status(status_west);
    MESSAGE("west: " << before["ended_calls"] << " ended and " << before["live_calls"]
                     << " live before, heard " << heard_ring << " of " << deaf_calls
                     << " rings; now " << after["ended_calls"] << " ended");
    CHECK(heard_ring < deaf_calls);  // west missed rings: the case this is about
    CHECK(after["ended_calls"].get<int>() <=
          before["ended_calls"].get<int>() + before["live_calls"].get<int>() + heard_ring);
    CHECK(after["peer_link"]["outages"] == 1);
}

TEST_CASE("peer faults: kill -9 of a daemon in a burst of outcomes: every outcome acknowledged "
          "is in the store, and no call is logged twice, also once it has started again") {
    const std::string conninfo = PostgresCluster::shared().fresh_database();
    auto east_options = sharing(conninfo, "east");
    east_options.resync_s = 1;  // calls left open by the kill are closed a second after the start
    Daemon east(east_options);
    Daemon west(sharing(conninfo, "west"));
    east.start();
    west.start();
    Client agent(east.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
    Client watcher(west.agent_port());  // west mirrors east's calls, and logs none of them
    login(watcher, "1002", "secret-1002", {"1002"});
    Client pbx(east.switch_port());

    // Each call rings 1001, is answered there, and gets the agent's outcome; the first fifty
    // also hang up.
    constexpr int calls = 300;
    constexpr int hung_up = 50;
    std::string events;
    std::string outcomes;
    for (int call = 0; call < calls; ++call) {
        const std::string id = "k-" + std::to_string(call);
        events += ring(id, "+15550102000", "1001").dump() + "\n" +
                  json{{"event", "answer"}, {"call", id}, {"ext", "1001"}}.dump() + "\n";
        if (call < hung_up) events += json{{"event", "hangup"}, {"call", id}}.dump() + "\n";
        outcomes += json{{"type", "outcome"}, {"call", id}, {"code", "resolved"}}.dump() + "\n";
    }
    pbx.send_raw(events);
    for (int call = 0; call < calls; ++call) agent.expect("pop", 30s);
    agent.send_raw(outcomes);
    // Killed early in the outcomes' run, while the writer is at work on them.
    std::set<std::string> acknowledged;
    while (acknowledged.size() < 20) {
        const json message = agent.next(30s);
        REQUIRE_MESSAGE(message["type"] != "error", message.dump());
        if (message["type"] == "outcome_saved") acknowledged.insert(message["call"]);
    }
    east.kill_hard();
    const auto committed =
        count_of(conninfo, "SELECT count(*) FROM calls WHERE outcome = 'resolved'");
    MESSAGE("outcomes acknowledged before kill -9: " << acknowledged.size() << " of " << calls
                                                     << "; committed: " << committed);

    // Every acknowledged outcome was committed before it was acknowledged: nothing of it was
    // left to the killed daemon.
    std::string not_kept;
    {
        callpop::storage::postgresql::Connection db(conninfo);
        for (const auto& call : acknowledged) {
            const auto logged = db.query("SELECT count(*) FROM call_log WHERE call_id = $1 AND "
                                         "kind = 'outcome' AND outcome = 'resolved'",
                                         {call});
            const auto stored = db.query("SELECT outcome FROM calls WHERE call_id = $1", {call});
            if (logged.integer(0, 0) != 1 || stored.rows() != 1 || stored.text(0, 0) != "resolved")
                not_kept += call + " ";
        }
    }
    CHECK_MESSAGE(not_kept.empty(), "acknowledged, not in the store once: " << not_kept);
    CHECK(committed >= static_cast<std::int64_t>(acknowledged.size()));
    CHECK(logged_more_than_once(conninfo, "k-") == "");

    // East starts again under its name (PostgreSQL dropped the killed daemon's hold on it
    // with its connection) and closes the calls the kill left open, once each.
    east.start();
    wait_until([&] {
        return count_of(conninfo, "SELECT count(*) FROM calls WHERE call_id LIKE 'k-%' AND "
                                  "ended_at IS NULL") == 0;
    }, 30s, "the calls left open closed");
    CHECK(count_of(conninfo, "SELECT count(*) FROM calls WHERE call_id LIKE 'k-%' AND cause = "
                             "'restart'") == calls - hung_up);
    CHECK(logged_more_than_once(conninfo, "k-") == "");
    // Each call: its ring, its answer, and one end (the switch's hangup or the restart's close).
    CHECK(count_of(conninfo, "SELECT count(*) FROM call_log WHERE call_id LIKE 'k-%' AND kind "
                             "IN ('ring', 'answer', 'hangup', 'timeout')") == 3 * calls);
    CHECK(count_of(conninfo, "SELECT count(*) FROM call_log WHERE call_id LIKE 'k-%' AND kind = "
                             "'outcome'") == committed);
}

}  // namespace peer_faults_test
