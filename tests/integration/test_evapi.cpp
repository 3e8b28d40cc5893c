// The daemon's evapi link against a peer that writes exact bytes: how it reads netstrings,
// skips garbage without dropping the link, and closes the calls it lost track of when the
// link drops. Real Kamailio is in tests/kamailio/.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.hpp"
#include "support/sqlite_query.hpp"

using namespace callpop::test;

namespace {

// Listens on 127.0.0.1 as Kamailio's evapi does; one connection at a time.
class EvapiPeer {
  public:
    EvapiPeer() {
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(listen_fd_ >= 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        REQUIRE(::listen(listen_fd_, 4) == 0);
        socklen_t size = sizeof address;
        REQUIRE(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &size) == 0);
        port_ = ntohs(address.sin_port);
    }
    ~EvapiPeer() {
        hang_up();
        ::close(listen_fd_);
    }
    EvapiPeer(const EvapiPeer&) = delete;
    EvapiPeer& operator=(const EvapiPeer&) = delete;

    std::uint16_t port() const { return port_; }

    // Waits for callpop to connect; false if it does not within the timeout.
    bool accept(std::chrono::milliseconds timeout = 10s) {
        pollfd poll_fd{listen_fd_, POLLIN, 0};
        if (::poll(&poll_fd, 1, static_cast<int>(timeout.count())) <= 0) return false;
        hang_up();
        connection_ = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        return connection_ >= 0;
    }
    void send(const std::string& bytes) {
        REQUIRE(connection_ >= 0);
        REQUIRE(::send(connection_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
                static_cast<ssize_t>(bytes.size()));
    }
    void send_event(const json& event) { send(netstring(event.dump())); }
    void hang_up() {
        if (connection_ >= 0) ::close(connection_);
        connection_ = -1;
    }

    static std::string netstring(const std::string& payload) {
        return std::to_string(payload.size()) + ":" + payload + ",";
    }

  private:
    int listen_fd_ = -1;
    int connection_ = -1;
    std::uint16_t port_ = 0;
};

std::string evapi_link(std::uint16_t port) {
    return "switches:\n  - {name: sip1, type: evapi, host: 127.0.0.1, port: " +
           std::to_string(port) + ", reconnect_min: 1s, reconnect_max: 1s}\n";
}

json call_event(const std::string& event, const std::string& callid, const std::string& agent,
                json extra = json::object()) {
    json message = {{"event", event},           {"callid", callid},       {"caller", "15550102000"},
                    {"caller_name", "Pat Doe"}, {"called", "8005551000"}, {"agent", agent}};
    message.update(extra);
    return message;
}

const std::string hello = EvapiPeer::netstring(R"({"event":"hello","server":"kamailio"})");

std::size_t occurrences(const std::string& text, const std::string& needle) {
    std::size_t count = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
        ++count;
    return count;
}

}  // namespace

TEST_CASE("evapi: garbage from the switch is logged and skipped, the link stays up") {
    EvapiPeer kamailio;
    Daemon daemon({.extra_config = evapi_link(kamailio.port())});
    daemon.start();
    REQUIRE(kamailio.accept());
    Client agent(daemon.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
    Client supervisor(daemon.agent_port());
    follow_call_log(supervisor);

    kamailio.send(hello);
    kamailio.send_event(call_event("ring", "c-1", "1001"));
    CHECK(agent.expect("pop")["call"] == "c-1");

    // What a broken config or a bug could write, each piece skipped on its own. After bad
    // framing the decoder looks for the next "LEN:{": a hello shows where that is.
    kamailio.send("\n" + hello);                                      // no length
    kamailio.send(EvapiPeer::netstring("not json"));                  // not JSON
    kamailio.send_event({{"event", "transfer"}, {"callid", "c-1"}});  // unknown event
    kamailio.send_event({{"event", "answer"}, {"agent", "1001"}});    // no callid
    kamailio.send("3:{}," + hello);                                   // wrong length
    kamailio.send(R"({"event":"ring","callid":"c-9"})" + hello);      // netstring_format 0
    // The answer, one byte per write, after all that.
    const std::string answer = EvapiPeer::netstring(call_event("answer", "c-1", "1001").dump());
    for (const char byte : answer) kamailio.send(std::string(1, byte));
    CHECK(expect_log(supervisor, "answer", "c-1")["agent"] == "1001");
    kamailio.send_event(call_event("hangup", "c-1", "1001", {{"by", "caller"}}));
    const json ended = agent.expect("call");
    CHECK(ended["state"] == "ended");
    CHECK(ended["cause"] == "normal");

    const std::string log = daemon.log();
    CHECK(occurrences(log, "switch sip1: skipped: ") == 6);
    CHECK(log.find("switch sip1: skipped: bad_length: expected a netstring length at byte ") !=
          std::string::npos);
    CHECK(log.find("skipped: bad_json: not JSON at byte 2 of the payload in not json") !=
          std::string::npos);
    CHECK(log.find(R"(unknown event "transfer")") != std::string::npos);
    CHECK(log.find(R"(answer event: missing field "callid")") != std::string::npos);
    CHECK(log.find("skipped: bad_terminator: netstring of 3 bytes") != std::string::npos);
    CHECK(log.find("is evapi's netstring_format 0?") != std::string::npos);
    // One connection all along.
    CHECK(occurrences(log, "switch sip1: connected to") == 1);
    CHECK_FALSE(kamailio.accept(200ms));
    CHECK(query_one(daemon.database_path(),
                    "SELECT state || ' ' || cause FROM calls WHERE call_id = 'c-1'") ==
          "completed normal");
}

TEST_CASE("evapi: calls open when the link drops are closed as unknown; it reconnects") {
    EvapiPeer kamailio;
    Daemon daemon({.extra_config = evapi_link(kamailio.port())});
    daemon.start();
    REQUIRE(kamailio.accept());
    Client agent_1001(daemon.agent_port());
    Client agent_1002(daemon.agent_port());
    login(agent_1001, "1001", "secret-1001", {"1001"});
    login(agent_1002, "1002", "secret-1002", {"1002"});
    Client supervisor(daemon.agent_port());
    follow_call_log(supervisor);

    kamailio.send(hello);
    kamailio.send_event(call_event("ring", "ringing", "1001"));
    kamailio.send_event(call_event("ring", "talking", "1002"));
    kamailio.send_event(call_event("answer", "talking", "1002"));
    kamailio.send_event(call_event("ring", "done", "1001"));
    kamailio.send_event(call_event("failed", "done", "1001", {{"code", 486}}));
    CHECK(agent_1001.expect("pop")["call"] == "ringing");
    CHECK(agent_1002.expect("pop")["call"] == "talking");
    CHECK(agent_1001.expect("pop")["call"] == "done");
    CHECK(agent_1001.expect("call")["cause"] == "busy");
    expect_log(supervisor, "answer", "talking");

    kamailio.hang_up();
    json ended = agent_1001.expect("call");
    CHECK(ended["call"] == "ringing");
    CHECK(ended["cause"] == "unknown");
    ended = agent_1002.expect("call");
    CHECK(ended["call"] == "talking");
    CHECK(ended["cause"] == "unknown");
    CHECK(expect_log(supervisor, "hangup", "talking")["cause"] == "unknown");
    CHECK(query_one(daemon.database_path(),
                    "SELECT group_concat(call_id || ' ' || state || ' ' || cause, ', ') FROM "
                    "(SELECT * FROM calls ORDER BY call_id)") ==
          "done abandoned busy, ringing abandoned unknown, talking completed unknown");

    // Back after reconnect_min; what it sends now is new.
    REQUIRE(kamailio.accept(5s));
    kamailio.send(hello);
    kamailio.send_event(call_event("hangup", "talking", "1002"));  // already closed: ignored
    kamailio.send_event(call_event("ring", "after", "1001"));
    CHECK(agent_1001.expect("pop")["call"] == "after");
    CHECK(agent_1002.quiet());
    CHECK(occurrences(daemon.log(), "closing 2 call(s) in an unknown state") == 1);
}
