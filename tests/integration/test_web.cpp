// The web port (listen.http): /healthz and /metrics over HTTP and HTTPS, and what it refuses.
#include <doctest/doctest.h>

#include <string>

#include "harness.hpp"
#include "store_lock.hpp"

using namespace callpop::test;

namespace {

struct HttpAnswer {
    int status = 0;
    std::string head;  // status line and headers
    std::string body;
};

HttpAnswer ask_http(std::uint16_t port, const std::string& request, bool tls = false) {
    Client client(port);
    if (tls) REQUIRE(client.start_tls(tls_file("ca.pem")).empty());
    client.send_raw(request);
    const std::string reply = client.read_until_closed();
    HttpAnswer answer;
    const auto end_of_head = reply.find("\r\n\r\n");
    REQUIRE_MESSAGE(end_of_head != std::string::npos, reply);
    answer.head = reply.substr(0, end_of_head);
    answer.body = reply.substr(end_of_head + 4);
    REQUIRE(reply.rfind("HTTP/1.", 0) == 0);
    answer.status = std::stoi(reply.substr(9, 3));
    return answer;
}

HttpAnswer http_get(std::uint16_t port, const std::string& target, bool tls = false) {
    return ask_http(port, "GET " + target + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                    tls);
}

Daemon::Options with_web(const std::string& keys = "", bool tls = false,
                         const std::string& extra_config = "") {
    Daemon::Options options;
    options.http = keys;
    options.http_tls = tls;
    options.extra_config = extra_config;
    return options;
}

}  // namespace

