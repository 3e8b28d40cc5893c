#include "daemon/peers/peer_link.hpp"

#include <poll.h>
#include <sys/eventfd.h>
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
      connected_callback_(std::move(connected)),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (wake_fd_ < 0) throw std::runtime_error("peer link: cannot make an eventfd");
    thread_ = std::thread([this] { run(); });
    // Listening before the daemon says it is ready: what the others publish from then on
    // reaches it (a pop for an agent who logs in to it the moment it is up).
    std::unique_lock lock(mutex_);
    first_attempt_over_.wait(lock, [this] { return first_attempt_done_; });
}

PeerLink::~PeerLink() {
    {
        const std::scoped_lock lock(mutex_);
        stopping_ = true;
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = ::write(wake_fd_, &one, sizeof one);
    thread_.join();
    ::close(wake_fd_);
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
    {
        const std::scoped_lock lock(mutex_);
        // No link: dropped now, not when the next try to connect fails (up to 5 s on), so
        // that what the daemon reports of the outage is what it has lost.
        if (!connected_ || waiting_.size() >= waiting_max) {
            ++dropped_;
            return;
        }
        waiting_.emplace_back(std::move(channel), std::move(payload));
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = ::write(wake_fd_, &one, sizeof one);
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
            // What waits would only grow stale: dropped, as during the outage.
            dropped_ += waiting_.size();
            waiting_.clear();
        }
        spdlog::warn("peers: the link to the other daemons is down: {}", why);
    }
}

bool PeerLink::send_waiting(storage::StoreBus& bus) {
    std::deque<std::pair<std::string, std::string>> sending;
    const auto taken_at = std::chrono::steady_clock::now();
    {
        const std::scoped_lock lock(mutex_);
        sending.swap(waiting_);
    }
    // One round trip per run of the same channel, in the order they were published; a long
    // run in parts, so that no transaction holds the server's notification lock for long.
    for (auto run_start = sending.begin(); run_start != sending.end();) {
        auto run_end = run_start;
        for (std::size_t in_run = 0; run_end != sending.end() && run_end->first == run_start->first &&
                                     in_run < messages_per_publish;
             ++in_run)
            ++run_end;
        std::vector<std::string> payloads;
        for (auto it = run_start; it != run_end; ++it) payloads.push_back(std::move(it->second));
        try {
            bus.publish(run_start->first, payloads);
        } catch (const storage::StorageError& error) {
            dropped_ += static_cast<std::uint64_t>(sending.end() - run_start);
            lost(error.what());
            return false;
        }
        run_start = run_end;
    }
    delivered_until_ = taken_at;
    return true;
}

void PeerLink::run() {
    std::unique_ptr<storage::StoreBus> bus;
    auto backoff = reconnect_min;
    const auto stopping = [this] {
        const std::scoped_lock lock(mutex_);
        return stopping_;
    };
    const auto first_attempt_done = [this] {
        {
            const std::scoped_lock lock(mutex_);
            if (first_attempt_done_) return;
            first_attempt_done_ = true;
        }
        first_attempt_over_.notify_all();
    };
    while (!stopping()) {
        if (!bus) {
            try {
                bus = storage::open_bus(settings_);
                for (const auto& channel : channels_) bus->listen(channel);
                if (!connected_.exchange(true) && outages_ > 0)
                    spdlog::info("peers: the link to the other daemons is up again");
                backoff = reconnect_min;
                // Posted before anything received on the new link, so the loop reads what it
                // missed first.
                if (connected_callback_) asio::post(loop_, connected_callback_);
                first_attempt_done();
            } catch (const storage::StorageError& error) {
                bus.reset();
                lost(error.what());
                first_attempt_done();
                pollfd wake{wake_fd_, POLLIN, 0};
                ::poll(&wake, 1, static_cast<int>(backoff.count()));
                std::uint64_t count = 0;
                [[maybe_unused]] const auto read = ::read(wake_fd_, &count, sizeof count);
                backoff = std::min(backoff * 2, reconnect_max);
                continue;
            }
        }
        // Received before waiting, every time round: a publish's round trip reads the socket,
        // and notifications that came with its answer wait in the bus's buffer, where poll
        // does not see them (they would wait for the next message or the poll's second).
        if (!send_waiting(*bus) || !deliver_received(*bus)) {
            bus.reset();
            continue;
        }
        std::array<pollfd, 2> ready{pollfd{bus->socket(), POLLIN, 0}, pollfd{wake_fd_, POLLIN, 0}};
        // A second at most: a link the server dropped silently shows on the next read.
        ::poll(ready.data(), ready.size(), 1000);
        if ((ready[1].revents & POLLIN) != 0) {
            std::uint64_t count = 0;
            [[maybe_unused]] const auto read = ::read(wake_fd_, &count, sizeof count);
        }
    }
}

bool PeerLink::deliver_received(storage::StoreBus& bus) {
    try {
        auto messages = bus.receive();
        if (!messages.empty())
            asio::post(loop_, [received = received_, messages = std::move(messages)] {
                for (const auto& message : messages) received(message);
            });
        return true;
    } catch (const storage::StorageError& error) {
        lost(error.what());
        return false;
    }
}

}  // namespace callpop::daemon
