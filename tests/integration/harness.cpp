#include "harness.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace callpop::test {

std::string callpop_binary() {
    const char* path = std::getenv("CALLPOP_BINARY");
    REQUIRE_MESSAGE(path != nullptr, "CALLPOP_BINARY must name the callpop binary (ctest sets it)");
    return path;
}

std::filesystem::path source_dir() {
    const char* directory = std::getenv("CALLPOP_SOURCE_DIR");
    REQUIRE_MESSAGE(directory != nullptr, "CALLPOP_SOURCE_DIR must name the source tree");
    return directory;
}

std::filesystem::path tls_file(const std::string& name) {
    return source_dir() / "tests" / "integration" / "tls" / name;
}

namespace {

int spawn(const std::vector<std::string>& arguments, const std::filesystem::path& output,
          const std::string& standard_input, bool wait_for_exit, int* exit_code) {
    int input_pipe[2];
    REQUIRE(::pipe(input_pipe) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::dup2(input_pipe[0], 0);
        ::close(input_pipe[0]);
        ::close(input_pipe[1]);
        const int out = ::open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        ::dup2(out, 1);
        ::dup2(out, 2);
        std::vector<char*> argv;
        std::string program = callpop_binary();
        argv.push_back(program.data());
        std::vector<std::string> copies = arguments;
        for (auto& argument : copies) argv.push_back(argument.data());
        argv.push_back(nullptr);
        ::execv(program.c_str(), argv.data());
        ::_exit(127);
    }
    ::close(input_pipe[0]);
    if (!standard_input.empty()) {
        [[maybe_unused]] auto written =
            ::write(input_pipe[1], standard_input.data(), standard_input.size());
    }
    ::close(input_pipe[1]);
    if (wait_for_exit) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return pid;
}

const char* customers_csv =
    "external_id,name,company,tier,segment,language,timezone,phones,email,address,do_not_call\n"
    "C-1000,Pat Doe,Doe Repairs,gold,smb,en,America/New_York,"
    "\"+1 (555) 010-2000;+1 555 010 2001\",pat@example.com,\"1 Main St, Springfield\",no\n"
    "C-1001,Sam Roe,,silver,consumer,en,,+1 555 010 4000,,,no\n"
    "C-1002,Lee Poe,,bronze,consumer,es,,+1 555 010 4000,,,no\n"
    "C-1003,Max Account,Acme,platinum,enterprise,de,Europe/Berlin,+49 30 1234567,,,yes\n";
const char* assets_csv =
    "customer,product,serial,purchased,warranty_end\n"
    "C-1000,LaserJet Pro M404,7XK2Q1,2025-03-14,2027-03-14\n"
    "C-1003,ThinkPad T14,SRV-1,2024-01-02,\n";
const char* notes_csv =
    "customer,kind,text,author,created_at\n"
    "C-1000,preference,\"tea, not coffee\",import,2025-01-01T10:00:00Z\n"
    "C-1000,note,VIP since 2019,import,2025-01-02T10:00:00Z\n";

std::string config_text(const std::filesystem::path& dir, const Daemon::Options& options) {
    const std::filesystem::path store = options.store_dir.empty() ? dir : options.store_dir;
    const auto certificates = [&](const std::string& name) {
        return options.tls_dir.empty() ? tls_file(name) : options.tls_dir / name;
    };
    std::ostringstream yaml;
    yaml << "site:\n  region: US\n  timezone: America/New_York\n"
         << "listen:\n  switch: {address: 127.0.0.1, port: 0"
         << (options.switch_allow.empty() ? "" : ", allow: " + options.switch_allow)
         << (options.switch_secret.empty() ? "" : ", secret: \"" + options.switch_secret + "\"")
         << "}\n"
         << "  agent: {address: 127.0.0.1, port: " << options.agent_port
         << (options.agent_tls ? ", tls: {certificate: " + certificates("server.pem").string() +
                                     ", key: " + certificates("server.key").string() + "}"
                               : "")
         << (options.agent_allow_plain.empty() ? "" : ", allow_plain: " + options.agent_allow_plain)
         << "}\n";
    if (options.http) {
        yaml << "  http: {address: 127.0.0.1, port: 0"
             << (options.http_tls ? ", tls: {certificate: " + certificates("server.pem").string() +
                                        ", key: " + certificates("server.key").string() + "}"
                                  : "")
             << *options.http << "}\n";
    }
    yaml << "storage:\n  path: " << (store / "callpop.db").string() << "\n";
    if (!options.postgres_conninfo.empty())
        yaml << "  backend: postgresql\n  conninfo: \"" << options.postgres_conninfo << "\"\n";
    if (!options.daemon_name.empty()) yaml << "  daemon_name: " << options.daemon_name << "\n";
    yaml
         << "call_log:\n  jsonl: " << (store / "calls.jsonl").string() << "\n  flush_ms: " << options.flush_ms << "\n"
         << "  tail_memory: " << options.tail_memory << "\n"
         << "  queue_max: " << options.writer_queue_max << "\n"
         << "calls:\n  resync_s: " << options.resync_s << "\n" << options.calls_config
         << "sessions:\n  login_timeout_s: " << options.login_timeout_s
         << "\n  heartbeat_s: " << options.heartbeat_s << "\n  queue_max: " << options.queue_max
         << "\n"
         << (options.ticket_ttl_s
                 ? "  ticket_ttl_s: " + std::to_string(*options.ticket_ttl_s) + "\n"
                 : std::string())
         << (options.logins_at_once
                 ? "  logins_at_once: " + std::to_string(*options.logins_at_once) + "\n"
                 : std::string())
         << options.sessions_config
         << "lines:\n  - {number: \"8005551000\", name: Support hotline}\n"
         << "outcomes:\n  - {code: resolved, label: Resolved}\n"
         << "  - {code: repaired, label: Repaired}\n  - {code: complaint, label: Complaint}\n"
         << "log:\n  level: debug\n"
         << options.extra_config;
    return yaml.str();
}

// The tests' customers, notes and agents, into the store `config` names; `dir` holds the
// CSV files.
void seed_store(const std::filesystem::path& dir, const std::string& config) {
    write_file(dir / "customers.csv", customers_csv);
    write_file(dir / "assets.csv", assets_csv);
    write_file(dir / "notes.csv", notes_csv);
    auto imported = run_callpop(
        {"import", "--config", config, "--customers", (dir / "customers.csv").string(),
         "--assets", (dir / "assets.csv").string(), "--notes", (dir / "notes.csv").string()});
    REQUIRE_MESSAGE(imported.exit_code == 0, imported.output);
    for (const char* agent : {"1001", "1002", "1003"}) {
        auto added = run_callpop(
            {"agent", "add", agent, "--config", config, "--token", std::string("secret-") + agent});
        REQUIRE_MESSAGE(added.exit_code == 0, added.output);
    }
    auto supervisor = run_callpop(
        {"agent", "add", "super", "--role", "supervisor", "--config", config, "--token", "boss"});
    REQUIRE_MESSAGE(supervisor.exit_code == 0, supervisor.output);
}

// The store every SQLite daemon starts from: built once per test run, copied for each daemon.
const std::filesystem::path& template_database() {
    static TempDir dir(TempDir::Lifetime::test_run);
    static bool built = false;
    if (!built) {
        write_file(dir / "callpop.yaml", config_text(dir.path(), {}));
        seed_store(dir.path(), (dir / "callpop.yaml").string());
        built = true;
    }
    static const std::filesystem::path database = dir / "callpop.db";
    return database;
}

}  // namespace

