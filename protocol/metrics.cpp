#include "protocol/metrics.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace callpop::protocol {

void LatencyHistogram::observe(std::uint64_t microseconds) {
    const auto bucket = std::lower_bound(bounds_us.begin(), bounds_us.end(), microseconds);
    ++counts_[static_cast<std::size_t>(bucket - bounds_us.begin())];
    ++count_;
    sum_us_ += microseconds;
}

namespace {

// A label value with \, " and newline escaped, as the format asks.
std::string label(std::string_view value) {
    std::string escaped;
    for (const char c : value) {
        if (c == '\\' || c == '"') {
            escaped += '\\';
            escaped += c;
        } else if (c == '\n') {
            escaped += "\\n";
        } else {
            escaped += c;
        }
    }
    return escaped;
}

class Exposition {
public:
    void family(std::string_view name, std::string_view type, std::string_view help) {
        fmt::format_to(std::back_inserter(text_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name,
                       type);
    }
    template <typename Value>
    void sample(std::string_view name, Value value, std::string_view labels = {}) {
        if (labels.empty())
            fmt::format_to(std::back_inserter(text_), "{} {}\n", name, value);
        else
            fmt::format_to(std::back_inserter(text_), "{}{{{}}} {}\n", name, labels, value);
    }
    template <typename Value>
    void single(std::string_view name, std::string_view type, std::string_view help, Value value) {
        family(name, type, help);
        sample(name, value);
    }
    std::string take() { return std::move(text_); }

private:
    std::string text_;
};

}  // namespace

std::string encode_metrics(const DaemonMetrics& metrics) {
    const DaemonStatus& status = metrics.status;
    Exposition out;
    out.single("callpop_up", "gauge", "1 while the daemon runs.", 1);
    out.single("callpop_uptime_seconds", "gauge", "Seconds since the daemon started.",
               status.uptime_s);
    out.family("callpop_calls", "gauge", "Live calls by state.");
    out.sample("callpop_calls", metrics.calls_ringing, "state=\"ringing\"");
    out.sample("callpop_calls", metrics.calls_answered, "state=\"answered\"");
    out.single("callpop_pops_sent_total", "counter",
               "Pops sent to agents, replays after a reconnect included.", metrics.pops_sent);
    out.single("callpop_lookups_total", "counter", "Customer lookups started.", status.lookups);

    const auto& histogram = metrics.event_to_pop;
    out.family("callpop_event_to_pop_seconds", "histogram",
               "From a switch event read to its pop queued for the agents.");
    std::uint64_t cumulative = 0;
    for (std::size_t index = 0; index < LatencyHistogram::bounds_us.size(); ++index) {
        cumulative += histogram.counts()[index];
        out.sample("callpop_event_to_pop_seconds_bucket", cumulative,
                   fmt::format("le=\"{}\"", static_cast<double>(LatencyHistogram::bounds_us[index]) / 1e6));
    }
    out.sample("callpop_event_to_pop_seconds_bucket", histogram.count(), "le=\"+Inf\"");
    out.sample("callpop_event_to_pop_seconds_sum", static_cast<double>(histogram.sum_us()) / 1e6);
    out.sample("callpop_event_to_pop_seconds_count", histogram.count());

    out.single("callpop_agents_logged_in", "gauge", "Agents taking calls, with a live session.",
               status.agents_logged_in);
    out.single("callpop_agents_away", "gauge",
               "Agents disconnected without logging out: calls wait for them.", status.agents_away);
    out.single("callpop_tail_followers", "gauge", "Sessions following the call log.",
               status.tail_followers);

    out.family("callpop_switch_up", "gauge", "1 when the switch link is up (the native port: a switch is connected).");
    for (const auto& link : status.switches) {
        out.sample("callpop_switch_up", link.state == "up" ? 1 : 0,
                   fmt::format("switch=\"{}\",type=\"{}\"", label(link.name), label(link.type)));
    }
    out.family("callpop_switch_events_total", "counter", "Call events read from the switch link.");
    for (const auto& link : status.switches) {
        out.sample("callpop_switch_events_total", link.events,
                   fmt::format("switch=\"{}\",type=\"{}\"", label(link.name), label(link.type)));
    }

    if (metrics.followups_due) {
        out.single("callpop_followups_due", "gauge", "Open follow-ups due now or earlier.",
                   *metrics.followups_due);
    }
    if (metrics.followups_overdue) {
        out.single("callpop_followups_overdue", "gauge", "Open callbacks flagged overdue.",
                   *metrics.followups_overdue);
    }
    out.single("callpop_followup_waiters", "gauge", "Agents waiting for a follow-up to place.",
               status.followup_waiters);
    out.single("callpop_writer_queue", "gauge", "Writes waiting in memory for the store.",
               status.writer_queue);
    out.single("callpop_writer_spooled", "gauge",
               "Records in the spool file, waiting for the store.", status.writer_spooled);
    out.single("callpop_store_writable", "gauge",
               "1 when the last write to the store went through and nothing waits in the spool.",
               metrics.store_writable ? 1 : 0);
    out.single("callpop_store_outages_total", "counter",
               "Times the store stopped taking the daemon's writes (gone, restarting, locked, "
               "full); the writes waited.",
               status.store.outages);
    if (status.peer_link) {
        out.single("callpop_peer_link_up", "gauge",
                   "1 while the link to the other daemons sharing the store is up.",
                   status.peer_link->connected ? 1 : 0);
        out.single("callpop_peer_link_outages_total", "counter",
                   "Times the link to the other daemons was lost (or could not be made at start).",
                   status.peer_link->outages);
        out.single("callpop_peer_messages_dropped_total", "counter",
                   "Messages for the other daemons not sent: no link, too long, or too many waiting.",
                   status.peer_link->dropped);
    }
    out.family("callpop_faults_total", "counter", "Failures by kind since the daemon started.");
    for (const auto& [name, count] : named_faults(status.faults))
        out.sample("callpop_faults_total", count, fmt::format("kind=\"{}\"", name));
    return out.take();
}

}  // namespace callpop::protocol
