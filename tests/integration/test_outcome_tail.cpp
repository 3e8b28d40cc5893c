// Outcomes, notes, the call log (SQLite and JSONL) and the supervisors' tail.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <map>
#include <sstream>

#include "support/sqlite_query.hpp"
#include "harness.hpp"
#include "support/process.hpp"
#include "support/wait_until.hpp"
#include "domain/timestamp.hpp"

using namespace callpop::test;

TEST_CASE("an outcome is acknowledged once committed and shows in the next pop") {
    Daemon daemon;
    daemon.start();
    Client agent(daemon.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
    Client pbx(daemon.switch_port());
    pbx.send(ring("o-1", "+15550102000", "1001"));
    agent.expect("pop");
    pbx.send({{"event", "answer"}, {"call", "o-1"}, {"ext", "1001"}});
    pbx.send({{"event", "hangup"}, {"call", "o-1"}, {"cause", "normal"}});
    agent.expect("call");

    agent.send({{"type", "outcome"}, {"call", "o-1"}, {"code", "bogus"}});
    json error = agent.expect("error");
    CHECK(error["code"] == "unknown_outcome");
    CHECK(error["message"] ==
          "outcome code \"bogus\" is not one of: resolved, repaired, complaint");

    agent.send({{"type", "outcome"}, {"call", "never-seen"}, {"code", "resolved"}});
    error = agent.expect("error");
    CHECK(error["code"] == "unknown_call");

    agent.send({{"type", "outcome"},
                {"call", "o-1"},
                {"code", "repaired"},
                {"notes", "replaced the fuser"}});
    CHECK(agent.expect("outcome_saved")["call"] == "o-1");
    // Committed before the acknowledgement: visible to another reader right away.
    CHECK(query_one(daemon.database_path(),
                    "SELECT outcome || '|' || outcome_notes || '|' || state || '|' || agent "
                    "FROM calls WHERE call_id = 'o-1'") ==
          "repaired|replaced the fuser|completed|1001");

    agent.send({{"type", "note"}, {"customer", 999999}, {"text", "nobody"}});
    CHECK(agent.expect("error")["code"] == "unknown_customer");
    const json pop_before = [&] {
        pbx.send(ring("o-2", "+15550102000", "1001"));
        return agent.expect("pop");
    }();
    const auto customer_id = pop_before["customer"]["id"].get<std::int64_t>();
    agent.send({{"type", "note"},
                {"customer", customer_id},
                {"kind", "preference"},
                {"text", "call after 6 pm"},
                {"call", "o-2"}});
    CHECK(agent.expect("note_saved")["customer"] == customer_id);
    pbx.send({{"event", "hangup"}, {"call", "o-2"}});

    pbx.send(ring("o-3", "+15550102000", "1001"));
    const json pop = agent.expect("pop");
    REQUIRE(pop["history"].size() >= 2);
    const json& previous = pop["history"][1];  // o-2 is the newest, o-1 before it
    CHECK(previous["call"] == "o-1");
    CHECK(previous["outcome"] == "repaired");
    CHECK(previous["notes"] == "replaced the fuser");
    CHECK(previous["agent"] == "1001");
    bool has_new_preference = false;
    for (const auto& preference : pop["customer"]["preferences"])
        has_new_preference |= preference["text"] == "call after 6 pm";
    CHECK(has_new_preference);
}

TEST_CASE("supervisors tail the call log: backlog, then live, filtered") {
    Daemon daemon({.extra_config = without_missed_call_followups});
    daemon.start();
    Client pbx(daemon.switch_port());
    pbx.send(ring("t-1", "+15550102000", "1001", json::object(), "support"));
    pbx.send(ring("t-2", "+15550104000", "1002", json::object(), "sales"));
    pbx.send({{"event", "hangup"}, {"call", "t-1"}, {"cause", "caller"}});

    Client agent(daemon.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
    agent.send({{"type", "tail"}, {"backlog", 10}});
    CHECK(agent.expect("error")["code"] == "forbidden");

    Client supervisor(daemon.agent_port());
    CHECK(login(supervisor, "super", "boss")["role"] == "supervisor");
    // Records are published once committed; wait for all three.
    std::vector<json> backlog;
    for (int attempt = 0; attempt < 50 && backlog.size() < 3; ++attempt) {
        supervisor.send({{"type", "tail"}, {"backlog", 10}, {"follow", false}});
        backlog.clear();
        while (true) {
            json message = supervisor.next();
            if (message["type"] == "backlog_end") break;
            backlog.push_back(std::move(message));
        }
        if (backlog.size() < 3) std::this_thread::sleep_for(50ms);
    }
    REQUIRE(backlog.size() == 3);
    CHECK(backlog[0]["kind"] == "ring");
    CHECK(backlog[0]["call"] == "t-1");
    CHECK(backlog[0]["from"] == "+15550102000");
    CHECK(backlog[0]["customer_name"] == "Pat Doe");
    CHECK(backlog[0]["line"] == "Support hotline");
    CHECK(backlog[2]["kind"] == "hangup");
    CHECK(backlog[2]["cause"] == "caller");

    Client filtered(daemon.agent_port());
    login(filtered, "super", "boss");
    filtered.send({{"type", "tail"}, {"backlog", 10}, {"filter", {{"queue", "sales"}}}});
    const json only_sales = filtered.expect("log");
    CHECK(only_sales["call"] == "t-2");
    CHECK(filtered.expect("backlog_end")["count"] == 1);

    pbx.send(ring("t-3", "+15550109999", "1003", json::object(), "sales"));
    pbx.send(ring("t-4", "+15550109999", "1003", json::object(), "support"));
    const json live = filtered.expect("log");
    CHECK(live["call"] == "t-3");
    CHECK(filtered.quiet());

    // The JSONL file carries the same records, one per line.
    std::this_thread::sleep_for(100ms);
    std::istringstream lines(read_file(daemon.jsonl_path()));
    std::string line;
    std::vector<std::string> calls;
    while (std::getline(lines, line)) calls.push_back(json::parse(line)["call"]);
    CHECK(calls == std::vector<std::string>{"t-1", "t-2", "t-1", "t-3", "t-4"});
}

TEST_CASE("callpop tail prints the backlog as columns or JSON") {
    Daemon daemon;
    daemon.start();
    {
        Client supervisor(daemon.agent_port());
        follow_call_log(supervisor);
        Client pbx(daemon.switch_port());
        pbx.send(ring("cli-1", "+15550102000", "1001", json::object(), "support"));
        supervisor.expect("log");  // committed
    }
    const std::string port = std::to_string(daemon.agent_port());
    auto table = run_callpop({"tail", "--config", daemon.config_path().string(), "--port", port,
                              "--user", "super", "--token", "boss", "-n", "5"});
    CHECK(table.exit_code == 0);
    CHECK(table.output.find("ring") != std::string::npos);
    CHECK(table.output.find("cli-1") != std::string::npos);
    CHECK(table.output.find("Pat Doe") != std::string::npos);
    CHECK(table.output.find("support") != std::string::npos);

    auto raw = run_callpop({"tail", "--config", daemon.config_path().string(), "--port", port,
                            "--user", "super", "--token", "boss", "--json"});
    CHECK(raw.exit_code == 0);
    CHECK(json::parse(raw.output.substr(0, raw.output.find('\n')))["call"] == "cli-1");

    auto refused = run_callpop({"tail", "--config", daemon.config_path().string(), "--port", port,
                                "--user", "super", "--token", "wrong"});
    CHECK(refused.exit_code == 1);
    CHECK(refused.output.find("bad_login") != std::string::npos);
}

TEST_CASE("calls that never end are closed by the timeout") {
    Daemon::Options options;
    options.calls_config = "  max_duration_s: 1\n  ended_keep_s: 60\n";
    Daemon daemon(options);
    daemon.start();
    Client agent(daemon.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
    Client pbx(daemon.switch_port());
    pbx.send(ring("forever", "+15550102000", "1001"));
    agent.expect("pop");
    const json ended = agent.expect("call", 5s);
    CHECK(ended["state"] == "ended");
    CHECK(ended["cause"] == "timeout");
    std::this_thread::sleep_for(200ms);
    CHECK(query_one(daemon.database_path(), "SELECT state FROM calls WHERE call_id = 'forever'") ==
          "timeout");
}

TEST_CASE("an outcome for a call the daemon has forgotten is saved with the call's details") {
    Daemon::Options options;
    options.extra_config = without_missed_call_followups;
    options.calls_config = "  ended_keep_s: 1\n";
    Daemon daemon(options);
    daemon.start();
    Client agent(daemon.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
    Client pbx(daemon.switch_port());
    pbx.send(ring("gone-1", "+15550102000", "1001"));
    agent.expect("pop");
    pbx.send({{"event", "answer"}, {"call", "gone-1"}, {"ext", "1001"}});
    pbx.send({{"event", "hangup"}, {"call", "gone-1"}, {"cause", "normal"}});
    CHECK(agent.expect("call")["state"] == "ended");
    // The sweeper runs every second: after ~2 s the ended call has left memory.
    std::this_thread::sleep_for(2500ms);
    agent.send({{"type", "outcome"}, {"call", "gone-1"}, {"code", "resolved"}, {"notes", "late"}});
    CHECK(agent.expect("outcome_saved")["call"] == "gone-1");

    Client supervisor(daemon.agent_port());
    login(supervisor, "super", "boss");
    supervisor.send({{"type", "tail"}, {"backlog", 1}, {"follow", false}});
    const json record = supervisor.expect("log");
    CHECK(record["kind"] == "outcome");
    CHECK(record["from"] == "+15550102000");
    CHECK(record["customer"].is_number_integer());
    CHECK(record["line"] == "Support hotline");
}

namespace {

// Every (kind, call) the `callpop tail -f --json` output printed, with how often, and
// whether the ids only went up.
struct Printed {
    std::map<std::string, int> times;
    bool ids_ascending = true;
};

Printed printed(const std::string& output) {
    Printed result;
    std::istringstream lines(output);
    std::int64_t last_id = 0;
    for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line.front() != '{') continue;  // a reconnect's note
        const json record = json::parse(line);
        const auto id = record["id"].get<std::int64_t>();
        result.ids_ascending = result.ids_ascending && id > last_id;
        last_id = id;
        ++result.times[record["kind"].get<std::string>() + " " + record["call"].get<std::string>()];
    }
    return result;
}

// Cheap enough to poll: records are the lines that start with '{'.
std::size_t record_lines(const std::string& output) {
    std::size_t count = output.starts_with('{') ? 1 : 0;
    for (auto at = output.find("\n{"); at != std::string::npos; at = output.find("\n{", at + 1))
        ++count;
    return count;
}

// Made before the switch connects: under a sanitizer, making 20,000 lines can take longer than
// the daemon waits for a new switch's first event.
std::string burst(const std::string& prefix, int calls) {
    std::string lines;
    for (int call = 0; call < calls; ++call) {
        const std::string id = prefix + std::to_string(call);
        lines += ring(id, "+15550102000", "1001").dump() + "\n";
        lines += json{{"event", "hangup"}, {"call", id}}.dump() + "\n";
    }
    return lines;
}

}  // namespace

TEST_CASE("callpop tail -f prints every call of a burst once, and across a daemon restart") {
    Daemon::Options options;
    options.extra_config = without_missed_call_followups;
    options.agent_port = unused_port();
    Daemon daemon(options);
    daemon.start();
    Process tail("tail", {callpop_binary(), "tail", "-f", "--json", "-n", "0", "--config",
                          daemon.config_path().string(), "--port",
                          std::to_string(daemon.agent_port()), "--user", "super", "--token", "boss"},
                 daemon.dir());
    Client supervisor(daemon.agent_port());
    login(supervisor, "super", "boss");
    wait_until(
        [&] {
            return ask_status(supervisor)["tail_followers"] == 1;
        },
        10s, "the tail following");

    constexpr int calls = 10000;
    {
        const std::string lines = burst("b-", calls);
        Client pbx(daemon.switch_port());
        pbx.send_raw(lines);
        wait_until([&] { return record_lines(tail.output()) == 2 * calls; }, 60s,
                   "the burst printed");
    }
    // Restarted, with calls logged before the tail is back: it resumes after the last
    // record it printed.
    daemon.stop();
    daemon.start();
    {
        const std::string lines = burst("r-", 1000);
        Client pbx(daemon.switch_port());
        pbx.send_raw(lines);
        wait_until([&] { return record_lines(tail.output()) == 2 * calls + 2 * 1000; }, 60s,
                   "the calls after the restart printed");
    }
    const Printed seen = printed(tail.output());
    CHECK(seen.ids_ascending);
    CHECK(seen.times.size() == 2 * calls + 2 * 1000);
    for (const auto& [what, times] : seen.times) {
        if (times != 1) FAIL_CHECK(what << " printed " << times << " times");
    }
    CHECK(tail.running());
    CHECK(tail.output().find("reconnecting") != std::string::npos);
}

TEST_CASE("tail since: every record from a time on, read back from the store, then live") {
    Daemon daemon;
    daemon.start();
    Client supervisor(daemon.agent_port());
    follow_call_log(supervisor);
    Client pbx(daemon.switch_port());
    pbx.send(ring("before", "+15550102000", "1001"));
    expect_log(supervisor, "ring", "before");
    std::this_thread::sleep_for(20ms);
    const std::string since = callpop::domain::utc_now();
    std::this_thread::sleep_for(20ms);
    pbx.send(ring("after", "+15550102000", "1002"));
    expect_log(supervisor, "ring", "after");

    Client wallboard(daemon.agent_port());
    login(wallboard, "super", "boss");
    wallboard.send({{"type", "tail"}, {"since", since}});
    CHECK(wallboard.expect("backlog_end")["count"] == 0);
    const json first = wallboard.expect("log");
    CHECK(first["call"] == "after");  // not "before"
    CHECK(first["kind"] == "ring");
    pbx.send({{"event", "hangup"}, {"call", "after"}, {"cause", "normal"}});
    const json live = wallboard.expect("log");
    CHECK(live["call"] == "after");
    CHECK(live["kind"] == "hangup");

    wallboard.send({{"type", "tail"}, {"since", "noon"}});
    CHECK(wallboard.expect("error")["message"] ==
          "tail: since must be a UTC time such as 2026-12-04T05:00:00Z, not \"noon\"");
}
