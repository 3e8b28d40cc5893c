#pragma once
// What every SQL backend reads back the same way: the column lists its row readers take in
// order, and the checks on values the schema cannot make (a state name, the JSON columns). A
// value that fails them is a broken row, reported as a StorageError naming the column.
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "domain/records.hpp"
#include "domain/states.hpp"
#include "storage/storage_error.hpp"

namespace callpop::storage::stored {

// f is followups, cu the customer (LEFT JOIN): read in this order by the backends'
// read_followups().
inline constexpr const char* followup_columns =
    "f.id, f.kind, f.status, f.customer_id, coalesce(cu.name, ''), f.number, f.call_id, "
    "f.reason, f.due_at, f.timezone, f.timezone_source, f.calling_window, f.attempts_made, "
    "f.attempts_max, f.retry_after_s, f.survey, f.leased_by, f.lease_until, f.last_result, "
    "f.score, f.comment, f.created_at, f.closed_at, f.closed_by, f.overdue_at";

inline constexpr const char* log_record_select =
    "SELECT id, at, kind, call_id, switch, caller, caller_name, dialed, line, queue, "
    "extension, agent, customer_id, customer_name, outcome, cause, notes, followup_id "
    "FROM call_log";

// c is customers.
inline constexpr const char* customer_columns =
    "c.id, c.external_id, c.name, c.company, c.tier, c.segment, c.language, c.timezone, "
    "c.email, c.address, c.do_not_call";

// A name the schema's CHECK should have kept out is a broken row, not a default.
template <domain::NamedState State>
State state(std::string_view name, const char* column) {
    if (const auto parsed = domain::parse<State>(name)) return *parsed;
    throw StorageError(std::string(column) + ": unknown value \"" + std::string(name) + "\"");
}

// A follow-up's JSON column (calling_window, survey): null when the row holds NULL.
inline nlohmann::json followup_json(const std::string& text, bool is_null, std::int64_t id,
                                    const char* column) {
    if (is_null) return nullptr;
    auto parsed = nlohmann::json::parse(text, nullptr, false);
    if (parsed.is_discarded())
        throw StorageError("follow-up " + std::to_string(id) + ": " + column + " is not JSON");
    return parsed;
}

// The survey column is JSON the schema cannot check: a scale callpop has no name for is a
// broken row, like an unknown state.
inline void check_survey_scale(const domain::Followup& followup) {
    try {
        domain::survey_scale(followup.survey);
    } catch (const std::invalid_argument& error) {
        throw StorageError("follow-up " + std::to_string(followup.id) + ": survey: " +
                           error.what());
    }
}

// agents.extensions: comma-separated, "" for any.
inline std::vector<std::string> split_extensions(std::string_view extensions) {
    std::vector<std::string> list;
    for (std::size_t start = 0; start < extensions.size();) {
        const auto comma = std::min(extensions.find(',', start), extensions.size());
        list.emplace_back(extensions.substr(start, comma - start));
        start = comma + 1;
    }
    return list;
}

inline std::string join_extensions(const std::vector<std::string>& extensions) {
    std::string joined;
    for (const auto& extension : extensions) joined += (joined.empty() ? "" : ",") + extension;
    return joined;
}

}  // namespace callpop::storage::stored
