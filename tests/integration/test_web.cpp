// The web port (listen.http): /healthz and /metrics over HTTP and HTTPS, and what it refuses.
#include <doctest/doctest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
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
    CHECK(has(metrics.body, "\ncallpop_store_outages_total 0\n"));
    CHECK_FALSE(has(metrics.body, "callpop_peer_link_up"));  // SQLite: no other daemons
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
    const RefusingPort nobody;
    const auto unreachable_switch = "switches:\n  - {name: pbx-east, type: ami, host: 127.0.0.1, port: " +
                                    std::to_string(nobody.port()) + ", username: u, secret: s}\n";
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

namespace {

// A WebSocket client as a browser's page is one: Origin set to the page's own origin unless
// told otherwise. Every read waits at most 5 s, then fails the test.
class WebSocketClient {
public:
    // `host`: the Host header; empty: the address and port.
    explicit WebSocketClient(std::uint16_t port, const std::string& origin = "same",
                             std::string host = "")
        : socket_(io_) {
        namespace websocket = boost::beast::websocket;
        socket_.next_layer().connect({boost::asio::ip::make_address("127.0.0.1"), port});
        if (host.empty()) host = "127.0.0.1:" + std::to_string(port);
        const std::string sent_origin = origin == "same" ? "http://" + host : origin;
        socket_.set_option(websocket::stream_base::decorator([sent_origin](websocket::request_type& request) {
            if (!sent_origin.empty()) request.set(boost::beast::http::field::origin, sent_origin);
        }));
        socket_.handshake(response_, host, "/ws", error_);
    }
    // Why the upgrade was refused ("" when it was not).
    std::string refusal() const { return error_ ? error_.message() : ""; }

    void send(const json& message) {
        socket_.text(true);
        socket_.write(boost::asio::buffer(message.dump()));
    }
    json next() {
        boost::beast::flat_buffer buffer;
        std::optional<boost::system::error_code> result;
        socket_.async_read(buffer, [&](boost::system::error_code error, std::size_t) { result = error; });
        io_.restart();
        io_.run_for(std::chrono::seconds(5));
        if (!result) {
            socket_.next_layer().cancel();
            io_.restart();
            io_.run();
        }
        REQUIRE_MESSAGE(result, "nothing came within 5 s");
        REQUIRE_MESSAGE(!*result, result->message());
        return json::parse(boost::beast::buffers_to_string(buffer.data()));
    }
    // The browser closing its tab: a close frame, and the daemon's answer to it.
    void close() {
        boost::system::error_code ignored;
        socket_.close(boost::beast::websocket::close_code::going_away, ignored);
    }
    json expect(const std::string& type) {
        for (int skipped = 0; skipped < 50; ++skipped) {
            auto message = next();
            if (message["type"] == type) return message;
        }
        FAIL("no " << type);
        return {};
    }

private:
    boost::asio::io_context io_;
    boost::beast::websocket::stream<boost::asio::ip::tcp::socket> socket_;
    boost::beast::websocket::response_type response_;
    boost::system::error_code error_;
};

}  // namespace

TEST_CASE("web port: the console and the wallboard, and the files they load, are served from the binary") {
    Daemon daemon(with_web());
    daemon.start();
    const auto console = http_get(daemon.http_port(), "/");
    CHECK(console.status == 200);
    CHECK(has(console.head, "Content-Type: text/html; charset=utf-8"));
    CHECK(has(console.head, "Content-Security-Policy: default-src 'self'"));
    CHECK(has(console.body, "<script type=\"module\" src=\"console.js\"></script>"));
    const auto wallboard = http_get(daemon.http_port(), "/wallboard");
    CHECK(wallboard.status == 200);
    CHECK(has(wallboard.body, "src=\"wallboard.js\""));
    for (const std::string file : {"console.js", "card.js", "connection.js", "dom.js", "wallboard.js"}) {
        const auto script = http_get(daemon.http_port(), "/" + file);
        CHECK_MESSAGE(script.status == 200, file);
        CHECK(has(script.head, "Content-Type: text/javascript"));
        CHECK(script.body == read_file(source_dir() / "web" / file));
    }
    CHECK(has(http_get(daemon.http_port(), "/style.css").head, "Content-Type: text/css"));
    CHECK(http_get(daemon.http_port(), "/README.md").status == 404);
}