void write_file(const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    REQUIRE(out.good());
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

CommandResult run_callpop(const std::vector<std::string>& arguments,
                          const std::string& standard_input) {
    TempDir scratch;
    CommandResult result;
    spawn(arguments, scratch / "output", standard_input, true, &result.exit_code);
    result.output = read_file(scratch / "output");
    return result;
}

Daemon::Daemon() : Daemon(Options{}) {}

Daemon::Daemon(Options options) : options_(std::move(options)) { prepare(); }

Daemon::~Daemon() {
    if (pid_ > 0) stop();
}

void Daemon::prepare() {
    write_file(config_path(), config_text(dir_.path(), options_));
    if (options_.postgres_conninfo.empty()) {
        std::filesystem::copy_file(template_database(), database_path());
        return;
    }
    // The daemons sharing a database share its seeding too: once.
    static std::set<std::string> seeded;
    if (seeded.insert(options_.postgres_conninfo).second)
        seed_store(dir_.path(), config_path().string());
}

void Daemon::start() {
    const auto ready = dir_ / "ready.json";
    std::filesystem::remove(ready);
    int unused = 0;
    pid_ = spawn({"serve", "--config", config_path().string(), "--ready-file", ready.string()},
                 dir_ / "daemon.log", "", false, &unused);
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!std::filesystem::exists(ready)) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            FAIL("callpop serve exited at start:\n" << log());
        }
        REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                        "callpop serve did not become ready:\n"
                            << log());
        std::this_thread::sleep_for(10ms);
    }
    const json ports = json::parse(read_file(ready));
    switch_port_ = ports.at("switch_port").get<std::uint16_t>();
    agent_port_ = ports.at("agent_port").get<std::uint16_t>();
    http_port_ = ports.value("http_port", std::uint16_t{0});
}

