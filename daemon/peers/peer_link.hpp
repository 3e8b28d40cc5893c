#pragma once
// The daemon's voice and ear among the daemons sharing its store (storage/store_bus.hpp).
// The loop reads and writes the bus's socket itself and never waits for the database: a
// message that crosses wakes no thread of ours on its way. A thread of the link's own makes
// the connection, which does wait, and makes it again with backoff when the database goes
// away; what is published meanwhile is dropped and counted, and what the others said
// meanwhile is lost to this daemon: nothing on the bus is kept.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "daemon/net/asio.hpp"
#include "storage/store_bus.hpp"

namespace callpop::daemon {

class PeerLink {
public:
    using Received = std::function<void(const storage::BusMessage&)>;
    using Connected = std::function<void()>;
    // Listens on `channels`; `received` runs on `loop`, in the order messages came. The
    // first connection is made on the link's thread, and waited for: a database down at
    // start is an outage.
    // `connected` runs on `loop` each time the link is made, the first time too, before what
    // comes on it: what the others said while this daemon was not listening is lost, and
    // the loop reads again what the store keeps (the call log committed meanwhile).
    PeerLink(config::Storage settings, std::vector<std::string> channels,
             asio::any_io_executor loop, Received received, Connected connected);
    ~PeerLink();  // stops the thread; what is queued is dropped
    PeerLink(const PeerLink&) = delete;
    PeerLink& operator=(const PeerLink&) = delete;

    // From the loop: sent as soon as the publish before it is answered, in order.
    void publish(std::string channel, std::string payload);
    // From the loop, as the daemon stops: nothing more is sent or heard, and the link holds
    // the loop no longer.
    void stop();

    struct Health {
        bool connected = false;
        std::uint64_t outages = 0;  // times the link was lost (or could not be made at start)
        std::uint64_t dropped = 0;  // messages not sent: no link, too long, or too many waiting
        std::string last_error;     // why it was last lost; kept once it is up again
        // Since the link was last lost, what was published from this time on may not have
        // reached the others: the last time all that waited was sent.
        std::chrono::steady_clock::time_point missed_since;
    };
    Health health() const;

private:
    // The link's thread: connects whenever the loop has no bus, until the link stops.
    void connect_while_needed();
    // On the loop: a bus the thread connected.
    void adopt(std::unique_ptr<storage::StoreBus> bus);
    // Publishes the next run of what waits, unless a publish is still out.
    void send_waiting();
    // Runs `then` once the bus's socket is ready for `wait`, unless the bus changed or the
    // link went meanwhile.
    void when_ready(asio::posix::stream_descriptor::wait_type wait, void (PeerLink::*then)());
    void wait_readable();
    void wait_writable();
    void read_bus();
    void flush_bus();  // sends what the socket did not take of the publish out
    // On the loop: the bus is lost; the thread connects again.
    void drop_bus(const std::string& why);
    void lost(const std::string& why);

    config::Storage settings_;
    std::vector<std::string> channels_;
    asio::any_io_executor loop_;
    Received received_;
    Connected connected_callback_;
    // Whether this link still exists, for what the thread posted to the loop.
    std::shared_ptr<PeerLink*> self_ = std::make_shared<PeerLink*>(this);

    // The loop's own.
    std::unique_ptr<storage::StoreBus> bus_;
    std::unique_ptr<asio::posix::stream_descriptor> bus_socket_;  // a duplicate of the bus's
    // Counts the buses and stops: a wait's handler from before finds it changed.
    std::uint64_t generation_ = 0;
    bool waiting_to_write_ = false;
    bool stopped_ = false;
    std::deque<std::pair<std::string, std::string>> waiting_;  // channel, payload
    std::size_t sending_ = 0;                                   // the run out now
    // When the run out now was taken, and whether nothing was left waiting then.
    std::chrono::steady_clock::time_point sending_since_;
    bool sends_all_waiting_ = false;

    mutable std::mutex mutex_;
    std::condition_variable changed_;  // the loop lost its bus, or the link stops
    bool needs_bus_ = true;
    bool stopping_ = false;
    bool first_attempt_done_ = false;  // connected, or failed to, once
    std::string last_error_;
    std::chrono::steady_clock::time_point missed_since_;
    // Written by the loop: when what was then waiting was taken, all of it sent since.
    std::chrono::steady_clock::time_point delivered_until_ = std::chrono::steady_clock::now();
    std::atomic<bool> connected_{false};
    std::atomic<std::uint64_t> outages_{0};
    std::atomic<std::uint64_t> dropped_{0};
    std::thread thread_;
};

}  // namespace callpop::daemon
