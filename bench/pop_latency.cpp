// callpop_bench: switch event in → pop read by the agent, on loopback, against a running
// daemon. Not a test: a developer runs it (bench/run.sh starts a daemon and runs it).
//
// 1. Logs in A agents (one TCP connection each, extension = agent id), a few at a time,
//    before the clock starts: with their tokens (--tokens FILE, from `callpop agent add
//    --print-token`; else --token-format), or with resume tickets (--tickets FILE).
//    --login-only stops here (with --save-tickets: after writing the welcomes' tickets).
// 2. A writer thread plays the switch on one connection: N rings at R calls/s, round robin
//    over the extensions, each followed by a hangup (at once, or --hold-ms later).
//    t0 = steady_clock just before the ring's write().
// 3. One Asio thread reads every agent socket; t1 = steady_clock when the read that
//    completed the pop line returned. Latency = t1 - t0, keyed by call id.
// 4. --relogin N: --relogin-after seconds after the first ring, N more agents (ids after
//    the A) connect at once and log in with their tickets, as a daemon restart makes them
//    do; the time until the last welcome is reported, and the pops rung meanwhile apart.
// 5. --no-switch: no switch events at all; a real switch (Kamailio, bench/kamailio.sh) sends
//    them to the daemon. The agents only read and ack pops; each pop's read time is taken
//    from CLOCK_REALTIME, the clock the switch stamps its events with. --evapi-port P
//    connects to Kamailio's evapi as a second, recording client and keeps each ring's
//    Call-ID and ts_us (Kamailio's own stamp): latency = pop read - ts_us, per Call-ID.
// Bounded: at most --calls calls, at most --max-seconds from the first ring.
#include "daemon/net/asio.hpp"  // <utility> before boost/asio.hpp (Boost 1.74)

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <csignal>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using WallClock = std::chrono::system_clock;  // CLOCK_REALTIME: what Kamailio stamps with
using json = nlohmann::json;

constexpr std::int64_t not_yet = -1;

std::int64_t ns_since(Clock::time_point origin, Clock::time_point when) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(when - origin).count();
}

std::int64_t unix_ns(WallClock::time_point when) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch()).count();
}

// ---- options --------------------------------------------------------------------------

struct Options {
    std::string host = "127.0.0.1";
    std::uint16_t switch_port = 7700;
    std::uint16_t agent_port = 7701;
    std::size_t agents = 100;
    std::string agent_prefix;
    std::uint64_t first_agent = 1001;
    std::string token_format = "demo-{id}";
    std::size_t calls = 20000;
    double rate = 2000;  // calls/s; 0: as fast as the writer can
    double max_seconds = 60;
    double drain_seconds = 5;
    double login_seconds = 300;
    std::size_t login_window = 4;
    double hold_ms = 0;
    std::size_t warmup = 0;
    std::string callers_file;
    std::string call_prefix;
    std::string samples_file;
    std::string tokens_file;
    std::string tickets_file;
    std::string save_tickets_file;
    bool login_only = false;
    std::size_t relogin = 0;
    double relogin_after = 1;
    std::size_t relogin_window = 0;  // 0: all at once
    bool ack = true;
    bool nagle = false;
    bool json_output = false;
    bool no_switch = false;
    std::uint16_t evapi_port = 0;  // 0: no recording evapi client
    std::string ready_file;
};

const char* usage_text =
    "usage: callpop_bench [options]\n"
    "  --switch-port P      the daemon's switch port (7700)\n"
    "  --agent-port P       the daemon's agent port (7701)\n"
    "  --host H             loopback only: 127.0.0.1 (default) or ::1\n"
    "  --agents A           agents to log in (100), ids PREFIX+1001.. (see --first-agent)\n"
    "  --agent-prefix S     text before the agent number (\"\")\n"
    "  --first-agent N      number of the first agent (1001)\n"
    "  --token-format F     each agent's token, {id} replaced by its id (demo-{id})\n"
    "  --tokens FILE        tokens by agent, \"ID TOKEN\" a line (`callpop agent add --print-token`);\n"
    "                       agents not in it use --token-format\n"
    "  --tickets FILE       resume tickets by agent, \"ID TICKET\" a line: agents in it log in\n"
    "                       with the ticket instead of the token\n"
    "  --save-tickets FILE  write the tickets of the welcomes, \"ID TICKET\" a line\n"
    "  --login-only         log in, report how long it took, and stop\n"
    "  --relogin N          N more agents (ids after the --agents ones) log in at once during\n"
    "                       the calls, with their --tickets (or tokens), as after a restart\n"
    "  --relogin-after S    seconds after the first ring the relogin starts (1)\n"
    "  --relogin-window W   relogins in flight at once (0: all N at once)\n"
    "  --calls N            rings to send (20000), each followed by a hangup\n"
    "  --rate R             calls per second (2000); 0: as fast as possible\n"
    "  --max-seconds S      stop sending and waiting S seconds after the first ring (60)\n"
    "  --drain-seconds S    after the last ring, give up when nothing arrived for S s (5)\n"
    "  --login-seconds S    give up logging in after S seconds (300)\n"
    "  --login-window W     logins in flight at once (4)\n"
    "  --hold-ms MS         send each hangup MS after its ring (0: right after it)\n"
    "  --warmup N           leave the first N calls out of the latency figures (0)\n"
    "  --callers FILE       caller numbers, one a line, used in turn (default: generated\n"
    "                       +1 555 numbers the customer base does not know)\n"
    "  --call-prefix S      call ids are S<n> (default: b<pid>-<time>-)\n"
    "  --samples FILE       write one CSV line per call: call,sent_us,latency_us (empty: lost)\n"
    "  --no-ack             do not ack pops\n"
    "  --nagle              leave Nagle's algorithm on for the switch connection\n"
    "  --json               print one JSON object instead of text\n"
    "  --no-switch          send no switch events: only be the agents, for a daemon whose\n"
    "                       switch is a real one (bench/kamailio.sh); --calls is then the\n"
    "                       number of calls expected, pops are keyed by the switch's call id\n"
    "                       and read times are CLOCK_REALTIME. Stops once --calls pops and\n"
    "                       'ended' arrived, on SIGINT/SIGTERM, after --max-seconds from the\n"
    "                       login, or --drain-seconds without news after the first pop\n"
    "  --evapi-port P       with --no-switch: also read Kamailio's evapi on P (127.0.0.1) as a\n"
    "                       second client; latency = pop read - the ring event's ts_us\n"
    "  --ready-file FILE    written once the agents are logged in (and evapi greeted us)\n";

[[noreturn]] void usage_error(const std::string& message) {
    std::cerr << "callpop_bench: " << message << "\n" << usage_text;
    std::exit(2);
}

template <typename Number>
Number parse_number(const std::string& name, const std::string& text) {
    Number value{};
    const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
    if (result.ec != std::errc() || result.ptr != text.data() + text.size())
        usage_error(name + ": not a number: \"" + text + "\"");
    return value;
}

double parse_double(const std::string& name, const std::string& text) {
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value) || value < 0)
        usage_error(name + ": not a number >= 0: \"" + text + "\"");
    return value;
}

