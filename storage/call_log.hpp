#pragma once
// The call log as the writer thread appends to it and the daemon reads it back at start,
// and the notes agents write on the caller's card during calls (written with the log).
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "domain/records.hpp"

namespace callpop::storage {

using domain::CallLogRecord;
using domain::Note;

struct CallSummary {
    domain::HistoryEntry entry;
    std::string caller;  // E.164 where parseable
    std::optional<std::int64_t> customer_id;
    // Who answered it last (after a transfer, the agent it went to), and whose outcome the
    // row holds: `entry.agent` is the latter when there is one.
    std::string answered_agent;
    std::string outcome_agent;
    // The rest of what the call's records carry, for records about a call no longer in
    // memory.
    std::string switch_name;
    std::string caller_name;
    std::string dialed;
    std::string queue;
    std::string extension;
    std::string customer_name;
};

// How far the writer has replayed its spool (the append-only file a daemon writes switch
// records to when the store falls behind): the file's number and the byte offset after the
// last entry committed. Kept in the store, committed with the entries it counts.
struct SpoolPosition {
    std::int64_t file = 0;
    std::int64_t offset = 0;
};

// What makes two daemons' records of one switch event the same record, so that a call two
// daemons hear from one switch (connected to both, for redundancy) is logged once, whichever
// daemon's writer commits first. A call ends once: any `hangup` or `timeout` is its end,
// whatever its cause (a daemon that missed the hangup times the call out later). Other
// records are the same when they are of one kind at the same extension(s) and the same
// occurrence. Neither times nor the agent are compared: a daemon names the agent seated at
// an extension only when that agent is logged in to it. nullopt for a record that is never
// taken for another (occurrence 0: outcomes, notes, follow-ups).
inline std::optional<std::string> switch_event_key(const CallLogRecord& record) {
    if (record.occurrence == 0) return std::nullopt;
    if (record.kind == "hangup" || record.kind == "timeout") return "end";
    return record.kind + " " + record.extension + " " + std::to_string(record.occurrence);
}

class CallLog {
public:
    virtual ~CallLog() = default;

    // A call as its row stands (outcome and notes included), for follow-ups made from it.
    virtual std::optional<CallSummary> call_summary(std::string_view call_id) = 0;
    // The last `count` call-log records, oldest first.
    virtual std::vector<CallLogRecord> recent_log(std::size_t count) = 0;
    // Up to `count` call-log records after `after_id`, oldest first: a tail catching up.
    virtual std::vector<CallLogRecord> log_after(std::int64_t after_id, std::size_t count) = 0;
    // Calls the store holds with no end, each as the `timeout` record that closes it (all
    // but `at`, `id` and `cause` filled from its row): left by this daemon (on a shared
    // store, the one whose name logged the call's first event) when it stopped or died while
    // they were live.
    virtual std::vector<CallLogRecord> calls_left_open() = 0;
    // The newest record written before `at` (UTC, as format_utc writes it), 0 when none: a
    // tail `since` a time follows on from it.
    virtual std::int64_t last_log_id_before(std::string_view at) = 0;
    // The highest call-log id so far (0 for an empty log): new records continue from it.
    virtual std::int64_t last_log_id() = 0;
    // Appends to the call log and folds the record into the call's row. Returns the id the
    // store gave it (`record.id` is not read). Ids follow commit order, also across
    // processes sharing the store, so a reader going on after an id misses nothing.
    // nullopt, writing nothing, for an outcome of a call the store has never seen, and for
    // a switch's event record the store already holds (switch_event_key): another daemon
    // connected to the same switch logged it first, and ran what follows from it.
    virtual std::optional<std::int64_t> append_log(const CallLogRecord& record) = 0;
    // append_log for each record, in order, with its result: a store on a server sends
    // them together, in one round trip.
    virtual std::vector<std::optional<std::int64_t>> append_logs(
        std::span<const CallLogRecord> records) {
        std::vector<std::optional<std::int64_t>> ids;
        ids.reserve(records.size());
        for (const auto& record : records) ids.push_back(append_log(record));
        return ids;
    }
    // Returns the note's id, or nullopt when the customer does not exist.
    virtual std::optional<std::int64_t> add_note(std::int64_t customer_id, const Note& note) = 0;
    virtual SpoolPosition spool_position() = 0;
    virtual void set_spool_position(SpoolPosition position) = 0;
};

}  // namespace callpop::storage
