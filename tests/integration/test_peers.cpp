// Several daemons on one PostgreSQL database (tests/support/postgres_cluster.hpp starts the
// server): a switch on one pops on another, withdraws and the call log cross, status lists
// them all, and an agent whose daemon died finds its ringing calls on another.
#include <doctest/doctest.h>

#include <array>
#include <memory>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "harness.hpp"
#include "peers_support.hpp"
#include "storage/postgresql/connection.hpp"
#include "support/postgres_cluster.hpp"
#include "support/wait_until.hpp"

using namespace callpop::test;

namespace {

// A call's records in the order the store holds them: "ring 1001,1002, answer 1001, ...".
std::string records_of(const std::string& conninfo, const std::string& call) {
    return text_of(conninfo, "SELECT string_agg(kind || ' ' || extension, ', ' ORDER BY id) "
                             "FROM call_log WHERE call_id = '" + call + "'");
}

// East and west, started on a fresh database of the tests' server.
struct TwoDaemons {
    TwoDaemons() {
        east.start();
        west.start();
    }
    const std::string conninfo = PostgresCluster::shared().fresh_database();
    Daemon east{on_database(conninfo, "east")};
    Daemon west{on_database(conninfo, "west")};
};

struct ThreeDaemons : TwoDaemons {
    ThreeDaemons() { north.start(); }
    Daemon north{on_database(conninfo, "north")};
};

// One switch connected to two daemons, for redundancy: it tells both of every event.
struct RedundantSwitch {
    RedundantSwitch(std::uint16_t east_port, std::uint16_t west_port)
        : east(east_port), west(west_port) {}
    void send(const json& event) {
        east.send(event);
        west.send(event);
    }
    Client east;
    Client west;
};

// A daemon writes the records of its switches' events in the order the switch sent them:
// once a call only `link` told its daemon of is in the store, so is everything the daemon
// logged (or found logged already) of what `link` sent before it.
void wait_for_records_sent_before(Client& link, const std::string& conninfo,
                                  const std::string& marker) {
    link.send(ring(marker, "+15550109000", "1999"));
    wait_until([&] {
        return count_of(conninfo, "SELECT count(*) FROM call_log WHERE kind = 'ring' AND "
                                  "call_id = '" + marker + "'") == 1;
    }, 10s, marker + " logged");
}

}  // namespace

TEST_CASE_FIXTURE(TwoDaemons, "peers: a switch on one daemon pops on another, the withdraw and the call log cross, "
          "the call is logged once, and status lists both") {
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
    // West popped the card east found: the caller was read from the store once.
    CHECK(status["lookups"] == 0);
}