Options parse_options(int argc, char** argv) {
    Options options;
    for (int index = 1; index < argc; ++index) {
        const std::string name = argv[index];
        auto value = [&]() -> std::string {
            if (index + 1 >= argc) usage_error(name + " needs a value");
            return argv[++index];
        };
        if (name == "--help" || name == "-h") {
            std::cout << usage_text;
            std::exit(0);
        } else if (name == "--host") {
            options.host = value();
        } else if (name == "--switch-port") {
            options.switch_port = parse_number<std::uint16_t>(name, value());
        } else if (name == "--agent-port") {
            options.agent_port = parse_number<std::uint16_t>(name, value());
        } else if (name == "--agents") {
            options.agents = parse_number<std::size_t>(name, value());
        } else if (name == "--agent-prefix") {
            options.agent_prefix = value();
        } else if (name == "--first-agent") {
            options.first_agent = parse_number<std::uint64_t>(name, value());
        } else if (name == "--token-format") {
            options.token_format = value();
        } else if (name == "--calls") {
            options.calls = parse_number<std::size_t>(name, value());
        } else if (name == "--rate") {
            options.rate = parse_double(name, value());
        } else if (name == "--max-seconds") {
            options.max_seconds = parse_double(name, value());
        } else if (name == "--drain-seconds") {
            options.drain_seconds = parse_double(name, value());
        } else if (name == "--login-seconds") {
            options.login_seconds = parse_double(name, value());
        } else if (name == "--login-window") {
            options.login_window = parse_number<std::size_t>(name, value());
        } else if (name == "--hold-ms") {
            options.hold_ms = parse_double(name, value());
        } else if (name == "--warmup") {
            options.warmup = parse_number<std::size_t>(name, value());
        } else if (name == "--callers") {
            options.callers_file = value();
        } else if (name == "--call-prefix") {
            options.call_prefix = value();
        } else if (name == "--samples") {
            options.samples_file = value();
        } else if (name == "--tokens") {
            options.tokens_file = value();
        } else if (name == "--tickets") {
            options.tickets_file = value();
        } else if (name == "--save-tickets") {
            options.save_tickets_file = value();
        } else if (name == "--login-only") {
            options.login_only = true;
        } else if (name == "--relogin") {
            options.relogin = parse_number<std::size_t>(name, value());
        } else if (name == "--relogin-after") {
            options.relogin_after = parse_double(name, value());
        } else if (name == "--relogin-window") {
            options.relogin_window = parse_number<std::size_t>(name, value());
        } else if (name == "--no-ack") {
            options.ack = false;
        } else if (name == "--nagle") {
            options.nagle = true;
        } else if (name == "--json") {
            options.json_output = true;
        } else if (name == "--no-switch") {
            options.no_switch = true;
        } else if (name == "--evapi-port") {
            options.evapi_port = parse_number<std::uint16_t>(name, value());
        } else if (name == "--ready-file") {
            options.ready_file = value();
        } else {
            usage_error("unknown option " + name);
        }
    }
    boost::system::error_code error;
    const auto address = asio::ip::make_address(options.host, error);
    if (error || !address.is_loopback())
        usage_error("--host: this bench measures loopback only (127.0.0.1 or ::1), not \"" +
                    options.host + "\"");
    if (options.agents == 0) usage_error("--agents: at least 1");
    if (options.calls == 0) usage_error("--calls: at least 1");
    if (options.login_window == 0) usage_error("--login-window: at least 1");
    if (options.warmup >= options.calls) usage_error("--warmup must be below --calls");
    if (options.evapi_port != 0 && !options.no_switch)
        usage_error("--evapi-port goes with --no-switch (the bench plays no switch then)");
    if (options.no_switch && (options.relogin > 0 || options.warmup > 0 || options.login_only))
        usage_error("--no-switch does not combine with --relogin, --warmup or --login-only");
    if (options.call_prefix.empty())
        options.call_prefix =
            "b" + std::to_string(::getpid()) + "-" +
            std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count()) +
            "-";
    return options;
}

std::string agent_id(const Options& options, std::size_t index) {
    return options.agent_prefix + std::to_string(options.first_agent + index);
}

// "ID VALUE" lines (tokens or tickets) by id; an empty path gives none.
std::map<std::string, std::string> read_by_agent(const std::string& option,
                                                 const std::string& path) {
    std::map<std::string, std::string> values;
    if (path.empty()) return values;
    std::ifstream in(path);
    if (!in) usage_error(option + ": cannot read " + path);
    for (std::string line; std::getline(in, line);) {
        const auto space = line.find(' ');
        if (space == std::string::npos || space == 0 || space + 1 == line.size())
            usage_error(option + ": expected \"ID VALUE\" lines in " + path + ", got \"" +
                        line.substr(0, 80) + "\"");
        values[line.substr(0, space)] = line.substr(space + 1);
    }
    return values;
}

struct Credentials {
    std::map<std::string, std::string> tokens;
    std::map<std::string, std::string> tickets;
};

std::string token_for(const Options& options, const std::string& id) {
    std::string token = options.token_format;
    for (std::size_t at = token.find("{id}"); at != std::string::npos; at = token.find("{id}", at))
        token.replace(at, 4, id), at += id.size();
    return token;
}

// ---- reading callpop's lines fast -------------------------------------------------------

// The top-level "type", "call", "state" and "seq" of one JSON object line, found without
// building a DOM: a pop is a few KiB, and the reader thread must keep up with 50,000/s.
// Strings are returned raw (escapes left in); the bench's call ids have none.
struct TopFields {
    std::string_view type;
    std::string_view call;
    std::string_view state;
    std::uint64_t seq = 0;
};

class Scanner {
public:
    explicit Scanner(std::string_view text) : s_(text) {}

    bool scan(TopFields& fields) {
        space();
        if (!take('{')) return false;
        space();
        if (take('}')) return true;
        while (true) {
            std::string_view key;
            space();
            if (!string(key)) return false;
            space();
            if (!take(':')) return false;
            space();
            if (key == "type" || key == "call" || key == "state") {
                std::string_view value;
                if (peek() == '"') {
                    if (!string(value)) return false;
                    (key == "type" ? fields.type : key == "call" ? fields.call : fields.state) = value;
                } else if (!skip_value()) {
                    return false;
                }
            } else if (key == "seq" && peek() >= '0' && peek() <= '9') {
                const auto result = std::from_chars(s_.data() + i_, s_.data() + s_.size(), fields.seq);
                i_ = static_cast<std::size_t>(result.ptr - s_.data());
            } else if (!skip_value()) {
                return false;
            }
            space();
            if (take(',')) continue;
            return take('}');
        }
    }

private:
    char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
    bool take(char c) {
        if (peek() != c) return false;
        ++i_;
        return true;
    }
    void space() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
    }
    bool string(std::string_view& out) {
        if (!take('"')) return false;
        const std::size_t begin = i_;
        while (true) {
            const std::size_t at = s_.find_first_of("\"\\", i_);
            if (at == std::string_view::npos) return false;
            if (s_[at] == '\\') {
                i_ = at + 2;
                continue;
            }
            out = s_.substr(begin, at - begin);
            i_ = at + 1;
            return true;
        }
    }
    bool skip_value() {
        const char c = peek();
        if (c == '"') {
            std::string_view ignored;
            return string(ignored);
        }
        if (c == '{' || c == '[') {
            int depth = 0;
            while (i_ < s_.size()) {
                const std::size_t at = s_.find_first_of("\"{}[]", i_);
                if (at == std::string_view::npos) return false;
                i_ = at;
                const char d = s_[at];
                if (d == '"') {
                    std::string_view ignored;
                    if (!string(ignored)) return false;
                    continue;
                }
                ++i_;
                if (d == '{' || d == '[') {
                    ++depth;
                } else if (--depth == 0) {
                    return true;
                }
            }
            return false;
        }
        while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != '}') ++i_;
        return true;
    }

    std::string_view s_;
    std::size_t i_ = 0;
};

// ---- what the agents saw ------------------------------------------------------------

struct Observed {
    // Indexed by call number; written by the agent thread only, read after it stopped.
    std::vector<std::int64_t> pop_ns;
    std::uint64_t duplicate_pops = 0;
    std::uint64_t foreign_pops = 0;  // pops for calls this run did not make
    std::uint64_t ended_messages = 0;
    std::uint64_t other_lines = 0;
    std::uint64_t reads = 0;
    std::uint64_t bytes = 0;
    std::int64_t last_ended_ns = not_yet;
    std::int64_t last_pop_ns = not_yet;
    std::vector<std::string> problems;  // errors and byes from the daemon
    // --no-switch: every pop as it came, keyed by the switch's call id, read time on
    // CLOCK_REALTIME (written by the agent thread only).
    struct PopRead {
        std::string call;
        std::int64_t read_unix_ns;
    };
    std::vector<PopRead> pops_by_call;
    // Read by the main thread while running.
    std::atomic<std::uint64_t> pops{0};
    std::atomic<std::uint64_t> ended{0};
    std::atomic<std::int64_t> last_progress_ns{0};
    std::atomic<bool> disconnected{false};
};

// ---- the agents: one Asio thread ----------------------------------------------------

class Agents {
public:
    // Agents first..first+count-1 (agent_id() numbering), `window` logins in flight at once.
    Agents(const Options& options, Observed& observed, std::size_t first, std::size_t count,
           const Credentials& credentials, std::size_t window)
        : options_(options),
          observed_(observed),
          endpoint_(asio::ip::make_address(options.host), options.agent_port),
          heartbeat_(io_),
          work_(io_.get_executor()),
          window_(window == 0 ? count : window) {
        for (std::size_t index = first; index < first + count; ++index) {
            auto agent = std::make_unique<Agent>(io_);
            agent->id = agent_id(options, index);
            const auto token = credentials.tokens.find(agent->id);
            agent->token =
                token != credentials.tokens.end() ? token->second : token_for(options, agent->id);
            if (const auto ticket = credentials.tickets.find(agent->id);
                ticket != credentials.tickets.end())
                agent->ticket = ticket->second;
            agents_.push_back(std::move(agent));
        }
    }

