// Follow-up calls end to end: an outcome or a missed call schedules one, it falls due, one
// waiting agent gets it under a lease, the attempt is stored and shows in the report.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <date/tz.h>

#include "support/sqlite_query.hpp"
#include "harness.hpp"

using namespace callpop::test;

namespace {

// A calling window open from an hour ago to three hours ahead on the zone's clock, so
// that what falls due during the test may be called whatever the time of day.
std::string window_around_now(const std::string& zone) {
    const auto local = date::make_zoned(zone, std::chrono::system_clock::now()).get_local_time();
    const auto from = date::floor<std::chrono::minutes>(local - std::chrono::hours(1));
    const auto to = date::floor<std::chrono::minutes>(local + std::chrono::hours(3));
    return "{from: \"" + date::format("%H:%M", from) + "\", to: \"" + date::format("%H:%M", to) +
           "\"}";
}

std::string followup_config(const std::string& extra = "") {
    // The customers here live in New York; the site is there too.
    const std::string window = window_around_now("America/New_York");
    return "followups:\n"
           "  lease: 60s\n"
           "  defaults: {window: " + window + ", attempts: 2, retry_after: 1s}\n"
           "  outcomes:\n"
           "    repaired: {kind: satisfaction, delay: 1s}\n"
           "    complaint: {kind: callback, delay: 0s}\n"
           "  missed_calls: {kind: callback, delay: 0s}\n" + extra;
}

// Rings, answers at 1001, hangs up, and records the outcome; returns outcome_saved.
json answered_call_with_outcome(Client& pbx, Client& agent, const std::string& call,
                                const std::string& from, json outcome) {
    pbx.send(ring(call, from, "1001"));
    agent.expect("pop");
    pbx.send({{"event", "answer"}, {"call", call}, {"ext", "1001"}});
    pbx.send({{"event", "hangup"}, {"call", call}, {"cause", "normal"}});
    agent.expect("call");
    outcome["type"] = "outcome";
    outcome["call"] = call;
    agent.send(outcome);
    return agent.expect("outcome_saved");
}


}  // namespace

TEST_CASE("a repair's survey falls due, goes to exactly one of two waiting agents, and is reported") {
    Daemon daemon({.extra_config = followup_config()});
    daemon.start();
    Client supervisor(daemon.agent_port());
    follow_call_log(supervisor);
    Client desk(daemon.agent_port());
    login(desk, "1001", "secret-1001", {"1001"});
    Client first(daemon.agent_port());
    login(first, "1002", "secret-1002");
    Client second(daemon.agent_port());
    login(second, "1003", "secret-1003");
    first.send({{"type", "next_followup"}});
    CHECK(first.expect("followup_waiting")["agents_waiting"] == 1);
    second.send({{"type", "next_followup"}});
    CHECK(second.expect("followup_waiting")["agents_waiting"] == 2);

    Client pbx(daemon.switch_port());
    const json saved = answered_call_with_outcome(
        pbx, desk, "s-1", "+15550102000", {{"code", "repaired"}, {"notes", "replaced the fuser"}});
    REQUIRE(saved["followup"].is_object());
    CHECK(saved["followup"]["kind"] == "satisfaction");
    const auto id = saved["followup"]["id"].get<std::int64_t>();
    // On the customer's clock (New York), with its offset.
    const std::string due = saved["followup"]["due"];
    CHECK((due.ends_with("-05:00") || due.ends_with("-04:00")));

    const json created = expect_log(supervisor, "followup_created");
    CHECK(created["followup"] == id);
    CHECK(created["call"] == "s-1");
    CHECK(created["outcome"] == "repaired");

    // Due a second later; the first agent in line gets it, the other nothing.
    const json offer = first.expect("followup", 10s);
    CHECK(second.quiet(1500ms));
    CHECK(offer["followup"]["id"] == id);
    CHECK(offer["followup"]["number"] == "+15550102000");
    CHECK(offer["customer"]["name"] == "Pat Doe");
    CHECK(offer["call"]["call"] == "s-1");
    CHECK(offer["call"]["outcome"] == "repaired");
    CHECK(offer["call"]["notes"] == "replaced the fuser");
    CHECK(offer["survey"]["scale"] == "csat");
    CHECK(expect_log(supervisor, "followup_offered")["agent"] == "1002");

    // Only the agent it was offered to may record the attempt.
    second.send({{"type", "followup_result"}, {"followup", id}, {"result", "reached"}, {"score", 5}});
    CHECK(second.expect("error")["code"] == "not_offered");
    first.send({{"type", "followup_result"}, {"followup", id}, {"result", "reached"}, {"score", 9}});
    CHECK(first.expect("error")["message"] == "score 9 is outside the csat scale (1 to 5)");
    first.send({{"type", "followup_result"},
                {"followup", id},
                {"result", "reached"},
                {"score", 4},
                {"comment", "printer works, but the visit was late"}});
    const json done = first.expect("followup_saved");
    CHECK(done["status"] == "completed");
    // Committed before it was acknowledged.
    CHECK(query_one(daemon.database_path(),
                    "SELECT status || '|' || score || '|' || comment || '|' || closed_by "
                    "FROM followups WHERE id = " + std::to_string(id)) ==
          "completed|4|printer works, but the visit was late|1002");
    CHECK(expect_log(supervisor, "followup_attempted")["outcome"] == "reached");
    CHECK(expect_log(supervisor, "followup_completed")["followup"] == id);
    const std::string jsonl = read_file(daemon.dir() / "calls.jsonl");
    CHECK(jsonl.find("\"kind\":\"followup_completed\"") != std::string::npos);

    // The second agent is still waiting; a second survey for Pat is throttled.
    const json again = answered_call_with_outcome(pbx, desk, "s-2", "+15550102000",
                                                  {{"code", "repaired"}});
    CHECK(again["followup"].is_null());
    CHECK(std::string(again["no_followup"]).starts_with("surveyed on "));

    const auto report = run_callpop({"report", "csat", "--config", daemon.config_path().string()});
    REQUIRE_MESSAGE(report.exit_code == 0, report.output);
    CHECK(report.output.find("1001") != std::string::npos);
    CHECK(report.output.find("4.00") != std::string::npos);
    const auto feedback =
        run_callpop({"report", "feedback", "--config", daemon.config_path().string()});
    REQUIRE_MESSAGE(feedback.exit_code == 0, feedback.output);
    CHECK(feedback.output.find("LaserJet Pro M404") != std::string::npos);
    CHECK(feedback.output.find("the visit was late") != std::string::npos);
}

