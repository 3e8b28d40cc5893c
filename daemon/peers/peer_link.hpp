#pragma once
// The daemon's voice and ear among the daemons sharing its store (storage/store_bus.hpp). A
// thread of its own sends what the loop publishes and hands the loop what the others said,
// so the loop never waits for the database. When the database goes away the link connects
// again with backoff; what was published meanwhile is dropped and counted, and what the
// others said meanwhile is lost to this daemon: nothing on the bus is kept.
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

    // From the loop: sent as soon as the thread can, in order.
    void publish(std::string channel, std::string payload);

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
    void run();
    // Publishes what waits; false when the link was lost.
    bool send_waiting(storage::StoreBus& bus);
    // Hands the loop what the others said; false when the link was lost.
    bool deliver_received(storage::StoreBus& bus);
    void lost(const std::string& why);

    config::Storage settings_;
    std::vector<std::string> channels_;
    asio::any_io_executor loop_;
    Received received_;
    Connected connected_callback_;
    int wake_fd_ = -1;  // an eventfd: something to send, or stop

    mutable std::mutex mutex_;
    std::deque<std::pair<std::string, std::string>> waiting_;  // channel, payload
    bool stopping_ = false;
    bool first_attempt_done_ = false;  // connected, or failed to, once
    std::condition_variable first_attempt_over_;
    std::string last_error_;
    std::chrono::steady_clock::time_point missed_since_;
    // The link thread's own: when what was then waiting was taken, all of it sent since.
    std::chrono::steady_clock::time_point delivered_until_ = std::chrono::steady_clock::now();
    std::atomic<bool> connected_{false};
    std::atomic<std::uint64_t> outages_{0};
    std::atomic<std::uint64_t> dropped_{0};
    std::thread thread_;
};

}  // namespace callpop::daemon
