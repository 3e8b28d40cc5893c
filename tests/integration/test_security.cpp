// Who may talk to the daemon and how: TLS on the agent port, plain connections only from
// listen.agent.allow_plain, and the native switch's shared secret.
#include <doctest/doctest.h>
#include <sys/socket.h>

#include <thread>

#include "harness.hpp"
#include "support/wait_until.hpp"

using namespace callpop::test;

namespace {

// `callpop <verb>` against the daemon over TLS, as a supervisor on another host would run it.
std::vector<std::string> over_tls(const Daemon& daemon, std::vector<std::string> verb,
                                  const std::string& ca = "ca.pem") {
    std::vector<std::string> command = std::move(verb);
    for (const std::string& option :
         {std::string("--config"), daemon.config_path().string(), std::string("--host"),
          std::string("localhost"), std::string("--port"), std::to_string(daemon.agent_port()),
          std::string("--user"), std::string("super"), std::string("--token"),
          std::string("boss"), std::string("--ca"), tls_file(ca).string()})
        command.push_back(option);
    return command;
}

json status_over_tls(const Daemon& daemon) {
    Client supervisor(daemon.agent_port());
    REQUIRE(supervisor.start_tls(tls_file("ca.pem")) == "");
    login(supervisor, "super", "boss");
    return ask_status(supervisor);
}

}  // namespace

TEST_CASE("TLS on the agent port: pops over TLS, and plain still from loopback by default") {
    Daemon::Options options;
    options.agent_tls = true;
    Daemon daemon(options);
    daemon.start();

    Client secure(daemon.agent_port());
    REQUIRE(secure.start_tls(tls_file("ca.pem")) == "");
    login(secure, "1001", "secret-1001", {"1001"});
    Client local(daemon.agent_port());  // a terminal on the daemon's own machine
    login(local, "1002", "secret-1002", {"1002"});

    Client pbx(daemon.switch_port());
    pbx.send(ring("tls-1", "+15550102000", "1001"));
    const json pop = secure.expect("pop");
    CHECK(pop["call"] == "tls-1");
    CHECK(pop["customer"]["name"] == "Pat Doe");
    pbx.send(ring("plain-1", "+15550104000", "1002"));
    CHECK(local.expect("pop")["call"] == "plain-1");

    // The certificate names localhost and 127.0.0.1; a client asking for another name, or
    // trusting another authority, refuses it and the daemon counts the failed handshake.
    Client wrong_name(daemon.agent_port());
    CHECK(wrong_name.start_tls(tls_file("ca.pem"), "pbx.example.com") != "");
    Client wrong_ca(daemon.agent_port());
    const std::string refused = wrong_ca.start_tls(tls_file("other-ca.pem"));
    CHECK_MESSAGE(refused.find("certificate") != std::string::npos, refused);
    Client by_address(daemon.agent_port());
    CHECK(by_address.start_tls(tls_file("ca.pem"), "127.0.0.1") == "");

    // The sessions that got in are undisturbed.
    pbx.send(ring("tls-2", "+15550102000", "1001"));
    CHECK(secure.expect("pop")["call"] == "tls-2");

    // A burst to a TLS terminal with a small window, read late: the daemon's writes wait
    // for the socket again and again, and every pop arrives whole, in order.
    Client narrow(daemon.agent_port());
    const int window = 4096;
    ::setsockopt(narrow.fd(), SOL_SOCKET, SO_RCVBUF, &window, sizeof window);
    REQUIRE(narrow.start_tls(tls_file("ca.pem")) == "");
    login(narrow, "1003", "secret-1003", {"1003"});
    constexpr int burst = 300;
    for (int call = 0; call < burst; ++call)
        pbx.send(ring("burst-" + std::to_string(call), "+15550102000", "1003"));
    std::this_thread::sleep_for(500ms);
    for (int call = 0; call < burst; ++call)
        REQUIRE(narrow.expect("pop")["call"] == "burst-" + std::to_string(call));
    wait_until([&] { return status_over_tls(daemon)["faults"]["tls_failed"] >= 2; }, 5s,
               "two failed handshakes counted");
}

