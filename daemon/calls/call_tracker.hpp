#pragma once
// One record per live call, whatever order the switch's events arrive in: duplicates are
// ignored, hangup before answer and answer without ring are tolerated, and calls that
// never end are closed by a timeout. Pure state, no I/O: the server acts on what
// apply() reports.
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/net/shared_message.hpp"
#include "protocol/switch_event.hpp"

namespace callpop::daemon {

using Clock = std::chrono::steady_clock;

enum class CallState { ringing, answered, ended };

struct TrackedCall {
    std::string id;
    std::string switch_name;
    std::string caller_raw;
    std::string caller_name;
    std::string dialed;
    std::string queue;
    nlohmann::json data = nlohmann::json::object();
    std::set<std::string> rung_extensions;
    // The last extension (and agent) that answered: after a transfer, still the one that
    // handed the call on, until a target answers.
    std::string answered_extension;
    std::string answered_agent;
    // Answered at least once, with or without an extension: a call answered and then
    // transferred to nobody who took it was not missed.
    bool ever_answered = false;
    // Where transfers sent the call since its last answer; any of them may answer it next.
    std::vector<std::string> transfer_targets;
    CallState state = CallState::ringing;
    Clock::time_point started;
    Clock::time_point ended;
    // Filled by the server when it first looks the caller up.
    bool looked_up = false;
    // Known from another daemon sharing the store, whose switch sent the events: it pops
    // here for the agents seated here, and that daemon logs it.
    bool mirrored = false;
    std::string caller_number;  // E.164 where parseable
    std::string line_name;
    std::optional<std::int64_t> customer_id;
    std::string customer_name;
    std::uint64_t pop_seq = 0;
    SharedMessage pop;  // serialized once, queued to every agent
    // Once ended, the agents it popped for (PopRouter knows them while it is live): they
    // may record its outcome while it is remembered, if nobody answered it.
    std::set<std::string> popped_for;
    // The occurrence of the next call-log record of `kind` at `extension` (1 for the first):
    // another daemon hearing the same switch numbers it alike, and the store keeps it once.
    std::uint32_t next_record_occurrence(std::string_view kind, const std::string& extension);
    // The answer and transfer records made so far, by kind and extension, with their count:
    // a call transferred back to an extension is answered there again. A ring names only
    // extensions new to the call and a call ends once: those records never repeat.
    std::vector<std::pair<std::string, std::uint32_t>> repeatable_records;
    // (extension, agent): agents other daemons popped the call for, seated there (they said
    // so on the bus). The call's records name them; nothing is routed to them from here.
    std::vector<std::pair<std::string, std::string>> seated_elsewhere;
    // The agent another daemon has seated at `extension`, or "" when none said so.
    std::string agent_seated_elsewhere(const std::string& extension) const;
};

// Fills what an earlier event did not know: events may arrive in any order. For a tracked
// call, and for anything with the same caller fields (what a lookup reads of a call).
template <typename CallerDetails>
void merge_details(CallerDetails& call, const protocol::SwitchEvent& event) {
    if (call.caller_raw.empty()) call.caller_raw = event.from;
    if (call.caller_name.empty()) call.caller_name = event.name;
    if (call.dialed.empty()) call.dialed = event.to;
    if (call.queue.empty()) call.queue = event.queue;
    for (const auto& [key, value] : event.data.items()) {
        if (!call.data.contains(key)) call.data[key] = value;
    }
}

struct CallChange {
    enum class Kind {
        ignored,    // duplicate or late: nothing to do, nothing to log
        rang,       // new call, or the call now rings on more extensions
        answered,
        answered_after_end,  // the answer arrived after the hangup: log it, nothing to route
        transferred,         // an answered call moved: new_extensions ring now
        ended,
    };
    Kind kind = Kind::ignored;
    TrackedCall* call = nullptr;
    bool created = false;                     // the first event seen for this call
    std::vector<std::string> new_extensions;  // rang, transferred: extensions new to the call
    std::string reason;                       // ignored: why (for the debug log)
    // answered, answered_after_end: a transfer's target took the call (a second leg), from
    // the extension and agent that had it until then.
    bool took_transfer = false;
    std::string handed_on_by_extension;
    std::string handed_on_by_agent;
};

class CallTracker {
public:
    CallTracker(std::chrono::seconds max_duration, std::chrono::seconds ended_keep,
                std::size_t ended_max)
        : max_duration_(max_duration), ended_keep_(ended_keep), ended_max_(ended_max) {}

    CallChange apply(const protocol::SwitchEvent& event, const std::string& switch_name,
                     Clock::time_point now);

    // Calls that rang or talked past the maximum duration: now ended, returned for logging.
    std::vector<TrackedCall*> expire(Clock::time_point now);
    // Forgets ended calls older than the keep time, and the oldest past ended_max.
    void forget_ended(Clock::time_point now);
    // An ended call is kept an hour for outcomes and late events: drop what it no longer
    // needs (the pop, the IVR data, who was rung) once the server is done with it.
    static void shed_payload(TrackedCall& call);

    TrackedCall* find(const std::string& call_id);
    std::size_t live_calls() const;
    std::size_t ended_calls() const { return ended_kept_; }
    struct LiveCounts {
        std::size_t ringing = 0;
        std::size_t answered = 0;
    };
    // Walks every call held (live and recently ended): for /metrics, not for each event.
    LiveCounts live_by_state() const;
    // The live calls, and those ended at `ended_since` or after (while still held).
    std::vector<const TrackedCall*> live_and_ended_since(Clock::time_point ended_since) const;
    // Everything held, calls and their indexes: bounded by the live calls and ended_max
    // whatever the traffic (the memory target of a daemon that runs for months).
    std::size_t entries() const { return calls_.size() + live_by_start_.size() + by_end_.size(); }

private:
    TrackedCall& create(const protocol::SwitchEvent& event, const std::string& switch_name,
                        Clock::time_point now);
    void mark_ended(TrackedCall& call, Clock::time_point now);

    std::chrono::seconds max_duration_;
    std::chrono::seconds ended_keep_;
    std::size_t ended_max_;
    std::size_t ended_kept_ = 0;
    std::size_t live_ = 0;
    std::unordered_map<std::string, TrackedCall> calls_;
    // Live calls by (start, call id), oldest first: a call leaves when it ends, so that the
    // set holds the live calls only (a deque of every call started held each for
    // max_duration_s: ~100 bytes a call, 700 MiB over 4 hours at 2,000 calls/s).
    std::set<std::pair<Clock::time_point, std::string>> live_by_start_;
    // (when, call id) of ended calls, oldest first; an entry whose call has changed since is
    // skipped.
    std::deque<std::pair<Clock::time_point, std::string>> by_end_;
};

}  // namespace callpop::daemon
