// The web port's answers: /healthz for load balancers and systemd watchers, /metrics for
// Prometheus (docs/http.md).
#include <spdlog/spdlog.h>

#include "daemon/server.hpp"
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
    struct Pending {
        std::function<void(StoreProbe)> done;
        asio::steady_timer deadline;
    };
    auto pending = std::make_shared<Pending>(Pending{std::move(done), asio::steady_timer(io_)});
    pending->deadline.expires_after(store_probe_wait);
    pending->deadline.async_wait([pending](boost::system::error_code error) {
        if (error || !pending->done) return;
        auto done = std::move(pending->done);
        pending->done = nullptr;
        done({false,
              "the store took no write within " + std::to_string(store_probe_wait.count()) + " s",
              std::nullopt});
    });
    auto count = [](JobContext& context) {
        return context.store.count_due_followups(domain::utc_now());
    };
    writer_.write(std::move(count),
                  [pending](const JobOutcome<storage::FollowupCounts>& counted) {
                      if (!pending->done) return;  // answered already: too late
                      pending->deadline.cancel();
                      auto done = std::move(pending->done);
                      pending->done = nullptr;
                      if (!counted.error.empty())
                          return done({false, "the store refused a write: " + counted.error, std::nullopt});
                      done({true, "", counted.value});
                  });
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
    respond(text(404, "not found: " + path + " (this port serves /healthz and /metrics)\n"));
}

}  // namespace callpop::daemon
