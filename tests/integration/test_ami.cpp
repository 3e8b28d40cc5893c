// The daemon's Asterisk link against a manager port that plays the streams recorded from a
// real Asterisk 22 (tests/fixtures/ami).
#include <doctest/doctest.h>

#include "ami_server.hpp"
#include "harness.hpp"
#include "support/ami_fixtures.hpp"
#include "support/sqlite_query.hpp"

using namespace callpop::test;

namespace {

std::string ami_switch_config(std::uint16_t port, const std::string& extra = "",
                              const std::string& reconnect_max = "2s") {
    return "switches:\n"
           "  - name: pbx1\n"
           "    type: ami\n"
           "    host: 127.0.0.1\n"
           "    port: " +
           std::to_string(port) +
           "\n"
           "    username: cti\n"
           "    secret: cti-secret\n"
           "    extension_patterns: [\"Local/{ext}@phones\"]\n"
           "    inbound_contexts: [from-trunk]\n"
           "    reconnect_min: 1s\n"
           "    reconnect_max: " +
           reconnect_max + "\n" + extra;
}

AmiServer::Session playing(std::vector<std::string> pieces, bool close_after = false) {
    AmiServer::Session session;
    session.pieces = std::move(pieces);
    session.close_after = close_after;
    return session;
}

// Every recorded call, one after the other, as one stream.
std::string all_recorded_calls() {
    std::string stream;
    for (const auto& name : ami_fixture_names)
        stream += AmiServer::after_banner(read_ami_fixture(name + ".ami"));
    return stream;
}

struct Expected {
    const char* call;
    const char* caller;
    const char* name;
    const char* dialed;
    const char* queue;
    bool answered;
    const char* cause;
    const char* state;  // in the calls table
};

void expect_call(Client& agent, Client& supervisor, const Daemon& daemon,
                 const Expected& expected) {
    CAPTURE(expected.call);
    const json pop = agent.expect("pop");
    CHECK(pop["call"] == expected.call);
    CHECK(pop["caller"]["raw"] == std::string(expected.caller).substr(2));
    CHECK(pop["caller"]["number"] == expected.caller);
    CHECK(pop["caller"]["name"] == expected.name);
    CHECK(pop["dialed"] == expected.dialed);
    CHECK(pop["queue"] == expected.queue);
    const json ended = agent.expect("call");
    CHECK(ended["call"] == expected.call);
    CHECK(ended["state"] == "ended");
    CHECK(ended["cause"] == expected.cause);
    CHECK(expect_log(supervisor, "hangup", expected.call)["switch"] == "pbx1");
    const std::string where = "FROM calls WHERE call_id = '" + std::string(expected.call) + "'";
    CHECK(query_one(daemon.database_path(), "SELECT state || ' ' || switch || ' ' || caller || ' ' || "
                                            "cause " + where) ==
          std::string(expected.state) + " pbx1 " + expected.caller + " " + expected.cause);
    CHECK(query_one(daemon.database_path(), "SELECT answered_at IS NOT NULL " + where) ==
          (expected.answered ? "1" : "0"));
}

void play_all_calls(int cuts, unsigned seed) {
    AmiServer asterisk;
    asterisk.add_session(playing(AmiServer::cut(all_recorded_calls(), cuts, seed)));
    Daemon daemon({.extra_config = ami_switch_config(asterisk.port())});
    daemon.start();
    Client alice(daemon.agent_port());
    Client bob(daemon.agent_port());
    Client dave(daemon.agent_port());
    login(alice, "1001", "secret-1001", {"1001"});
    login(bob, "1002", "secret-1002", {"1002"});
    login(dave, "1003", "secret-1003", {"1003", "1005"});
    Client supervisor(daemon.agent_port());
    follow_call_log(supervisor);
    asterisk.release();

    expect_call(alice, supervisor, daemon,
                {"1795385697.0", "+12125550101", "Alice Caller", "8005551000", "support", true,
                 "normal", "completed"});
    expect_call(bob, supervisor, daemon,
                {"1795385708.0", "+13125550102", "Bob Caller", "8005551002", "", true, "normal",
                 "completed"});
    expect_call(dave, supervisor, daemon,
                {"1795385824.0", "+14155550103", "Carla Impatient", "8005552000", "sales", false,
                 "abandoned", "abandoned"});
    expect_call(dave, supervisor, daemon,
                {"1795385731.0", "+16175550104", "Dan Unlucky", "8005551003", "", false,
                 "no_answer", "abandoned"});
    expect_call(dave, supervisor, daemon,
                {"1795385744.0", "+17185550105", "Eve Busytone", "8005551005", "", false, "busy",
                 "abandoned"});
    // The answering agent's pop names the line; the call log names the switch and the agent.
    CHECK(query_one(daemon.database_path(),
                    "SELECT line || ' ' || agent FROM calls WHERE call_id = '1795385697.0'") ==
          "Support hotline 1001");
    CHECK(query_one(daemon.database_path(),
                    "SELECT group_concat(kind, ',') FROM (SELECT kind FROM call_log WHERE "
                    "call_id = '1795385697.0' ORDER BY id)") == "ring,ring,answer,hangup");
    // Each unanswered caller is owed a call back.
    expect_log(supervisor, "followup_created", "1795385744.0");
    CHECK(query_one(daemon.database_path(),
                    "SELECT count(*) FROM followups WHERE kind = 'callback'") == "3");

    // The login asked for call and agent events only, and the channel list followed it.
    const auto actions = asterisk.actions();
    REQUIRE(actions.size() == 1);
    REQUIRE(actions[0].size() >= 2);
    CHECK(actions[0][0].at("Action") == "Login");
    CHECK(actions[0][0].at("Username") == "cti");
    CHECK(actions[0][0].at("Secret") == "cti-secret");
    CHECK(actions[0][0].at("Events") == "call,agent");
    CHECK(actions[0][1].at("Action") == "CoreShowChannels");
    CHECK(asterisk.connections() == 1);
}

}  // namespace

