// callpop console: an agent's terminal. Logs in at an extension (the token from a prompt, or
// the first line of standard input; never the command line), shows each pop as a card
// (cli/console_card.hpp), clears it when the call is answered elsewhere, and takes a few
// keys for the outcome and notes. Heartbeats, and reconnecting with the resume ticket and
// the last pop seen, are its own business.
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "cli/command_options.hpp"
#include "cli/console_card.hpp"
#include "cli/daemon_client.hpp"

namespace callpop::cli {

namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* keys_help =
    "keys: o CODE [notes]  the outcome of the call on screen | n TEXT  a note on its customer | "
    "p TEXT  a preference | q  log out and quit | ?  this help\n";

// A line from standard input without buffering past it: what follows stays for the loop.
std::optional<std::string> read_raw_line(int descriptor) {
    std::string line;
    char c = 0;
    while (true) {
        const ssize_t got = ::read(descriptor, &c, 1);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return line.empty() ? std::nullopt : std::optional(line);
        if (c == '\n') return line;
        line += c;
    }
}

std::optional<std::string> ask_token(const std::string& agent) {
    if (::isatty(STDIN_FILENO) == 0) return read_raw_line(STDIN_FILENO);
    std::cerr << "token for agent " << agent << ": " << std::flush;
    termios saved{};
    ::tcgetattr(STDIN_FILENO, &saved);
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    auto token = read_raw_line(STDIN_FILENO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::cerr << "\n";
    return token;
}

// What outlives a connection: who logs in, the ticket and the last pop to resume after, the
// call on screen.
struct Desk {
    std::string agent;
    std::string token;
    std::string extension;
    std::string ticket;
    std::uint64_t last_seq = 0;
    std::string call;          // on screen; "" when none
    std::int64_t customer = 0;  // its customer; 0 when none
    bool logged_in_once = false;
    bool quit = false;        // the agent asked, or the daemon said to stop trying
    int exit_code = 0;
};

// One connection: logs in, shows what comes, sends what the agent types; run() returns when
// the connection ends.
template <typename Stream>
class Connection {
public:
    Connection(asio::io_context& io, Stream& stream, Desk& desk, asio::posix::stream_descriptor& keys,
               std::string& typed)
        : io_(io), stream_(stream), desk_(desk), keys_(keys), typed_(typed), heartbeat_(io) {}

    void run() {
        json login = {{"type", "login"}, {"agent", desk_.agent}, {"extensions", {desk_.extension}}};
        if (!desk_.ticket.empty()) {
            login["ticket"] = desk_.ticket;
            login["resume_after"] = desk_.last_seq;
        } else {
            login["token"] = desk_.token;
        }
        send(login);
        read_messages();
        read_keys();
        while (!ended_ && !desk_.quit) io_.run_one();
        heartbeat_.cancel();
        keys_.cancel();
        boost::system::error_code ignored;
        stream_.lowest_layer().close(ignored);
        // Handlers of this connection must not run after it: let the cancellations land.
        io_.restart();
        io_.poll();
        io_.restart();
    }

private:
    void send(const json& message) {
        outbox_.push_back(message.dump() + "\n");
        if (outbox_.size() == 1) write_next();
    }
    void write_next() {
        asio::async_write(stream_, asio::buffer(outbox_.front()),
                          [this](boost::system::error_code error, std::size_t) {
                              if (error) return end();
                              outbox_.pop_front();
                              if (!outbox_.empty()) write_next();
                          });
    }
    void read_messages() {
        asio::async_read_until(stream_, asio::dynamic_buffer(inbox_), '\n',
                               [this](boost::system::error_code error, std::size_t size) {
                                   if (error) return end();
                                   const auto message = json::parse(inbox_.substr(0, size - 1), nullptr, false);
                                   inbox_.erase(0, size);
                                   if (message.is_object()) on_message(message);
                                   if (!ended_) read_messages();
                               });
    }
    void read_keys() {
        asio::async_read_until(keys_, asio::dynamic_buffer(typed_), '\n',
                               [this](boost::system::error_code error, std::size_t size) {
                                   if (error == asio::error::operation_aborted) return;
                                   if (error) {  // end of input: as q
                                       on_key_line("q");
                                       return;
                                   }
                                   const std::string line = typed_.substr(0, size - 1);
                                   typed_.erase(0, size);
                                   on_key_line(line);
                                   if (!ended_ && !desk_.quit) read_keys();
                               });
    }
    void beat(std::chrono::seconds every) {
        heartbeat_.expires_after(every);
        heartbeat_.async_wait([this, every](boost::system::error_code error) {
            if (error || ended_) return;
            send({{"type", "ping"}});
            beat(every);
        });
    }
    void end() {
        if (ended_) return;
        ended_ = true;
        heartbeat_.cancel();
        asio::post(io_, [] {});  // wakes run_one()
    }

    void on_message(const json& message) {
        const std::string type = message.value("type", "");
        if (type == "welcome") {
            desk_.ticket = message.value("ticket", "");
            std::cout << (desk_.logged_in_once ? "--- connected again; missed pops follow\n"
                                               : "--- logged in as " + desk_.agent + " at " +
                                                     desk_.extension + "\n" + keys_help)
                      << std::flush;
            desk_.logged_in_once = true;
            beat(std::chrono::seconds(std::max(1, message.value("heartbeat_s", 15))));
            return;
        }
        if (type == "pop") {
            const auto seq = message.value("seq", std::uint64_t{0});
            desk_.last_seq = std::max(desk_.last_seq, seq);
            desk_.call = message.value("call", "");
            const auto& customer = message["customer"];
            desk_.customer = customer.is_object() ? customer.value("id", std::int64_t{0}) : 0;
            std::cout << render_card(message) << std::flush;
            send({{"type", "ack"}, {"seq", seq}});
            return;
        }
        if (type == "call" && message.value("call", "") == desk_.call &&
            message.value("state", "") != "ended") {
            desk_.call.clear();
            desk_.customer = 0;
        }
        if (type == "error" && message.value("code", "") == "bad_login") {
            if (!desk_.ticket.empty()) {  // an expired ticket: the token next time
                desk_.ticket.clear();
                return end();
            }
            std::cout << render_event(message) << std::endl;
            desk_.quit = true;
            desk_.exit_code = 1;
            return;
        }
        if (type == "bye") {
            std::cout << render_event(message) << std::endl;
            const std::string code = message.value("code", "");
            if (code == "logged_out" || code == "account_removed") desk_.quit = true;
            return end();
        }
        if (const auto line = render_event(message); !line.empty()) std::cout << line << std::endl;
    }

    void on_key_line(const std::string& line) {
        const auto space = line.find(' ');
        const std::string key = line.substr(0, space);
        const std::string rest = space == std::string::npos ? "" : line.substr(space + 1);
        if (key.empty()) return;
        if (key == "q") {
            send({{"type", "logout"}});
            return;
        }
        if (key == "o" && !rest.empty()) {
            if (desk_.call.empty()) {
                std::cout << "!!! no call on screen\n" << std::flush;
                return;
            }
            const auto notes_at = rest.find(' ');
            json outcome = {{"type", "outcome"}, {"call", desk_.call}, {"code", rest.substr(0, notes_at)}};
            if (notes_at != std::string::npos) outcome["notes"] = rest.substr(notes_at + 1);
            send(outcome);
            return;
        }
        if ((key == "n" || key == "p") && !rest.empty()) {
            if (desk_.customer == 0) {
                std::cout << "!!! no customer on screen\n" << std::flush;
                return;
            }
            json note = {{"type", "note"},
                         {"customer", desk_.customer},
                         {"kind", key == "n" ? "note" : "preference"},
                         {"text", rest}};
            if (!desk_.call.empty()) note["call"] = desk_.call;
            send(note);
            return;
        }
        std::cout << keys_help << std::flush;
    }

    asio::io_context& io_;
    Stream& stream_;
    Desk& desk_;
    asio::posix::stream_descriptor& keys_;
    std::string& typed_;  // what was typed and not yet taken, across connections
    asio::steady_timer heartbeat_;
    std::string inbox_;
    std::deque<std::string> outbox_;
    bool ended_ = false;
};

}  // namespace

int command_console(const Arguments& arguments) {
    CommandLine command_line(
        "callpop console --agent ID --extension EXT [--config FILE] [--host H] [--port P] [--tls] "
        "[--ca FILE]\n(the token is asked for, or read as the first line of standard input)");
    command_line.options()("agent", program_options::value<std::string>(), "the agent logging in")(
        "extension", program_options::value<std::string>(), "the extension of the agent's phone");
    add_daemon_address_options(command_line);
    if (!command_line.parse(arguments)) return 0;
    if (!command_line.has("agent") || !command_line.has("extension")) {
        std::cerr << "callpop console: give --agent and --extension\n";
        return exit_usage;
    }
    const config::Config config = command_line.load_config();
    const DaemonLogin login = daemon_address(command_line, config);
    Desk desk;
    desk.agent = command_line.get<std::string>("agent");
    desk.extension = command_line.get<std::string>("extension");
    const auto token = ask_token(desk.agent);
    if (!token || token->empty()) {
        std::cerr << "callpop console: no token\n";
        return exit_usage;
    }
    desk.token = *token;

    asio::io_context io;
    asio::posix::stream_descriptor keys(io, ::dup(STDIN_FILENO));
    std::string typed;
    auto wait = 1s;
    while (!desk.quit) {
        try {
            talk_to_daemon(io, login, [&](auto& stream) {
                Connection<std::remove_reference_t<decltype(stream)>>(io, stream, desk, keys, typed).run();
            });
            wait = 1s;
        } catch (const DaemonUnreachable& error) {
            std::cout << "!!! " << error.what() << std::endl;
        }
        if (desk.quit) break;
        std::cout << "--- connecting again in " << wait.count() << " s\n" << std::flush;
        std::this_thread::sleep_for(wait);
        wait = std::min<std::chrono::seconds>(wait * 2, 30s);
    }
    return desk.exit_code;
}

}  // namespace callpop::cli
