// callpop_io_floor: what the network part of a pop costs on this machine, with nothing else.
// It speaks just enough of callpop's two protocols for callpop_bench: a switch's ring is
// routed to the agent logged in at its extension as a fixed pop of the size of a real card,
// a hangup as `ended`, an agent's login gets a welcome. No parsing beyond finding three
// fields, no lookup, no call log. bench/floor.sh runs it as bench/run.sh runs the daemon;
// its CPU per call is the floor under callpop's (issue 16, target 3).
//
// --hop adds what the daemon's design adds to that: each ring is handed to a second thread
// (mutex and condition variable, as the lookup threads are) and its pop is posted back to
// the loop, so the cost of keeping the loop free of SQL is measured apart.
#include "daemon/net/asio.hpp"  // <utility> before boost/asio.hpp (Boost 1.74)

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

namespace {

using namespace callpop;

// The string value of "key" in a JSON line, as written by callpop_bench (no escapes).
std::string_view field(std::string_view line, std::string_view key) {
    const std::string quoted = "\"" + std::string(key) + "\":";
    auto at = line.find(quoted);
    if (at == std::string_view::npos) return {};
    at += quoted.size();
    if (at >= line.size() || line[at] != '"') return {};
    const auto end = line.find('"', at + 1);
    if (end == std::string_view::npos) return {};
    return line.substr(at + 1, end - at - 1);
}

class Connection : public std::enable_shared_from_this<Connection> {
public:
    using OnLine = std::function<void(Connection&, std::string_view)>;
    Connection(tcp::socket socket, OnLine on_line)
        : socket_(std::move(socket)), on_line_(std::move(on_line)) {
        socket_.set_option(tcp::no_delay(true));
    }
    void start() { read(); }
    void send(std::string line) {
        outbox_.push_back(std::move(line));
        if (outbox_.size() == 1) write();
    }

private:
    void read() {
        socket_.async_read_some(
            asio::buffer(buffer_.data() + used_, buffer_.size() - used_),
            [self = shared_from_this()](boost::system::error_code error, std::size_t read) {
                if (error) return;
                self->used_ += read;
                std::string_view text(self->buffer_.data(), self->used_);
                std::size_t start = 0;
                for (auto end = text.find('\n'); end != std::string_view::npos;
                     end = text.find('\n', start)) {
                    self->on_line_(*self, text.substr(start, end - start));
                    start = end + 1;
                }
                self->used_ -= start;
                std::memmove(self->buffer_.data(), self->buffer_.data() + start, self->used_);
                if (self->used_ == self->buffer_.size()) return;  // a line too long: drop
                self->read();
            });
    }
    void write() {
        asio::async_write(socket_, asio::buffer(outbox_.front()),
                          [self = shared_from_this()](boost::system::error_code error, std::size_t) {
                              if (error) return;
                              self->outbox_.pop_front();
                              if (!self->outbox_.empty()) self->write();
                          });
    }

    tcp::socket socket_;
    OnLine on_line_;
    std::array<char, 65536> buffer_{};
    std::size_t used_ = 0;
    std::deque<std::string> outbox_;
};

// The second thread of --hop: takes a job, runs it, posts its completion to the loop.
class Hop {
public:
    explicit Hop(asio::io_context& loop) : loop_(loop), thread_([this] { run(); }) {}
    ~Hop() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_one();
        thread_.join();
    }
    void hand_over(std::function<void()> back_on_loop) {
        {
            std::lock_guard lock(mutex_);
            queue_.push_back(std::move(back_on_loop));
        }
        wake_.notify_one();
    }

private:
    void run() {
        std::unique_lock lock(mutex_);
        while (true) {
            wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_) return;
            auto job = std::move(queue_.front());
            queue_.pop_front();
            lock.unlock();
            asio::post(loop_, std::move(job));
            lock.lock();
        }
    }
    asio::io_context& loop_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::function<void()>> queue_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
    bool hop = false;
    std::string ready_file;
    for (int index = 1; index < argc; ++index) {
        const std::string_view arg = argv[index];
        if (arg == "--hop") {
            hop = true;
        } else if (arg == "--ready-file" && index + 1 < argc) {
            ready_file = argv[++index];
        } else {
            std::fprintf(stderr, "usage: callpop_io_floor [--hop] [--ready-file FILE]\n");
            return 2;
        }
    }
    asio::io_context loop(1);
    std::unique_ptr<Hop> second_thread;
    if (hop) second_thread = std::make_unique<Hop>(loop);

    // A card of the demo data's usual size: the pop's bytes are part of the floor.
    const std::string card(1200, 'x');
    std::unordered_map<std::string, std::weak_ptr<Connection>> agents;  // by extension
    std::unordered_map<std::string, std::string> ringing;                // call → extension
    std::uint64_t seq = 0;

    auto pop = [&](const std::string& call, const std::string& extension) {
        auto agent = agents[extension].lock();
        if (!agent) return;
        ringing[call] = extension;
        agent->send(R"({"type":"pop","call":")" + call + R"(","seq":)" + std::to_string(++seq) +
                    R"(,"card":")" + card + "\"}\n");
    };
    auto route = [&](const std::string& event, const std::string& call, const std::string& extension) {
        if (event == "ring") return pop(call, extension);
        auto found = ringing.find(call);
        if (found == ringing.end()) return;
        if (auto agent = agents[found->second].lock())
            agent->send(R"({"type":"call","call":")" + call + R"(","state":"ended"})" "\n");
        ringing.erase(found);
    };
    auto on_switch_line = [&](Connection&, std::string_view line) {
        std::string event(field(line, "event"));
        std::string call(field(line, "call"));
        std::string extension(field(line, "ext"));
        if (!second_thread) return route(event, call, extension);
        // A call's hangup follows its ring through the second thread, so it stays behind it.
        second_thread->hand_over([&route, event = std::move(event), call = std::move(call),
                                  extension = std::move(extension)] { route(event, call, extension); });
    };
    auto on_agent_line = [&](Connection& agent, std::string_view line) {
        const auto type = field(line, "type");
        if (type == "login") {
            agents[std::string(field(line, "agent"))] = agent.shared_from_this();
            agent.send(R"({"type":"welcome","heartbeat_s":15})" "\n");
        } else if (type == "ping") {
            agent.send(R"({"type":"pong"})" "\n");
        }
    };

    tcp::acceptor switch_port(loop, {asio::ip::make_address("127.0.0.1"), 0});
    tcp::acceptor agent_port(loop, {asio::ip::make_address("127.0.0.1"), 0});
    std::function<void(tcp::acceptor&, const Connection::OnLine&)> accept =
        [&](tcp::acceptor& acceptor, const Connection::OnLine& on_line) {
            acceptor.async_accept([&, on_line](boost::system::error_code error, tcp::socket socket) {
                if (!error) std::make_shared<Connection>(std::move(socket), on_line)->start();
                accept(acceptor, on_line);
            });
        };
    accept(switch_port, on_switch_line);
    accept(agent_port, on_agent_line);

    asio::signal_set stop(loop, SIGINT, SIGTERM);
    stop.async_wait([&](auto, int) { loop.stop(); });
    const std::string ports = "{\"switch_port\":" + std::to_string(switch_port.local_endpoint().port()) +
                              ",\"agent_port\":" + std::to_string(agent_port.local_endpoint().port()) + "}\n";
    if (!ready_file.empty()) {
        std::ofstream(ready_file) << ports;
    } else {
        std::fputs(ports.c_str(), stdout);
        std::fflush(stdout);
    }
    loop.run();
}
