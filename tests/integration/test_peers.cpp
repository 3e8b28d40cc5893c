// Several daemons on one PostgreSQL database (tests/support/postgres_cluster.hpp starts the
// server): a switch on one pops on another, withdraws and the call log cross, status lists
// them all, and an agent whose daemon died finds its ringing calls on another.
#include <doctest/doctest.h>

#include "harness.hpp"
#include "storage/postgresql/connection.hpp"
#include "support/postgres_cluster.hpp"
#include "support/wait_until.hpp"

using namespace callpop::test;

namespace {

Daemon::Options on_database(const std::string& conninfo, const std::string& daemon_name) {
    Daemon::Options options;
    options.postgres_conninfo = conninfo;
    options.daemon_name = daemon_name;
    return options;
}

std::int64_t count_of(const std::string& conninfo, const std::string& sql) {
    callpop::storage::postgresql::Connection db(conninfo);
    return db.query(sql).integer(0, 0);
}

}  // namespace

TEST_CASE("peers: a switch on one daemon pops on another, the withdraw and the call log cross, "
          "the call is logged once, and status lists both") {
    const std::string conninfo = PostgresCluster::shared().fresh_database();
    Daemon east(on_database(conninfo, "east"));
    Daemon west(on_database(conninfo, "west"));
    east.start();
    west.start();
    Client agent_west(west.agent_port());
    Client agent_east(east.agent_port());
    login(agent_west, "1001", "secret-1001", {"1001"});
    login(agent_east, "1002", "secret-1002", {"1002"});
    Client supervisor_west(west.agent_port());
    follow_call_log(supervisor_west);

    Client pbx(east.switch_port());
    json both = ring("c-peer-1", "+1 (555) 010-2000", "1001");
    both["ext"] = {"1001", "1002"};
    pbx.send(both);
    const json pop = agent_west.expect("pop");
    CHECK(pop["call"] == "c-peer-1");
    CHECK(pop["customer"]["name"] == "Pat Doe");
    CHECK(pop["customer"]["preferences"][0]["text"] == "tea, not coffee");
    CHECK(agent_east.expect("pop")["call"] == "c-peer-1");

    pbx.send({{"event", "answer"}, {"call", "c-peer-1"}, {"ext", "1002"}});
    const json withdrawn = agent_west.expect("call");
    CHECK(withdrawn["call"] == "c-peer-1");
    CHECK(withdrawn["state"] == "answered");
    CHECK(withdrawn["by"] == "1002");

    pbx.send({{"event", "hangup"}, {"call", "c-peer-1"}, {"cause", "normal"}});
    CHECK(agent_east.expect("call")["state"] == "ended");
    // West's tail shows east's records, as they commit.
    CHECK(expect_log(supervisor_west, "ring", "c-peer-1")["ext"] == "1001,1002");
    CHECK(expect_log(supervisor_west, "hangup", "c-peer-1")["cause"] == "normal");
    CHECK(count_of(conninfo, "SELECT count(*) FROM call_log WHERE call_id = 'c-peer-1'") == 3);
    CHECK(count_of(conninfo, "SELECT count(*) FROM calls WHERE call_id = 'c-peer-1' AND "
                             "state = 'completed' AND daemon = 'east'") == 1);

    // Each writes its row every 5 s: both are listed within that.
    json status;
    wait_until([&] {
        status = ask_status(supervisor_west);
        return status["daemons"].size() == 2;
    }, 10s, "both daemons listed");
    CHECK(status["daemon"] == "west");
    CHECK(status["daemons"][0]["name"] == "east");
    CHECK(status["daemons"][1]["name"] == "west");
}

TEST_CASE("peers: an agent whose daemon was killed logs in to another and gets the calls still "
          "ringing for it") {
    const std::string conninfo = PostgresCluster::shared().fresh_database();
    Daemon east(on_database(conninfo, "east"));
    Daemon west(on_database(conninfo, "west"));
    east.start();
    west.start();
    Client agent(east.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
    Client pbx(east.switch_port());
    pbx.send(ring("c-peer-2", "+15550102000", "1001"));
    CHECK(agent.expect("pop")["call"] == "c-peer-2");
    wait_until([&] {
        return count_of(conninfo, "SELECT count(*) FROM call_log WHERE call_id = 'c-peer-2'") == 1;
    }, 5s, "the ring committed");

    east.kill_hard();
    Client again(west.agent_port());
    login(again, "1001", "secret-1001", {"1001"});
    const json pop = again.expect("pop");
    CHECK(pop["call"] == "c-peer-2");
    CHECK(pop["customer"]["name"] == "Pat Doe");
    // Logged once, by east: west only mirrored it.
    CHECK(count_of(conninfo, "SELECT count(*) FROM call_log WHERE call_id = 'c-peer-2'") == 1);
}

TEST_CASE("peers: daemons keep no customer in memory: what an import on another machine "
          "changed shows in the next pop, on every daemon") {
    const std::string conninfo = PostgresCluster::shared().fresh_database();
    Daemon east(on_database(conninfo, "east"));
    Daemon west(on_database(conninfo, "west"));
    east.start();
    west.start();
    Client agent(west.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
    Client pbx(east.switch_port());
    pbx.send(ring("c-before", "+15550104000", "1001"));
    const json before = agent.expect("pop");
    // Sam Roe and Lee Poe share the number: one pops, the other is a candidate.
    REQUIRE(before["candidates"].size() == 1);

    // `callpop import` elsewhere, while both run: Sam Roe moves to a number of his own.
    const auto csv = east.dir() / "changed.csv";
    write_file(csv, "external_id,name,phones\nC-1001,Sam Roe,+1 555 010 4999\n");
    const auto imported = run_callpop(
        {"import", "--config", east.config_path().string(), "--customers", csv.string()});
    REQUIRE_MESSAGE(imported.exit_code == 0, imported.output);

    pbx.send(ring("c-after", "+15550104999", "1001"));
    const json after = agent.expect("pop");
    CHECK(after["call"] == "c-after");
    CHECK(after["customer"]["name"] == "Sam Roe");
    pbx.send(ring("c-shared", "+15550104000", "1001"));
    const json shared = agent.expect("pop");
    CHECK(shared["customer"]["name"] == "Lee Poe");
    CHECK(shared["candidates"].empty());
}

TEST_CASE("peers: what is not a well-formed message on the bus is dropped, and the daemons go "
          "on") {
    const std::string conninfo = PostgresCluster::shared().fresh_database();
    Daemon east(on_database(conninfo, "east"));
    Daemon west(on_database(conninfo, "west"));
    east.start();
    west.start();
    Client agent(west.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
    {
        // Anyone who may use the database may NOTIFY.
        callpop::storage::postgresql::Connection db(conninfo);
        for (const char* payload :
             {"not json", "[1, 2]", "{\"event\": 5}", "{\"event\": \"{}\"}",
              "{\"daemon\": 7, \"switch\": 1, \"event\": "
              "\"{\\\"event\\\":\\\"ring\\\",\\\"call\\\":\\\"c-odd\\\",\\\"ext\\\":\\\"1001\\\"}\"}",
              "{\"daemon\": [], \"event\": \"{\\\"event\\\":\\\"bogus\\\"}\"}"})
            db.query("SELECT pg_notify('callpop_events', $1)", {payload});
    }
    // The odd one with a good event pops; the rest are dropped.
    CHECK(agent.expect("pop")["call"] == "c-odd");
    Client pbx(east.switch_port());
    pbx.send(ring("c-after-garbage", "+15550102000", "1001"));
    CHECK(agent.expect("pop")["call"] == "c-after-garbage");
}
