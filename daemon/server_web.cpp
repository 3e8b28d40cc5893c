// The web port's answers: the web app, /healthz for load balancers and systemd watchers,
// /metrics for Prometheus (docs/http.md).
#include <spdlog/spdlog.h>

#include "daemon/server.hpp"
#include "daemon/web/web_assets.hpp"
#include "domain/timestamp.hpp"

namespace callpop::daemon {

namespace {

// A store that has not taken a write within this is reported as not writable: a probe must
// answer before the prober's own timeout (Prometheus' default scrape timeout is 10 s).
constexpr std::chrono::seconds store_probe_wait{2};

WebReply text(unsigned status, std::string body) {
    return {status, "text/plain; charset=utf-8", std::move(body)};
}

}  // namespace

std::optional<tcp::endpoint> Server::web_endpoint() const {
    if (!web_) return std::nullopt;
    return web_->endpoint();
}

void Server::probe_store(std::function<void(StoreProbe)> done) {
    // One probe at a time, whoever asks, and one job in the writer at most: a prober every
    // second cannot queue a job a second behind a store that takes no writes.
    probe_waiters_.push_back(std::move(done));
    if (probe_waiters_.size() > 1) return;
    probe_deadline_.expires_after(store_probe_wait);
    probe_deadline_.async_wait([this, generation = probe_generation_](boost::system::error_code error) {
        if (error || generation != probe_generation_) return;
        finish_probe({false,
                      "the store took no write within " + std::to_string(store_probe_wait.count()) + " s",
                      std::nullopt});
    });
    if (probe_in_writer_) return;  // the last one is still waiting for the store
    probe_in_writer_ = true;
    auto count = [](JobContext& context) {
        return context.store.count_due_followups(domain::utc_now());
    };
    writer_.write(std::move(count), [this](const JobOutcome<storage::FollowupCounts>& counted) {
        probe_in_writer_ = false;
        if (probe_waiters_.empty()) return;  // answered by the deadline already
        if (!counted.error.empty())
            return finish_probe({false, "the store refused a write: " + counted.error, std::nullopt});
        finish_probe({true, "", counted.value});
    });
}

void Server::finish_probe(const StoreProbe& probe) {
    ++probe_generation_;
    probe_deadline_.cancel();
    auto waiters = std::move(probe_waiters_);
    probe_waiters_.clear();
    for (auto& waiter : waiters) waiter(probe);
}

void Server::on_web_request(const std::string& target, WebRespond respond) {
    const std::string path = target.substr(0, target.find('?'));
    if (path == "/healthz") {
        probe_store([this, respond = std::move(respond)](const StoreProbe& probe) {
            std::string problems;
            if (!probe.writable) problems += "store: " + probe.problem + "\n";
            const auto backlog = writer_.backlog();
            if (backlog.spooled > 0)
                problems += "store: " + std::to_string(backlog.spooled) +
                            " records wait in the spool for it\n";
            for (const auto& client : switch_clients_) {
                const auto link = client->status();
                if (link.state != "up")
                    problems += "switch " + link.name + ": " + link.state +
                                (link.last_error.empty() ? "" : " (" + link.last_error + ")") + "\n";
            }
            if (peers_) {
                const auto link = peers_->health();
                if (!link.connected)
                    problems += "peers: the link to the other daemons is down" +
                                (link.last_error.empty() ? "" : " (" + link.last_error + ")") + "\n";
            }
            if (problems.empty()) return respond(text(200, "ok\n"));
            respond(text(503, problems));
        });
        return;
    }
    if (path == "/metrics") {
        probe_store([this, respond = std::move(respond)](const StoreProbe& probe) {
            protocol::DaemonMetrics metrics;
            metrics.status = status_now();
            const auto counts = tracker_.live_by_state();
            metrics.calls_ringing = counts.ringing;
            metrics.calls_answered = counts.answered;
            metrics.pops_sent = router_.pops_sent();
            metrics.event_to_pop = event_to_pop_;
            if (probe.followups) {
                metrics.followups_due = probe.followups->due;
                metrics.followups_overdue = probe.followups->overdue;
            }
            metrics.store_writable = probe.writable && metrics.status.writer_spooled == 0;
            respond({200, "text/plain; version=0.0.4; charset=utf-8", protocol::encode_metrics(metrics)});
        });
        return;
    }
    if (const auto asset = find_web_asset(path)) {
        return respond({200, std::string(asset->content_type), std::string(asset->bytes)});
    }
    respond(text(404, "not found: " + path +
                          " (this port serves the console at /, the wallboard at /wallboard, /ws, "
                          "/healthz and /metrics)\n"));
}

}  // namespace callpop::daemon