TEST_CASE("an abandoned call yields one callback, not two; retries end as unreachable") {
    Daemon daemon({.extra_config = followup_config()});
    daemon.start();
    Client supervisor(daemon.agent_port());
    follow_call_log(supervisor);
    Client pbx(daemon.switch_port());
    for (const char* call : {"a-1", "a-2"}) {
        pbx.send(ring(call, "+1 555 010 9999", "1001"));
        pbx.send({{"event", "hangup"}, {"call", call}, {"cause", "abandoned"}});
    }
    const json created = expect_log(supervisor, "followup_created");
    CHECK(created["outcome"] == "abandoned");
    CHECK(created["from"] == "+15550109999");
    CHECK(created["call"] == "a-1");
    expect_log(supervisor, "hangup");  // a-2's, after which its callback was refused
    CHECK(supervisor.quiet(500ms));
    CHECK(query_one(daemon.database_path(),
                    "SELECT count(*) FROM followups WHERE kind = 'callback' AND number = "
                    "'+15550109999'") == "1");
    const auto id = created["followup"].get<std::int64_t>();

    // Two attempts at most: no answer, then busy, and it closes as unreachable.
    Client agent(daemon.agent_port());
    login(agent, "1002", "secret-1002");
    agent.send({{"type", "next_followup"}});
    CHECK(agent.expect("followup", 10s)["followup"]["id"] == id);
    agent.send({{"type", "followup_result"}, {"followup", id}, {"result", "no_answer"}});
    json saved = agent.expect("followup_saved");
    CHECK(saved["status"] == "open");
    CHECK(saved["next_due"].is_string());
    agent.send({{"type", "next_followup"}});
    CHECK(agent.expect("followup", 10s)["followup"]["attempts_made"] == 1);
    agent.send({{"type", "followup_result"}, {"followup", id}, {"result", "busy"}});
    saved = agent.expect("followup_saved");
    CHECK(saved["status"] == "unreachable");
    CHECK(expect_log(supervisor, "followup_unreachable")["followup"] == id);
    CHECK(query_one(daemon.database_path(),
                    "SELECT count(*) FROM followup_attempts WHERE followup_id = " +
                        std::to_string(id)) == "2");

    // Closed: a new abandoned call from the number gets a new callback.
    pbx.send(ring("a-3", "+15550109999", "1001"));
    pbx.send({{"event", "hangup"}, {"call", "a-3"}, {"cause", "abandoned"}});
    CHECK(expect_log(supervisor, "followup_created")["call"] == "a-3");
    // The switch's answer comes late: the call was taken after all, so no callback is owed.
    pbx.send({{"event", "answer"}, {"call", "a-3"}, {"ext", "1001"}});
    const json cancelled = expect_log(supervisor, "followup_cancelled");
    CHECK(cancelled["call"] == "a-3");
    CHECK(cancelled["notes"] == "the call was answered after all");
}

