// `callpop status` and the status message: the daemon's figures, each configured switch
// link (here one that cannot connect) and the native switch port, for supervisors only.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "harness.hpp"
#include "domain/timestamp.hpp"

using namespace callpop::test;

namespace {

std::string unreachable_ami_link(std::uint16_t port) {
    return "switches:\n  - {name: pbx-down, type: ami, host: 127.0.0.1, port: " +
           std::to_string(port) +
           ", username: u, secret: s, reconnect_min: 1s, reconnect_max: 2s}\n";
}

const json& switch_named(const json& status, const std::string& name) {
    for (const auto& link : status.at("switches"))
        if (link.at("name") == name) return link;
    FAIL("no switch \"" << name << "\" in " << status.dump());
    static const json none;
    return none;
}

// Asks until `done` holds for the status, for at most five seconds.
template <typename Condition>
json status_when(Client& supervisor, Condition done) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    json status = ask_status(supervisor);
    while (!done(status) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(50ms);
        status = ask_status(supervisor);
    }
    return status;
}

// A timestamp of the protocol, no further than a minute from now.
void check_recent(const json& time) {
    INFO("time: " << time.dump());
    REQUIRE(time.is_string());
    const auto parsed = callpop::domain::parse_utc(time.get<std::string>());
    const auto now = std::chrono::system_clock::now();
    CHECK(parsed > now - std::chrono::minutes(1));
    CHECK(parsed < now + std::chrono::minutes(1));
}

std::vector<std::string> status_command(const Daemon& daemon, const std::string& user,
                                        const std::string& token) {
    return {"status", "--config", daemon.config_path().string(), "--port",
            std::to_string(daemon.agent_port()), "--user", user, "--token", token};
}

}  // namespace

TEST_CASE("status: a configured AMI link that cannot connect is down, with the reason") {
    const RefusingPort nobody;
    Daemon::Options options;
    options.extra_config = unreachable_ami_link(nobody.port());
    Daemon daemon(options);
    daemon.start();
    Client supervisor(daemon.agent_port());
    login(supervisor, "super", "boss");

    const json status = status_when(supervisor, [](const json& answer) {
        return switch_named(answer, "pbx-down").at("state") == "down";
    });
    const json& link = switch_named(status, "pbx-down");
    const std::string address = "127.0.0.1:" + std::to_string(nobody.port());
    CHECK(link.at("type") == "ami");
    CHECK(link.at("address") == address);
    REQUIRE(link.at("state") == "down");
    REQUIRE(link.at("last_error").is_string());
    CHECK(link.at("last_error").get<std::string>().find("cannot connect to " + address) == 0);
    CHECK(link.at("up_since").is_null());
    CHECK(link.at("last_event_at").is_null());
    CHECK(link.at("connects") == 0);
    CHECK(link.at("events") == 0);
    CHECK_FALSE(link.contains("sessions"));

    const auto shown = run_callpop(status_command(daemon, "super", "boss"));
    REQUIRE_MESSAGE(shown.exit_code == 0, shown.output);
    INFO(shown.output);
    CHECK(shown.output.find("NAME") != std::string::npos);
    CHECK(shown.output.find("LAST-ERROR") != std::string::npos);
    // The link's row: its name, type, address, state and why it is down, in that order.
    const auto row = shown.output.find("pbx-down");
    REQUIRE(row != std::string::npos);
    const std::string line = shown.output.substr(row, shown.output.find('\n', row) - row);
    CHECK(line.find("ami") < line.find(address));
    CHECK(line.find(" down ", line.find(address)) != std::string::npos);
    CHECK(line.find("cannot connect to " + address) != std::string::npos);
    CHECK(shown.output.find("native") != std::string::npos);
    CHECK(shown.output.find("\nstore: up, 0 outages since start\n") != std::string::npos);
    CHECK(shown.output.find("link to the other daemons") == std::string::npos);  // SQLite
}

