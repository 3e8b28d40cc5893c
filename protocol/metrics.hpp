#pragma once
// The daemon's figures in Prometheus' text exposition format (version 0.0.4), for GET
// /metrics (docs/http.md lists every metric).
#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "protocol/agent_message.hpp"

namespace callpop::protocol {

// Event → pop latency: from the switch's line read to the pop queued for its agents.
class LatencyHistogram {
public:
    // Upper bounds of the buckets, in microseconds; one more bucket (+Inf) holds the rest.
    static constexpr std::array<std::uint64_t, 12> bounds_us{
        50, 100, 250, 500, 1'000, 2'500, 5'000, 10'000, 25'000, 100'000, 1'000'000, 10'000'000};
    void observe(std::uint64_t microseconds);
    const std::array<std::uint64_t, bounds_us.size() + 1>& counts() const { return counts_; }
    std::uint64_t count() const { return count_; }
    std::uint64_t sum_us() const { return sum_us_; }

private:
    std::array<std::uint64_t, bounds_us.size() + 1> counts_{};  // not cumulative
    std::uint64_t count_ = 0;
    std::uint64_t sum_us_ = 0;
};

struct DaemonMetrics {
    DaemonStatus status;
    std::size_t calls_ringing = 0;
    std::size_t calls_answered = 0;
    std::uint64_t pops_sent = 0;  // to agents' sessions, replays after a reconnect included
    LatencyHistogram event_to_pop;
    // Open follow-ups due now or earlier, and callbacks among them flagged overdue; absent
    // when the store could not be read.
    std::optional<std::uint64_t> followups_due;
    std::optional<std::uint64_t> followups_overdue;
    bool store_writable = true;
};

std::string encode_metrics(const DaemonMetrics& metrics);

}  // namespace callpop::protocol
