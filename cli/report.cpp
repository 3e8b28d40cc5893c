#include "cli/report.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <exception>
#include <stdexcept>
#include <tuple>

#include <fmt/format.h>

#include "domain/states.hpp"
#include "domain/timestamp.hpp"
#include "protocol/records.hpp"
#include "storage/followup_schedule.hpp"

namespace callpop::cli::report {

using storage::format_local;
using storage::Instant;
using domain::SurveyScale;

namespace {

using nlohmann::json;

std::size_t display_width(std::string_view text) {
    // UTF-8 continuation bytes do not start a character.
    return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    }));
}

std::string or_dash(const std::string& text) { return text.empty() ? "-" : text; }

std::string customer_label(std::string_view name, std::optional<std::int64_t> id) {
    if (!name.empty()) return std::string(name);
    if (id) return "#" + std::to_string(*id);
    return "-";
}

// "2026-11-23" at the start of the text, as a date.
std::optional<std::chrono::year_month_day> leading_date(std::string_view text) {
    if (text.size() < 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
    int parts[3] = {0, 0, 0};
    const std::size_t starts[3] = {0, 5, 8};
    const std::size_t lengths[3] = {4, 2, 2};
    for (int part = 0; part < 3; ++part) {
        for (std::size_t i = starts[part]; i < starts[part] + lengths[part]; ++i) {
            if (text[i] < '0' || text[i] > '9') return std::nullopt;
            parts[part] = parts[part] * 10 + (text[i] - '0');
        }
    }
    const std::chrono::year_month_day date{std::chrono::year{parts[0]},
                                           std::chrono::month{static_cast<unsigned>(parts[1])},
                                           std::chrono::day{static_cast<unsigned>(parts[2])}};
    if (!date.ok()) return std::nullopt;
    return date;
}

std::string json_string(const json& object, const char* key) {
    if (!object.is_object()) return {};
    const auto found = object.find(key);
    if (found == object.end() || !found->is_string()) return {};
    return found->get<std::string>();
}

// "" for a callback, as for a survey that names no scale.
std::string survey_scale_name(const json& survey) {
    const auto scale = domain::survey_scale(survey);
    return scale ? std::string(domain::to_string(*scale)) : std::string();
}

std::string window_days(const json& window) {
    std::string days;
    if (!window.is_object()) return days;
    const auto found = window.find("days");
    if (found == window.end() || !found->is_array()) return days;
    for (const auto& day : *found) {
        if (!day.is_string()) continue;
        if (!days.empty()) days += ';';
        days += day.get<std::string>();
    }
    return days;
}

// The due time on the follow-up's clock as ISO 8601 with its offset, "" when not a time.
std::string due_local_iso(const domain::Followup& followup) {
    Instant at;
    try {
        at = domain::parse_utc(followup.due_at);
    } catch (const std::invalid_argument&) {
        return {};
    }
    try {
        return format_local(at, followup.timezone.empty() ? "UTC" : followup.timezone);
    } catch (const std::exception&) {
        try {
            return format_local(at, "UTC");
        } catch (const std::exception&) {
            return {};
        }
    }
}

std::string customer_external_id(const domain::Followup& followup,
                                 const std::map<std::int64_t, std::string>& external_ids) {
    if (!followup.customer_id) return {};
    const auto found = external_ids.find(*followup.customer_id);
    return found == external_ids.end() ? std::string() : found->second;
}

std::string fixed(double value, int decimals) { return fmt::format("{:.{}f}", value, decimals); }

std::string group_title(GroupBy by) {
    std::string title = group_by_name(by);
    std::transform(title.begin(), title.end(), title.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return title;
}

// The score's cells as the table and the CSV show them: "" when not applicable.
std::vector<std::string> score_cells(const ScoreRow& row) {
    return {row.group,
            std::string(domain::to_string(row.scale)),
            std::to_string(row.responses),
            fixed(row.average, 2),
            row.csat_percent ? fixed(*row.csat_percent, 1) : "",
            row.nps ? fixed(*row.nps, 1) : ""};
}

std::string score_label(const storage::FeedbackItem& item) {
    if (!item.score) return "";
    if (!item.scale) return std::to_string(*item.score);
    return std::string(domain::to_string(*item.scale)) + " " + std::to_string(*item.score);
}

std::string feedback_date(const storage::FeedbackItem& item) {
    return item.at.size() >= 10 ? item.at.substr(0, 10) : item.at;
}

}  // namespace

std::string format_table(const std::vector<Column>& columns,
                         const std::vector<std::vector<std::string>>& rows,
                         std::string_view indent) {
    std::vector<std::size_t> widths;
    widths.reserve(columns.size());
    for (const auto& column : columns) widths.push_back(display_width(column.title));
    for (const auto& row : rows)
        for (std::size_t index = 0; index < row.size() && index < widths.size(); ++index)
            widths[index] = std::max(widths[index], display_width(row[index]));

    std::string text;
    const auto add_line = [&](const std::vector<std::string>& cells) {
        std::string line(indent);
        for (std::size_t index = 0; index < columns.size(); ++index) {
            const std::string empty;
            const std::string& cell = index < cells.size() ? cells[index] : empty;
            const std::size_t padding = widths[index] - display_width(cell);
            const bool last = index + 1 == columns.size();
            if (columns[index].right) {
                line.append(padding, ' ');
                line += cell;
            } else {
                line += cell;
                if (!last) line.append(padding, ' ');
            }
            if (!last) line += "  ";
        }
        text += line;
        text += '\n';
    };
    std::vector<std::string> titles;
    titles.reserve(columns.size());
    for (const auto& column : columns) titles.push_back(column.title);
    add_line(titles);
    for (const auto& row : rows) add_line(row);
    return text;
}

std::string csv_field(std::string_view value) {
    if (value.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(value);
    std::string quoted = "\"";
    for (const char c : value) {
        if (c == '"') quoted += '"';
        quoted += c;
    }
    quoted += '"';
    return quoted;
}

std::string csv_line(const std::vector<std::string>& fields) {
    std::string line;
    for (std::size_t index = 0; index < fields.size(); ++index) {
        if (index > 0) line += ',';
        line += csv_field(fields[index]);
    }
    line += "\r\n";
    return line;
}

std::vector<std::string> split_list(std::string_view text) {
    std::vector<std::string> items;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t end = text.find(',', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view item = text.substr(start, end - start);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
        if (!item.empty()) items.emplace_back(item);
        start = end + 1;
    }
    return items;
}

std::string one_line(std::string_view text) {
    std::string line;
    for (std::size_t index = 0; index < text.size(); ++index) {
        const char c = text[index];
        if (c == '\r' || c == '\n') {
            if (c == '\r' && index + 1 < text.size() && text[index + 1] == '\n') ++index;
            line += " / ";
        } else {
            line += c;
        }
    }
    return line;
}

std::optional<Period> period_from_name(std::string_view name) {
    if (name == "day") return Period::day;
    if (name == "week") return Period::week;
    if (name == "month") return Period::month;
    return std::nullopt;
}

std::string period_of(std::string_view utc_iso, Period period) {
    using namespace std::chrono;
    const auto date = leading_date(utc_iso);
    if (!date) return std::string(utc_iso);
    switch (period) {
        case Period::day:
            return std::string(utc_iso.substr(0, 10));
        case Period::month:
            return std::string(utc_iso.substr(0, 7));
        case Period::week: {
            // ISO 8601: the week belongs to the year its Thursday is in.
            const sys_days day{*date};
            const weekday weekday_of{day};
            const sys_days thursday = day - days{weekday_of.iso_encoding() - 1} + days{3};
            const year_month_day thursday_date{thursday};
            const sys_days first_of_year{thursday_date.year() / January / 1};
            const auto week = (thursday - first_of_year).count() / 7 + 1;
            return fmt::format("{:04}-W{:02}", static_cast<int>(thursday_date.year()), week);
        }
    }
    return std::string(utc_iso);
}

std::optional<std::string> day_start_utc(std::string_view date, int plus_days) {
    if (date.size() != 10) return std::nullopt;
    const auto parsed = leading_date(date);
    if (!parsed) return std::nullopt;
    const std::chrono::sys_days day = std::chrono::sys_days{*parsed} + std::chrono::days{plus_days};
    return domain::format_utc(day);
}

std::string utc_to_the_second(std::string_view utc_iso) {
    std::string text(utc_iso.substr(0, 19));
    if (text.size() == 19) text[10] = ' ';
    return text;
}

std::string local_time(std::string_view utc_iso, std::string_view zone) {
    Instant at;
    try {
        at = domain::parse_utc(utc_iso);
    } catch (const std::invalid_argument&) {
        return std::string(utc_iso);
    }
    std::string text;
    try {
        text = format_local(at, zone.empty() ? std::string_view("UTC") : zone);
    } catch (const std::exception&) {
        try {
            text = format_local(at, "UTC");
        } catch (const std::exception&) {
            // No tz database at all: the UTC time itself.
            return std::string(utc_iso.substr(0, 10)) + " " + std::string(utc_iso.substr(11, 5)) +
                   " +00:00";
        }
    }
    // "2026-11-29T10:00:00-05:00" → "2026-11-29 10:00 -05:00"
    if (text.size() < 20) return text;
    return text.substr(0, 10) + " " + text.substr(11, 5) + " " + text.substr(19);
}

std::string followups_table(const std::vector<domain::Followup>& followups,
                            std::string_view now) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& followup : followups) {
        const bool held = !followup.leased_by.empty() &&
                          followup.status == domain::FollowupStatus::open &&
                          (followup.lease_until.empty() || followup.lease_until > now);
        rows.push_back({std::to_string(followup.id), std::string(domain::to_string(followup.kind)),
                        std::string(domain::to_string(followup.status)),
                        local_time(followup.due_at, followup.timezone),
                        customer_label(followup.customer_name, followup.customer_id),
                        or_dash(followup.number), or_dash(followup.reason),
                        std::to_string(followup.attempts_made) + "/" +
                            std::to_string(followup.attempts_max),
                        held ? followup.leased_by : "-"});
    }
    return format_table({{"ID", true},
                         {"KIND"},
                         {"STATUS"},
                         {"DUE"},
                         {"CUSTOMER"},
                         {"NUMBER"},
                         {"REASON"},
                         {"ATTEMPTS", true},
                         {"HELD BY"}},
                        rows);
}