TEST_CASE("web port: /healthz says ok and /metrics counts a pop; other paths and methods are refused") {
    Daemon daemon(with_web());
    daemon.start();
    REQUIRE(daemon.http_port() != 0);
    const auto health = http_get(daemon.http_port(), "/healthz");
    CHECK(health.status == 200);
    CHECK(health.body == "ok\n");

    Client agent(daemon.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
    Client pbx(daemon.switch_port());
    pbx.send(ring("m-1", "+15550102000", "1001"));
    agent.expect("pop");
    const auto metrics = http_get(daemon.http_port(), "/metrics");
    CHECK(metrics.status == 200);
    CHECK(has(metrics.head, "Content-Type: text/plain; version=0.0.4"));
    CAPTURE(metrics.body);
    CHECK(has(metrics.body, "# TYPE callpop_calls gauge\n"));
    CHECK(has(metrics.body, "\ncallpop_calls{state=\"ringing\"} 1\n"));
    CHECK(has(metrics.body, "\ncallpop_calls{state=\"answered\"} 0\n"));
    CHECK(has(metrics.body, "\ncallpop_pops_sent_total 1\n"));
    CHECK(has(metrics.body, "\ncallpop_event_to_pop_seconds_count 1\n"));
    CHECK(has(metrics.body, "\ncallpop_event_to_pop_seconds_bucket{le=\"+Inf\"} 1\n"));
    CHECK(has(metrics.body, "\ncallpop_agents_logged_in 1\n"));
    CHECK(has(metrics.body, "\ncallpop_switch_up{switch=\"native\",type=\"native\"} 1\n"));
    CHECK(has(metrics.body, "\ncallpop_followups_due "));
    CHECK(has(metrics.body, "\ncallpop_followups_overdue "));
    CHECK(has(metrics.body, "\ncallpop_writer_queue "));
    CHECK(has(metrics.body, "\ncallpop_store_writable 1\n"));
    CHECK(has(metrics.body, "\ncallpop_faults_total{kind=\"logins_refused\"} 0\n"));

    const auto missing = http_get(daemon.http_port(), "/console");
    CHECK(missing.status == 404);
    CHECK(has(missing.body, "not found: /console"));
    const auto posted = ask_http(daemon.http_port(),
                                 "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                                 "Connection: close\r\n\r\n");
    CHECK(posted.status == 405);
    const auto head = ask_http(daemon.http_port(),
                               "HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(head.status == 200);
    CHECK(has(head.head, "Content-Length: 3"));
    CHECK(head.body.empty());
    const auto garbage = ask_http(daemon.http_port(), "HELLO THERE\r\n\r\n");
    CHECK(garbage.status == 400);
    // A client that misbehaves costs nobody else: the agent still gets pops.
    pbx.send(ring("m-2", "+15550102000", "1001"));
    CHECK(agent.expect("pop")["call"] == "m-2");
}

TEST_CASE("web port: keep-alive serves several requests on one connection; oversized and TLS-on-plain refused") {
    Daemon daemon(with_web());
    daemon.start();
    {
        Client client(daemon.http_port());
        client.send_raw("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        const std::string replies = client.read_until_closed();
        CHECK(replies.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
        CHECK(has(replies, "Content-Length: 3\r\n\r\nHTTP/1.1 200 OK\r\n"));  // HEAD: no body
        CHECK(has(replies, "\r\n\r\nok\nHTTP/1.1 200 OK\r\n"));
        CHECK(has(replies, "\ncallpop_up 1\n"));
    }
    const auto oversized =
        ask_http(daemon.http_port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nCookie: " +
                                         std::string(10000, 'c') + "\r\nConnection: close\r\n\r\n");
    CHECK(oversized.status == 431);
    const auto old_client = ask_http(daemon.http_port(), "GET /healthz HTTP/1.0\r\n\r\n");
    CHECK(old_client.head.rfind("HTTP/1.0 200 OK", 0) == 0);
    Client tls_client(daemon.http_port());
    CHECK(!tls_client.start_tls(tls_file("ca.pem")).empty());  // no TLS here: refused
    CHECK(has(daemon.log(), "TLS, but listen.http has no tls: closed"));
}

TEST_CASE("web port: /healthz is 503 naming a switch link that is down, or a store that takes no writes") {
    const auto unreachable_switch = "switches:\n  - {name: pbx-east, type: ami, host: 127.0.0.1, port: " +
                                    std::to_string(unused_port()) + ", username: u, secret: s}\n";
    {
        Daemon daemon(with_web("", false, unreachable_switch));
        daemon.start();
        const auto health = http_get(daemon.http_port(), "/healthz");
        CHECK(health.status == 503);
        CHECK_MESSAGE(has(health.body, "switch pbx-east: "), health.body);
    }
    Daemon daemon(with_web());
    daemon.start();
    CHECK(http_get(daemon.http_port(), "/healthz").status == 200);
    StoreLock lock(daemon.database_path());
    const auto locked = http_get(daemon.http_port(), "/healthz");
    CHECK(locked.status == 503);
    CHECK(locked.body == "store: the store took no write within 2 s\n");
    const auto metrics = http_get(daemon.http_port(), "/metrics");
    CHECK(metrics.status == 200);  // the figures are served all the same
    CHECK(has(metrics.body, "\ncallpop_store_writable 0\n"));
    CHECK(!has(metrics.body, "callpop_followups_due"));
    lock.release();
    bool healthy = false;
    for (int attempt = 0; attempt < 20 && !healthy; ++attempt)
        healthy = http_get(daemon.http_port(), "/healthz").status == 200;
    CHECK(healthy);
}

TEST_CASE("web port: HTTPS, and plain HTTP only from listen.http.allow_plain") {
    Daemon daemon(with_web(", allow_plain: [10.0.0.0/8]", true));
    daemon.start();
    const auto secure = http_get(daemon.http_port(), "/healthz", true);
    CHECK(secure.status == 200);
    CHECK(secure.body == "ok\n");
    const auto plain = http_get(daemon.http_port(), "/healthz");
    CHECK(plain.status == 403);
    CHECK(plain.body == "this port takes HTTPS; plain HTTP only from listen.http.allow_plain\n");
    CHECK(has(daemon.log(), "plain connection refused: not in listen.http.allow_plain"));
}