TEST_CASE("plain connections only from listen.agent.allow_plain, told why") {
    Daemon::Options options;
    options.agent_tls = true;
    options.agent_allow_plain = "[10.0.0.0/8]";  // not the test's 127.0.0.1
    Daemon daemon(options);
    daemon.start();

    Client plain(daemon.agent_port());
    plain.send({{"type", "login"}, {"agent", "1001"}, {"token", "secret-1001"}});
    const json bye = plain.expect("bye");
    CHECK(bye["code"] == "tls_required");
    CHECK(bye["message"].get<std::string>().find("listen.agent.allow_plain") != std::string::npos);
    CHECK(plain.closed_by_peer());
    CHECK(daemon.log().find("plain connection refused: not in listen.agent.allow_plain") !=
          std::string::npos);

    Client secure(daemon.agent_port());
    REQUIRE(secure.start_tls(tls_file("ca.pem")) == "");
    login(secure, "1001", "secret-1001", {"1001"});
    Client pbx(daemon.switch_port());
    pbx.send(ring("after-refusal", "+15550102000", "1001"));
    CHECK(secure.expect("pop")["call"] == "after-refusal");

    // The command line speaks TLS too, and checks the daemon's certificate.
    const auto shown = run_callpop(over_tls(daemon, {"status"}));
    REQUIRE_MESSAGE(shown.exit_code == 0, shown.output);
    CHECK(shown.output.find("1 plain agent connections refused") != std::string::npos);
    const auto tail = run_callpop(over_tls(daemon, {"tail", "-n", "5"}));
    CHECK_MESSAGE(tail.exit_code == 0, tail.output);
    CHECK(tail.output.find("after-refusal") != std::string::npos);
    const auto distrusted = run_callpop(over_tls(daemon, {"tail", "-f"}, "other-ca.pem"));
    CHECK(distrusted.exit_code == 1);  // refused at once, not retried forever
    CHECK_MESSAGE(distrusted.output.find("certificate verify failed") != std::string::npos,
                  distrusted.output);
    std::vector<std::string> plain_status = over_tls(daemon, {"status"});
    plain_status.resize(plain_status.size() - 2);  // without --ca: plain
    const auto refused = run_callpop(plain_status);
    CHECK(refused.exit_code != 0);
    CHECK(refused.output.find("tls_required") != std::string::npos);
}

TEST_CASE("a client that stalls or garbles its TLS handshake holds up no one") {
    Daemon::Options options;
    options.agent_tls = true;
    options.login_timeout_s = 1;
    Daemon daemon(options);
    daemon.start();

    Client stalled(daemon.agent_port());
    stalled.send_raw(std::string(1, '\x16'));  // a handshake record that never comes
    Client garbled(daemon.agent_port());
    garbled.send_raw(std::string("\x16\x03\x01\x00\x05hello", 10));

    Client secure(daemon.agent_port());
    REQUIRE(secure.start_tls(tls_file("ca.pem")) == "");
    login(secure, "1001", "secret-1001", {"1001"});
    Client pbx(daemon.switch_port());
    pbx.send(ring("meanwhile", "+15550102000", "1001"));
    CHECK(secure.expect("pop")["call"] == "meanwhile");

    CHECK(garbled.closed_by_peer());
    CHECK(stalled.closed_by_peer(3s));  // at login_timeout_s

    // A TLS terminal that resets its connection while pops are being written to it costs
    // only its session (a write to a reset socket raises SIGPIPE unless the daemon ignores it).
    for (int round = 0; round < 3; ++round) {
        Client gone(daemon.agent_port());
        const int window = 4096;
        ::setsockopt(gone.fd(), SOL_SOCKET, SO_RCVBUF, &window, sizeof window);
        REQUIRE(gone.start_tls(tls_file("ca.pem")) == "");
        login(gone, "1002", "secret-1002", {"1002"});
        for (int call = 0; call < 200; ++call)
            pbx.send(ring("reset-" + std::to_string(round) + "-" + std::to_string(call),
                          "+15550102000", "1002"));
        std::this_thread::sleep_for(100ms);
        const linger abort_at_close{1, 0};
        ::setsockopt(gone.fd(), SOL_SOCKET, SO_LINGER, &abort_at_close, sizeof abort_at_close);
        gone.close();  // RST: the daemon's next write fails
        std::this_thread::sleep_for(200ms);
    }
    pbx.send(ring("after-resets", "+15550102000", "1001"));
    CHECK(secure.expect("pop")["call"] == "after-resets");
    CHECK(status_over_tls(daemon)["faults"]["tls_failed"] >= 1);
}