TEST_CASE("status: the native port counts its switches' events, calls and refused lines") {
    Daemon daemon;
    daemon.start();
    Client supervisor(daemon.agent_port());
    login(supervisor, "super", "boss");

    const json before = ask_status(supervisor);
    const json& idle = switch_named(before, "native");
    CHECK(idle.at("type") == "native");
    CHECK(idle.at("address") == "127.0.0.1:" + std::to_string(daemon.switch_port()));
    CHECK(idle.at("state") == "listening");
    CHECK(idle.at("sessions") == 0);
    CHECK(idle.at("last_event_at").is_null());
    CHECK(idle.at("up_since").is_null());
    CHECK(before.at("switches").size() == 1);  // no `switches:` configured

    {
        Client pbx(daemon.switch_port());
        pbx.send(ring("c-1", "+15550102000", "1001"));
        pbx.send({{"event", "answer"}, {"call", "c-1"}, {"ext", "1001"}});
        pbx.send({{"event", "hangup"}, {"call", "c-1"}, {"cause", "normal"}});
        pbx.send(ring("c-2", "+15550107777", "1002"));
        // Refused, and answered in order: once its error is back, every event before it is in.
        pbx.send_raw("{\"event\":\"ring\"}\n");
        CHECK(pbx.expect("error")["code"] == "missing_field");

        // c-2 rings once its caller is looked up, off the loop: a moment later at most.
        json status = ask_status(supervisor);
        for (int attempt = 0; attempt < 100 && status.at("live_calls") != 1; ++attempt) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            status = ask_status(supervisor);
        }
        const json& native = switch_named(status, "native");
        CHECK(native.at("state") == "up");
        CHECK(native.at("sessions") == 1);
        CHECK(native.at("connects") == 1);
        CHECK(native.at("messages") == 5);
        CHECK(native.at("events") == 4);
        CHECK(native.at("calls") == 2);
        CHECK(native.at("garbage") == 1);
        REQUIRE(native.at("last_error").is_string());
        CHECK(native.at("last_error").get<std::string>().find("missing_field: ") == 0);
        check_recent(native.at("up_since"));
        check_recent(native.at("last_event_at"));
        CHECK(status.at("live_calls") == 1);  // c-2 still rings
        CHECK(status.at("ended_calls") == 1);  // c-1, kept for late events and its outcome
        // One lookup a call: the one started as the ring arrived is the one its pop uses.
        CHECK(status.at("lookups") == 2);

        const auto shown = run_callpop(status_command(daemon, "super", "boss"));
        REQUIRE_MESSAGE(shown.exit_code == 0, shown.output);
        CHECK_MESSAGE(shown.output.find(" up (1 connected) ") != std::string::npos, shown.output);
    }

    // The switch hung up: the port listens again, its figures stay.
    const json after = status_when(supervisor, [](const json& answer) {
        return switch_named(answer, "native").at("sessions") == 0;
    });
    const json& native = switch_named(after, "native");
    CHECK(native.at("state") == "listening");
    CHECK(native.at("sessions") == 0);
    CHECK(native.at("up_since").is_null());
    CHECK(native.at("events") == 4);
    check_recent(native.at("last_event_at"));
}

TEST_CASE("status: agents are refused; the figures count who is logged in") {
    Daemon daemon;
    daemon.start();
    Client agent(daemon.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
    agent.send({{"type", "status"}});
    const json refused = agent.expect("error");
    CHECK(refused["code"] == "forbidden");
    CHECK(refused["message"] == "status is for supervisors");

    Client supervisor(daemon.agent_port());
    login(supervisor, "super", "boss");
    supervisor.send({{"type", "tail"}, {"backlog", 0}});
    supervisor.expect("backlog_end");
    agent.send({{"type", "next_followup"}});
    agent.expect("followup_waiting");
    const json status = ask_status(supervisor);
    CHECK(status.at("agents_logged_in") == 1);  // the supervisor takes no calls
    CHECK(status.at("agents_away") == 0);
    CHECK(status.at("tail_followers") == 1);
    CHECK(status.at("followup_waiters") == 1);
    CHECK(status.at("followups_held") == 0);
    CHECK(!status.contains("agents"));
    // Who, when asked: the agent at its extension, waiting for a follow-up.
    supervisor.send({{"type", "status"}, {"agents", true}});
    const json listed = supervisor.expect("status");
    CHECK(listed.at("agents") == json::parse(R"([{"agent":"1001","extensions":["1001"],"state":"connected",
                                                   "waiting_for_followup":true,"followup":null}])"));

    // Gone without logging out: away, its extension kept.
    agent.close();
    const json later = status_when(supervisor, [](const json& answer) {
        return answer.at("agents_away") == 1;
    });
    CHECK(later.at("agents_logged_in") == 0);
    CHECK(later.at("agents_away") == 1);
    CHECK(later.at("followup_waiters") == 0);
    supervisor.send({{"type", "status"}, {"agents", true}});
    const json away = supervisor.expect("status").at("agents");
    REQUIRE(away.size() == 1);
    CHECK(away[0].at("state") == "away");
    CHECK(away[0].at("waiting_for_followup") == false);

    // The command as an agent: refused, and says why. (1002: logging in as 1001 again
    // would have replaced the session above.)
    const auto shown = run_callpop(status_command(daemon, "1002", "secret-1002"));
    CHECK(shown.exit_code == 1);
    CHECK_MESSAGE(shown.output.find("callpop status: forbidden: status is for supervisors") !=
                      std::string::npos,
                  shown.output);
}