void Daemon::send_signal(int signal) {
    REQUIRE(pid_ > 0);
    REQUIRE(::kill(pid_, signal) == 0);
}

void Daemon::stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, &status, 0);
            pid_ = -1;
            FAIL("callpop serve did not stop on SIGTERM:\n" << log());
        }
        std::this_thread::sleep_for(10ms);
    }
    pid_ = -1;
    CHECK_MESSAGE((WIFEXITED(status) && WEXITSTATUS(status) == 0), "callpop serve exit status "
                                                                       << status << ":\n"
                                                                       << log());
}

void Daemon::kill_hard() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
}

std::string Daemon::log() const { return read_file(dir_ / "daemon.log"); }

Client::Client(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

Client::~Client() { close(); }

void Client::close() {
    if (tls_ != nullptr) SSL_free(tls_);
    if (tls_context_ != nullptr) SSL_CTX_free(tls_context_);
    tls_ = nullptr;
    tls_context_ = nullptr;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

std::string Client::start_tls(const std::filesystem::path& ca, const std::string& host) {
    tls_context_ = SSL_CTX_new(TLS_client_method());
    REQUIRE(tls_context_ != nullptr);
    REQUIRE(SSL_CTX_load_verify_locations(tls_context_, ca.c_str(), nullptr) == 1);
    SSL_CTX_set_verify(tls_context_, SSL_VERIFY_PEER, nullptr);
    tls_ = SSL_new(tls_context_);
    SSL_set_fd(tls_, fd_);
    SSL_set1_host(tls_, host.c_str());
    if (host.find_first_not_of("0123456789.") != std::string::npos)
        SSL_set_tlsext_host_name(tls_, host.c_str());
    if (SSL_connect(tls_) != 1) {
        const unsigned long error = ERR_get_error();
        const long verified = SSL_get_verify_result(tls_);
        std::string why = verified != X509_V_OK ? X509_verify_cert_error_string(verified)
                          : error != 0          ? ERR_error_string(error, nullptr)
                                                : "the connection closed during the handshake";
        ERR_clear_error();
        return why;
    }
    // From here reads wait in poll(), with the test's timeouts.
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    return "";
}

void Client::shutdown_write() { ::shutdown(fd_, SHUT_WR); }

void Client::send_raw(const std::string& bytes) {
    if (tls_ != nullptr) {
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (true) {
            const int written = SSL_write(tls_, bytes.data(), static_cast<int>(bytes.size()));
            if (written > 0) return;
            const int error = SSL_get_error(tls_, written);
            REQUIRE_MESSAGE((error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ),
                            "TLS send failed");
            REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "TLS send timed out");
            pollfd poll_fd{fd_, static_cast<short>(error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN), 0};
            ::poll(&poll_fd, 1, 100);
        }
    }
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        const auto written = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        REQUIRE_MESSAGE(written > 0, "send failed");
        sent += static_cast<std::size_t>(written);
    }
}

