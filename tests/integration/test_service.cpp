// callpop as a service: what SIGHUP does (systemctl reload, logrotate's postrotate).
#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <string>

#include "harness.hpp"
#include "support/wait_until.hpp"

using namespace callpop::test;

namespace {

std::string replaced(std::string text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    REQUIRE_MESSAGE(at != std::string::npos, from);
    return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("SIGHUP reopens the JSONL call log after logrotate moved it") {
    Daemon daemon;
    daemon.start();
    Client agent(daemon.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
    Client pbx(daemon.switch_port());
    pbx.send(ring("before-rotate", "+15550102000", "1001"));
    agent.expect("pop");
    const auto jsonl = daemon.jsonl_path();
    wait_until([&] { return has(read_file(jsonl), "before-rotate"); }, 5s, "the first ring in the JSONL file");
    const auto rotated = std::filesystem::path(jsonl.string() + ".1");
    std::filesystem::rename(jsonl, rotated);

    daemon.send_signal(SIGHUP);
    wait_until([&] { return has(daemon.log(), "call log: " + jsonl.string() + " reopened"); }, 5s,
               "the JSONL file reopened");
    pbx.send(ring("after-rotate", "+15550102000", "1001"));
    CHECK(agent.expect("pop")["call"] == "after-rotate");
    wait_until([&] { return std::filesystem::exists(jsonl) && has(read_file(jsonl), "after-rotate"); }, 5s,
               "the second ring in a new JSONL file");
    CHECK(!has(read_file(jsonl), "before-rotate"));
    CHECK(!has(read_file(rotated), "after-rotate"));
    CHECK(has(daemon.log(), "passed its checks"));
}

TEST_CASE("SIGHUP with a config that does not pass keeps the running one, and says why") {
    Daemon daemon;
    daemon.start();
    Client agent(daemon.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
    const std::string good = read_file(daemon.config_path());
    write_file(daemon.config_path(), replaced(good, "region: US", "region: XX"));
    daemon.send_signal(SIGHUP);
    const std::string expected = daemon.config_path().string() +
                                 ":2:11: site.region: unknown phone region \"XX\"; the running "
                                 "configuration is kept";
    wait_until([&] { return has(daemon.log(), expected); }, 5s, expected);
    // Still running, on what it had.
    Client pbx(daemon.switch_port());
    pbx.send(ring("still-up", "+15550102000", "1001"));
    CHECK(agent.expect("pop")["call"] == "still-up");

    // A change that cannot apply while running is named as waiting for the next start.
    write_file(daemon.config_path(), replaced(good, "heartbeat_s: 15", "heartbeat_s: 20"));
    daemon.send_signal(SIGHUP);
    wait_until([&] { return has(daemon.log(), "other changes take effect at the next start"); }, 5s,
               "the reload's warning");
}

TEST_CASE("callpop reload: an admin's reload message does what SIGHUP does; others may not") {
    Daemon daemon;
    daemon.start();
    Client supervisor(daemon.agent_port());
    login(supervisor, "super", "boss");
    supervisor.send({{"type", "reload"}});
    const json refused = supervisor.expect("error");
    CHECK(refused["code"] == "forbidden");
    CHECK(refused["message"] == "reloading the configuration is for admins");

    const auto added = run_callpop({"agent", "add", "root", "--role", "admin", "--config",
                                    daemon.config_path().string(), "--token", "root-token"});
    REQUIRE_MESSAGE(added.exit_code == 0, added.output);
    const std::vector<std::string> reload = {"reload",     "--config", daemon.config_path().string(),
                                             "--port",     std::to_string(daemon.agent_port()),
                                             "--user",     "root",     "--token", "root-token"};
    const auto unchanged = run_callpop(reload);
    CHECK(unchanged.exit_code == 0);
    CHECK(unchanged.output == daemon.config_path().string() +
                                  " passed its checks: log.level and the TLS certificates applied, the JSONL "
                                  "call log's file opened again\n");

    const std::string good = read_file(daemon.config_path());
    write_file(daemon.config_path(), replaced(good, "heartbeat_s: 15", "heartbeat_s: 20"));
    const auto changed = run_callpop(reload);
    CHECK(changed.exit_code == 0);
    CHECK(has(changed.output, "other changes take effect at the next start"));

    write_file(daemon.config_path(), replaced(good, "timezone: America/New_York", "timezone: America/NewYork"));
    const auto bad = run_callpop(reload);
    CHECK(bad.exit_code == 1);
    CHECK(has(bad.output, "config_error: " + daemon.config_path().string() +
                              ":3:13: site.timezone: time zone \"America/NewYork\" is not in the tz database"));
    // The admin's own session may ask too, and the daemon keeps running.
    Client admin(daemon.agent_port());
    login(admin, "root", "root-token");
    admin.send({{"type", "reload"}});
    CHECK(admin.expect("error")["code"] == "config_error");
    write_file(daemon.config_path(), good);
    admin.send({{"type", "reload"}});
    const json reloaded = admin.expect("reloaded");
    CHECK(reloaded["config"] == daemon.config_path().string());
    CHECK(reloaded["restart_needed"] == false);
}

TEST_CASE("SIGHUP reads renewed certificates: new connections get them, open ones stay") {
    TempDir certificates;
    std::filesystem::copy_file(tls_file("server.pem"), certificates / "server.pem");
    std::filesystem::copy_file(tls_file("server.key"), certificates / "server.key");
    Daemon::Options options;
    options.agent_tls = true;
    options.tls_dir = certificates.path();
    options.http = "";
    options.http_tls = true;
    Daemon daemon(options);
    daemon.start();
    Client before(daemon.agent_port());
    REQUIRE(before.start_tls(tls_file("ca.pem")) == "");
    login(before, "1001", "secret-1001", {"1001"});

    // The renewed pair, put in place as certbot or an admin does, then the reload.
    std::filesystem::copy_file(tls_file("renewed.pem"), certificates / "server.pem",
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(tls_file("renewed.key"), certificates / "server.key",
                               std::filesystem::copy_options::overwrite_existing);
    daemon.send_signal(SIGHUP);
    wait_until([&] { return has(daemon.log(), "passed its checks"); }, 5s, "the reload");

    for (const std::uint16_t port : {daemon.agent_port(), daemon.http_port()}) {
        CAPTURE(port);
        Client renewed(port);
        CHECK(renewed.start_tls(tls_file("renewed-ca.pem")) == "");
        Client old(port);
        CHECK(old.start_tls(tls_file("ca.pem")) != "");  // the old certificate is gone
    }
    // The session opened before the reload keeps its connection.
    Client pbx(daemon.switch_port());
    pbx.send(ring("after-renewal", "+15550102000", "1001"));
    CHECK(before.expect("pop")["call"] == "after-renewal");
}
