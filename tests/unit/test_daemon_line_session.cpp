// LineSession over a real loopback connection: lines in and out, the pause a login makes,
// a half-closed peer, the idle watchdog, and what an idle session holds.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/net/line_session.hpp"

using callpop::daemon::LineSession;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// Answers every line with "echo:<line>"; "pause" pauses reading, "boom" throws.
class EchoSession final : public LineSession {
public:
    EchoSession(tcp::socket socket, std::size_t queue_max, std::chrono::seconds first_deadline)
        : LineSession(callpop::daemon::socket_transport(std::move(socket)), queue_max,
                      first_deadline) {}

    std::vector<std::string> lines;
    bool closed = false;

protected:
    void on_line(std::string_view line) override {
        lines.emplace_back(line);
        if (line == "boom") throw std::runtime_error("boom");
        if (line == "pause") pause_reading();
        deliver("echo:" + std::string(line) + "\n");
    }
    void on_closed() override { closed = true; }
};

// A session on one end of a loopback connection, the test's client on the other.
struct Connection {
    asio::io_context io;
    tcp::socket client{io};
    std::shared_ptr<EchoSession> session;
    std::string received;

    explicit Connection(std::size_t queue_max = 16, std::chrono::seconds first_deadline = 30s) {
        tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
        client.connect(acceptor.local_endpoint());
        session = std::make_shared<EchoSession>(acceptor.accept(), queue_max, first_deadline);
        session->start();
    }

    void send(std::string_view text) { asio::write(client, asio::buffer(text)); }

    // Runs the loop until `done` holds (or a few seconds pass), reading what the session
    // writes into `received`.
    template <typename Done>
    bool run_until(Done done, std::chrono::milliseconds limit = 5000ms) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        client.non_blocking(true);
        while (!done() && std::chrono::steady_clock::now() < deadline) {
            io.run_for(5ms);
            std::array<char, 4096> buffer{};
            boost::system::error_code error;
            const auto size = client.read_some(asio::buffer(buffer), error);
            if (!error) received.append(buffer.data(), size);
        }
        return done();
    }

    bool peer_closed() {
        std::array<char, 256> buffer{};
        boost::system::error_code error;
        const auto size = client.read_some(asio::buffer(buffer), error);
        if (!error) received.append(buffer.data(), size);
        return error == asio::error::eof;
    }
};

}  // namespace

TEST_CASE("line session: lines split anywhere are handled in order and answered in order") {
    Connection connection;
    connection.send("one\ntw");
    REQUIRE(connection.run_until([&] { return connection.session->lines.size() == 1; }));
    connection.send("o\r\nthree\n\nfour\n");
    REQUIRE(connection.run_until([&] {
        return connection.received == "echo:one\necho:two\necho:three\necho:four\n";
    }));
    CHECK(connection.session->lines ==
          std::vector<std::string>{"one", "two", "three", "four"});
    CHECK_FALSE(connection.session->closed);
}

TEST_CASE("line session: an idle session holds no buffers, whatever it handled before") {
    Connection connection;
    connection.send(std::string(60 * 1024, 'x') + "\nshort\n");
    REQUIRE(connection.run_until([&] { return connection.session->lines.size() == 2; }));
    REQUIRE(connection.run_until([&] { return connection.received.size() > 60 * 1024 + 12; }));
    connection.run_until([] { return false; }, 50ms);  // the write completes
    CHECK(connection.session->buffer_bytes() == 0);
    // A partial line is held until it completes.
    connection.send("a partial line, longer than a string holds in place");
    connection.run_until([] { return false; }, 50ms);
    CHECK(connection.session->buffer_bytes() > 0);
    connection.send(", now complete\n");
    REQUIRE(connection.run_until([&] { return connection.session->lines.size() == 3; }));
    connection.run_until([] { return false; }, 50ms);
    CHECK(connection.session->lines.back() ==
          "a partial line, longer than a string holds in place, now complete");
    CHECK(connection.session->buffer_bytes() == 0);
}

TEST_CASE("line session: while paused, later lines wait, then all are handled in order") {
    Connection connection;
    connection.send("pause\nafter-1\nafter-2\n");
    REQUIRE(connection.run_until([&] { return connection.received == "echo:pause\n"; }));
    connection.send("after-3\n");
    connection.run_until([] { return false; }, 100ms);
    CHECK(connection.session->lines == std::vector<std::string>{"pause"});
    connection.session->resume_reading();
    REQUIRE(connection.run_until([&] { return connection.session->lines.size() == 4; }));
    CHECK(connection.session->lines ==
          std::vector<std::string>{"pause", "after-1", "after-2", "after-3"});
    // Resuming twice, or when not paused, reads nothing twice.
    connection.session->resume_reading();
    connection.send("after-4\n");
    REQUIRE(connection.run_until([&] { return connection.session->lines.size() == 5; }));
    connection.run_until([] { return false; }, 50ms);
    CHECK(connection.session->lines.size() == 5);
}

TEST_CASE("line session: a peer that half-closes gets its answers, then the session closes") {
    Connection connection;
    connection.send("a\nb\n");
    connection.client.shutdown(tcp::socket::shutdown_send);
    REQUIRE(connection.run_until([&] { return connection.received == "echo:a\necho:b\n"; }));
    REQUIRE(connection.run_until([&] { return connection.session->closed; }, 4000ms));
    REQUIRE(connection.run_until([&] { return connection.peer_closed(); }, 4000ms));
}

TEST_CASE("line session: silence past the deadline gets a bye, then the connection closes") {
    Connection connection(16, 1s);
    REQUIRE(connection.run_until([&] { return connection.session->closed; }, 3000ms));
    REQUIRE(connection.run_until([&] { return connection.peer_closed(); }, 3000ms));
    CHECK(connection.received.find("\"idle_timeout\"") != std::string::npos);
}

TEST_CASE("line session: a line whose handling throws is answered with an error") {
    Connection connection;
    connection.send("boom\nafter\n");
    REQUIRE(connection.run_until([&] { return connection.session->lines.size() == 2; }));
    REQUIRE(connection.run_until(
        [&] { return connection.received.find("echo:after\n") != std::string::npos; }));
    CHECK(connection.received.find("\"internal_error\"") != std::string::npos);
    CHECK_FALSE(connection.session->closed);
}

TEST_CASE("line session: stop closes at once; nothing is handled after it") {
    Connection connection;
    connection.send("one\n");
    REQUIRE(connection.run_until([&] { return connection.session->lines.size() == 1; }));
    connection.session->stop();
    connection.send("two\n");
    REQUIRE(connection.run_until([&] { return connection.session->closed; }));
    connection.run_until([] { return false; }, 50ms);
    CHECK(connection.session->lines == std::vector<std::string>{"one"});
}
