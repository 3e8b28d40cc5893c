#pragma once
// Starts the real callpop binary on 127.0.0.1 with ports it picks, and talks to it over
// real sockets as switches, agents and supervisors do.
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/ports.hpp"
#include "support/temp_dir.hpp"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace callpop::test {

using nlohmann::json;
using namespace std::chrono_literals;

void write_file(const std::filesystem::path& path, const std::string& text);
// `part` is somewhere in `text` (a log, a reply, a program's output).
inline bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}
std::string read_file(const std::filesystem::path& path);

struct CommandResult {
    int exit_code = -1;
    std::string output;  // stdout and stderr
};
// The callpop binary under test.
std::string callpop_binary();
// The source tree (ctest says where).
std::filesystem::path source_dir();
// The tests' certificates (tests/integration/tls/): ca.pem, server.pem, server.key,
// other-ca.pem.
std::filesystem::path tls_file(const std::string& name);
// Runs `callpop <arguments>` to completion.
CommandResult run_callpop(const std::vector<std::string>& arguments,
                          const std::string& standard_input = "");

// The daemon under test, with a store holding a few known customers and agents.
class Daemon {
  public:
    struct Options {
        std::string extra_config;  // YAML appended to the generated config
        std::uint32_t login_timeout_s = 2;
        std::uint32_t heartbeat_s = 15;
        std::size_t queue_max = 1024;
        std::size_t tail_memory = 10000;
        std::optional<std::uint32_t> ticket_ttl_s = std::nullopt;  // default: callpop's
        std::optional<std::size_t> logins_at_once = std::nullopt;  // default: callpop's
        // 0: the system picks one each start; a fixed one lets clients reconnect after a
        // restart (see unused_port()).
        std::uint16_t agent_port = 0;
        std::uint32_t flush_ms = 5;  // how long the writer lets a batch gather
        std::size_t writer_queue_max = 100000;  // call_log.queue_max
        // calls.resync_s: how long after a start calls left open wait for the switches.
        std::uint32_t resync_s = 1;
        // Where the store and the JSONL file live (a small filesystem of the test's own);
        // empty: the daemon's directory.
        std::filesystem::path store_dir = {};
        std::string switch_allow = "";  // listen.switch.allow, as YAML; empty: the default
        std::string sessions_config = "";  // more keys of `sessions`, e.g. "  heartbeat_s: 5\n"
        std::string calls_config = "";  // more keys of the `calls` section, e.g. "  ended_keep_s: 1\n"
        bool agent_tls = false;  // listen.agent.tls with the tests' server certificate
        // Where the TLS ports read server.pem and server.key; empty: tests/integration/tls.
        std::filesystem::path tls_dir = {};
        std::string agent_allow_plain = "";  // listen.agent.allow_plain, as YAML; empty: the default
        std::string switch_secret = "";  // listen.switch.secret
        // listen.http's keys besides address and port (127.0.0.1, 0), as YAML flow
        // entries: ", allow_plain: [10.0.0.0/8]"; nullopt: no web port.
        std::optional<std::string> http = std::nullopt;
        bool http_tls = false;  // listen.http.tls with the tests' server certificate
        // storage.backend postgresql on this database (tests/support/postgres_cluster.hpp),
        // given the customers and agents of the SQLite template on first use; empty: SQLite.
        std::string postgres_conninfo = "";
        std::string daemon_name = "";  // storage.daemon_name; empty: the default
    };
    Daemon();
    explicit Daemon(Options options);
    ~Daemon();  // SIGTERM, then waits

    void start();
    void stop();  // graceful, waits for exit
    void kill_hard();
    // Sends the running daemon a signal (SIGHUP: reload).
    void send_signal(int signal);
    std::uint16_t switch_port() const { return switch_port_; }
    std::uint16_t agent_port() const { return agent_port_; }
    std::uint16_t http_port() const { return http_port_; }
    const std::filesystem::path& dir() const { return dir_.path(); }
    std::filesystem::path config_path() const { return dir_ / "callpop.yaml"; }
    // The store and the JSONL file: in store_dir when the options name one.
    std::filesystem::path store_dir() const {
        return options_.store_dir.empty() ? dir_.path() : options_.store_dir;
    }
    std::filesystem::path database_path() const { return store_dir() / "callpop.db"; }
    std::filesystem::path jsonl_path() const { return store_dir() / "calls.jsonl"; }
    std::string log() const;

  private:
    void prepare();

    Options options_;
    TempDir dir_;
    int pid_ = -1;
    std::uint16_t switch_port_ = 0;
    std::uint16_t agent_port_ = 0;
    std::uint16_t http_port_ = 0;
};

// For tests that count call-log records: unanswered calls schedule no callback.
inline const std::string without_missed_call_followups =
    "followups:\n  missed_calls: {kind: none}\n";

// A blocking line client with timeouts; every wait fails the test instead of hanging.
class Client {
  public:
    explicit Client(std::uint16_t port);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    void send_raw(const std::string& bytes);
    void send(const json& message);
    // The next line, or nullopt on timeout or when the peer closed.
    std::optional<std::string> read_line(std::chrono::milliseconds timeout = 5s);
    // The next message; fails the test on timeout.
    json next(std::chrono::milliseconds timeout = 5s);
    // Reads until a message of this type arrives (others are kept in skipped()).
    json expect(const std::string& type, std::chrono::milliseconds timeout = 5s);
    // True when nothing arrives within the wait.
    bool quiet(std::chrono::milliseconds wait = 300ms);
    // Waits for the peer to close the connection.
    bool closed_by_peer(std::chrono::milliseconds timeout = 5s);
    // Everything until the peer closes (an HTTP reply with Connection: close); fails the test
    // on timeout.
    std::string read_until_closed(std::chrono::milliseconds timeout = 5s);
    const std::vector<json>& skipped() const { return skipped_; }
    void close();
    // Half-closes: the daemon sees the end of input, the client can still read.
    void shutdown_write();
    int fd() const { return fd_; }
    // Switches to TLS, trusting the authorities in `ca` and expecting the certificate to name
    // `host`; from then on everything goes through TLS. Returns why the handshake failed, or
    // "" when it succeeded.
    std::string start_tls(const std::filesystem::path& ca, const std::string& host = "localhost");

  private:
    // Some bytes into buffer_; false when the peer closed or the wait ran out.
    bool receive_some(std::chrono::steady_clock::time_point deadline);

    int fd_ = -1;
    SSL_CTX* tls_context_ = nullptr;
    SSL* tls_ = nullptr;
    std::string buffer_;
    std::vector<json> skipped_;
    bool peer_closed_ = false;
};

// A native ring event to the support hotline (8005551000), as the tests' switch sends it.
json ring(const std::string& call, const std::string& from, const std::string& ext,
          json data = json::object(), const std::string& queue = "support");

// Logs in as the tests' supervisor and follows the call log from now on (no backlog).
void follow_call_log(Client& supervisor);

// Reads the tail until a record of `kind` (for `call`, if given) arrives: it is committed.
json expect_log(Client& supervisor, const std::string& kind, const std::string& call = "");

// Asks a logged-in supervisor's session for the daemon's status and returns it.
json ask_status(Client& supervisor);

// Logs in and returns the welcome.
json login(Client& client, const std::string& agent, const std::string& token,
           const std::vector<std::string>& extensions = {},
           std::optional<std::uint64_t> resume_after = std::nullopt);

}  // namespace callpop::test
