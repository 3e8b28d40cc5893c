// callpop console, the agent's terminal: driven through its standard input (a FIFO), read
// from its output, against a real daemon.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <string>

#include "harness.hpp"
#include "support/process.hpp"
#include "support/sqlite_query.hpp"
#include "support/wait_until.hpp"

using namespace callpop::test;

namespace {

// The agent at the keyboard: the console's standard input.
class Keyboard {
  public:
    explicit Keyboard(const std::filesystem::path& fifo) : fifo_(fifo) {
        REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    }
    ~Keyboard() {
        if (fd_ >= 0) ::close(fd_);
    }
    Keyboard(const Keyboard&) = delete;
    Keyboard& operator=(const Keyboard&) = delete;
    // After the console started: opening blocks until it opened its end.
    void type(const std::string& line) {
        if (fd_ < 0) fd_ = ::open(fifo_.c_str(), O_WRONLY);
        REQUIRE(fd_ >= 0);
        const std::string bytes = line + "\n";
        REQUIRE(::write(fd_, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    }
    void close() {
        ::close(fd_);
        fd_ = -1;
    }

  private:
    std::filesystem::path fifo_;
    int fd_ = -1;
};

}  // namespace

TEST_CASE("callpop console: a card on the ring, cleared when answered elsewhere, the outcome and a note saved, pops missed across a restart") {
    Daemon::Options options;
    options.agent_port = unused_port();  // the console reconnects to the same port
    Daemon daemon(options);
    daemon.start();
    Keyboard keys(daemon.dir() / "keys");
    Process console("console",
                    {callpop_binary(), "console", "--config", daemon.config_path().string(),
                     "--agent", "1001", "--extension", "1001"},
                    daemon.dir(), daemon.dir() / "keys");
    keys.type("secret-1001");  // the token, as the first line: never on the command line
    const auto shown = [&](const std::string& part) {
        wait_until([&] { return has(console.output(), part); }, 5s, "the console to show: " + part);
    };
    shown("--- logged in as 1001 at 1001");

    Client colleague(daemon.agent_port());
    login(colleague, "1002", "secret-1002", {"1002"});
    Client pbx(daemon.switch_port());
    pbx.send(ring("c-1", "+15550102000", "1001"));
    shown("=== call c-1 from +15550102000 on Support hotline");
    shown("  Pat Doe [gold], Doe Repairs\n");
    shown("    LaserJet Pro M404 (tag 7XK2Q1), bought 2025-03-14, warranty to 2027-03-14\n");
    shown("  preferences:\n    tea, not coffee  (import, 2025-01-01)\n");
    shown("  notes:\n    VIP since 2019  (import, 2025-01-02)\n");
    // Rung at 1002 too, and answered there: the card goes.
    pbx.send({{"event", "transfer"}, {"call", "c-1"}, {"ext", json::array({"1001", "1002"})}});
    pbx.send({{"event", "answer"}, {"call", "c-1"}, {"ext", "1002"}});
    colleague.expect("pop");
    shown("--- call c-1 answered by 1002: card cleared");
    keys.type("o resolved");
    shown("!!! no call on screen");

    pbx.send(ring("c-2", "+15550102000", "1001"));
    shown("=== call c-2 from");
    pbx.send({{"event", "answer"}, {"call", "c-2"}, {"ext", "1001"}});
    pbx.send({{"event", "hangup"}, {"call", "c-2"}, {"cause", "normal"}});
    shown("--- call c-2 ended (normal)");
    keys.type("o repaired new fuser");
    shown("--- outcome of call c-2 saved");
    keys.type("p call after 6 pm");
    shown("--- note saved for customer");
    CHECK(query_one(daemon.database_path(), "SELECT outcome || '/' || outcome_notes FROM calls WHERE call_id = 'c-2'") ==
          "repaired/new fuser");
    CHECK(query_one(daemon.database_path(), "SELECT count(*) FROM notes WHERE text = 'call after 6 pm' AND kind = 'preference'") == "1");

    // The daemon restarts; a call rings while the console is away: it reconnects by itself
    // and shows that call.
    daemon.stop();
    shown("--- connecting again in");
    daemon.start();
    Client pbx2(daemon.switch_port());
    pbx2.send(ring("c-3", "+15550102000", "1001"));
    shown("--- connected again; missed pops follow");
    shown("=== call c-3 from");

    keys.type("q");
    shown("!!! disconnected: ");
    CHECK(console.wait(5s) == 0);
}