TEST_CASE("status --json: one JSON object with the documented keys") {
    Daemon::Options options;
    const RefusingPort nobody;
    options.extra_config = unreachable_ami_link(nobody.port());
    Daemon daemon(options);
    daemon.start();
    auto command = status_command(daemon, "super", "boss");
    command.push_back("--json");
    const auto shown = run_callpop(command);
    REQUIRE_MESSAGE(shown.exit_code == 0, shown.output);
    INFO(shown.output);
    CHECK(std::count(shown.output.begin(), shown.output.end(), '\n') == 1);
    const json status = json::parse(shown.output);
    REQUIRE(status.is_object());
    CHECK(status.at("type") == "status");
    CHECK(status.at("version").is_string());
    check_recent(status.at("started_at"));
    check_recent(status.at("at"));
    for (const char* key : {"uptime_s", "live_calls", "ended_calls", "agents_logged_in",
                            "agents_away", "tail_followers", "followup_waiters", "followups_held",
                            "writer_queue", "writer_spooled", "lookups"}) {
        INFO("key: " << key);
        CHECK(status.at(key).is_number_unsigned());
    }
    for (const char* key : {"calls_timed_out", "calls_closed_at_start", "tail_fell_behind",
                            "logins_refused", "outcomes_refused", "writes_failed",
                            "writes_spilled", "sessions_closed_for_account",
                            "logins_throttled", "switches_refused", "switch_hellos_refused",
                            "plain_refused", "tls_failed"}) {
        INFO("fault: " << key);
        CHECK(status.at("faults").at(key) == 0);
    }
    REQUIRE(status.at("switches").is_array());
    REQUIRE(status.at("switches").size() == 2);
    // Configured links first, in config order, then the native port.
    CHECK(status["switches"][0]["name"] == "pbx-down");
    CHECK(status["switches"][1]["name"] == "native");
    for (const auto& link : status.at("switches")) {
        for (const char* key : {"name", "type", "address", "state"}) {
            INFO("key: " << key);
            CHECK(link.at(key).is_string());
        }
        for (const char* key : {"last_error", "up_since", "last_event_at"}) {
            INFO("key: " << key);
            CHECK((link.at(key).is_string() || link.at(key).is_null()));
        }
        for (const char* key : {"connects", "messages", "events", "calls", "garbage"}) {
            INFO("key: " << key);
            CHECK(link.at(key).is_number_unsigned());
        }
    }
    CHECK(status["switches"][1].at("sessions").is_number_unsigned());
    // SQLite: a store of the daemon's own, taking writes, and no other daemons to link to.
    CHECK(status.at("store") == json{{"up", true}, {"outages", 0}, {"last_error", nullptr}});
    CHECK(status.at("peer_link").is_null());
}

TEST_CASE("status: no daemon running is a clear error") {
    Daemon daemon;  // configured, never started
    const RefusingPort nobody;
    const auto shown = run_callpop({"status", "--config", daemon.config_path().string(), "--port",
                                    std::to_string(nobody.port()), "--user", "super", "--token", "boss"});
    CHECK(shown.exit_code == 1);
    CHECK_MESSAGE(shown.output.find("callpop status: no daemon answers at 127.0.0.1:" +
                                    std::to_string(nobody.port()) + ": Connection refused") !=
                      std::string::npos,
                  shown.output);

    // Without a login there is nothing to ask with: a usage error.
    const auto anonymous = run_callpop({"status", "--config", daemon.config_path().string()});
    CHECK(anonymous.exit_code == 2);
    CHECK_MESSAGE(anonymous.output.find("--user and --token") != std::string::npos,
                  anonymous.output);
}