TEST_CASE_FIXTURE(TwoDaemons, "peers: an agent whose daemon was killed logs in to another and gets the calls still "
          "ringing for it") {
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

TEST_CASE_FIXTURE(TwoDaemons, "peers: daemons keep no customer in memory: what an import on another machine "
          "changed shows in the next pop, on every daemon") {
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

TEST_CASE_FIXTURE(TwoDaemons, "peers: what is not a well-formed message on the bus is dropped, and the daemons go "
          "on") {
    Client agent(west.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
    {
        // Anyone who may use the database may NOTIFY.
        callpop::storage::postgresql::Connection db(conninfo);
        for (const char* payload :
             {"not json", "[1, 2]", "{\"event\": 5}", "{\"event\": \"{}\"}",
              "{\"daemon\": 7, \"switch\": 1, \"event\": "
              "\"{\\\"event\\\":\\\"ring\\\",\\\"call\\\":\\\"c-odd\\\",\\\"ext\\\":\\\"1001\\\"}\"}",
              "{\"daemon\": [], \"event\": \"{\\\"event\\\":\\\"bogus\\\"}\"}",
              "{\"seated\": {\"call\": 5}}", "{\"seated\": {\"call\": \"c-odd\", \"agents\": [1]}}",
              "{\"seated\": {\"call\": \"c-odd\", \"agents\": {\"1001\": 7, \"\": \"x\"}}}"})
            db.query("SELECT pg_notify('callpop_events', $1)", {payload});
    }
    // The odd one with a good event pops; the rest are dropped.
    CHECK(agent.expect("pop")["call"] == "c-odd");
    {
        // A card that is not one pop line is not sent on: the daemon looks the caller up.
        callpop::storage::postgresql::Connection db(conninfo);
        const auto ring_with_card = [](const char* call, const std::string& pop_line) {
            return json{{"daemon", "mallory"},
                        {"event", ring(call, "+15550102000", "1001").dump()},
                        {"card",
                         {{"pop", pop_line},
                          {"caller_number", "+15550102000"},
                          {"line", ""},
                          {"customer_id", 1},
                          {"customer_name", "Mallory"}}}}
                .dump();
        };
        for (const auto& payload :
             {ring_with_card("c-card-1", "hello\n"),
              ring_with_card("c-card-2",
                             "{\"type\":\"pop\",\"seq\":1,\"call\":\"c-card-2\"}\n{\"type\":\"x\"}\n")})
            db.query("SELECT pg_notify('callpop_events', $1)", {payload});
    }
    for (const char* call : {"c-card-1", "c-card-2"}) {
        const json pop = agent.expect("pop");
        CHECK(pop["call"] == call);
        CHECK(pop["customer"]["name"] == "Pat Doe");
    }
    Client pbx(east.switch_port());
    pbx.send(ring("c-after-garbage", "+15550102000", "1001"));
    CHECK(agent.expect("pop")["call"] == "c-after-garbage");
}

TEST_CASE_FIXTURE(ThreeDaemons, "peers: a switch connected to two daemons has each event logged once, every leg of a "
          "call transferred back and forth included; a third daemon hearing both pops once; a "
          "missed call gets one callback") {
    Client agent_west(west.agent_port());
    login(agent_west, "1001", "secret-1001", {"1001"});
    Client agent_north(north.agent_port());
    login(agent_north, "1002", "secret-1002", {"1002"});
    RedundantSwitch pbx(east.switch_port(), west.switch_port());

    json both = ring("c-both", "+1 (555) 010-2000", "1001");
    both["ext"] = {"1001", "1002"};
    pbx.send(both);
    // West hears the ring from its switch (and east's copy), north from both daemons: each
    // pops once.
    CHECK(agent_west.expect("pop")["customer"]["name"] == "Pat Doe");
    CHECK(agent_north.expect("pop")["call"] == "c-both");
    CHECK(agent_west.quiet(500ms));
    CHECK(agent_north.quiet());

    // Answered at 1001, taken by 1002, and back to 1001: 1001 answers it twice.
    for (const auto& [kind, extension] :
         std::vector<std::pair<std::string, std::string>>{{"answer", "1001"},
                                                          {"transfer", "1002"},
                                                          {"answer", "1002"},
                                                          {"transfer", "1001"},
                                                          {"answer", "1001"}})
        pbx.send({{"event", kind}, {"call", "c-both"}, {"ext", extension}});
    pbx.send({{"event", "hangup"}, {"call", "c-both"}, {"cause", "normal"}});
    // Rang at 1001 and nobody answered: a callback is owed, once.
    pbx.send(ring("c-missed", "+15550107777", "1001"));
    pbx.send({{"event", "hangup"}, {"call", "c-missed"}, {"cause", "abandoned"}});

    wait_for_records_sent_before(pbx.east, conninfo, "c-east-done");
    wait_for_records_sent_before(pbx.west, conninfo, "c-west-done");
    CHECK(records_of(conninfo, "c-both") ==
          "ring 1001,1002, answer 1001, transfer 1002, answer 1002, transfer 1001, "
          "answer 1001, hangup 1001");
    CHECK(text_of(conninfo, "SELECT state || ' ' || extension || ' ' || cause FROM calls "
                            "WHERE call_id = 'c-both'") == "completed 1001 normal");
    CHECK(records_of(conninfo, "c-missed") == "ring 1001, hangup , followup_created ");
    CHECK(count_of(conninfo, "SELECT count(*) FROM followups WHERE call_id = 'c-missed'") == 1);
}

TEST_CASE("peers: a daemon whose link to the switch dropped mid-call misses the answer and the "
          "hangup; the other daemon connected to the switch logs them, once, and the first's "
          "timeout of the call is not a second end") {
    const std::string conninfo = PostgresCluster::shared().fresh_database();
    Daemon::Options east_options = on_database(conninfo, "east");
    // East never hears the hangup: it closes the call itself, soon.
    east_options.calls_config = "  max_duration_s: 2\n";
    Daemon east(east_options);
    Daemon west(on_database(conninfo, "west"));
    east.start();
    west.start();
    Client agent_west(west.agent_port());
    login(agent_west, "1001", "secret-1001", {"1001"});
    RedundantSwitch pbx(east.switch_port(), west.switch_port());
    // The switch tells east first. East has the call from its switch, so west's copies of
    // what follows are nothing to it. West has it from east, mirrored (and pops), until its
    // own link tells of it too: from then on west logs it as well.
    pbx.east.send(ring("c-half", "+15550102000", "1001"));
    CHECK(agent_west.expect("pop")["call"] == "c-half");
    wait_until([&] { return records_of(conninfo, "c-half") == "ring 1001"; }, 10s,
               "east to log the ring");
    pbx.west.send(ring("c-half", "+15550102000", "1001"));
    pbx.east.close();
    pbx.west.send({{"event", "answer"}, {"call", "c-half"}, {"ext", "1001"}});
    pbx.west.send({{"event", "hangup"}, {"call", "c-half"}, {"cause", "normal"}});

    wait_until([&] { return has(east.log(), "call c-half: no hangup after 2 s"); }, 15s,
               "east to time the call out");
    Client east_again(east.switch_port());
    wait_for_records_sent_before(east_again, conninfo, "c-east-done");
    wait_for_records_sent_before(pbx.west, conninfo, "c-west-done");
    CHECK(records_of(conninfo, "c-half") == "ring 1001, answer 1001, hangup 1001");
    CHECK(text_of(conninfo, "SELECT state || ' ' || cause FROM calls WHERE call_id = 'c-half'") ==
          "completed normal");
}

TEST_CASE_FIXTURE(TwoDaemons, "peers: an answer by an agent seated on another daemon is logged with the agent "
          "by the daemon whose switch sent it") {
    Client agent(west.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
    Client pbx(east.switch_port());
    pbx.send(ring("c-seated", "+15550102000", "1001"));
    CHECK(agent.expect("pop")["call"] == "c-seated");
    // West said who sits at 1001 as it popped; east has heard it before the phone is picked up.
    wait_until([&] { return has(east.log(), "call c-seated: agent 1001 sits at 1001"); }, 10s,
               "east to hear who sits at 1001");
    pbx.send({{"event", "answer"}, {"call", "c-seated"}, {"ext", "1001"}});
    pbx.send({{"event", "hangup"}, {"call", "c-seated"}, {"cause", "normal"}});
    CHECK(agent.expect("call")["state"] == "ended");
    wait_until([&] { return records_of(conninfo, "c-seated") == "ring 1001, answer 1001, hangup 1001"; },
               10s, "the call logged");
    CHECK(text_of(conninfo, "SELECT string_agg(kind || ' ' || agent, ', ' ORDER BY id) FROM call_log "
                            "WHERE call_id = 'c-seated'") == "ring , answer 1001, hangup 1001");
    CHECK(text_of(conninfo, "SELECT agent FROM calls WHERE call_id = 'c-seated'") == "1001");
}

TEST_CASE("peers: with agents waiting for follow-ups on three daemons, each due follow-up is "
          "offered to exactly one agent") {
    const std::string conninfo = PostgresCluster::shared().fresh_database();
    Daemon east(on_database(conninfo, "east"));
    Daemon west(on_database(conninfo, "west"));
    Daemon north(on_database(conninfo, "north"));
    // The tests' three agents and three more: two at each daemon.
    for (const char* agent : {"2001", "2002", "2003"}) {
        const auto added = run_callpop({"agent", "add", agent, "--config",
                                        east.config_path().string(), "--token",
                                        std::string("secret-") + agent});
        REQUIRE_MESSAGE(added.exit_code == 0, added.output);
    }
    // Callbacks due since January, to be called at any hour of any day.
    constexpr std::size_t due_count = 30;
    {
        callpop::storage::postgresql::Connection db(conninfo);
        db.query(
            "INSERT INTO followups (kind, reason, number, due_at, timezone, timezone_source, "
            "calling_window, attempts_max, created_at) SELECT 'callback', 'missed', "
            "'+1555011' || lpad(n::text, 4, '0'), '2026-01-01T00:00:00.000Z', "
            "'America/New_York', 'site', '{\"from\":\"00:00\",\"to\":\"00:00\",\"days\":"
            "[\"mon\",\"tue\",\"wed\",\"thu\",\"fri\",\"sat\",\"sun\"]}', 2, "
            "'2026-01-01T00:00:00.000Z' FROM generate_series(1, $1::integer) AS n",
            {std::to_string(due_count)});
    }
    east.start();
    west.start();
    north.start();
    struct Desk {
        std::string daemon;
        std::string agent;
        std::unique_ptr<Client> client;
    };
    std::vector<Desk> desks;
    for (const auto& [daemon, name, agents] :
         {std::tuple{&east, "east", std::array{"1001", "2001"}},
          std::tuple{&west, "west", std::array{"1002", "2002"}},
          std::tuple{&north, "north", std::array{"1003", "2003"}}}) {
        for (const char* agent : agents) {
            auto client = std::make_unique<Client>(daemon->agent_port());
            login(*client, agent, std::string("secret-") + agent);
            desks.push_back({name, agent, std::move(client)});
        }
    }
    for (auto& desk : desks) desk.client->send({{"type", "next_followup"}});

    // Every agent places the call it is offered, reports it reached, and asks for the next.
    std::vector<std::int64_t> offered;
    std::set<std::string> daemons_offering;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (offered.size() < due_count && std::chrono::steady_clock::now() < deadline) {
        for (auto& desk : desks) {
            const auto line = desk.client->read_line(20ms);
            if (!line) continue;
            const json message = json::parse(*line);
            if (message["type"] == "followup") {
                const auto id = message["followup"]["id"].get<std::int64_t>();
                offered.push_back(id);
                daemons_offering.insert(desk.daemon);
                desk.client->send({{"type", "followup_result"}, {"followup", id},
                                   {"result", "reached"}});
            } else if (message["type"] == "followup_saved") {
                desk.client->send({{"type", "next_followup"}});
            } else {
                REQUIRE_MESSAGE(message["type"] == "followup_waiting", *line);
            }
        }
    }
    REQUIRE(offered.size() == due_count);
    std::set<std::int64_t> distinct(offered.begin(), offered.end());
    CHECK(distinct.size() == offered.size());
    // Each daemon had two agents waiting from the start, and more due than all six.
    CHECK(daemons_offering.size() == 3);
    // The last result was sent as its offer came, and may not be saved yet.
    wait_until([&] {
        return count_of(conninfo, "SELECT count(*) FROM followups WHERE status = 'completed'") ==
               std::ssize(distinct);
    }, 10s, "every follow-up offered to be completed");
    CHECK(count_of(conninfo, "SELECT count(*) FROM call_log WHERE kind = 'followup_offered'") ==
          std::ssize(distinct));
}