const std::vector<std::string>& export_columns() {
    static const std::vector<std::string> columns{
        "id",           "kind",          "status",        "due_utc",
        "due_local",    "timezone",      "number",        "customer_id",
        "customer_external_id",          "customer_name", "reason",
        "call",         "attempts_made", "attempts_max",  "retry_after_s",
        "window_from",  "window_to",     "window_days",   "survey_scale",
        "survey_question",               "survey_comment_question"};
    return columns;
}

std::string followups_csv(const std::vector<domain::Followup>& followups,
                          const std::map<std::int64_t, std::string>& external_ids) {
    std::string text = csv_line(export_columns());
    for (const auto& followup : followups) {
        text += csv_line({std::to_string(followup.id),
                          std::string(domain::to_string(followup.kind)),
                          std::string(domain::to_string(followup.status)),
                          followup.due_at,
                          due_local_iso(followup),
                          followup.timezone,
                          followup.number,
                          followup.customer_id ? std::to_string(*followup.customer_id) : "",
                          customer_external_id(followup, external_ids),
                          followup.customer_name,
                          followup.reason,
                          followup.call,
                          std::to_string(followup.attempts_made),
                          std::to_string(followup.attempts_max),
                          std::to_string(followup.retry_after_s),
                          json_string(followup.window, "from"),
                          json_string(followup.window, "to"),
                          window_days(followup.window),
                          survey_scale_name(followup.survey),
                          json_string(followup.survey, "question"),
                          json_string(followup.survey, "comment_question")});
    }
    return text;
}

