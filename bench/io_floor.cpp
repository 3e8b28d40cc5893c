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
//
// --postgres CONNINFO adds what step 8's design adds on PostgreSQL, and nothing else: two
// threads, as callpop's lookup threads there, each on a connection of its own, look the
// rings' callers up with callpop's own statement, up to 32 waiting rings in one
// (CustomerDirectory::callers_by_numbers), and --cross sends every pop and `ended` through
// the database before it is written, published on one bus session and read from another
// (StoreBus, LISTEN/NOTIFY), as a pop crosses from the switch's daemon to the agent's;
// --log writes every switch event to the call log (CallLogWriter below). No card encoding,
// no seats, one process: bench/peers.sh --floor runs it on the bench's database, as a bound
// under what two daemons can do there. A database error ends it with the error printed.
#include "daemon/net/asio.hpp"  // <utility> before boost/asio.hpp (Boost 1.74)

#include <unistd.h>

#include <atomic>
#include <chrono>
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
#include <vector>

#include "domain/timestamp.hpp"
#include "storage/open_store.hpp"
#include "storage/phone_number.hpp"
#include "storage/transactions.hpp"

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

struct SwitchEvent {
    std::string event;
    std::string call;
    std::string extension;
    std::string caller;
};

// The second threads: --hop's one, or with a store two, each with a connection of its own
// that takes up to 32 rings at once, as callpop's lookup threads on PostgreSQL do
// (daemon/server.cpp). A thread looks its rings' callers up and posts their places in the
// order of arrival back to the loop.
class Lookups {
public:
    using Done = std::function<void(std::vector<std::uint64_t> places)>;
    Lookups(asio::io_context& loop, const config::Storage* postgres, Done done)
        : loop_(loop), done_(std::move(done)), batch_max_(postgres ? 32 : 1) {
        const unsigned count = postgres ? 2 : 1;
        for (unsigned index = 0; index < count; ++index) {
            std::unique_ptr<storage::Store> store;
            if (postgres) {
                store = storage::open_store(*postgres, storage::Access::read_only);
                // As the lookup threads warm up: the first run of a session plans the
                // statement, which no caller waits for.
                store->callers_by_numbers({"+10000000000"}, 5, 5);
            }
            stores_.push_back(std::move(store));
        }
        for (auto& store : stores_) threads_.emplace_back([this, store = store.get()] { run(store); });
    }
    ~Lookups() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        for (auto& thread : threads_) thread.join();
    }
    std::size_t looked_up() const { return looked_up_; }
    std::size_t known() const { return known_; }
    void look_up(std::uint64_t place, std::string caller) {
        {
            std::lock_guard lock(mutex_);
            queue_.push_back({place, std::move(caller)});
        }
        wake_.notify_one();
    }

private:
    struct Ring {
        std::uint64_t place;
        std::string caller;
    };
    void run(storage::Store* store) {
        std::unique_lock lock(mutex_);
        while (true) {
            wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_) return;
            std::vector<Ring> batch;
            while (!queue_.empty() && batch.size() < batch_max_) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
            lock.unlock();
            std::vector<std::uint64_t> places;
            std::vector<std::string> numbers;
            for (auto& ring : batch) {
                places.push_back(ring.place);
                if (store) numbers.push_back(normalizer_.normalize(ring.caller));
            }
            if (store) {
                try {
                    // As callpop's defaults: 5 candidates a number, 5 calls of history.
                    const auto found = store->callers_by_numbers(numbers, 5, 5);
                    looked_up_ += found.size();
                    for (const auto& match : found) known_ += match.card ? 1 : 0;
                } catch (const std::exception& error) {
                    std::fprintf(stderr, "callpop_io_floor: a lookup failed: %s\n", error.what());
                    std::_Exit(1);
                }
            }
            asio::post(loop_, [this, places = std::move(places)]() mutable { done_(std::move(places)); });
            lock.lock();
        }
    }

    asio::io_context& loop_;
    Done done_;
    std::size_t batch_max_;
    const storage::PhoneNormalizer normalizer_{"US", {"00"}};
    std::vector<std::unique_ptr<storage::Store>> stores_;
    std::atomic<std::size_t> looked_up_ = 0;
    std::atomic<std::size_t> known_ = 0;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Ring> queue_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