TEST_CASE("web port: /ws carries the agent protocol with its logins, roles and pops") {
    Daemon daemon(with_web());
    daemon.start();
    WebSocketClient agent(daemon.http_port());
    REQUIRE(agent.refusal().empty());
    agent.send({{"type", "login"}, {"agent", "1001"}, {"token", "wrong"}, {"extensions", {"1001"}}});
    CHECK(agent.expect("error")["code"] == "bad_login");
    agent.send({{"type", "login"}, {"agent", "1001"}, {"token", "secret-1001"}, {"extensions", {"1001"}}});
    const auto welcome = agent.expect("welcome");
    CHECK(welcome["agent"] == "1001");
    // The console's outcome form offers the configured codes.
    CHECK(welcome["outcomes"][1] == json{{"code", "repaired"}, {"label", "Repaired"}});

    // A pop reaches the agent at the ringing extension, over the WebSocket, and not another.
    Client other(daemon.agent_port());
    login(other, "1002", "secret-1002", {"1002"});
    Client pbx(daemon.switch_port());
    pbx.send(ring("ws-1", "+15550102000", "1001"));
    const auto pop = agent.expect("pop");
    CHECK(pop["call"] == "ws-1");
    CHECK(pop["customer"]["name"].is_string());
    CHECK(other.quiet());
    agent.send({{"type", "ack"}, {"seq", pop["seq"]}});
    agent.send({{"type", "outcome"}, {"call", "ws-1"}, {"code", "resolved"}, {"notes", "over the web"}});
    CHECK(agent.expect("outcome_saved")["call"] == "ws-1");

    // Roles as on the agent port: an agent may not follow the call log.
    agent.send({{"type", "tail"}, {"follow", true}});
    const auto refused = agent.expect("error");
    CHECK(refused["code"] == "forbidden");

    WebSocketClient supervisor(daemon.http_port());
    supervisor.send({{"type", "login"}, {"agent", "super"}, {"token", "boss"}});
    supervisor.expect("welcome");
    supervisor.send({{"type", "tail"}, {"follow", true}, {"backlog", 10}});
    bool saw_outcome = false;
    for (int records = 0; records < 10 && !saw_outcome; ++records)
        saw_outcome = supervisor.expect("log")["kind"] == "outcome";
    CHECK(saw_outcome);
}

TEST_CASE("web port: a WebSocket from another site's page, at another path, or plain from outside allow_plain is refused") {
    Daemon daemon(with_web());
    daemon.start();
    WebSocketClient foreign(daemon.http_port(), "https://evil.example");
    CHECK(!foreign.refusal().empty());
    CHECK(has(daemon.log(), "WebSocket from a page of https://evil.example refused"));
    // A page of another site whose name was made to resolve here (DNS rebinding): its
    // Origin matches its Host.
    WebSocketClient rebound(daemon.http_port(), "http://evil.example:" + std::to_string(daemon.http_port()),
                            "evil.example:" + std::to_string(daemon.http_port()));
    CHECK(!rebound.refusal().empty());
    CHECK(has(daemon.log(), "plain WebSocket for host evil.example:"));
    WebSocketClient local(daemon.http_port(), "http://localhost:" + std::to_string(daemon.http_port()),
                          "localhost:" + std::to_string(daemon.http_port()));
    CHECK(local.refusal().empty());
    WebSocketClient tool(daemon.http_port(), "");  // not a browser: no Origin
    CHECK(tool.refusal().empty());
    tool.send({{"type", "ping"}});
    CHECK(tool.expect("pong").is_object());

    Daemon guarded(with_web(", allow_plain: [10.0.0.0/8]", true));
    guarded.start();
    WebSocketClient plain(guarded.http_port());
    CHECK(!plain.refusal().empty());
    CHECK(has(guarded.log(), "plain connection refused: not in listen.http.allow_plain"));
}

TEST_CASE("web port: a closed browser tab ends its session at once, and the agent can log in again") {
    Daemon daemon(with_web());
    daemon.start();
    Client supervisor(daemon.agent_port());
    login(supervisor, "super", "boss");
    {
        WebSocketClient agent(daemon.http_port());
        agent.send({{"type", "login"}, {"agent", "1001"}, {"token", "secret-1001"}, {"extensions", {"1001"}}});
        agent.expect("welcome");
        CHECK(ask_status(supervisor)["agents_logged_in"] == 1);
        agent.close();
    }
    // Well within the 2 s a half-closed TCP peer is given, and the 45 s of silence.
    bool gone = false;
    for (int tries = 0; tries < 10 && !gone; ++tries) {
        std::this_thread::sleep_for(100ms);
        gone = ask_status(supervisor)["agents_logged_in"] == 0;
    }
    CHECK(gone);
    // Pops for the extension are not queued to a dead session.
    Client pbx(daemon.switch_port());
    pbx.send(ring("ws-closed", "+15550102000", "1001"));
    WebSocketClient again(daemon.http_port());
    again.send({{"type", "login"}, {"agent", "1001"}, {"token", "secret-1001"}, {"extensions", {"1001"}}});
    again.expect("welcome");
    CHECK(again.expect("pop")["call"] == "ws-closed");
}
