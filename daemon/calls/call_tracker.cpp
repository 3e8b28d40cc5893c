#include "daemon/calls/call_tracker.hpp"

#include <algorithm>

namespace callpop::daemon {

using protocol::SwitchEventKind;

namespace {

bool is_transfer_target(const TrackedCall& call, const std::string& extension) {
    return !extension.empty() &&
           std::find(call.transfer_targets.begin(), call.transfer_targets.end(), extension) !=
               call.transfer_targets.end();
}

// A transfer's target answers: the call leaves the extension and agent that had it.
void hand_on(TrackedCall& call, CallChange& change) {
    change.took_transfer = true;
    change.handed_on_by_extension = call.answered_extension;
    change.handed_on_by_agent = call.answered_agent;
    call.transfer_targets.clear();
}

}  // namespace

std::uint32_t TrackedCall::next_record_occurrence(std::string_view kind,
                                                  const std::string& extension) {
    if (kind != "answer" && kind != "transfer") return 1;
    std::string key(kind);
    key += ' ';
    key += extension;
    for (auto& [made, count] : repeatable_records) {
        if (made == key) return ++count;
    }
    repeatable_records.emplace_back(std::move(key), 1);
    return 1;
}

std::string TrackedCall::agent_seated_elsewhere(const std::string& extension) const {
    if (extension.empty()) return {};
    for (const auto& [seat, agent] : seated_elsewhere) {
        if (seat == extension) return agent;
    }
    return {};
}

TrackedCall& CallTracker::create(const protocol::SwitchEvent& event,
                                 const std::string& switch_name, Clock::time_point now) {
    TrackedCall& call = calls_[event.call];
    ++live_;
    call.id = event.call;
    call.switch_name = switch_name;
    call.started = now;
    live_by_start_.emplace(now, call.id);
    return call;
}

CallChange CallTracker::apply(const protocol::SwitchEvent& event, const std::string& switch_name,
                              Clock::time_point now) {
    CallChange change;
    auto found = calls_.find(event.call);
    change.created = found == calls_.end();
    TrackedCall& call = change.created ? create(event, switch_name, now) : found->second;
    change.call = &call;
    const bool was_ended = call.state == CallState::ended && !change.created;
    if (!was_ended) merge_details(call, event);

    switch (event.kind) {
        case SwitchEventKind::ring: {
            if (was_ended) {
                change.reason = "ring after the call ended";
                return change;
            }
            if (call.state == CallState::answered) {
                change.reason = "ring after the call was answered";
                return change;
            }
            for (const auto& extension : event.extensions) {
                if (call.rung_extensions.insert(extension).second)
                    change.new_extensions.push_back(extension);
            }
            if (!change.created && change.new_extensions.empty()) {
                change.reason = "duplicate ring";
                return change;
            }
            change.kind = CallChange::Kind::rang;
            return change;
        }
        case SwitchEventKind::answer: {
            const std::string answering =
                event.extensions.empty() ? std::string() : event.extensions.front();
            const bool takes_transfer = is_transfer_target(call, answering);
            if (was_ended) {
                // Written to the log only when it tells something new: who answered a call
                // nobody had answered, or which target took a transfer.
                if (answering.empty() || (call.ever_answered && !takes_transfer)) {
                    change.reason = "answer after the call ended";
                    return change;
                }
                if (takes_transfer) hand_on(call, change);
                call.answered_extension = answering;
                call.answered_agent = event.agent;
                call.ever_answered = true;
                change.kind = CallChange::Kind::answered_after_end;
                return change;
            }
            if (call.state == CallState::answered) {
                // Only an extension a transfer sent the call to may answer it again.
                if (!takes_transfer) {
                    change.reason = "duplicate answer";
                    return change;
                }
                hand_on(call, change);
            }
            call.state = CallState::answered;
            call.ever_answered = true;
            call.answered_extension = answering;
            if (!answering.empty()) call.rung_extensions.insert(answering);
            call.answered_agent = event.agent;
            change.kind = CallChange::Kind::answered;
            return change;
        }
        case SwitchEventKind::transfer: {
            if (was_ended) {
                change.reason = "transfer after the call ended";
                return change;
            }
            if (call.state == CallState::ringing) {
                // Nobody has taken the call yet: it just rings at more extensions, as a ring
                // adding extensions would.
                for (const auto& extension : event.extensions) {
                    if (call.rung_extensions.insert(extension).second)
                        change.new_extensions.push_back(extension);
                }
                if (!change.created && change.new_extensions.empty()) {
                    change.reason = "duplicate transfer";
                    return change;
                }
                change.kind = CallChange::Kind::rang;
                return change;
            }
            for (const auto& extension : event.extensions) {
                if (extension == call.answered_extension || is_transfer_target(call, extension) ||
                    std::find(change.new_extensions.begin(), change.new_extensions.end(),
                              extension) != change.new_extensions.end())
                    continue;
                change.new_extensions.push_back(extension);
            }
            if (change.new_extensions.empty()) {
                change.reason = "duplicate transfer";
                return change;
            }
            for (const auto& extension : change.new_extensions) {
                call.transfer_targets.push_back(extension);
                call.rung_extensions.insert(extension);
            }
            change.kind = CallChange::Kind::transferred;
            return change;
        }
        case SwitchEventKind::hangup: {
            if (was_ended) {
                change.reason = "duplicate hangup";
                return change;
            }
            mark_ended(call, now);
            change.kind = CallChange::Kind::ended;
            return change;
        }
    }
    return change;
}

void CallTracker::mark_ended(TrackedCall& call, Clock::time_point now) {
    call.state = CallState::ended;
    call.ended = now;
    ++ended_kept_;
    --live_;
    live_by_start_.erase({call.started, call.id});
    by_end_.emplace_back(now, call.id);
}

std::vector<TrackedCall*> CallTracker::expire(Clock::time_point now) {
    std::vector<TrackedCall*> expired;
    // Oldest first: only the due ones are looked at.
    while (!live_by_start_.empty() && now - live_by_start_.begin()->first >= max_duration_) {
        TrackedCall* call = find(live_by_start_.begin()->second);
        if (call == nullptr) {  // cannot happen: a call leaves the set as it ends
            live_by_start_.erase(live_by_start_.begin());
            continue;
        }
        mark_ended(*call, now);  // takes it out of the set
        expired.push_back(call);
    }
    return expired;
}

void CallTracker::forget_ended(Clock::time_point now) {
    while (!by_end_.empty() &&
           (now - by_end_.front().first >= ended_keep_ || ended_kept_ > ended_max_)) {
        const auto [ended, id] = std::move(by_end_.front());
        by_end_.pop_front();
        auto found = calls_.find(id);
        if (found != calls_.end() && found->second.state == CallState::ended &&
            found->second.ended == ended) {
            calls_.erase(found);
            --ended_kept_;
        }
    }
}

void CallTracker::shed_payload(TrackedCall& call) {
    call.pop.reset();
    call.data = nlohmann::json::object();
    call.rung_extensions.clear();
}

TrackedCall* CallTracker::find(const std::string& call_id) {
    auto found = calls_.find(call_id);
    return found == calls_.end() ? nullptr : &found->second;
}

std::size_t CallTracker::live_calls() const { return live_; }

CallTracker::LiveCounts CallTracker::live_by_state() const {
    LiveCounts counts;
    for (const auto& [id, call] : calls_) {
        if (call.state == CallState::ringing) ++counts.ringing;
        if (call.state == CallState::answered) ++counts.answered;
    }
    return counts;
}

std::vector<const TrackedCall*> CallTracker::live_and_ended_since(Clock::time_point ended_since) const {
    std::vector<const TrackedCall*> found;
    for (const auto& [id, call] : calls_) {
        if (call.state != CallState::ended || call.ended >= ended_since) found.push_back(&call);
    }
    return found;
}

}  // namespace callpop::daemon