    // After log_in() resolved: when the last welcome arrived, and the tickets the welcomes
    // gave (when asked for with --save-tickets), "ID TICKET" lines.
    Clock::time_point last_welcome_at() const { return last_welcome_at_; }
    std::size_t with_tickets() const {
        std::size_t count = 0;
        for (const auto& agent : agents_) count += agent->ticket.empty() ? 0 : 1;
        return count;
    }
    bool save_tickets(const std::string& path) const {
        std::ofstream out(path, std::ios::trunc);
        for (const auto& agent : agents_) {
            if (!agent->new_ticket.empty()) out << agent->id << ' ' << agent->new_ticket << '\n';
        }
        return static_cast<bool>(out);
    }

    void run() { io_.run(); }
    void stop() {
        asio::post(io_, [this] {
            stopped_ = true;
            work_.reset();
            heartbeat_.cancel();
            for (auto& agent : agents_) {
                boost::system::error_code ignored;
                agent->socket.close(ignored);
            }
        });
    }

    // Resolves once every agent got its welcome (or with the first failure).
    std::future<std::string> log_in() {
        asio::post(io_, [this] {
            for (std::size_t i = 0; i < window_; ++i) start_next_login();
        });
        return login_result_.get_future();
    }

    // Every pop and ended message after this is measured against `origin`.
    void set_origin(Clock::time_point origin) {
        std::promise<void> done;
        asio::post(io_, [&] {
            origin_ = origin;
            done.set_value();
        });
        done.get_future().wait();
    }

private:
    struct Agent {
        explicit Agent(asio::io_context& io) : socket(io) {}
        std::string id;
        std::string token;
        std::string ticket;      // log in with this instead of the token
        std::string new_ticket;  // from the welcome, with --save-tickets
        tcp::socket socket;
        std::array<char, 16384> buffer{};
        std::string partial;  // the start of a line whose end has not arrived
        std::string outbox;
        std::string sending;
        bool writing = false;
        bool logged_in = false;
    };

    void fail_login(const std::string& why) {
        if (login_settled_) return;
        login_settled_ = true;
        login_result_.set_value(why);
    }

    void start_next_login() {
        if (next_login_ >= agents_.size() || login_settled_) return;
        Agent& agent = *agents_[next_login_++];
        agent.socket.async_connect(endpoint_, [this, &agent](const boost::system::error_code& error) {
            if (error) return fail_login("agent " + agent.id + ": connect: " + error.message());
            boost::system::error_code ignored;
            agent.socket.set_option(tcp::no_delay(true), ignored);
            read(agent);
            json login = {{"type", "login"},
                          {"agent", agent.id},
                          {"extensions", json::array({agent.id})}};
            if (agent.ticket.empty()) {
                login["token"] = agent.token;
            } else {
                login["ticket"] = agent.ticket;
            }
            send(agent, login.dump() + "\n");
        });
    }

    void on_welcome(Agent& agent, std::string_view line) {
        if (agent.logged_in) return;
        agent.logged_in = true;
        last_welcome_at_ = Clock::now();
        if (!options_.save_tickets_file.empty()) {
            const auto welcome = json::parse(line, nullptr, false);
            if (welcome.is_object()) agent.new_ticket = welcome.value("ticket", "");
        }
        if (logged_in_ == 0) {
            // Thousands of slow logins take longer than 3 heartbeats: the first agents must
            // keep their connection alive while the others log in.
            const auto welcome = json::parse(line, nullptr, false);
            const int heartbeat_s =
                welcome.is_object() ? welcome.value("heartbeat_s", 15) : 15;
            heartbeat_interval_ = std::chrono::seconds(std::max(1, heartbeat_s));
            schedule_heartbeat();
        }
        if (++logged_in_ == agents_.size()) {
            login_settled_ = true;
            login_result_.set_value("");
            return;
        }
        start_next_login();
    }

    // Any bytes count as life for the daemon; acks may not flow when no call rings. Each
    // agent pings once per heartbeat, spread over it in 100 ms slices: 10,000 pings at
    // once would stall the daemon for a while and show up as a latency spike of the bench's
    // own making (real terminals do not ping in step).
    void schedule_heartbeat() {
        constexpr auto slice = std::chrono::milliseconds(100);
        const auto slices = static_cast<std::size_t>(std::max<std::int64_t>(
            1, std::chrono::duration_cast<std::chrono::milliseconds>(heartbeat_interval_) / slice));
        heartbeat_.expires_after(slice);
        heartbeat_.async_wait([this, slices](const boost::system::error_code& error) {
            if (error || stopped_) return;
            const std::size_t per_slice = (agents_.size() + slices - 1) / slices;
            for (std::size_t i = 0; i < per_slice; ++i) {
                Agent& agent = *agents_[ping_cursor_];
                ping_cursor_ = (ping_cursor_ + 1) % agents_.size();
                if (agent.logged_in) send(agent, "{\"type\":\"ping\"}\n");
            }
            schedule_heartbeat();
        });
    }

    void send(Agent& agent, std::string_view line) {
        agent.outbox += line;
        if (!agent.writing) flush(agent);
    }

    void flush(Agent& agent) {
        if (agent.outbox.empty() || stopped_) return;
        agent.writing = true;
        agent.sending.clear();
        std::swap(agent.sending, agent.outbox);
        asio::async_write(agent.socket, asio::buffer(agent.sending),
                          [this, &agent](const boost::system::error_code& error, std::size_t) {
                              agent.writing = false;
                              if (error) return lost_connection(agent, "write: " + error.message());
                              flush(agent);
                          });
    }

    void read(Agent& agent) {
        agent.socket.async_read_some(
            asio::buffer(agent.buffer),
            [this, &agent](const boost::system::error_code& error, std::size_t size) {
                const auto now = Clock::now();
                // Both clocks, read together: the switch's stamps are wall-clock time.
                const std::int64_t now_unix_ns = unix_ns(WallClock::now());
                if (error) {
                    if (!stopped_) lost_connection(agent, "read: " + error.message());
                    return;
                }
                ++observed_.reads;
                observed_.bytes += size;
                const std::int64_t now_ns = ns_since(origin_, now);
                std::string_view data(agent.buffer.data(), size);
                while (!data.empty()) {
                    const std::size_t end = data.find('\n');
                    if (end == std::string_view::npos) {
                        agent.partial.append(data);
                        break;
                    }
                    if (agent.partial.empty()) {
                        on_line(agent, data.substr(0, end), now_ns, now_unix_ns);
                    } else {
                        agent.partial.append(data.substr(0, end));
                        on_line(agent, agent.partial, now_ns, now_unix_ns);
                        agent.partial.clear();
                    }
                    data.remove_prefix(end + 1);
                }
                if (!stopped_) read(agent);
            });
    }

    void lost_connection(Agent& agent, const std::string& why) {
        if (stopped_) return;
        observed_.disconnected = true;
        observed_.problems.push_back("agent " + agent.id + ": " + why);
        fail_login("agent " + agent.id + ": " + why);
    }

    // The call number of one of our call ids, if it is one.
    std::optional<std::size_t> call_number(std::string_view call) const {
        if (call.substr(0, options_.call_prefix.size()) != options_.call_prefix) return std::nullopt;
        call.remove_prefix(options_.call_prefix.size());
        std::size_t number = 0;
        const auto result = std::from_chars(call.data(), call.data() + call.size(), number);
        if (result.ec != std::errc() || result.ptr != call.data() + call.size() ||
            number >= options_.calls)
            return std::nullopt;
        return number;
    }

    void on_line(Agent& agent, std::string_view line, std::int64_t now_ns,
                 std::int64_t now_unix_ns) {
        TopFields fields;
        if (!Scanner(line).scan(fields)) {
            observed_.problems.push_back("agent " + agent.id + ": unreadable line: " +
                                         std::string(line.substr(0, 200)));
            return;
        }
        if (fields.type == "pop" && options_.no_switch) {
            // Call ids are the switch's: matched with its events after the run.
            observed_.pops_by_call.push_back({std::string(fields.call), now_unix_ns});
            observed_.last_pop_ns = now_ns;
            observed_.pops.fetch_add(1, std::memory_order_relaxed);
            observed_.last_progress_ns.store(now_ns, std::memory_order_relaxed);
            if (options_.ack && fields.seq != 0)
                send(agent, "{\"type\":\"ack\",\"seq\":" + std::to_string(fields.seq) + "}\n");
        } else if (fields.type == "pop") {
            const auto number = call_number(fields.call);
            if (!number) {
                ++observed_.foreign_pops;
            } else if (observed_.pop_ns[*number] != not_yet) {
                ++observed_.duplicate_pops;
            } else {
                observed_.pop_ns[*number] = now_ns;
                observed_.last_pop_ns = now_ns;
                observed_.pops.fetch_add(1, std::memory_order_relaxed);
                observed_.last_progress_ns.store(now_ns, std::memory_order_relaxed);
            }
            if (options_.ack && fields.seq != 0)
                send(agent, "{\"type\":\"ack\",\"seq\":" + std::to_string(fields.seq) + "}\n");
        } else if (fields.type == "call") {
            if (fields.state == "ended" && (options_.no_switch || call_number(fields.call))) {
                ++observed_.ended_messages;
                observed_.last_ended_ns = now_ns;
                observed_.ended.fetch_add(1, std::memory_order_relaxed);
                observed_.last_progress_ns.store(now_ns, std::memory_order_relaxed);
            }
        } else if (fields.type == "welcome") {
            on_welcome(agent, line);
        } else if (fields.type == "pong") {
        } else {
            ++observed_.other_lines;
            if (fields.type == "error" || fields.type == "bye") {
                observed_.problems.push_back("agent " + agent.id + ": " + std::string(line));
                if (!agent.logged_in) fail_login("agent " + agent.id + ": " + std::string(line));
            }
        }
    }

