#pragma once
// Follow-up calls (docs/followups.md): the daemon's follow-up desk creates, hands out and
// closes them; `callpop followups` lists them.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/records.hpp"

namespace callpop::storage {

using domain::Followup;

struct FollowupAttempt {
    std::string at;      // UTC ISO
    std::string agent;
    domain::AttemptResult result{};
    std::optional<int> score;
    std::string comment;
};

// What `callpop followups list|export` asks for. Empty fields do not filter.
struct FollowupQuery {
    std::vector<domain::FollowupStatus> statuses{domain::FollowupStatus::open};  // any of these
    std::optional<domain::FollowupKind> kind;
    std::string agent;    // the agent of the original call, or who holds or closed it
    std::string reason;   // the outcome code (or abandoned / missed / requested) behind it
    std::string due_by;   // only those due at or before this UTC time
    std::string overdue;  // non-empty: only callbacks flagged overdue
    std::size_t limit = 1000;
};

// Open follow-ups due at a time, and the callbacks among them flagged overdue.
struct FollowupCounts {
    std::uint64_t due = 0;
    std::uint64_t overdue = 0;
};

class FollowupQueue {
public:
    virtual ~FollowupQueue() = default;

    // Inserts it and returns its id; nullopt, writing nothing, when it is a callback and an
    // open callback for the same number exists already.
    virtual std::optional<std::int64_t> create_followup(const Followup& followup) = 0;
    virtual std::optional<Followup> followup(std::int64_t id) = 0;
    // When the customer's latest satisfaction follow-up that was not cancelled was created.
    virtual std::optional<std::string> last_survey_created(std::int64_t customer_id) = 0;
    // Open follow-ups due at `now` or before whose lease is free or ran out, earliest first.
    virtual std::vector<Followup> due_followups(std::string_view now, std::size_t limit) = 0;
    // Writes back every field that changes after creation (status, due, attempts, lease,
    // answers, closing, overdue flag). Throws StorageError when there is no such follow-up,
    // or when reopening a callback would make a second open one for its number.
    virtual void update_followup(const Followup& followup) = 0;
    virtual void add_followup_attempt(std::int64_t followup_id, const FollowupAttempt& attempt) = 0;
    // The open follow-ups a call created.
    virtual std::vector<Followup> open_followups_of_call(std::string_view call_id) = 0;
    // Open callbacks due before `cutoff` not yet flagged overdue, earliest first.
    virtual std::vector<Followup> unflagged_overdue_callbacks(std::string_view cutoff,
                                                              std::size_t limit) = 0;
    virtual std::vector<Followup> list_followups(const FollowupQuery& query) = 0;
    // Open follow-ups due at `now` or before, held or not.
    virtual FollowupCounts count_due_followups(std::string_view now) = 0;
};

}  // namespace callpop::storage
