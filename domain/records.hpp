#pragma once
// What callpop knows and keeps: customers and their cards, follow-up calls, call-log
// records. storage/ fills and stores them, protocol/ puts them on the wire, the daemon
// moves them between the two; none of those forms belongs here.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "domain/states.hpp"

namespace callpop::domain {

struct Customer {
    std::int64_t id = 0;
    std::string external_id;
    std::string name;
    std::string company;
    std::string tier;
    std::string segment;
    std::string language;
    std::string timezone;
    std::string email;
    std::string address;
    bool do_not_call = false;
    std::vector<std::string> phones;  // E.164 where parseable
};

struct Note {
    std::int64_t id = 0;
    std::string kind;  // "note" or "preference"
    std::string text;
    std::string author;
    std::string created_at;
};

struct Asset {
    std::string product;
    std::string serial;
    std::string purchased;     // YYYY-MM-DD
    std::string warranty_end;  // YYYY-MM-DD or empty
};

struct HistoryEntry {
    std::string call;
    std::string at;  // when the call started
    std::string line;
    std::string state;  // answered, abandoned, missed, timeout
    std::string agent;
    std::string outcome;
    std::string notes;
};

struct FollowupSummary {
    std::int64_t id = 0;
    FollowupKind kind = FollowupKind::satisfaction;
    std::string due;
    FollowupStatus status = FollowupStatus::open;
    std::string reason;
};

struct CustomerCard {
    Customer customer;
    std::vector<Note> notes;
    std::vector<Note> preferences;
    std::vector<Asset> assets;
    std::vector<HistoryEntry> history;
    std::vector<FollowupSummary> followups;
};

// A follow-up call: a satisfaction survey or a callback, with the policy it was created
// under (so that a later config change does not alter calls already promised).
struct Followup {
    std::int64_t id = 0;
    FollowupKind kind = FollowupKind::satisfaction;
    FollowupStatus status = FollowupStatus::open;
    std::optional<std::int64_t> customer_id;
    std::string customer_name;
    std::string number;   // E.164 to call
    std::string call;     // the call that created it
    std::string reason;   // outcome code, or "abandoned" / "missed" / "requested"
    std::string due_at;   // UTC ISO 8601 (ms, Z): the next attempt
    std::string timezone; // IANA zone the window is read in
    std::string timezone_source;  // customer, number, site
    nlohmann::json window = nlohmann::json::object();  // {"from":"08:00","to":"21:00","days":[..]}
    std::uint32_t attempts_made = 0;
    std::uint32_t attempts_max = 3;
    std::int64_t retry_after_s = 7200;
    // {"scale":..,"question":..,"comment_question":..} or null; read the scale with survey_scale
    nlohmann::json survey;
    std::string leased_by;  // agent holding it, empty when free
    std::string lease_until;
    std::optional<AttemptResult> last_result;  // none before the first attempt
    std::optional<int> score;
    std::string comment;
    std::string created_at;
    std::string closed_at;
    std::string closed_by;
    std::string overdue_at;  // when it was flagged overdue
};

// One line of the call log: a call event, an outcome or a note.
struct CallLogRecord {
    std::int64_t id = 0;
    std::string at;    // UTC, ISO 8601 with milliseconds
    std::string kind;  // ring, answer, transfer, hangup, timeout, outcome, note, followup_*
    std::string call;
    std::string switch_name;
    std::string from;
    std::string caller_name;
    std::string to;
    std::string line;
    std::string queue;
    std::string extension;
    std::string agent;
    std::optional<std::int64_t> customer_id;
    std::string customer_name;
    std::string outcome;
    std::string cause;
    std::string notes;
    std::optional<std::int64_t> followup_id;  // follow-up events (kind followup_*)
    // A switch's event record (ring, answer, transfer, hangup, timeout): how many records
    // of this kind at this extension the daemon has made for the call, this one included.
    // Two daemons hearing one switch count alike, so the store keeps the record once
    // (storage::switch_event_key). 0 for every other record. Not part of the record's JSON.
    std::uint32_t occurrence = 0;
};

// The scale a follow-up's survey asks on: nullopt when there is no survey or it names no
// scale. Throws std::invalid_argument when "scale" is not a name of SurveyScale, so that a
// survey callpop did not write is refused rather than scored on the wrong scale.
std::optional<SurveyScale> survey_scale(const nlohmann::json& survey);

// The call-log record of a step in a follow-up's life (kind followup_*), by `agent` at `at`.

CallLogRecord followup_event(std::string kind, const Followup& followup, std::string agent,
                             std::string at);

}  // namespace callpop::domain