// --log: every switch event is a call-log record, written by a thread of its own in one
// transaction per batch, a batch closed 20 ms after its first record (callpop's default
// call_log.flush_ms), as callpop's writer writes them (CallLog::append_logs).
class CallLogWriter {
public:
    explicit CallLogWriter(const config::Storage& postgres)
        : store_(storage::open_store(postgres)), thread_([this] { run(); }) {}
    ~CallLogWriter() { finish(); }
    // Writes what is queued, and stops.
    void finish() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_one();
        if (thread_.joinable()) thread_.join();
    }
    std::size_t written() const { return written_; }
    void log(const SwitchEvent& event) {
        domain::CallLogRecord record;
        record.at = domain::utc_now();
        record.kind = event.event;
        record.call = event.call;
        record.switch_name = "bench";
        record.from = event.caller;
        record.extension = event.extension;
        record.occurrence = 1;
        bool first = false;
        {
            std::lock_guard lock(mutex_);
            first = queue_.empty();
            queue_.push_back(std::move(record));
        }
        if (first) wake_.notify_one();
    }

private:
    void run() {
        std::unique_lock lock(mutex_);
        while (true) {
            wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;
            wake_.wait_for(lock, std::chrono::milliseconds(20), [this] { return stopping_; });
            std::vector<domain::CallLogRecord> batch(std::make_move_iterator(queue_.begin()),
                                                     std::make_move_iterator(queue_.end()));
            queue_.clear();
            lock.unlock();
            try {
                storage::StoreTransaction transaction(*store_);
                store_->append_logs(batch);
                transaction.commit();
                written_ += batch.size();
            } catch (const std::exception& error) {
                std::fprintf(stderr, "callpop_io_floor: writing the call log failed: %s\n", error.what());
                std::_Exit(1);
            }
            lock.lock();
        }
    }

    std::unique_ptr<storage::Store> store_;
    std::atomic<std::size_t> written_ = 0;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::vector<domain::CallLogRecord> queue_;
    bool stopping_ = false;
    std::thread thread_;
};

// --cross: what the loop publishes goes out one publish at a time (StoreBus), what came
// meanwhile with the next; what the other session reads is handed to `heard` on the loop.
class Crossing {
public:
    using Heard = std::function<void(std::string_view payload)>;
    Crossing(asio::io_context& loop, const config::Storage& settings, Heard heard)
        : out_(open_named_bus(settings, "floor-out")),
          in_(open_named_bus(settings, "floor-in")),
          out_socket_(loop, ::dup(out_->socket())),
          in_socket_(loop, ::dup(in_->socket())),
          heard_(std::move(heard)) {
        in_->listen(channel);
        read_in();
    }
    void publish(std::string payload) {
        unsent_.push_back(std::move(payload));
        if (!out_->publishing()) send_unsent();
    }

private:
    static std::unique_ptr<storage::StoreBus> open_named_bus(config::Storage settings,
                                                             const std::string& name) {
        settings.daemon_name = name;
        return storage::open_bus(settings);
    }
    void send_unsent() {
        if (unsent_.empty()) return;
        out_->publish(channel, unsent_);
        unsent_.clear();
        flush_out();
    }
    void flush_out() {
        if (!out_->flush()) {
            out_socket_.async_wait(asio::posix::stream_descriptor::wait_write,
                                   [this](boost::system::error_code error) {
                                       if (!error) flush_out();
                                   });
            return;
        }
        out_socket_.async_wait(asio::posix::stream_descriptor::wait_read,
                               [this](boost::system::error_code error) {
                                   if (!error) read_answer();
                               });
    }
    void read_answer() {
        receive_or_exit(*out_);
        if (out_->publishing()) return flush_out();
        send_unsent();
    }
    static std::vector<storage::BusMessage> receive_or_exit(storage::StoreBus& bus) {
        try {
            return bus.receive();
        } catch (const std::exception& error) {
            std::fprintf(stderr, "callpop_io_floor: the bus failed: %s\n", error.what());
            std::_Exit(1);
        }
    }
    void read_in() {
        in_socket_.async_wait(asio::posix::stream_descriptor::wait_read,
                              [this](boost::system::error_code error) {
                                  if (error) return;
                                  for (const auto& message : receive_or_exit(*in_)) heard_(message.payload);
                                  read_in();
                              });
    }

    static constexpr const char* channel = "callpop_floor";
    std::unique_ptr<storage::StoreBus> out_;
    std::unique_ptr<storage::StoreBus> in_;
    asio::posix::stream_descriptor out_socket_;
    asio::posix::stream_descriptor in_socket_;
    Heard heard_;
    std::vector<std::string> unsent_;
};

}  // namespace