void Client::send(const json& message) { send_raw(message.dump() + "\n"); }

std::optional<std::string> Client::read_line(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        const auto newline = buffer_.find('\n');
        if (newline != std::string::npos) {
            std::string line = buffer_.substr(0, newline);
            buffer_.erase(0, newline + 1);
            return line;
        }
        if (peer_closed_ || !receive_some(deadline)) return std::nullopt;
    }
}

bool Client::receive_some(std::chrono::steady_clock::time_point deadline) {
    while (!peer_closed_) {
        char chunk[65536];
        // Bytes TLS has decrypted already are not in the socket for poll() to see.
        if (tls_ == nullptr || SSL_pending(tls_) == 0) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd poll_fd{fd_, POLLIN, 0};
            if (::poll(&poll_fd, 1, static_cast<int>(left.count())) <= 0) continue;
        }
        if (tls_ != nullptr) {
            const int size = SSL_read(tls_, chunk, sizeof chunk);
            if (size > 0) {
                buffer_.append(chunk, static_cast<std::size_t>(size));
                return true;
            }
            const int error = SSL_get_error(tls_, size);
            if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) continue;
            ERR_clear_error();
            peer_closed_ = true;
            return true;
        }
        const auto size = ::recv(fd_, chunk, sizeof chunk, 0);
        if (size <= 0) {
            peer_closed_ = true;
            return true;
        }
        buffer_.append(chunk, static_cast<std::size_t>(size));
        return true;
    }
    return true;
}

json Client::next(std::chrono::milliseconds timeout) {
    auto line = read_line(timeout);
    REQUIRE_MESSAGE(line.has_value(), "no message within " << timeout.count() << " ms");
    return json::parse(*line);
}

json Client::expect(const std::string& type, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        auto line = read_line(std::max(left, 0ms));
        REQUIRE_MESSAGE(line.has_value(),
                        "no \"" << type << "\" message within " << timeout.count() << " ms");
        json message = json::parse(*line);
        if (message.value("type", "") == type) return message;
        skipped_.push_back(std::move(message));
    }
}

bool Client::quiet(std::chrono::milliseconds wait) { return !read_line(wait).has_value(); }

bool Client::closed_by_peer(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (!read_line(100ms) && peer_closed_) return true;
    }
    return peer_closed_;
}

std::string Client::read_until_closed(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!peer_closed_) {
        if (!receive_some(deadline)) {
            FAIL("the peer did not close within " << timeout.count() << " ms; got: " << buffer_);
            break;
        }
    }
    return std::exchange(buffer_, {});
}

void follow_call_log(Client& supervisor) {
    login(supervisor, "super", "boss");
    supervisor.send({{"type", "tail"}, {"backlog", 0}});
    supervisor.expect("backlog_end");
}

json ring(const std::string& call, const std::string& from, const std::string& ext, json data,
          const std::string& queue) {
    return {{"event", "ring"},    {"call", call}, {"from", from},   {"name", "CALLER"},
            {"to", "8005551000"}, {"ext", ext},   {"queue", queue}, {"data", std::move(data)}};
}

json login(Client& client, const std::string& agent, const std::string& token,
           const std::vector<std::string>& extensions, std::optional<std::uint64_t> resume_after) {
    json message = {{"type", "login"}, {"agent", agent}, {"token", token}};
    if (!extensions.empty()) message["extensions"] = extensions;
    if (resume_after) message["resume_after"] = *resume_after;
    client.send(message);
    return client.expect("welcome");
}

json ask_status(Client& supervisor) {
    supervisor.send({{"type", "status"}});
    return supervisor.expect("status");
}

json expect_log(Client& supervisor, const std::string& kind, const std::string& call) {
    while (true) {
        json record = supervisor.expect("log", 10s);
        if (record["kind"] == kind && (call.empty() || record["call"] == call)) return record;
    }
}

}  // namespace callpop::test