    const Options& options_;
    Observed& observed_;
    asio::io_context io_;
    tcp::endpoint endpoint_;
    asio::steady_timer heartbeat_;
    asio::executor_work_guard<asio::io_context::executor_type> work_;  // run() waits for log_in()
    std::chrono::seconds heartbeat_interval_{15};
    std::vector<std::unique_ptr<Agent>> agents_;
    std::size_t window_;
    Clock::time_point last_welcome_at_{};
    std::size_t next_login_ = 0;
    std::size_t ping_cursor_ = 0;
    std::size_t logged_in_ = 0;
    std::promise<std::string> login_result_;
    bool login_settled_ = false;
    bool stopped_ = false;
    Clock::time_point origin_ = Clock::now();
};

// ---- the switch: one writer thread --------------------------------------------------

struct Sent {
    std::vector<std::int64_t> ring_ns;  // just before the ring's write(); not_yet if not sent
    std::vector<std::int64_t> lag_ns;   // how late that was against the schedule
    std::size_t calls = 0;
    std::size_t hangups = 0;
    std::int64_t last_write_ns = 0;  // the last write of all (a hangup)
    std::int64_t last_ring_ns = 0;   // the last ring's write
    std::string error;
};

class Switch {
public:
    Switch(const Options& options, std::vector<std::string> callers)
        : options_(options), callers_(std::move(callers)) {
        for (std::size_t index = 0; index < options.agents; ++index)
            extensions_.push_back(json(agent_id(options, index)).dump());
        for (auto& caller : callers_) caller = json(caller).dump();
    }

    // Connects; throws on failure.
    void connect() {
        const auto address = asio::ip::make_address(options_.host);
        fd_ = ::socket(address.is_v6() ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
        if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
        const int no_delay = options_.nagle ? 0 : 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &no_delay, sizeof no_delay);
        const tcp::endpoint endpoint(address, options_.switch_port);
        if (::connect(fd_, endpoint.data(), static_cast<socklen_t>(endpoint.size())) != 0)
            throw std::runtime_error("connect to the switch port " +
                                     std::to_string(options_.switch_port) + ": " +
                                     std::strerror(errno));
    }

    ~Switch() {
        if (fd_ >= 0) ::close(fd_);
    }

    // Unblocks a writer stuck in send() (a daemon that stopped reading): the time bound
    // must hold whatever the daemon does.
    void abort() {
        aborted_ = true;
        ::shutdown(fd_, SHUT_RDWR);
    }

    // Sends until done or `deadline`. Runs on its own thread.
    void run(Clock::time_point origin, Clock::time_point deadline, Sent& sent) {
        // Wake up on time: the default 50 µs timer slack would show as schedule lag.
        ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
        sent.ring_ns.assign(options_.calls, not_yet);
        sent.lag_ns.assign(options_.calls, 0);
        const bool paced = options_.rate > 0;
        const auto interval = paced ? std::chrono::duration<double>(1.0 / options_.rate)
                                    : std::chrono::duration<double>(0);
        const auto hold = std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double, std::milli>(options_.hold_ms));
        std::deque<std::pair<Clock::time_point, std::size_t>> hangups_due;
        std::string line;
        line.reserve(512);

        auto send_hangup = [&](std::size_t number) {
            line.clear();
            line += R"({"event":"hangup","call":")";
            line += call_id(number);
            line += R"(","cause":"normal"})";
            line += '\n';
            if (!write_all(line, sent)) return false;
            ++sent.hangups;
            sent.last_write_ns = ns_since(origin, Clock::now());
            return true;
        };
        auto send_due_hangups = [&](Clock::time_point now) {
            while (!hangups_due.empty() && hangups_due.front().first <= now) {
                if (!send_hangup(hangups_due.front().second)) return false;
                hangups_due.pop_front();
            }
            return true;
        };

        for (std::size_t number = 0; number < options_.calls; ++number) {
            const auto scheduled =
                origin + std::chrono::duration_cast<Clock::duration>(interval * static_cast<double>(number));
            if (paced) {
                while (true) {
                    auto now = Clock::now();
                    if (!send_due_hangups(now)) return;
                    if (now >= scheduled) break;
                    auto wake = scheduled;
                    if (!hangups_due.empty()) wake = std::min(wake, hangups_due.front().first);
                    std::this_thread::sleep_until(wake);
                }
            } else if (!send_due_hangups(Clock::now())) {
                return;
            }
            if (Clock::now() >= deadline) break;
            build_ring(number, line);
            const auto before = Clock::now();
            sent.ring_ns[number] = ns_since(origin, before);
            sent.lag_ns[number] = paced ? std::max<std::int64_t>(0, ns_since(scheduled, before)) : 0;
            if (!write_all(line, sent)) return;
            ++sent.calls;
            sent.last_write_ns = sent.last_ring_ns = ns_since(origin, Clock::now());
            if (hold.count() == 0) {
                if (!send_hangup(number)) return;
            } else {
                hangups_due.emplace_back(before + hold, number);
            }
        }
        // Hang up what still rings, on time, but not past the deadline.
        while (!hangups_due.empty()) {
            const auto due = hangups_due.front().first;
            if (due >= deadline) break;
            std::this_thread::sleep_until(due);
            if (!send_due_hangups(Clock::now())) return;
        }
    }

    std::string call_id(std::size_t number) const {
        return options_.call_prefix + std::to_string(number);
    }

private:
    void build_ring(std::size_t number, std::string& line) const {
        line.clear();
        line += R"({"event":"ring","call":")";
        line += call_id(number);
        line += R"(","from":)";
        if (callers_.empty()) {
            // +1 555 01x xxxx: fictional, parse fine, and no demo customer has them past 0299.
            char from[32];
            std::snprintf(from, sizeof from, "\"+1555%07zu\"", 1000000 + number % 9000000);
            line += from;
        } else {
            line += callers_[number % callers_.size()];
        }
        line += R"(,"name":"BENCH CALLER","to":"8005551000","ext":)";
        line += extensions_[number % extensions_.size()];
        line += R"(,"queue":"support"})";
        line += '\n';
    }

    bool write_all(std::string_view data, Sent& sent) {
        while (!data.empty()) {
            const ssize_t written = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
            if (written < 0) {
                if (errno == EINTR) continue;
                if (!aborted_) sent.error = std::string("switch connection: ") + std::strerror(errno);
                return false;
            }
            data.remove_prefix(static_cast<std::size_t>(written));
        }
        return true;
    }

    const Options& options_;
    std::vector<std::string> callers_;  // JSON-quoted
    std::vector<std::string> extensions_;  // JSON-quoted
    int fd_ = -1;
    std::atomic<bool> aborted_{false};
};

// ---- Kamailio's evapi, read by a second client ---------------------------------------

// One ring event as the recording client read it.
struct RingSeen {
    std::string call;           // the SIP Call-ID: callpop's call id, in the pop
    std::int64_t ts_us;         // Kamailio's stamp, taken in its SIP worker as it relays
    std::int64_t read_unix_ns;  // when this client's recv() returned
};

// The string or integer value of "key" in a flat JSON object, found without a parser
// (3,000 events a second share the cores with Kamailio and callpop). Kamailio's script
// builds the events with jansson, flat, with no such key inside another value.
std::string_view json_field(std::string_view object, std::string_view key) {
    std::string quoted = "\"";
    quoted.append(key);
    quoted += '"';
    std::size_t at = object.find(quoted);
    if (at == std::string_view::npos) return {};
    at += quoted.size();
    while (at < object.size() && (object[at] == ' ' || object[at] == ':')) ++at;
    if (at >= object.size()) return {};
    if (object[at] == '"') {
        const std::size_t begin = at + 1;
        std::size_t end = begin;
        while (end < object.size() && object[end] != '"') end += object[end] == '\\' ? 2 : 1;
        return end < object.size() ? object.substr(begin, end - begin) : std::string_view{};
    }
    std::size_t end = at;
    while (end < object.size() && object[end] != ',' && object[end] != '}' && object[end] != ' ')
        ++end;
    return object.substr(at, end - at);
}

