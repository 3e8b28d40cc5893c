#include "daemon/peers/peer_link.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "storage/open_store.hpp"

namespace callpop::daemon {

namespace {

// Messages waiting to be sent at most: past it the loop's publishing outruns the database.
constexpr std::size_t waiting_max = 100'000;
constexpr std::chrono::milliseconds reconnect_min{200};
constexpr std::chrono::milliseconds reconnect_max{5'000};
constexpr std::size_t messages_per_publish = 256;

}  // namespace

PeerLink::PeerLink(config::Storage settings, std::vector<std::string> channels,
                   asio::any_io_executor loop, Received received, Connected connected)
    : settings_(std::move(settings)),
      channels_(std::move(channels)),
      loop_(std::move(loop)),
      received_(std::move(received)),
      connected_callback_(std::move(connected)) {
    thread_ = std::thread([this] { connect_while_needed(); });
    // Listening before the daemon says it is ready: what the others publish from then on
    // reaches it (a pop for an agent who logs in to it the moment it is up).
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return first_attempt_done_; });
}

PeerLink::~PeerLink() {
    {
        const std::scoped_lock lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_all();
    thread_.join();
    // The socket first: its waits end, and their handlers find the link gone.
    bus_socket_.reset();
    bus_.reset();
}

void PeerLink::stop() {
    stopped_ = true;
    {
        const std::scoped_lock lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_all();
    ++generation_;
    bus_socket_.reset();
    bus_.reset();
}

void PeerLink::publish(std::string channel, std::string payload) {
    if (payload.size() > storage::StoreBus::max_payload_bytes) {
        ++dropped_;
        spdlog::warn("peers: a {} byte message for {} is too long for the bus; not sent",
                     payload.size(), channel);
        return;
    }
    // The bus would refuse the whole run it went in: refused here, alone.
    if (payload.find('\n') != std::string::npos) {
        ++dropped_;
        spdlog::warn("peers: a message for {} holds a line break; not sent", channel);
        return;
    }
    // No link: dropped now, not when the next try to connect fails, so that what the daemon
    // reports of an outage is what it has lost.
    if (!connected_ || stopped_ || waiting_.size() >= waiting_max) {
        ++dropped_;
        return;
    }
    waiting_.emplace_back(std::move(channel), std::move(payload));
    send_waiting();
}

PeerLink::Health PeerLink::health() const {
    const std::scoped_lock lock(mutex_);
    return {connected_.load(), outages_.load(), dropped_.load(), last_error_, missed_since_};
}

void PeerLink::lost(const std::string& why) {
    if (connected_.exchange(false) || outages_ == 0) {
        ++outages_;
        {
            const std::scoped_lock lock(mutex_);
            last_error_ = why;
            missed_since_ = delivered_until_;
        }
        spdlog::warn("peers: the link to the other daemons is down: {}", why);
    }
}

void PeerLink::connect_while_needed() {
    auto backoff = reconnect_min;
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        if (!needs_bus_) {
            changed_.wait(lock);
            continue;
        }
        lock.unlock();
        std::unique_ptr<storage::StoreBus> bus;
        std::string error;
        try {
            bus = storage::open_bus(settings_);
            for (const auto& channel : channels_) bus->listen(channel);
        } catch (const storage::StorageError& failure) {
            bus.reset();
            error = failure.what();
        }
        const bool made = bus != nullptr;
        if (made) {
            if (!connected_.exchange(true) && outages_ > 0)
                spdlog::info("peers: the link to the other daemons is up again");
            backoff = reconnect_min;
        } else {
            lost(error);
        }
        lock.lock();
        // Before the loop has the bus: only the loop says it needs another.
        needs_bus_ = !made;
        first_attempt_done_ = true;
        changed_.notify_all();
        if (made) {
            // What the others say from now on waits in the socket until the loop reads it.
            asio::post(loop_, [link = std::weak_ptr<PeerLink*>(self_), bus = std::move(bus)]() mutable {
                if (const auto alive = link.lock()) (*alive)->adopt(std::move(bus));
            });
        } else {
            changed_.wait_for(lock, backoff, [this] { return stopping_; });
            backoff = std::min(backoff * 2, reconnect_max);
        }
    }
}

void PeerLink::adopt(std::unique_ptr<storage::StoreBus> bus) {
    if (stopped_) return;
    const int socket = ::dup(bus->socket());
    if (socket < 0) {
        dropped_ += waiting_.size();
        waiting_.clear();
        lost("peer link: cannot duplicate the bus's socket");
        {
            const std::scoped_lock lock(mutex_);
            needs_bus_ = true;
        }
        changed_.notify_all();
        return;
    }
    bus_ = std::move(bus);
    bus_socket_ = std::make_unique<asio::posix::stream_descriptor>(loop_, socket);
    ++generation_;
    sending_ = 0;
    waiting_to_write_ = false;
    // Before anything that came on the new link, so the loop reads what it missed first.
    if (connected_callback_) connected_callback_();
    if (!bus_) return;  // lost again by what the callback published
    // What came with the answers to its LISTENs is in the bus's buffer already: the socket
    // will not tell of it.
    read_bus();
}

void PeerLink::send_waiting() {
    if (!bus_ || sending_ > 0 || waiting_.empty()) return;
    // One round trip per run of the same channel, in the order they were published; a long
    // run in parts, so that no transaction holds the server's notification lock for long.
    const std::string channel = waiting_.front().first;
    std::vector<std::string> payloads;
    while (!waiting_.empty() && waiting_.front().first == channel &&
           payloads.size() < messages_per_publish) {
        payloads.push_back(std::move(waiting_.front().second));
        waiting_.pop_front();
    }
    sending_ = payloads.size();
    sends_all_waiting_ = waiting_.empty();
    sending_since_ = std::chrono::steady_clock::now();
    try {
        bus_->publish(channel, payloads);
        if (!bus_->flush()) wait_writable();
    } catch (const storage::StorageError& error) {
        drop_bus(error.what());
    }
}

void PeerLink::when_ready(asio::posix::stream_descriptor::wait_type wait, void (PeerLink::*then)()) {
    bus_socket_->async_wait(
        wait, [link = std::weak_ptr<PeerLink*>(self_), generation = generation_, then](
                  const boost::system::error_code& error) {
            const auto alive = link.lock();
            if (error || !alive || (*alive)->generation_ != generation) return;
            ((**alive).*then)();
        });
}

void PeerLink::wait_readable() { when_ready(asio::posix::stream_descriptor::wait_read, &PeerLink::read_bus); }

void PeerLink::wait_writable() {
    if (waiting_to_write_) return;
    waiting_to_write_ = true;
    when_ready(asio::posix::stream_descriptor::wait_write, &PeerLink::flush_bus);
}

void PeerLink::flush_bus() {
    waiting_to_write_ = false;
    try {
        if (!bus_->flush()) wait_writable();
    } catch (const storage::StorageError& error) {
        drop_bus(error.what());
    }
}

void PeerLink::read_bus() {
    std::vector<storage::BusMessage> messages;
    try {
        messages = bus_->receive();
    } catch (const storage::StorageError& error) {
        drop_bus(error.what());
        return;
    }
    if (sending_ > 0 && !bus_->publishing()) {
        sending_ = 0;
        if (sends_all_waiting_) {
            const std::scoped_lock lock(mutex_);
            delivered_until_ = sending_since_;
        }
    }
    const auto generation = generation_;
    for (const auto& message : messages) {
        received_(message);
        if (generation_ != generation) break;  // the daemon stops, or the bus was lost
    }
    // What the messages set off may have stopped the link, or lost its bus.
    if (generation_ != generation || !bus_) return;
    send_waiting();
    if (bus_) wait_readable();
}

void PeerLink::drop_bus(const std::string& why) {
    if (!bus_) return;
    dropped_ += sending_ + waiting_.size();
    sending_ = 0;
    waiting_.clear();
    ++generation_;
    bus_socket_.reset();
    bus_.reset();
    lost(why);
    {
        const std::scoped_lock lock(mutex_);
        needs_bus_ = true;
    }
    changed_.notify_all();
}

}  // namespace callpop::daemon