TEST_CASE("a follow-up held by an agent who drops goes to the next agent at once") {
    Daemon daemon({.extra_config = followup_config()});
    daemon.start();
    Client pbx(daemon.switch_port());
    pbx.send(ring("d-1", "+15550106666", "1001"));
    pbx.send({{"event", "hangup"}, {"call", "d-1"}, {"cause", "no_answer"}});

    auto leaving = std::make_unique<Client>(daemon.agent_port());
    login(*leaving, "1002", "secret-1002");
    leaving->send({{"type", "next_followup"}});
    const auto id = leaving->expect("followup", 10s)["followup"]["id"].get<std::int64_t>();
    Client staying(daemon.agent_port());
    login(staying, "1003", "secret-1003");
    staying.send({{"type", "next_followup"}});
    staying.expect("followup_waiting");
    CHECK(staying.quiet(1500ms));  // leased to 1002
    leaving.reset();
    const json offer = staying.expect("followup", 10s);
    CHECK(offer["followup"]["id"] == id);
    CHECK(offer["followup"]["reason"] == "missed");
    CHECK(offer["customer"].is_null());  // an unknown caller: the number is all we have
}

TEST_CASE("do-not-call customers get no follow-up; agents can ask for one or decline it") {
    Daemon daemon({.extra_config = followup_config("  on_request: {kind: satisfaction, delay: 7d}\n")});
    daemon.start();
    Client agent(daemon.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
    Client pbx(daemon.switch_port());

    json saved = answered_call_with_outcome(pbx, agent, "n-1", "+49 30 1234567",
                                            {{"code", "repaired"}});
    CHECK(saved["followup"].is_null());
    CHECK(saved["no_followup"] == "the customer is on the do-not-call list");

    saved = answered_call_with_outcome(pbx, agent, "n-2", "+15550102000",
                                       {{"code", "repaired"}, {"satisfaction_call", false}});
    CHECK(saved["followup"].is_null());
    CHECK(saved["no_followup"] == "declined by the agent");

    // "resolved" has no policy: asking schedules the on_request survey, 7 days out.
    saved = answered_call_with_outcome(pbx, agent, "n-3", "+15550102000",
                                       {{"code", "resolved"}, {"satisfaction_call", true}});
    REQUIRE(saved["followup"].is_object());
    CHECK(saved["followup"]["kind"] == "satisfaction");
    CHECK(query_one(daemon.database_path(), "SELECT reason FROM followups WHERE call_id = 'n-3'") ==
          "requested");

    // Without a policy or a request, nothing is scheduled and nothing needs explaining.
    saved = answered_call_with_outcome(pbx, agent, "n-4", "+15550102000", {{"code", "resolved"}});
    CHECK(saved["followup"].is_null());
    CHECK_FALSE(saved.contains("no_followup"));
}

TEST_CASE("supervisors close follow-ups by hand; agents may not") {
    Daemon daemon({.extra_config = followup_config()});
    daemon.start();
    Client supervisor(daemon.agent_port());
    follow_call_log(supervisor);
    Client pbx(daemon.switch_port());
    pbx.send(ring("c-1", "+15550107777", "1001"));
    pbx.send({{"event", "hangup"}, {"call", "c-1"}, {"cause", "busy"}});
    const auto id = expect_log(supervisor, "followup_created")["followup"].get<std::int64_t>();

    Client agent(daemon.agent_port());
    login(agent, "1001", "secret-1001");
    agent.send({{"type", "followup_close"}, {"followup", id}, {"status", "cancelled"}});
    CHECK(agent.expect("error")["code"] == "forbidden");

    const std::string port = std::to_string(daemon.agent_port());
    const auto cancelled = run_callpop({"followups", "cancel", std::to_string(id), "--config",
                                        daemon.config_path().string(), "--port", port, "--user",
                                        "super", "--token", "boss", "--notes", "called us again"});
    REQUIRE_MESSAGE(cancelled.exit_code == 0, cancelled.output);
    const json record = expect_log(supervisor, "followup_cancelled");
    CHECK(record["notes"] == "called us again");
    CHECK(record["agent"] == "super");
    CHECK(query_one(daemon.database_path(),
                    "SELECT status FROM followups WHERE id = " + std::to_string(id)) == "cancelled");
    const auto again = run_callpop({"followups", "complete", std::to_string(id), "--config",
                                    daemon.config_path().string(), "--port", port, "--user",
                                    "super", "--token", "boss"});
    CHECK(again.exit_code == 1);
    CHECK(again.output.find("follow-up " + std::to_string(id) + " is already cancelled") !=
          std::string::npos);
}