// Reads evapi's netstrings ("LEN:{json},") with blocking reads on a thread of its own and
// keeps every ring's call id and ts_us. Like callpop it never writes to evapi and does
// nothing between reads but scan what came: a client that stops reading stalls Kamailio.
class EvapiRecorder {
public:
    explicit EvapiRecorder(const Options& options) : options_(options) {}
    ~EvapiRecorder() { stop(); }
    EvapiRecorder(const EvapiRecorder&) = delete;
    EvapiRecorder& operator=(const EvapiRecorder&) = delete;

    // Connects and starts reading; throws on failure.
    void start() {
        const auto address = asio::ip::make_address(options_.host);
        fd_ = ::socket(address.is_v6() ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
        if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
        const tcp::endpoint endpoint(address, options_.evapi_port);
        if (::connect(fd_, endpoint.data(), static_cast<socklen_t>(endpoint.size())) != 0)
            throw std::runtime_error("connect to evapi port " + std::to_string(options_.evapi_port) +
                                     ": " + std::strerror(errno));
        thread_ = std::thread([this] { run(); });
    }

    // Kamailio greets a client once it relays events to it: the recording starts there.
    bool wait_for_hello(std::chrono::seconds timeout) const {
        const auto deadline = Clock::now() + timeout;
        while (!hello_ && !closed_ && Clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        return hello_;
    }

    void stop() {
        if (!thread_.joinable()) return;
        stopping_ = true;
        ::shutdown(fd_, SHUT_RDWR);
        thread_.join();
        ::close(fd_);
        fd_ = -1;
    }

    // After stop().
    const std::vector<RingSeen>& rings() const { return rings_; }
    const std::map<std::string, std::uint64_t>& events() const { return events_; }
    std::uint64_t garbage() const { return garbage_; }
    const std::string& error() const { return error_; }

private:
    void run() {
        std::string pending;
        std::array<char, 65536> buffer{};
        while (true) {
            const ssize_t size = ::recv(fd_, buffer.data(), buffer.size(), 0);
            const std::int64_t read_unix_ns = unix_ns(WallClock::now());
            if (size <= 0) {
                if (size < 0 && errno == EINTR) continue;
                if (!stopping_)
                    error_ = size == 0 ? "evapi closed the connection"
                                       : std::string("evapi read: ") + std::strerror(errno);
                closed_ = true;
                return;
            }
            pending.append(buffer.data(), static_cast<std::size_t>(size));
            std::size_t at = 0;
            while (true) {
                const std::size_t colon = pending.find(':', at);
                if (colon == std::string::npos) break;
                std::size_t length = 0;
                const auto digits = std::from_chars(pending.data() + at, pending.data() + colon, length);
                if (digits.ec != std::errc() || digits.ptr != pending.data() + colon) {
                    // Not a netstring where one should start: count it, look for the next.
                    ++garbage_;
                    const std::size_t next = pending.find(",", at);
                    if (next == std::string::npos) break;
                    at = next + 1;
                    continue;
                }
                if (pending.size() < colon + 1 + length + 1) break;  // the rest is coming
                on_payload(std::string_view(pending).substr(colon + 1, length), read_unix_ns);
                if (pending[colon + 1 + length] != ',') ++garbage_;
                at = colon + 1 + length + 1;
            }
            pending.erase(0, at);
        }
    }

    void on_payload(std::string_view payload, std::int64_t read_unix_ns) {
        const std::string event(json_field(payload, "event"));
        ++events_[event];
        if (event == "hello") {
            hello_ = true;
        } else if (event == "ring") {
            const std::string_view ts = json_field(payload, "ts_us");
            std::int64_t ts_us = 0;
            const auto parsed = std::from_chars(ts.data(), ts.data() + ts.size(), ts_us);
            if (parsed.ec != std::errc() || ts_us <= 0) {
                ++garbage_;  // a ring without its stamp cannot be measured
                return;
            }
            rings_.push_back({std::string(json_field(payload, "callid")), ts_us, read_unix_ns});
        }
    }

    const Options& options_;
    int fd_ = -1;
    std::thread thread_;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> hello_{false};
    std::atomic<bool> closed_{false};
    // Written by the reading thread, read after stop().
    std::vector<RingSeen> rings_;
    std::map<std::string, std::uint64_t> events_;
    std::uint64_t garbage_ = 0;
    std::string error_;
};

// ---- figures ------------------------------------------------------------------------

double percentile_us(const std::vector<std::int64_t>& sorted_ns, double fraction) {
    if (sorted_ns.empty()) return 0;
    // Nearest rank: the smallest value with at least `fraction` of the samples at or below it.
    const auto rank = static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(sorted_ns.size())));
    const std::size_t index = std::min(sorted_ns.size() - 1, rank == 0 ? 0 : rank - 1);
    return static_cast<double>(sorted_ns[index]) / 1000.0;
}

std::vector<std::string> read_callers(const std::string& path) {
    std::vector<std::string> callers;
    if (path.empty()) return callers;
    std::ifstream in(path);
    if (!in) usage_error("--callers: cannot read " + path);
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!line.empty()) callers.push_back(line);
    }
    if (callers.empty()) usage_error("--callers: no numbers in " + path);
    return callers;
}