std::string followups_json_lines(const std::vector<domain::Followup>& followups,
                                 const std::map<std::int64_t, std::string>& external_ids) {
    std::string text;
    for (const auto& followup : followups) {
        json object = protocol::to_json(followup);
        if (const auto local = due_local_iso(followup); !local.empty())
            object["due_local"] = local;
        if (const auto external = customer_external_id(followup, external_ids); !external.empty())
            object["customer_external_id"] = external;
        text += object.dump();
        text += '\n';
    }
    return text;
}

std::optional<GroupBy> group_by_from_name(std::string_view name) {
    if (name == "agent") return GroupBy::agent;
    if (name == "outcome") return GroupBy::outcome;
    if (name == "line") return GroupBy::line;
    if (name == "period") return GroupBy::period;
    return std::nullopt;
}

std::string group_by_name(GroupBy by) {
    switch (by) {
        case GroupBy::agent: return "agent";
        case GroupBy::outcome: return "outcome";
        case GroupBy::line: return "line";
        case GroupBy::period: return "period";
    }
    return "group";
}

std::vector<ScoreRow> score_rows(const std::vector<storage::SurveyResult>& results, GroupBy by,
                                 Period period) {
    struct Tally {
        std::size_t responses = 0;
        long long sum = 0;
        std::size_t top = 0;         // csat 4–5, nps 9–10
        std::size_t detractors = 0;  // nps 0–6
        void add(SurveyScale scale, int score) {
            ++responses;
            sum += score;
            if (scale == SurveyScale::csat && score >= 4) ++top;
            if (scale == SurveyScale::nps && score >= 9) ++top;
            if (scale == SurveyScale::nps && score <= 6) ++detractors;
        }
    };
    const auto key_of = [&](const storage::SurveyResult& result) {
        std::string key;
        switch (by) {
            case GroupBy::agent: key = result.agent; break;
            case GroupBy::outcome: key = result.outcome; break;
            case GroupBy::line: key = result.line; break;
            case GroupBy::period: key = period_of(result.completed_at, period); break;
        }
        return key.empty() ? std::string("(none)") : key;
    };
    // By the enum's order: csat, then nps.
    std::map<SurveyScale, std::map<std::string, Tally>> by_scale;
    std::map<SurveyScale, Tally> totals;
    for (const auto& result : results) {
        by_scale[result.scale][key_of(result)].add(result.scale, result.score);
        totals[result.scale].add(result.scale, result.score);
    }
    const auto row_of = [](const std::string& group, SurveyScale scale, const Tally& tally) {
        ScoreRow row;
        row.group = group;
        row.scale = scale;
        row.responses = tally.responses;
        const auto n = static_cast<double>(tally.responses);
        row.average = static_cast<double>(tally.sum) / n;
        if (scale == SurveyScale::csat)
            row.csat_percent = 100.0 * static_cast<double>(tally.top) / n;
        if (scale == SurveyScale::nps)
            row.nps = 100.0 * (static_cast<double>(tally.top) - static_cast<double>(tally.detractors)) / n;
        return row;
    };
    std::vector<ScoreRow> rows;
    for (const auto& [scale, groups] : by_scale) {
        for (const auto& [group, tally] : groups) rows.push_back(row_of(group, scale, tally));
        rows.push_back(row_of("(all)", scale, totals[scale]));
    }
    return rows;
}

