#pragma once
// The follow-up rules: what an outcome or a missed call schedules, handing due follow-ups
// to agents under a lease, recording attempts, closing, flagging overdue callbacks.
// Every method runs inside a writer job (one transaction, with its call-log records), on
// the writer thread only, and takes the time as an argument so tests can set the clock.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "storage/followup_schedule.hpp"
#include "daemon/writer/log_writer.hpp"
#include "protocol/agent_message.hpp"

namespace callpop::daemon {

using storage::format_local;
using storage::FollowupSchedule;
using storage::Instant;
using storage::now_seconds;
using storage::window_from_json;
using storage::window_to_json;
using storage::ZoneChoice;

struct FollowupDecision {
    std::optional<protocol::ScheduledFollowup> scheduled;
    std::string no_followup_reason;  // empty when nothing was configured to happen
};

// A lease as the daemon handed it out; an empty lease_until matches whatever renewal since.
struct FollowupLease {
    std::int64_t followup_id = 0;
    std::string agent;
    std::string lease_until;
};

struct FollowupOfferMade {
    FollowupLease lease;
    std::string message;  // the encoded outbound pop
};

struct FollowupUpdate {
    std::string error_code;  // empty on success
    std::string error;
    domain::FollowupStatus status{};  // on success: what the follow-up became
    std::string next_due;             // open: the next attempt on the customer's clock
};

class FollowupDesk {
public:
    explicit FollowupDesk(const config::Config& config);

    // After the outcome record is logged: what the outcome's policy and the agent's wish
    // (`requested`: true asks, false declines) call for.
    FollowupDecision after_outcome(JobContext& context, const domain::CallLogRecord& outcome,
                                   std::optional<bool> requested, Instant now);
    // An abandoned or unanswered call: a callback, one open per number.
    FollowupDecision after_missed_call(JobContext& context, const domain::CallLogRecord& hangup,
                                       Instant now);
    // False when missed calls schedule nothing (`followups.missed_calls.kind: none`): the loop
    // then hands the writer no job for them. Safe on any thread: the policy is fixed.
    bool schedules_missed_calls() const { return policies_.missed_calls.kind != "none"; }
    // The switch said the call was answered after all (the answer came after the hangup):
    // the callback its hangup created is cancelled.
    void after_late_answer(JobContext& context, const std::string& call_id, Instant now);
    // Leases due follow-ups whose window is open now to `agents`, one each, in order. A
    // follow-up that cannot be read (a zone the tz database no longer has) is logged and
    // set aside for a day rather than blocking the ones behind it.
    std::vector<FollowupOfferMade> offer_due(JobContext& context,
                                             const std::vector<std::string>& agents, Instant now);
    FollowupUpdate record_attempt(JobContext& context, const std::string& agent,
                                  const protocol::FollowupResult& result, Instant now);
    FollowupUpdate close(JobContext& context, const std::string& by,
                         const protocol::FollowupClose& request, Instant now);
    // Frees these leases at once (the agent's session ended, or the offer found no one),
    // unless the follow-up has changed hands or closed since.
    void release(JobContext& context, const std::vector<FollowupLease>& leases);
    // Agents still connected keep what they hold: push their leases forward.
    void renew_leases(JobContext& context, const std::vector<FollowupLease>& held, Instant now);
    std::size_t flag_overdue(JobContext& context, Instant now);

private:
    FollowupDecision schedule(JobContext& context, const config::FollowupPolicy& policy,
                              const std::string& reason, const domain::CallLogRecord& source,
                              Instant now);
    std::optional<FollowupOfferMade> offer_one(JobContext& context, domain::Followup& followup,
                                               const std::string& agent, Instant now);
    domain::CallLogRecord event(const char* kind, const domain::Followup& followup,
                                  const std::string& agent, Instant now) const;

    config::Followups policies_;
    std::size_t history_;
    FollowupSchedule schedule_;
};

}  // namespace callpop::daemon
