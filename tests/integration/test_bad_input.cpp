// Bad input on every port gets an error naming what was wrong; the connection, the other
// clients and everything already accepted carry on.
#include <doctest/doctest.h>
#include <sys/socket.h>

#include <thread>

#include "harness.hpp"
#include "support/wait_until.hpp"

using namespace callpop::test;

TEST_CASE("the switch port answers each bad line with an error and keeps the connection") {
    Daemon daemon;
    daemon.start();
    Client agent(daemon.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
    Client pbx(daemon.switch_port());
    pbx.send(ring("good-1", "+15550102000", "1001"));

    struct Case {
        std::string line;
        std::string code;
        std::string message;
    };
    const std::vector<Case> cases = {
        {"this is not json", "bad_json", "not JSON at byte 2 of the line"},
        {"[1,2]", "bad_json", "expected a JSON object"},
        {R"({"call":"x"})", "missing_field", "event: missing field \"event\""},
        {R"({"event":"park","call":"x"})", "unknown_event",
         "unknown event \"park\" (expected ring, answer, hangup, transfer, hello or ping)"},
        {R"({"event":"ring"})", "missing_field", "ring event: missing field \"call\""},
        {R"({"event":"ring","call":7})", "bad_field",
         "ring event: field \"call\" must be a string"},
        {R"({"event":"ring","call":"x","data":"nope"})", "bad_field",
         "ring event: field \"data\" must be an object"},
    };
    for (const auto& bad : cases) {
        CAPTURE(bad.line);
        pbx.send_raw(bad.line + "\n");
        const json error = pbx.expect("error");
        CHECK(error["code"] == bad.code);
        CHECK(error["message"] == bad.message);
    }
    pbx.send_raw(std::string(70 * 1024, 'x') + "\n");
    const json too_long = pbx.expect("error");
    CHECK(too_long["code"] == "line_too_long");

    pbx.send(ring("good-2", "+15550102000", "1001"));
    CHECK(agent.expect("pop")["call"] == "good-1");
    CHECK(agent.expect("pop")["call"] == "good-2");
}

TEST_CASE("events split at every byte, and many in one write, are all decoded") {
    Daemon daemon;
    daemon.start();
    Client agent(daemon.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
    Client pbx(daemon.switch_port());
    std::string burst;
    for (int call = 0; call < 20; ++call)
        burst += ring("burst-" + std::to_string(call), "+15550102000", "1001").dump() + "\r\n";
    pbx.send_raw(burst);
    const std::string split = ring("split", "+15550102000", "1001").dump() + "\n";
    for (char byte : split) {
        pbx.send_raw(std::string(1, byte));
        std::this_thread::sleep_for(1ms);
    }
    for (int call = 0; call < 20; ++call)
        CHECK(agent.expect("pop")["call"] == "burst-" + std::to_string(call));
    CHECK(agent.expect("pop")["call"] == "split");
}

TEST_CASE("the agent port names each bad message and keeps the connection") {
    Daemon daemon;
    daemon.start();
    Client agent(daemon.agent_port());
    agent.send({{"type", "ack"}, {"seq", 1}});
    CHECK(agent.expect("error")["code"] == "not_logged_in");
    agent.send_raw("{oops\n");
    CHECK(agent.expect("error")["code"] == "bad_json");
    agent.send({{"type", "dance"}});
    json error = agent.expect("error");
    CHECK(error["code"] == "unknown_type");
    agent.send({{"type", "login"}, {"agent", "1001"}});
    error = agent.expect("error");
    CHECK(error["code"] == "missing_field");
    CHECK(error["message"] == "login: missing field \"token\"");
    agent.send({{"type", "login"}, {"agent", "1001"}, {"token", "wrong"}});
    error = agent.expect("error");
    CHECK(error["code"] == "bad_login");
    CHECK(error["message"] == "unknown agent or wrong token");
    agent.send({{"type", "login"}, {"agent", "nobody"}, {"token", "x"}});
    CHECK(agent.expect("error")["code"] == "bad_login");
    agent.send_raw(std::string(100 * 1024, '{') + "\n");
    CHECK(agent.expect("error")["code"] == "line_too_long");
    // Still the same connection: a good login works.
    CHECK(login(agent, "1001", "secret-1001", {"1001"})["agent"] == "1001");
    agent.send({{"type", "outcome"}, {"call", "c"}});
    CHECK(agent.expect("error")["message"] == "outcome: missing field \"code\"");
    agent.send({{"type", "ping"}});
    agent.expect("pong");
}

TEST_CASE("a client that says nothing is closed after the login timeout") {
    Daemon daemon;  // login_timeout_s: 2
    daemon.start();
    Client silent(daemon.agent_port());
    Client silent_switch(daemon.switch_port());
    const json bye = silent.expect("bye", 6s);
    CHECK(bye["code"] == "idle_timeout");
    CHECK(silent.closed_by_peer());
    CHECK(silent_switch.expect("bye", 6s)["code"] == "idle_timeout");
    // A half line and a stall does not keep the connection either.
    Client half(daemon.switch_port());
    half.send_raw("{\"event\":\"ri");
    CHECK(half.expect("bye", 6s)["code"] == "idle_timeout");
}

// A switch restarted at night connects while no call comes: its hello and pings must keep
// it, or it would reconnect in a loop every login_timeout_s.
TEST_CASE("a native switch that says hello or pings while no call comes is kept") {
    Daemon daemon;  // login_timeout_s: 2
    daemon.start();
    Client pinging(daemon.switch_port());
    Client greeting(daemon.switch_port());
    greeting.send({{"event", "hello"}, {"switch", "pbx-east"}});
    for (int second = 0; second < 4; ++second) {
        pinging.send({{"event", "ping"}});
        CHECK(pinging.expect("pong", 2s).size() == 1);  // {"type":"pong"}, nothing else
        std::this_thread::sleep_for(1s);
    }
    CHECK(greeting.quiet());  // past the 2 s deadline, no bye
    CHECK(daemon.log().find("says it is switch \"pbx-east\"") != std::string::npos);
    // Both still carry calls.
    Client agent(daemon.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
    greeting.send(ring("after-hello", "+15550102000", "1001"));
    CHECK(agent.expect("pop")["call"] == "after-hello");
    pinging.send(ring("after-pings", "+15550102000", "1001"));
    CHECK(agent.expect("pop")["call"] == "after-pings");
    // An unknown event names the ones there are.
    pinging.send({{"event", "park"}, {"call", "x"}});
    CHECK(pinging.expect("error")["message"] ==
          "unknown event \"park\" (expected ring, answer, hangup, transfer, hello or ping)");
}

TEST_CASE("an agent that stops reading is dropped without slowing the others") {
    Daemon::Options options;
    options.queue_max = 16;
    Daemon daemon(options);
    daemon.start();
    Client stalled(daemon.agent_port());
    login(stalled, "1001", "secret-1001", {"1001"});
    Client healthy(daemon.agent_port());
    login(healthy, "1002", "secret-1002", {"1002"});
    Client pbx(daemon.switch_port());
    // Big pops fill the socket buffers quickly, then the queue.
    const std::string padding(48 * 1024, 'p');
    constexpr int calls = 300;
    for (int call = 0; call < calls; ++call) {
        json event = ring("flood-" + std::to_string(call), "+15550102000", "1001");
        event["data"] = {{"padding", padding}};
        pbx.send(event);
        if (call % 50 == 0) {
            pbx.send(ring("healthy-" + std::to_string(call), "+15550102000", "1002"));
            CHECK(healthy.expect("pop")["call"] == "healthy-" + std::to_string(call));
        }
    }
    // Now read what the stalled agent was sent: it ends with the reason, then the close.
    json last;
    while (auto line = stalled.read_line(10s)) last = json::parse(*line);
    CHECK(last["type"] == "bye");
    CHECK(last["code"] == "slow_consumer");
    CHECK(last["message"].get<std::string>().find("16 queued messages") != std::string::npos);
    pbx.send(ring("after", "+15550102000", "1002"));
    CHECK(healthy.expect("pop")["call"] == "after");
}

TEST_CASE("an agent dropped for the bytes it left unread is told so, not a message count") {
    Daemon daemon;  // queue_max 1024: ~300 pops near the line limit pass 16 MiB first
    daemon.start();
    Client stalled(daemon.agent_port());
    login(stalled, "1001", "secret-1001", {"1001"});
    // A small receive window, so the kernel cannot hold what the daemon's queue should: with
    // autotuned buffers (~10 MiB on loopback) 24 MiB of pops fit in the sockets plus 16 MiB.
    const int window = 64 * 1024;
    REQUIRE(setsockopt(stalled.fd(), SOL_SOCKET, SO_RCVBUF, &window, sizeof window) == 0);
    Client pbx(daemon.switch_port());
    const std::string padding(60 * 1024, 'p');
    for (int call = 0; call < 500; ++call) {
        json event = ring("big-" + std::to_string(call), "+15550102000", "1001");
        event["data"] = {{"padding", padding}};
        pbx.send(event);
    }
    // Read nothing until the daemon has given up on us: reading earlier races its queue.
    wait_until([&] { return daemon.log().find("unread, disconnecting") != std::string::npos; },
               60s, "the stalled agent dropped");
    json last;
    while (auto line = stalled.read_line(10s)) last = json::parse(*line);
    CHECK(last["code"] == "slow_consumer");
    CHECK(last["message"].get<std::string>().find("16 MiB of queued messages") !=
          std::string::npos);
}

TEST_CASE("a switch that disconnects mid-call loses nothing already accepted") {
    Daemon daemon;
    daemon.start();
    Client supervisor(daemon.agent_port());
    follow_call_log(supervisor);
    {
        Client pbx(daemon.switch_port());
        pbx.send(ring("kept", "+15550102000", "1001"));
        pbx.send_raw("{\"event\":\"hangup\",\"call\":\"ke");  // cut off mid-line
    }
    CHECK(supervisor.expect("log")["call"] == "kept");
    daemon.stop();
    daemon.start();
    Client later(daemon.agent_port());
    login(later, "super", "boss");
    later.send({{"type", "tail"}, {"backlog", 5}, {"follow", false}});
    CHECK(later.expect("log")["call"] == "kept");
}

TEST_CASE("check-config names the file, line, column and key") {
    TempDir dir;
    write_file(dir / "bad.yaml", "outcomes:\n  - {code: ok}\nlisten:\n  agent:\n    port: 99999\n");
    auto result = run_callpop({"check-config", "--config", (dir / "bad.yaml").string()});
    CHECK(result.exit_code == 1);
    CHECK(result.output.find((dir / "bad.yaml").string() + ":5:11: listen.agent.port:") !=
          std::string::npos);
    write_file(dir / "good.yaml", "outcomes:\n  - {code: ok}\n");
    auto good = run_callpop({"check-config", "--config", (dir / "good.yaml").string()});
    CHECK(good.exit_code == 0);
}

TEST_CASE("check-config refuses what serve refuses, at the same file:line:col") {
    TempDir dir;
    const std::string certificate = tls_file("server.pem");
    const std::string missing_ca = (dir / "missing.pem").string();
    const std::string switch_line =
        "  - {name: pbx, type: ami, host: 127.0.0.1, username: u, secret: s, tls: true, ca: " +
        missing_ca + "}";
    struct Case {
        std::string yaml;
        std::string where;  // what both must print: "<file>:line:col: key: why"
    };
    const Case cases[] = {
        {"outcomes:\n  - {code: ok}\nsite:\n  region: XX\n",
         ":4:11: site.region: unknown phone region \"XX\""},
        {"outcomes:\n  - {code: ok}\nsite:\n  timezone: America/NewYork\n",
         ":4:13: site.timezone: time zone \"America/NewYork\" is not in the tz database"},
        // The certificate given as its own key.
        {"outcomes:\n  - {code: ok}\nlisten:\n  agent:\n    tls:\n      certificate: " +
             certificate + "\n      key: " + certificate + "\n",
         ":7:12: listen.agent.tls.key: " + certificate + ":"},
        {"outcomes:\n  - {code: ok}\nswitches:\n" + switch_line + "\n",
         ":4:" + std::to_string(switch_line.find(missing_ca) + 1) + ": switches[0].ca: " +
             missing_ca + ": No such file or directory"},
    };
    for (const auto& bad : cases) {
        const auto file = dir / "bad.yaml";
        write_file(file, bad.yaml);
        CAPTURE(bad.yaml);
        const auto checked = run_callpop({"check-config", "--config", file.string()});
        CHECK(checked.exit_code == 1);
        CHECK(checked.output.find(file.string() + bad.where) != std::string::npos);
        CAPTURE(checked.output);
        const auto served = run_callpop({"serve", "--config", file.string()});
        CHECK(served.exit_code == 1);
        CHECK(served.output.find(file.string() + bad.where) != std::string::npos);
        CAPTURE(served.output);
    }
}

TEST_CASE("the switch port takes connections only from listen.switch.allow") {
    Daemon::Options options;
    options.switch_allow = "[10.0.0.0/8, \"fd00::/8\"]";  // not the test's 127.0.0.1
    Daemon daemon(options);
    daemon.start();
    Client stranger(daemon.switch_port());
    stranger.send(ring("from-outside", "+15550102000", "1001"));
    CHECK(stranger.closed_by_peer());
    CHECK(daemon.log().find("switch port: connection from 127.0.0.1 refused: not in "
                            "listen.switch.allow") != std::string::npos);
    Client supervisor(daemon.agent_port());
    login(supervisor, "super", "boss");
    const json status = ask_status(supervisor);
    CHECK(status["faults"]["switches_refused"] == 1);
    CHECK(status["live_calls"] == 0);

    Daemon::Options loopback;
    loopback.switch_allow = "[127.0.0.1]";
    Daemon allowed(loopback);
    allowed.start();
    Client agent(allowed.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
    Client pbx(allowed.switch_port());
    pbx.send(ring("from-inside", "+15550102000", "1001"));
    CHECK(agent.expect("pop")["call"] == "from-inside");
}