TEST_CASE("ami: the recorded Asterisk calls pop and log, streamed in one piece") {
    play_all_calls(0, 1);
}

TEST_CASE("ami: the recorded Asterisk calls pop and log, streamed split at random points") {
    play_all_calls(300, 20261123);
}

TEST_CASE("ami: a wrong secret is one clear error and slow retries, not a storm") {
    AmiServer asterisk;
    AmiServer::Session refusing;
    refusing.secret = "another-secret";
    for (int i = 0; i < 10; ++i) asterisk.add_session(refusing);
    Daemon daemon({.extra_config = ami_switch_config(asterisk.port(), "", "5s")});
    daemon.start();
    std::this_thread::sleep_for(3500ms);
    // A refused login waits reconnect_max (5 s); backoff from reconnect_min (1 s) would
    // have tried three times by now.
    CHECK(asterisk.connections() == 1);
    const std::string log = daemon.log();
    const std::string error =
        "[error] switch pbx1: Asterisk refused the login of user \"cti\": Authentication failed";
    CHECK(log.find(error) != std::string::npos);
    CHECK(log.find(error) == log.rfind(error));  // an error once, not at every retry
    // The daemon serves agents meanwhile.
    Client agent(daemon.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
}

TEST_CASE("ami: after a lost link the channel list closes the calls that ended unseen") {
    AmiServer asterisk;
    const std::string queue_call = AmiServer::after_banner(read_ami_fixture("queue.ami"));
    // The first connection breaks right after the agent answered.
    const auto answered = queue_call.find("Event: AgentConnect");
    const auto cut = queue_call.find("\r\n\r\n", answered) + 4;
    asterisk.add_session(playing({queue_call.substr(0, cut)}, true));
    asterisk.add_session({});  // nothing is live any more
    Daemon daemon({.extra_config = ami_switch_config(asterisk.port())});
    daemon.start();
    Client alice(daemon.agent_port());
    login(alice, "1001", "secret-1001", {"1001"});
    Client supervisor(daemon.agent_port());
    follow_call_log(supervisor);
    asterisk.release();

    CHECK(alice.expect("pop")["call"] == "1795385697.0");
    const json ended = alice.expect("call", 10s);
    CHECK(ended["state"] == "ended");
    CHECK(ended["cause"] == "unknown");
    CHECK(asterisk.connections() == 2);
    expect_log(supervisor, "hangup", "1795385697.0");
    CHECK(query_one(daemon.database_path(),
                    "SELECT state || ' ' || cause FROM calls WHERE call_id = '1795385697.0'") ==
          "completed unknown");
    CHECK(daemon.log().find("switch pbx1: the switch closed the connection; reconnecting in 1 s") !=
          std::string::npos);
}

TEST_CASE("ami: garbage from Asterisk is skipped and the link stays up") {
    AmiServer asterisk;
    const std::string garbage = std::string(70000, 'x') + "\r\n\r\nno colon here\r\n\r\n" +
                                "Message: neither a response nor an event\r\n\r\n";
    asterisk.add_session(
        playing({garbage, AmiServer::after_banner(read_ami_fixture("direct.ami"))}));
    Daemon daemon({.extra_config = ami_switch_config(asterisk.port())});
    daemon.start();
    Client bob(daemon.agent_port());
    login(bob, "1002", "secret-1002", {"1002"});
    asterisk.release();
    CHECK(bob.expect("pop")["call"] == "1795385708.0");
    CHECK(bob.expect("call")["cause"] == "normal");
    CHECK(asterisk.connections() == 1);
    const std::string log = daemon.log();
    CHECK(log.find("switch pbx1: skipped: line_too_long") != std::string::npos);
    CHECK(log.find("switch pbx1: skipped: a message with neither Response nor Event") !=
          std::string::npos);
}

TEST_CASE("ami: a switch that stops answering Ping is dropped and dialled again") {
    AmiServer asterisk;
    AmiServer::Session silent;
    silent.answer_pings = false;
    asterisk.add_session(silent);
    asterisk.release();
    Daemon daemon({.extra_config = ami_switch_config(asterisk.port(), "    ping_interval: 1s\n")});
    daemon.start();
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (asterisk.connections() < 2 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(50ms);
    CHECK(asterisk.connections() == 2);
    const auto actions = asterisk.actions();
    REQUIRE(actions.size() >= 1);
    const bool pinged = std::any_of(actions[0].begin(), actions[0].end(),
                                    [](const auto& action) { return action.at("Action") == "Ping"; });
    CHECK(pinged);
    CHECK(daemon.log().find("switch pbx1: no answer to Ping for ") != std::string::npos);
}

TEST_CASE("ami over TLS: the calls pop through it, and a certificate that does not check out "
          "is one clear error") {
    AmiServer asterisk(/*tls=*/true);
    asterisk.add_session(playing({AmiServer::after_banner(read_ami_fixture("queue.ami"))}));
    const std::string trusted = "    tls: true\n    ca: " + tls_file("ca.pem").string() + "\n";
    Daemon daemon({.extra_config = ami_switch_config(asterisk.port(), trusted)});
    daemon.start();
    Client alice(daemon.agent_port());
    login(alice, "1001", "secret-1001", {"1001"});
    asterisk.release();
    CHECK(alice.expect("pop")["caller"]["name"] == "Alice Caller");
    const auto actions = asterisk.actions();
    REQUIRE(!actions.empty());
    CHECK(actions[0].at(0).at("Secret") == "cti-secret");  // said inside TLS

    AmiServer impostor(/*tls=*/true);
    for (int i = 0; i < 10; ++i) impostor.add_session({});
    const std::string distrusting =
        "    tls: true\n    ca: " + tls_file("other-ca.pem").string() + "\n";
    Daemon wary({.extra_config = ami_switch_config(impostor.port(), distrusting, "5s")});
    wary.start();
    std::this_thread::sleep_for(3500ms);
    for (const auto& actions_seen : impostor.actions())
        CHECK(actions_seen.empty());  // the secret never went to it
    const std::string log = wary.log();
    const std::string error = "[error] switch pbx1: TLS with 127.0.0.1:" +
                              std::to_string(impostor.port()) +
                              " failed: certificate verify failed";
    CHECK_MESSAGE(log.find(error) != std::string::npos, log);
    CHECK(log.find(error) == log.rfind(error));  // once, then slow retries
}
