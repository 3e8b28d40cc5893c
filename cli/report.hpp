#pragma once
// The pure part of `callpop followups` and `callpop report`: grouping, scores, and the
// tables and CSV they print (docs/reports.md, docs/csv.md). No I/O, no store, no clock.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/records.hpp"
#include "storage/reports.hpp"

namespace callpop::cli::report {

// ---- text and CSV ----

struct Column {
    std::string title;
    bool right = false;  // right-aligned (numbers)
};
// Columns padded to their widest cell (counted in UTF-8 characters), two blanks apart, the
// last one not padded; every line starts with `indent` and ends in "\n".
std::string format_table(const std::vector<Column>& columns,
                         const std::vector<std::vector<std::string>>& rows,
                         std::string_view indent = "");

// RFC 4180: quoted when it holds a comma, a double quote or a line break; quotes doubled.
std::string csv_field(std::string_view value);
// The fields joined by commas, ending in CRLF.
std::string csv_line(const std::vector<std::string>& fields);

// "a, b,,c" → {"a", "b", "c"}: comma-separated, blanks around items and empty items dropped.
std::vector<std::string> split_list(std::string_view text);

// Line breaks (CRLF, LF, CR) as " / ", so that a note stays on one table line.
std::string one_line(std::string_view text);

// ---- times ----

enum class Period { day, week, month };
// "day", "week", "month"; nullopt for anything else.
std::optional<Period> period_from_name(std::string_view name);
// The UTC period a UTC ISO time falls in: "2026-11-23" (day), "2026-W48" (ISO 8601 week,
// Monday first), "2026-11" (month). Text that does not start with YYYY-MM-DD comes back as given.
std::string period_of(std::string_view utc_iso, Period period);

// "2026-11-23" → "2026-11-23T00:00:00.000Z" plus `plus_days` days; nullopt when the text is
// not a real YYYY-MM-DD date.
std::optional<std::string> day_start_utc(std::string_view date, int plus_days = 0);

// "2026-11-29 10:00 -05:00": a UTC ISO time on the zone's clock, with the zone's offset.
// UTC (+00:00) when the zone is empty or not in the tz database; the text as given when it
// is not a UTC ISO time.
std::string local_time(std::string_view utc_iso, std::string_view zone);

// "2026-11-23T13:45:56.123Z" → "2026-11-23 13:45:56": still UTC, to the second, for a column.
std::string utc_to_the_second(std::string_view utc_iso);

// ---- callpop followups ----

// The table of `followups list`: ID, KIND, STATUS, DUE (local), CUSTOMER, NUMBER, REASON,
// ATTEMPTS (made/max), HELD BY (the agent whose lease runs past `now`, UTC ISO).
std::string followups_table(const std::vector<domain::Followup>& followups,
                            std::string_view now);

// The columns of `followups export --format csv` (docs/csv.md), in order.
const std::vector<std::string>& export_columns();
// One CSV row per follow-up, matching export_columns(); `external_ids`: customer id → the
// customer's external id (missing ones are exported empty).
std::string followups_csv(const std::vector<domain::Followup>& followups,
                          const std::map<std::int64_t, std::string>& external_ids);
// One JSON line per follow-up: protocol::to_json() plus "due_local" (ISO 8601 with offset)
// and "customer_external_id" when known.
std::string followups_json_lines(const std::vector<domain::Followup>& followups,
                                 const std::map<std::int64_t, std::string>& external_ids);

// ---- callpop report csat ----

enum class GroupBy { agent, outcome, line, period };
std::optional<GroupBy> group_by_from_name(std::string_view name);
std::string group_by_name(GroupBy by);

// Scores of one group on one scale.
struct ScoreRow {
    std::string group;  // agent, outcome code, line or period; "(none)" when empty; "(all)": total
    domain::SurveyScale scale{};
    std::size_t responses = 0;
    double average = 0;
    std::optional<double> csat_percent;  // csat: share of scores 4 and 5, in %
    std::optional<double> nps;           // nps: % of 9–10 minus % of 0–6, in points
};
// Rows by scale (csat, then nps), within a scale by group name, each scale closed by its
// "(all)" row. `period` is used when grouping by period.
std::vector<ScoreRow> score_rows(const std::vector<storage::SurveyResult>& results, GroupBy by,
                                 Period period);
std::string score_table(const std::vector<ScoreRow>& rows, GroupBy by);
std::string score_csv(const std::vector<ScoreRow>& rows, GroupBy by);

// ---- callpop report feedback ----

// What is low on each scale: csat 1–2, nps 0–6.
bool low_score(domain::SurveyScale scale, int score);

inline constexpr std::string_view no_product = "(no product)";

struct FeedbackGroup {
    std::string product;  // or no_product
    std::string period;
    std::vector<storage::FeedbackItem> items;  // in the order given (by time)
};
// Each item under each of its products (no_product when it has none) and its period;
// products by name with no_product last, then periods in order.
std::vector<FeedbackGroup> feedback_groups(const std::vector<storage::FeedbackItem>& items,
                                           Period period);
std::string feedback_text(const std::vector<FeedbackGroup>& groups);
std::string feedback_csv(const std::vector<FeedbackGroup>& groups);

}  // namespace callpop::cli::report