namespace {

int serve(int argc, char** argv) {
    bool hop = false;
    bool cross = false;
    bool log = false;
    config::Storage postgres;
    std::string ready_file;
    for (int index = 1; index < argc; ++index) {
        const std::string_view arg = argv[index];
        if (arg == "--hop") {
            hop = true;
        } else if (arg == "--postgres" && index + 1 < argc) {
            postgres.backend = "postgresql";
            postgres.conninfo = argv[++index];
            postgres.daemon_name = "floor";
            hop = true;
        } else if (arg == "--cross") {
            cross = true;
        } else if (arg == "--log") {
            log = true;
        } else if (arg == "--ready-file" && index + 1 < argc) {
            ready_file = argv[++index];
        } else {
            std::fprintf(stderr, "usage: callpop_io_floor [--hop] [--postgres CONNINFO [--cross] [--log]] "
                                 "[--ready-file FILE]\n");
            return 2;
        }
    }
    if ((cross || log) && postgres.conninfo.empty()) {
        std::fprintf(stderr, "callpop_io_floor: --cross and --log need --postgres\n");
        return 2;
    }
    asio::io_context loop(1);

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
    auto route = [&](std::string_view event, const std::string& call, const std::string& extension) {
        if (event == "ring") return pop(call, extension);
        auto found = ringing.find(call);
        if (found == ringing.end()) return;
        if (auto agent = agents[found->second].lock())
            agent->send(R"({"type":"call","call":")" + call + R"(","state":"ended"})" "\n");
        ringing.erase(found);
    };

    // --cross: an event crosses as "event call extension", a ring with the card's bytes.
    std::unique_ptr<Crossing> crossing;
    if (cross)
        crossing = std::make_unique<Crossing>(loop, postgres, [&](std::string_view payload) {
            const auto first = payload.find(' ');
            const auto second = payload.find(' ', first + 1);
            const auto third = payload.find(' ', second + 1);
            route(payload.substr(0, first), std::string(payload.substr(first + 1, second - first - 1)),
                  std::string(payload.substr(second + 1, third - second - 1)));
        });
    std::unique_ptr<CallLogWriter> call_log;
    if (log) call_log = std::make_unique<CallLogWriter>(postgres);
    auto act_on = [&](SwitchEvent& event) {
        if (call_log) call_log->log(event);
        if (!crossing) return route(event.event, event.call, event.extension);
        std::string payload = event.event + ' ' + event.call + ' ' + event.extension + ' ';
        if (event.event == "ring") payload += card;
        crossing->publish(std::move(payload));
    };

    // Events are acted on in the order they came: a ring once its caller is looked up, a
    // hangup (which no thread sees, as in callpop) once every ring before it has been.
    struct Waiting {
        SwitchEvent event;
        bool ready = false;
    };
    std::deque<Waiting> in_order;
    std::uint64_t first_place = 0;  // the place of in_order.front()
    auto act_on_ready = [&] {
        while (!in_order.empty() && in_order.front().ready) {
            act_on(in_order.front().event);
            in_order.pop_front();
            ++first_place;
        }
    };
    std::unique_ptr<Lookups> lookups;
    if (hop)
        lookups = std::make_unique<Lookups>(loop, postgres.conninfo.empty() ? nullptr : &postgres,
                                            [&](std::vector<std::uint64_t> places) {
                                                for (const auto place : places)
                                                    in_order[place - first_place].ready = true;
                                                act_on_ready();
                                            });

    auto on_switch_line = [&](Connection&, std::string_view line) {
        SwitchEvent event{std::string(field(line, "event")), std::string(field(line, "call")),
                          std::string(field(line, "ext")), std::string(field(line, "from"))};
        if (!lookups) return route(event.event, event.call, event.extension);
        const bool ring = event.event == "ring";
        const std::uint64_t place = first_place + in_order.size();
        std::string caller = ring ? event.caller : std::string();
        in_order.push_back({std::move(event), !ring});
        if (ring) lookups->look_up(place, std::move(caller));
        act_on_ready();
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
    if (lookups && !postgres.conninfo.empty())
        std::fprintf(stderr, "callpop_io_floor: %zu callers looked up, %zu of them known\n",
                     lookups->looked_up(), lookups->known());
    if (call_log) {
        call_log->finish();
        std::fprintf(stderr, "callpop_io_floor: %zu call-log records written\n", call_log->written());
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return serve(argc, argv);
    } catch (const std::exception& error) {
        // A store or bus that failed on the loop, or as it was opened.
        std::fprintf(stderr, "callpop_io_floor: %s\n", error.what());
        return 1;
    }
}