std::string score_table(const std::vector<ScoreRow>& rows, GroupBy by) {
    if (rows.empty()) return "(no survey results)\n";
    std::vector<std::vector<std::string>> cells;
    for (const auto& row : rows) {
        auto line = score_cells(row);
        for (std::size_t index = 4; index < line.size(); ++index) line[index] = or_dash(line[index]);
        cells.push_back(std::move(line));
    }
    return format_table({{group_title(by)},
                         {"SCALE"},
                         {"RESPONSES", true},
                         {"AVERAGE", true},
                         {"CSAT %", true},
                         {"NPS", true}},
                        cells);
}

std::string score_csv(const std::vector<ScoreRow>& rows, GroupBy by) {
    std::string text =
        csv_line({group_by_name(by), "scale", "responses", "average", "csat_percent", "nps"});
    for (const auto& row : rows) text += csv_line(score_cells(row));
    return text;
}

bool low_score(SurveyScale scale, int score) {
    switch (scale) {
        case SurveyScale::csat: return score <= 2;
        case SurveyScale::nps: return score <= 6;
    }
    return false;
}

std::vector<FeedbackGroup> feedback_groups(const std::vector<storage::FeedbackItem>& items,
                                           Period period) {
    // (product, period) in order, no_product after every named product.
    using Key = std::tuple<bool, std::string, std::string>;
    std::map<Key, std::vector<storage::FeedbackItem>> grouped;
    for (const auto& item : items) {
        const std::string item_period = period_of(item.at, period);
        if (item.products.empty()) {
            grouped[{true, std::string(no_product), item_period}].push_back(item);
            continue;
        }
        for (const auto& product : item.products)
            grouped[{false, product, item_period}].push_back(item);
    }
    std::vector<FeedbackGroup> groups;
    groups.reserve(grouped.size());
    for (auto& [key, group_items] : grouped)
        groups.push_back({std::get<1>(key), std::get<2>(key), std::move(group_items)});
    return groups;
}

std::string feedback_text(const std::vector<FeedbackGroup>& groups) {
    if (groups.empty()) return "(no feedback)\n";
    std::string text;
    for (const auto& group : groups) {
        if (!text.empty()) text += '\n';
        text += group.product + ", " + group.period + "\n";
        std::vector<std::vector<std::string>> rows;
        for (const auto& item : group.items) {
            std::string said = one_line(item.text);
            if (item.source == "outcome") {
                std::string labelled = "[";
                labelled.append(item.outcome).append("]");
                if (!said.empty()) labelled.append(" ").append(said);
                said = std::move(labelled);
            }
            rows.push_back({feedback_date(item), item.source, or_dash(score_label(item)),
                            customer_label(item.customer_name, item.customer_id),
                            or_dash(item.agent), or_dash(said)});
        }
        text += format_table(
            {{"DATE"}, {"SOURCE"}, {"SCORE"}, {"CUSTOMER"}, {"AGENT"}, {"TEXT"}}, rows, "  ");
    }
    return text;
}

std::string feedback_csv(const std::vector<FeedbackGroup>& groups) {
    std::string text = csv_line({"product", "period", "at", "source", "scale", "score", "outcome",
                                 "text", "customer_id", "customer_name", "agent", "call"});
    for (const auto& group : groups) {
        for (const auto& item : group.items) {
            text += csv_line({group.product, group.period, item.at, item.source,
                              item.scale ? std::string(domain::to_string(*item.scale)) : "",
                              item.score ? std::to_string(*item.score) : "", item.outcome,
                              item.text,
                              item.customer_id ? std::to_string(*item.customer_id) : "",
                              item.customer_name, item.agent, item.call});
        }
    }
    return text;
}

}  // namespace callpop::cli::report