double cpu_seconds_of_this_process() {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Written whole or not at all: a script polls for it.
bool write_ready_file(const std::string& path, const json& content) {
    const std::string partial = path + ".partial";
    {
        std::ofstream out(partial, std::ios::trunc);
        out << content.dump() << '\n';
        if (!out) return false;
    }
    return std::rename(partial.c_str(), path.c_str()) == 0;
}

// --no-switch: the agents are logged in; a real switch makes the calls. Waits for them,
// then matches each pop with its ring event by call id. Returns the exit status.
int run_without_switch(const Options& options, Agents& agents, Observed& observed,
                       const std::function<void()>& finish_agents, double login_s) {
    auto say = [&](const std::string& text) {
        if (!options.json_output) std::cerr << text << std::endl;
    };
    std::optional<EvapiRecorder> recorder;
    if (options.evapi_port != 0) {
        recorder.emplace(options);
        try {
            recorder->start();
        } catch (const std::exception& error) {
            std::cerr << "callpop_bench: " << error.what() << "\n";
            finish_agents();
            return 1;
        }
        if (!recorder->wait_for_hello(std::chrono::seconds(10))) {
            std::cerr << "callpop_bench: no hello from evapi on port " << options.evapi_port
                      << " within 10 s" << (recorder->error().empty() ? "" : ": " + recorder->error())
                      << "\n";
            recorder->stop();
            finish_agents();
            return 1;
        }
    }
    const auto origin = Clock::now();
    agents.set_origin(origin);
    const double cpu_at_ready = cpu_seconds_of_this_process();
    if (!options.ready_file.empty() &&
        !write_ready_file(options.ready_file, {{"agents", options.agents}, {"login_seconds", login_s}})) {
        std::cerr << "callpop_bench: cannot write " << options.ready_file << "\n";
        if (recorder) recorder->stop();
        finish_agents();
        return 1;
    }
    say("ready: waiting for " + std::to_string(options.calls) + " calls from the switch" +
        (recorder ? " (recording evapi on port " + std::to_string(options.evapi_port) + ")" : ""));

    // SIGINT and SIGTERM were blocked in every thread (main): taken here, between checks.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    const auto deadline = origin + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(options.max_seconds));
    std::string stop_reason;
    while (stop_reason.empty()) {
        const timespec tick{0, 5'000'000};
        const int signal = ::sigtimedwait(&stop_signals, nullptr, &tick);
        const auto now = Clock::now();
        const auto pops = observed.pops.load();
        const auto last = origin + std::chrono::nanoseconds(observed.last_progress_ns.load());
        if (signal > 0) {
            stop_reason = std::string("stopped by ") + (signal == SIGINT ? "SIGINT" : "SIGTERM");
        } else if (pops >= options.calls && observed.ended.load() >= options.calls) {
            stop_reason = "all pops and hangups arrived";
        } else if (pops > 0 && now - last > std::chrono::duration<double>(options.drain_seconds)) {
            stop_reason = "nothing arrived for " + std::to_string(options.drain_seconds) + " s";
        } else if (now >= deadline) {
            stop_reason = "--max-seconds reached";
        } else if (observed.disconnected) {
            stop_reason = "an agent connection closed";
        }
    }
    finish_agents();
    if (recorder) recorder->stop();
    const double cpu_s = cpu_seconds_of_this_process() - cpu_at_ready;

    // Each pop against its ring's stamp.
    static const std::vector<RingSeen> no_rings;
    const auto& rings = recorder ? recorder->rings() : no_rings;
    std::unordered_map<std::string_view, std::size_t> ring_of_call;
    ring_of_call.reserve(rings.size());
    // A late INVITE retransmission makes Kamailio send a call's ring again (seen at 1,250
    // calls/s); callpop pops a call once, so only its first ring is measured.
    std::vector<bool> repeated(rings.size(), false);
    std::size_t duplicate_rings = 0;
    for (std::size_t index = 0; index < rings.size(); ++index) {
        if (!ring_of_call.emplace(rings[index].call, index).second) {
            repeated[index] = true;
            ++duplicate_rings;
        }
    }
    std::vector<std::int64_t> popped_ns(rings.size(), not_yet);  // pop read - ts_us
    std::size_t duplicate_pops = 0;
    std::size_t pops_without_ring = 0;
    for (const auto& pop : observed.pops_by_call) {
        const auto ring = ring_of_call.find(pop.call);
        if (ring == ring_of_call.end()) {
            ++pops_without_ring;
        } else if (popped_ns[ring->second] != not_yet) {
            ++duplicate_pops;
        } else {
            popped_ns[ring->second] = pop.read_unix_ns - rings[ring->second].ts_us * 1000;
        }
    }
    std::vector<std::int64_t> latencies;
    std::vector<std::int64_t> evapi_delivery;  // ring read by the recorder - ts_us
    // Pop read - the recorder's read of the same ring: both clients get the event from the
    // same evapi write loop, so this is about callpop's share of the latency.
    std::vector<std::int64_t> after_evapi;
    std::size_t lost = 0;
    for (std::size_t index = 0; index < rings.size(); ++index) {
        if (repeated[index]) continue;
        const std::int64_t delivered_ns = rings[index].read_unix_ns - rings[index].ts_us * 1000;
        evapi_delivery.push_back(delivered_ns);
        if (popped_ns[index] == not_yet) {
            ++lost;
        } else {
            latencies.push_back(popped_ns[index]);
            after_evapi.push_back(popped_ns[index] - delivered_ns);
        }
    }
    if (!options.samples_file.empty()) {
        // The columns of a run with the bench's own switch (sent_us counts from the first
        // ring's stamp, call is the SIP Call-ID), and when the recorder read the ring.
        std::ofstream samples(options.samples_file, std::ios::trunc);
        samples << "call,sent_us,latency_us,evapi_read_us\n";
        for (std::size_t index = 0; index < rings.size(); ++index) {
            if (repeated[index]) continue;
            samples << rings[index].call << ',' << rings[index].ts_us - rings.front().ts_us << ',';
            if (popped_ns[index] != not_yet) samples << popped_ns[index] / 1000;
            samples << ',' << (rings[index].read_unix_ns / 1000 - rings[index].ts_us) << '\n';
        }
        if (!samples) std::cerr << "callpop_bench: cannot write " << options.samples_file << "\n";
    }
    std::sort(latencies.begin(), latencies.end());
    std::sort(evapi_delivery.begin(), evapi_delivery.end());
    std::sort(after_evapi.begin(), after_evapi.end());
    auto figures = [](const std::vector<std::int64_t>& sorted) {
        return json{{"samples", sorted.size()},
                    {"min", percentile_us(sorted, 0)},
                    {"p50", percentile_us(sorted, 0.50)},
                    {"p90", percentile_us(sorted, 0.90)},
                    {"p99", percentile_us(sorted, 0.99)},
                    {"p99_9", percentile_us(sorted, 0.999)},
                    {"max", percentile_us(sorted, 1.0)}};
    };
    const double ring_span_s =
        rings.size() > 1 ? static_cast<double>(rings.back().ts_us - rings.front().ts_us) / 1e6 : 0;
    json result = {
        {"agents", options.agents},
        {"calls_expected", options.calls},
        {"login_seconds", login_s},
        {"evapi_events", recorder ? json(recorder->events()) : json(nullptr)},
        {"evapi_garbage", recorder ? recorder->garbage() : 0},
        {"ring_events", rings.size()},
        {"duplicate_ring_events", duplicate_rings},
        {"ring_rate", ring_span_s > 0 ? static_cast<double>(rings.size() - 1) / ring_span_s : 0},
        {"pops_received", observed.pops_by_call.size()},
        {"ended_received", observed.ended_messages},
        {"lost", lost},
        {"duplicate_pops", duplicate_pops},
        {"pops_without_ring_event", pops_without_ring},
        {"latency_us", figures(latencies)},
        {"evapi_delivery_us", figures(evapi_delivery)},
        {"after_evapi_us", figures(after_evapi)},
        {"bench_cpu_seconds", cpu_s},
        {"stopped", stop_reason},
        {"problems", observed.problems.size()},
    };
    if (recorder && !recorder->error().empty()) result["evapi_error"] = recorder->error();
    if (options.json_output) {
        std::cout << result.dump() << std::endl;
    } else {
        auto line = [](const json& f) {
            char text[200];
            std::snprintf(text, sizeof text, "p50 %.0f  p90 %.0f  p99 %.0f  p99.9 %.0f  max %.0f  (min %.0f; %zu samples)",
                          f["p50"].get<double>(), f["p90"].get<double>(), f["p99"].get<double>(),
                          f["p99_9"].get<double>(), f["max"].get<double>(), f["min"].get<double>(),
                          f["samples"].get<std::size_t>());
            return std::string(text);
        };
        std::printf("agents logged in    %zu (in %.2f s)\n", options.agents, login_s);
        if (recorder) {
            std::printf("evapi events        ");
            for (const auto& [event, count] : recorder->events())
                std::printf("%s %llu  ", event.c_str(), static_cast<unsigned long long>(count));
            std::printf("(read by the recording client)\n");
        }
        std::printf("ring events         %zu over %.2f s: %.0f calls/s (Kamailio's stamps); %zu repeated\n",
                    rings.size(), ring_span_s, result["ring_rate"].get<double>(), duplicate_rings);
        std::printf("pops received       %zu (%zu duplicate, %zu without a ring event)\n",
                    observed.pops_by_call.size(), duplicate_pops, pops_without_ring);
        std::printf("lost                %zu (ring events never popped)\n", lost);
        std::printf("hangups seen        %llu 'ended' messages\n",
                    static_cast<unsigned long long>(observed.ended_messages));
        std::printf("latency (µs)        %s  ring's ts_us -> pop read\n", line(result["latency_us"]).c_str());
        if (recorder)
            std::printf("evapi delivery (µs) %s  ring's ts_us -> read by the recorder\n",
                        line(result["evapi_delivery_us"]).c_str());
        if (recorder)
            std::printf("after evapi (µs)    %s  the recorder's read -> pop read, per call\n",
                        line(result["after_evapi_us"]).c_str());
        std::printf("bench CPU           %.2f s (user+sys) since ready\n", cpu_s);
        std::printf("stopped             %s\n", stop_reason.c_str());
        if (recorder && !recorder->error().empty())
            std::printf("evapi error         %s\n", recorder->error().c_str());
        const std::size_t shown = std::min<std::size_t>(observed.problems.size(), 10);
        for (std::size_t i = 0; i < shown; ++i)
            std::printf("daemon said         %s\n", observed.problems[i].c_str());
        std::fflush(stdout);
    }
    return lost > 0 || (recorder && rings.empty()) ? 3 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    const Options options = parse_options(argc, argv);
    if (options.no_switch) {
        // A script stops this mode with SIGTERM: blocked in every thread (threads inherit
        // the mask), taken by run_without_switch() between its checks.
        sigset_t stop_signals;
        sigemptyset(&stop_signals);
        sigaddset(&stop_signals, SIGINT);
        sigaddset(&stop_signals, SIGTERM);
        ::pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    }
    const auto callers = read_callers(options.callers_file);
    auto say = [&](const std::string& text) {
        if (!options.json_output) std::cerr << text << std::endl;
    };

    const Credentials credentials{read_by_agent("--tokens", options.tokens_file),
                                  read_by_agent("--tickets", options.tickets_file)};
    Observed observed;
    observed.pop_ns.assign(options.calls, not_yet);
    Agents agents(options, observed, 0, options.agents, credentials, options.login_window);
    std::thread agent_thread([&] { agents.run(); });
    // The relogin agents have a thread of their own: their logins must not delay the reads
    // of the pops being measured meanwhile more than a terminal of their own would.
    Observed relogin_observed;
    relogin_observed.pop_ns.assign(options.calls, not_yet);
    std::unique_ptr<Agents> relogin_agents;
    std::thread relogin_thread;
    if (options.relogin > 0 && !options.login_only) {
        relogin_agents = std::make_unique<Agents>(options, relogin_observed, options.agents,
                                                  options.relogin, credentials,
                                                  options.relogin_window);
        relogin_thread = std::thread([&] {
            // In a real restart the terminals logging back in are other machines: here they
            // share the bench's core, so they yield it to the thread reading the pops.
            ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19);
            relogin_agents->run();
        });
    }
    auto finish_agents = [&] {
        agents.stop();
        agent_thread.join();
        if (relogin_agents) {
            relogin_agents->stop();
            relogin_thread.join();
        }
    };

    // 1. Log in before the clock starts: a chosen token costs the daemon a slow hash.
    say("logging in " + std::to_string(options.agents) + " agents (" + agent_id(options, 0) + ".." +
        agent_id(options, options.agents - 1) + "; " + std::to_string(agents.with_tickets()) +
        " with tickets) on " + options.host + ":" + std::to_string(options.agent_port) + " ...");
    const auto login_start = Clock::now();
    auto login = agents.log_in();
    if (login.wait_for(std::chrono::duration<double>(options.login_seconds)) !=
        std::future_status::ready) {
        std::cerr << "callpop_bench: agents not logged in after " << options.login_seconds << " s\n";
        finish_agents();
        return 1;
    }
    if (const std::string failure = login.get(); !failure.empty()) {
        std::cerr << "callpop_bench: login failed: " << failure << "\n";
        finish_agents();
        return 1;
    }
    const double login_s =
        std::chrono::duration<double>(agents.last_welcome_at() - login_start).count();
    say("logged in in " + std::to_string(login_s) + " s");
    if (!options.save_tickets_file.empty() && !agents.save_tickets(options.save_tickets_file)) {
        std::cerr << "callpop_bench: cannot write " << options.save_tickets_file << "\n";
        finish_agents();
        return 1;
    }
    if (options.no_switch) return run_without_switch(options, agents, observed, finish_agents, login_s);
    if (options.login_only) {
        finish_agents();
        const json result = {{"agents", options.agents},
                             {"with_tickets", agents.with_tickets()},
                             {"login_window", options.login_window},
                             {"login_seconds", login_s}};
        if (options.json_output) {
            std::cout << result.dump() << std::endl;
        } else {
            std::printf("agents logged in    %zu (%zu with tickets) in %.3f s, %zu at a time\n",
                        options.agents, agents.with_tickets(), login_s, options.login_window);
        }
        return 0;
    }

    Switch phone_switch(options, callers);
    try {
        phone_switch.connect();
    } catch (const std::exception& error) {
        std::cerr << "callpop_bench: " << error.what() << "\n";
        finish_agents();
        return 1;
    }

    // 2. Ring. The origin is a little ahead so both threads are ready for the first call.
    const auto origin = Clock::now() + std::chrono::milliseconds(20);
    const auto deadline =
        origin + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.max_seconds));
    agents.set_origin(origin);
    Sent sent;
    std::atomic<bool> writer_done{false};
    std::thread writer([&] {
        phone_switch.run(origin, deadline, sent);
        writer_done = true;
    });
    say("sending " + std::to_string(options.calls) + " calls at " +
        (options.rate > 0 ? std::to_string(static_cast<long long>(options.rate)) + " calls/s"
                          : std::string("full speed")) +
        " ...");

    // 3. Wait for every pop and every hangup to come back, or the deadline, or silence.
    // With --relogin, the other agents log in meanwhile, --relogin-after s after the origin.
    std::optional<Clock::time_point> relogin_started_at;
    std::future<std::string> relogin;
    std::optional<std::string> relogin_failure;  // set once settled: "" when all got in
    const auto relogin_due =
        origin + std::chrono::duration_cast<Clock::duration>(
                     std::chrono::duration<double>(options.relogin_after));
    auto relogin_pending = [&] { return relogin_agents && !relogin_failure; };
    if (relogin_agents)
        say(std::to_string(options.relogin) + " more agents (" + agent_id(options, options.agents) +
            ".." + agent_id(options, options.agents + options.relogin - 1) + "; " +
            std::to_string(relogin_agents->with_tickets()) + " with tickets) log in " +
            std::to_string(options.relogin_after) + " s after the first ring");
    std::optional<Clock::time_point> writer_finished_at;
    std::string stop_reason = "all pops and hangups arrived";
    while (true) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        const auto now = Clock::now();
        if (relogin_agents && !relogin_started_at && now >= relogin_due) {
            relogin_started_at = Clock::now();
            relogin = relogin_agents->log_in();
        }
        if (relogin_started_at && !relogin_failure) {
            if (relogin.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
                relogin_failure = relogin.get();
            } else if (now - *relogin_started_at >
                       std::chrono::duration<double>(options.login_seconds)) {
                relogin_failure = "not all logged in after --login-seconds";
            }
        }
        if (writer_done && !writer_finished_at) writer_finished_at = now;
        if (writer_finished_at) {
            const std::uint64_t target = sent.calls;  // the writer has finished: safe to read
            if (observed.pops.load() >= target && observed.ended.load() >= target) {
                if (!relogin_pending()) break;
                continue;
            }
            const auto last = origin + std::chrono::nanoseconds(observed.last_progress_ns.load());
            const auto quiet_since = std::max(last, *writer_finished_at);
            if (!relogin_pending() &&
                now - quiet_since > std::chrono::duration<double>(options.drain_seconds)) {
                stop_reason = "nothing arrived for " + std::to_string(options.drain_seconds) + " s";
                break;
            }
        }
        if (now >= deadline + std::chrono::milliseconds(100) &&
            (!relogin_pending() || now >= relogin_due + std::chrono::duration<double>(
                                                            options.login_seconds))) {
            stop_reason = "--max-seconds reached";
            break;
        }
        if (observed.disconnected) {
            stop_reason = "an agent connection closed";
            if (writer_finished_at) break;
        }
    }
    if (!writer_done) {
        phone_switch.abort();
        if (stop_reason == "all pops and hangups arrived") stop_reason = "stopped early";
    }
    writer.join();
    if (relogin_pending()) relogin_failure = relogin_started_at ? "stopped before all logged in"
                                                                : "stopped before it began";
    finish_agents();

    // 4. Figures.
    std::vector<std::int64_t> latencies;
    latencies.reserve(sent.calls);
    std::size_t lost = 0;
    for (std::size_t number = 0; number < options.calls; ++number) {
        if (sent.ring_ns[number] == not_yet) continue;
        if (observed.pop_ns[number] == not_yet) {
            ++lost;
            continue;
        }
        if (number < options.warmup) continue;
        latencies.push_back(observed.pop_ns[number] - sent.ring_ns[number]);
    }
    if (!options.samples_file.empty()) {
        std::ofstream samples(options.samples_file, std::ios::trunc);
        samples << "call,sent_us,latency_us\n";
        for (std::size_t number = 0; number < options.calls; ++number) {
            if (sent.ring_ns[number] == not_yet) continue;
            samples << number << ',' << sent.ring_ns[number] / 1000 << ',';
            if (observed.pop_ns[number] != not_yet)
                samples << (observed.pop_ns[number] - sent.ring_ns[number]) / 1000;
            samples << '\n';
        }
        if (!samples) std::cerr << "callpop_bench: cannot write " << options.samples_file << "\n";
    }
    std::sort(latencies.begin(), latencies.end());
    // The relogin: how long, and the pops rung while it went on.
    json relogin_result;
    std::vector<std::int64_t> during_relogin;
    std::vector<std::int64_t> outside_relogin;
    if (relogin_agents) {
        const bool all_in = relogin_failure && relogin_failure->empty();
        const auto ended_at = all_in ? relogin_agents->last_welcome_at() : Clock::now();
        const std::int64_t from_ns =
            relogin_started_at ? ns_since(origin, *relogin_started_at) : ns_since(origin, Clock::now());
        const std::int64_t to_ns = ns_since(origin, ended_at);
        for (std::size_t number = options.warmup; number < options.calls; ++number) {
            const auto rang = sent.ring_ns[number];
            if (rang == not_yet || observed.pop_ns[number] == not_yet) continue;
            (rang < from_ns || rang > to_ns ? outside_relogin : during_relogin)
                .push_back(observed.pop_ns[number] - rang);
        }
        std::sort(during_relogin.begin(), during_relogin.end());
        std::sort(outside_relogin.begin(), outside_relogin.end());
        relogin_result = {
            {"agents", options.relogin},
            {"with_tickets", relogin_agents->with_tickets()},
            {"window", options.relogin_window == 0 ? options.relogin : options.relogin_window},
            {"after_s", options.relogin_after},
            {"seconds", all_in ? json(std::chrono::duration<double>(ended_at - *relogin_started_at).count())
                               : json(nullptr)},
            {"failure", relogin_failure.value_or("")},
            {"pops_during", during_relogin.size()},
            {"latency_during_us",
             {{"p50", percentile_us(during_relogin, 0.50)},
              {"p90", percentile_us(during_relogin, 0.90)},
              {"p99", percentile_us(during_relogin, 0.99)},
              {"max", percentile_us(during_relogin, 1.0)}}},
            {"pops_outside", outside_relogin.size()},
            {"latency_outside_us",
             {{"p50", percentile_us(outside_relogin, 0.50)},
              {"p90", percentile_us(outside_relogin, 0.90)},
              {"p99", percentile_us(outside_relogin, 0.99)},
              {"max", percentile_us(outside_relogin, 1.0)}}},
        };
    }
    std::vector<std::int64_t> lags(sent.lag_ns.begin(), sent.lag_ns.begin() + static_cast<std::ptrdiff_t>(sent.calls));
    std::sort(lags.begin(), lags.end());
    double mean_us = 0;
    for (auto value : latencies) mean_us += static_cast<double>(value) / 1000.0;
    if (!latencies.empty()) mean_us /= static_cast<double>(latencies.size());

    const std::uint64_t pops = observed.pops.load();
    // Rings sent per second, from the first ring to the last.
    const double send_seconds = static_cast<double>(sent.last_ring_ns) / 1e9;
    // Throughput as the daemon delivered it: pops per second from the first ring to the last
    // pop; events (rings + hangups) per second from the first ring to the last "ended"
    // message, the daemon's answer to the last hangup. With --hold-ms the hangups trail the
    // rings by the hold time, which the event rate then includes.
    const double pop_seconds =
        observed.last_pop_ns > 0 ? static_cast<double>(observed.last_pop_ns) / 1e9 : 0;
    const std::int64_t end_ns =
        observed.last_ended_ns != not_yet ? observed.last_ended_ns : observed.last_pop_ns;
    const double daemon_seconds = end_ns > 0 ? static_cast<double>(end_ns) / 1e9 : 0;
    const std::uint64_t events_handled = pops + observed.ended_messages;
    const double send_rate = send_seconds > 0 ? static_cast<double>(sent.calls) / send_seconds : 0;
    const double call_rate = pop_seconds > 0 ? static_cast<double>(pops) / pop_seconds : 0;
    const double event_rate = daemon_seconds > 0 ? static_cast<double>(events_handled) / daemon_seconds : 0;

    json result = {
        {"agents", options.agents},
        {"calls_target", options.calls},
        {"rate_target", options.rate},
        {"hold_ms", options.hold_ms},
        {"ack", options.ack},
        {"nagle", options.nagle},
        {"login_seconds", login_s},
        {"calls_sent", sent.calls},
        {"hangups_sent", sent.hangups},
        {"pops_received", pops},
        {"ended_received", observed.ended_messages},
        {"lost", lost},
        {"duplicate_pops", observed.duplicate_pops},
        {"foreign_pops", observed.foreign_pops},
        {"warmup_excluded", std::min(options.warmup, sent.calls)},
        {"latency_us",
         {{"samples", latencies.size()},
          {"min", percentile_us(latencies, 0)},
          {"p50", percentile_us(latencies, 0.50)},
          {"p90", percentile_us(latencies, 0.90)},
          {"p99", percentile_us(latencies, 0.99)},
          {"p99_9", percentile_us(latencies, 0.999)},
          {"max", percentile_us(latencies, 1.0)},
          {"mean", mean_us}}},
        {"writer_lag_us",
         {{"p50", percentile_us(lags, 0.5)}, {"p99", percentile_us(lags, 0.99)}, {"max", percentile_us(lags, 1.0)}}},
        {"send_seconds", send_seconds},
        {"send_rate", send_rate},
        {"pop_seconds", pop_seconds},
        {"daemon_seconds", daemon_seconds},
        {"achieved_call_rate", call_rate},
        {"achieved_event_rate", event_rate},
        {"agent_reads", observed.reads},
        {"agent_bytes", observed.bytes},
        {"agent_bytes_per_call", pops > 0 ? static_cast<double>(observed.bytes) / static_cast<double>(pops) : 0},
        {"stopped", stop_reason},
        {"problems", observed.problems.size()},
    };
    if (!sent.error.empty()) result["writer_error"] = sent.error;
    if (relogin_agents) result["relogin"] = relogin_result;

    if (options.json_output) {
        std::cout << result.dump() << std::endl;
    } else {
        auto us = [](double value) {
            char text[32];
            std::snprintf(text, sizeof text, value < 10 ? "%.1f" : "%.0f", value);
            return std::string(text);
        };
        const auto& l = result["latency_us"];
        const auto& w = result["writer_lag_us"];
        std::printf("agents logged in    %zu (in %.2f s)\n", options.agents, login_s);
        std::printf("calls sent          %zu (+%zu hangups) in %.2f s: %.0f calls/s (target %s)\n",
                    sent.calls, sent.hangups, send_seconds, send_rate,
                    options.rate > 0 ? std::to_string(static_cast<long long>(options.rate)).c_str()
                                     : "as fast as possible");
        std::printf("pops received       %llu\n", static_cast<unsigned long long>(pops));
        std::printf("lost                %zu\n", lost);
        if (observed.duplicate_pops || observed.foreign_pops)
            std::printf("unexpected pops     %llu duplicate, %llu for other calls\n",
                        static_cast<unsigned long long>(observed.duplicate_pops),
                        static_cast<unsigned long long>(observed.foreign_pops));
        std::printf("hangups seen        %llu 'ended' messages\n",
                    static_cast<unsigned long long>(observed.ended_messages));
        std::printf("latency (µs)        p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (min %s, mean %s; %zu samples)\n",
                    us(l["p50"]).c_str(), us(l["p90"]).c_str(), us(l["p99"]).c_str(),
                    us(l["p99_9"]).c_str(), us(l["max"]).c_str(), us(l["min"]).c_str(),
                    us(mean_us).c_str(), latencies.size());
        std::printf("achieved            %.0f pops/s over %.2f s; %.0f events/s (rings + hangups) over %.2f s\n",
                    call_rate, pop_seconds, event_rate, daemon_seconds);
        std::printf("writer lag (µs)     p50 %s  p99 %s  max %s  (late against the schedule)\n",
                    us(w["p50"]).c_str(), us(w["p99"]).c_str(), us(w["max"]).c_str());
        if (relogin_agents) {
            const auto& r = relogin_result;
            const auto& d = r["latency_during_us"];
            if (r["seconds"].is_number()) {
                std::printf("relogin             %zu agents (%zu with tickets, %zu at a time) in %.3f s\n",
                            options.relogin, relogin_agents->with_tickets(),
                            r["window"].get<std::size_t>(), r["seconds"].get<double>());
            } else {
                std::printf("relogin             %zu agents: %s\n", options.relogin,
                            r["failure"].get<std::string>().c_str());
            }
            std::printf("  pops meanwhile    %zu; latency (µs) p50 %s  p90 %s  p99 %s  max %s\n",
                        during_relogin.size(), us(d["p50"]).c_str(), us(d["p90"]).c_str(),
                        us(d["p99"]).c_str(), us(d["max"]).c_str());
            const auto& o = r["latency_outside_us"];
            std::printf("  other pops        %zu; latency (µs) p50 %s  p90 %s  p99 %s  max %s\n",
                        outside_relogin.size(), us(o["p50"]).c_str(), us(o["p90"]).c_str(),
                        us(o["p99"]).c_str(), us(o["max"]).c_str());
        }
        std::printf("stopped             %s\n", stop_reason.c_str());
        if (!sent.error.empty()) std::printf("writer error        %s\n", sent.error.c_str());
        const std::size_t shown = std::min<std::size_t>(observed.problems.size(), 10);
        for (std::size_t i = 0; i < shown; ++i)
            std::printf("daemon said         %s\n", observed.problems[i].c_str());
        if (observed.problems.size() > shown)
            std::printf("                    ... and %zu more\n", observed.problems.size() - shown);
        std::fflush(stdout);
    }
    const bool relogin_failed = relogin_agents && !(relogin_failure && relogin_failure->empty());
    return lost > 0 || !sent.error.empty() || relogin_failed ? 3 : 0;
}
