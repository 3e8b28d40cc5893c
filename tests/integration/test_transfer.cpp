// Transfers end to end: the pop follows the call to the new agent, the agent who handed it
// on is told, and the call log keeps both legs.
#include <doctest/doctest.h>

#include <sstream>

#include "support/sqlite_query.hpp"
#include "harness.hpp"

using namespace callpop::test;

namespace {

// The daemon schedules a callback for every missed call, so that a transferred call
// wrongly taken for a missed one shows.
const std::string callbacks_for_missed_calls =
    "followups:\n  missed_calls: {kind: callback, delay: 1h}\n";

// "kind:ext:agent" of each JSONL line of `call`, in order.
std::vector<std::string> jsonl_legs(const Daemon& daemon, const std::string& call) {
    std::vector<std::string> legs;
    std::istringstream lines(read_file(daemon.jsonl_path()));
    for (std::string line; std::getline(lines, line);) {
        const json record = json::parse(line);
        if (record["call"] != call) continue;
        legs.push_back(record["kind"].get<std::string>() + ":" + record.value("ext", "") + ":" +
                       record.value("agent", ""));
    }
    return legs;
}

// The daemon, 1001 and 1002 logged in at their own extensions, a supervisor following the
// call log, and a switch connected.
struct TwoAgentsAndASwitch {
    TwoAgentsAndASwitch() {
        login(agent_1001, "1001", "secret-1001", {"1001"});
        login(agent_1002, "1002", "secret-1002", {"1002"});
        follow_call_log(supervisor);
    }

    Daemon daemon{Daemon::Options{.extra_config = callbacks_for_missed_calls}};
    bool started = (daemon.start(), true);  // before the clients below connect
    Client agent_1001{daemon.agent_port()};
    Client agent_1002{daemon.agent_port()};
    Client supervisor{daemon.agent_port()};
    Client pbx{daemon.switch_port()};
};

}  // namespace

TEST_CASE_FIXTURE(TwoAgentsAndASwitch, "a blind transfer: the pop follows the call to 1002, 1001 is told, both legs logged") {

    pbx.send(ring("t-1", "+1 (555) 010-2000", "1001", {{"service_tag", "7XK2Q1"}}));
    const json first_pop = agent_1001.expect("pop");
    pbx.send({{"event", "answer"}, {"call", "t-1"}, {"ext", "1001"}});
    CHECK(agent_1002.quiet());

    pbx.send({{"event", "transfer"}, {"call", "t-1"}, {"ext", "1002"}});
    const json pop = agent_1002.expect("pop");
    CHECK(pop["call"] == "t-1");
    CHECK(pop["caller"]["number"] == "+15550102000");
    CHECK(pop["caller"]["raw"] == "+1 (555) 010-2000");
    CHECK(pop["caller"]["name"] == "CALLER");
    CHECK(pop["data"]["service_tag"] == "7XK2Q1");
    CHECK(pop["match"] == "asset");
    CHECK(pop["customer"]["external_id"] == "C-1000");
    CHECK(pop["assets"] == first_pop["assets"]);
    // The same pop under a newer seq, so that a resuming terminal replays it.
    CHECK(pop["seq"].get<std::uint64_t>() > first_pop["seq"].get<std::uint64_t>());
    // 1001 still has the call until 1002 takes it.
    CHECK(agent_1001.quiet());

    pbx.send({{"event", "answer"}, {"call", "t-1"}, {"ext", "1002"}});
    const json told = agent_1001.expect("call");
    CHECK(told["call"] == "t-1");
    CHECK(told["state"] == "transferred");
    CHECK(told["by"] == "1002");
    CHECK(agent_1002.quiet());

    pbx.send({{"event", "hangup"}, {"call", "t-1"}, {"cause", "normal"}});
    CHECK(agent_1001.expect("call")["state"] == "ended");
    CHECK(agent_1002.expect("call")["state"] == "ended");

    const json transfer = expect_log(supervisor, "transfer", "t-1");
    CHECK(transfer["ext"] == "1002");
    CHECK(transfer["agent"] == "1002");
    CHECK(transfer["notes"] == "from extension 1001 (agent 1001) to extension 1002");
    CHECK(transfer["customer"].is_number_integer());
    const json second_leg = expect_log(supervisor, "answer", "t-1");
    CHECK(second_leg["ext"] == "1002");
    CHECK(second_leg["agent"] == "1002");
    const json hangup = expect_log(supervisor, "hangup", "t-1");
    CHECK(hangup["agent"] == "1002");

    const std::vector<std::string> legs{"ring:1001:", "answer:1001:1001", "transfer:1002:1002",
                                        "answer:1002:1002", "hangup:1002:1002"};
    CHECK(jsonl_legs(daemon, "t-1") == legs);
    CHECK(query_one(daemon.database_path(),
                    "SELECT group_concat(kind || ':' || extension || ':' || agent, ' ') FROM "
                    "(SELECT * FROM call_log WHERE call_id = 't-1' ORDER BY id)") ==
          "ring:1001: answer:1001:1001 transfer:1002:1002 answer:1002:1002 hangup:1002:1002");
    CHECK(query_one(daemon.database_path(),
                    "SELECT notes FROM call_log WHERE call_id = 't-1' AND kind = 'transfer'") ==
          "from extension 1001 (agent 1001) to extension 1002");
    // The call's row shows who had it last; it was answered when 1001 took it.
    CHECK(query_one(daemon.database_path(),
                    "SELECT extension || '|' || agent || '|' || state || '|' || "
                    "(answered_at < ended_at) FROM calls WHERE call_id = 't-1'") ==
          "1002|1002|completed|1");

    // Either agent may record the outcome; the call's row keeps the last one.
    agent_1002.send({{"type", "outcome"}, {"call", "t-1"}, {"code", "resolved"}});
    CHECK(agent_1002.expect("outcome_saved")["call"] == "t-1");
    CHECK(query_one(daemon.database_path(),
                    "SELECT outcome || '|' || outcome_agent FROM calls WHERE call_id = 't-1'") ==
          "resolved|1002");
}