TEST_CASE("listen.switch.secret: a native switch says it in a hello before its events count") {
    Daemon::Options options;
    options.switch_secret = "s3cret switch";
    Daemon daemon(options);
    daemon.start();
    Client agent(daemon.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});

    Client no_hello(daemon.switch_port());
    no_hello.send(ring("unheard-1", "+15550102000", "1001"));
    json bye = no_hello.expect("bye");
    CHECK(bye["code"] == "unauthorized");
    CHECK(bye["message"].get<std::string>().find("hello") != std::string::npos);
    CHECK(no_hello.closed_by_peer());

    Client wrong(daemon.switch_port());
    wrong.send({{"event", "hello"}, {"secret", "guess"}});
    wrong.send(ring("unheard-2", "+15550102000", "1001"));
    CHECK(wrong.expect("bye")["code"] == "unauthorized");
    Client ping_first(daemon.switch_port());
    ping_first.send({{"event", "ping"}});
    bye = ping_first.expect("bye");
    CHECK(bye["code"] == "unauthorized");
    CHECK(bye["message"].get<std::string>().find("got a \"ping\" event") != std::string::npos);
    Client no_secret(daemon.switch_port());
    no_secret.send({{"event", "hello"}, {"switch", "pbx-east"}});
    CHECK(no_secret.expect("bye")["message"].get<std::string>().find("the hello has no \"secret\"") !=
          std::string::npos);
    CHECK(agent.quiet());

    Client pbx(daemon.switch_port());
    pbx.send({{"event", "hello"}, {"secret", "s3cret switch"}});
    pbx.send(ring("heard-1", "+15550102000", "1001"));
    CHECK(agent.expect("pop")["call"] == "heard-1");
    CHECK(pbx.quiet());  // nothing to say back to a good hello

    Client supervisor(daemon.agent_port());
    login(supervisor, "super", "boss");
    const json status = ask_status(supervisor);
    CHECK(status["faults"]["switch_hellos_refused"] == 4);
    CHECK(status["live_calls"] == 1);
    CHECK(daemon.log().find("the hello's secret is not listen.switch.secret") != std::string::npos);

    // A port that asks for no secret takes a hello all the same, silently.
    Daemon open_port;
    open_port.start();
    Client agent2(open_port.agent_port());
    login(agent2, "1001", "secret-1001", {"1001"});
    Client switch2(open_port.switch_port());
    switch2.send({{"event", "hello"}, {"secret", "anything"}});
    switch2.send(ring("open-1", "+15550102000", "1001"));
    CHECK(agent2.expect("pop")["call"] == "open-1");
    CHECK(switch2.quiet());
}

TEST_CASE("roles: an admin may close any agent's sessions, a supervisor may not") {
    Daemon daemon;
    daemon.start();
    Client agent(daemon.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
    Client supervisor(daemon.agent_port());
    login(supervisor, "super", "boss");
    supervisor.send({{"type", "disconnect"}, {"agent", "1001"}});
    json refused = supervisor.expect("error");
    CHECK(refused["code"] == "forbidden");
    CHECK(refused["message"] == "disconnecting agents is for admins");

    const auto added = run_callpop({"agent", "add", "root", "--role", "admin", "--config",
                                    daemon.config_path().string(), "--token", "root-token"});
    REQUIRE_MESSAGE(added.exit_code == 0, added.output);
    Client admin(daemon.agent_port());
    CHECK(login(admin, "root", "root-token")["role"] == "admin");
    admin.send({{"type", "disconnect"}, {"agent", "1001"}});
    const json done = admin.expect("disconnected");
    CHECK(done["agent"] == "1001");
    CHECK(done["sessions"] == 1);
    const json bye = agent.expect("bye");
    CHECK(bye["code"] == "disconnected");
    CHECK(bye["message"].get<std::string>().find("root") != std::string::npos);
    CHECK(agent.closed_by_peer());
    admin.send({{"type", "disconnect"}, {"agent", "1001"}});
    CHECK(admin.expect("error")["code"] == "not_found");

    // Not a ban: the agent logs in again, and its calls pop there.
    Client again(daemon.agent_port());
    login(again, "1001", "secret-1001", {"1001"});
    Client pbx(daemon.switch_port());
    pbx.send(ring("after-disconnect", "+15550102000", "1001"));
    CHECK(again.expect("pop")["call"] == "after-disconnect");
}