TEST_CASE_FIXTURE(TwoAgentsAndASwitch, "an attended transfer (transfer and answer at once) to an agent who saw the call ring") {

    json both = ring("t-2", "+15550102000", "1001");
    both["ext"] = {"1001", "1002"};
    pbx.send(both);
    agent_1001.expect("pop");
    agent_1002.expect("pop");
    pbx.send({{"event", "answer"}, {"call", "t-2"}, {"ext", "1001"}});
    CHECK(agent_1002.expect("call")["state"] == "answered");

    // One read: the target already talked to the transferer.
    pbx.send_raw(json({{"event", "transfer"}, {"call", "t-2"}, {"ext", "1002"}}).dump() + "\n" +
                 json({{"event", "answer"}, {"call", "t-2"}, {"ext", "1002"}}).dump() + "\n");
    // 1002 was told the call was answered elsewhere: it gets the pop again, now it is theirs.
    const json pop = agent_1002.expect("pop");
    CHECK(pop["call"] == "t-2");
    CHECK(pop["customer"]["external_id"] == "C-1000");
    const json told = agent_1001.expect("call");
    CHECK(told["state"] == "transferred");
    CHECK(told["by"] == "1002");
    CHECK(agent_1002.quiet());
    CHECK(agent_1001.quiet());

    // A pop kept for a terminal that drops: replayed to 1002, gone for 1001.
    agent_1002.close();
    Client again(daemon.agent_port());
    login(again, "1002", "secret-1002", {"1002"}, pop["seq"].get<std::uint64_t>() - 1);
    CHECK(again.expect("pop")["call"] == "t-2");
    agent_1001.close();
    Client first_again(daemon.agent_port());
    login(first_again, "1001", "secret-1001", {"1001"}, 0);
    CHECK(first_again.quiet());

    pbx.send({{"event", "hangup"}, {"call", "t-2"}});
    CHECK(again.expect("call")["state"] == "ended");
    expect_log(supervisor, "hangup", "t-2");  // committed
    CHECK(query_one(daemon.database_path(),
                    "SELECT agent || '|' || state FROM calls WHERE call_id = 't-2'") ==
          "1002|completed");
}

TEST_CASE_FIXTURE(TwoAgentsAndASwitch, "a transfer nobody takes: the caller hangs up, the call was answered, no callback") {

    pbx.send(ring("t-3", "+15550102000", "1001"));
    agent_1001.expect("pop");
    pbx.send({{"event", "answer"}, {"call", "t-3"}, {"ext", "1001"}});
    pbx.send({{"event", "transfer"}, {"call", "t-3"}, {"ext", "1002"}});
    CHECK(agent_1002.expect("pop")["call"] == "t-3");
    pbx.send({{"event", "hangup"}, {"call", "t-3"}, {"cause", "abandoned"}});
    CHECK(agent_1001.expect("call")["state"] == "ended");
    CHECK(agent_1002.expect("call")["state"] == "ended");

    const json hangup = expect_log(supervisor, "hangup", "t-3");
    CHECK(hangup["ext"] == "1001");
    CHECK(hangup["agent"] == "1001");
    // A missed call's callback would be committed right after its hangup.
    CHECK(supervisor.quiet(1s));
    CHECK(query_one(daemon.database_path(), "SELECT count(*) FROM followups") == "0");
    CHECK(query_one(daemon.database_path(),
                    "SELECT agent || '|' || state FROM calls WHERE call_id = 't-3'") ==
          "1001|completed");

    // The same call never answered is missed: the config does schedule callbacks.
    pbx.send(ring("t-4", "+15550102000", "1001"));
    pbx.send({{"event", "transfer"}, {"call", "t-4"}, {"ext", "1002"}});
    CHECK(agent_1002.expect("pop")["call"] == "t-4");
    pbx.send({{"event", "hangup"}, {"call", "t-4"}, {"cause", "abandoned"}});
    CHECK(expect_log(supervisor, "followup_created", "t-4")["outcome"] == "abandoned");
}
