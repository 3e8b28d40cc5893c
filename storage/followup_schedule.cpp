#include "storage/followup_schedule.hpp"

#include <array>
#include <cstdio>
#include <optional>
#include <stdexcept>

#include <date/date.h>
#include <date/tz.h>

#include "storage/number_timezone.hpp"

namespace callpop::storage {

namespace {

constexpr std::array<std::string_view, 7> day_names{"mon", "tue", "wed", "thu",
                                                    "fri", "sat", "sun"};
constexpr int minutes_per_day = 24 * 60;
// Openings looked at after a day: a week, plus slack for the day a window opened before.
constexpr int search_days = 9;

// Names locate_zone knows that are not zones a customer or a site can be in: the server's
// own clock, and the POSIX rules template.
bool is_special_file(std::string_view zone) {
    return zone == "localtime" || zone == "posixrules";
}

const date::time_zone* try_locate(std::string_view zone) {
    if (zone.empty() || is_special_file(zone)) return nullptr;
    try {
        return date::locate_zone(zone);
    } catch (const std::runtime_error&) {
        return nullptr;
    }
}

std::string unknown_zone(std::string_view zone) {
    return "time zone \"" + std::string(zone) + "\" is not in the tz database";
}

const date::time_zone& locate_or_throw(std::string_view zone) {
    const auto* tz = try_locate(zone);
    if (tz == nullptr) throw std::runtime_error(unknown_zone(zone));
    return *tz;
}

// Monday = 0, as config::CallingWindow::days.
std::size_t day_index(date::local_days day) {
    return date::weekday{day}.iso_encoding() - 1;
}

void check_window(const config::CallingWindow& window) {
    const auto valid = [](int minute) { return minute >= 0 && minute < minutes_per_day; };
    if (!valid(window.start_minute) || !valid(window.end_minute))
        throw std::invalid_argument("calling window: start and end must be from 00:00 to 23:59");
    bool any = false;
    for (bool enabled : window.days) any = any || enabled;
    if (!any) throw std::invalid_argument("calling window: no day is enabled");
}

struct Opening {
    Instant open;
    Instant close;  // open < close unless DST squeezed the window to nothing
};

// The window opening on `day` (whether or not the day is enabled) as instants.
Opening opening_on(const date::time_zone& tz, const config::CallingWindow& window,
                   date::local_days day) {
    const date::local_seconds start = day + std::chrono::minutes{window.start_minute};
    date::local_seconds end = day + std::chrono::minutes{window.end_minute};
    if (window.end_minute <= window.start_minute) end += date::days{1};
    // choose::earliest: a repeated local time is its first instant; a local time in a gap
    // is the instant the gap ends (date's documented to_sys behaviour).
    return {tz.to_sys(start, date::choose::earliest), tz.to_sys(end, date::choose::earliest)};
}

date::local_days local_day(const date::time_zone& tz, Instant at) {
    return date::floor<date::days>(tz.to_local(at));
}

std::string two_digits_time(int minute) {
    char text[8];
    std::snprintf(text, sizeof text, "%02d:%02d", minute / 60 % 100, minute % 60);
    return text;
}

int parse_time(const nlohmann::json& json, const char* key) {
    const auto found = json.find(key);
    if (found == json.end())
        throw std::invalid_argument(std::string("calling window: \"") + key + "\" is missing");
    const auto fail = [&]() -> int {
        throw std::invalid_argument(std::string("calling window: \"") + key +
                                    "\": expected \"HH:MM\" from 00:00 to 23:59, got " +
                                    found->dump());
    };
    if (!found->is_string()) return fail();
    const auto& text = found->get_ref<const std::string&>();
    if (text.size() != 5 || text[2] != ':') return fail();
    for (std::size_t i : {0u, 1u, 3u, 4u})
        if (text[i] < '0' || text[i] > '9') return fail();
    const int hour = (text[0] - '0') * 10 + (text[1] - '0');
    const int minute = (text[3] - '0') * 10 + (text[4] - '0');
    if (hour > 23 || minute > 59) return fail();
    return hour * 60 + minute;
}

}  // namespace

FollowupSchedule::FollowupSchedule(const config::Site& site) : site_zone_(site.timezone) {
    if (find(site_zone_) == nullptr)
        throw std::runtime_error(unknown_zone(site_zone_));
}

const date::time_zone* FollowupSchedule::find(std::string_view zone) const {
    if (const auto cached = zones_.find(zone); cached != zones_.end()) return cached->second;
    const auto* tz = try_locate(zone);
    // Only real zones are kept, so the cache is bounded by the tz database.
    if (tz != nullptr) zones_.emplace(std::string(zone), tz);
    return tz;
}

const date::time_zone& FollowupSchedule::locate(std::string_view zone) const {
    const auto* tz = find(zone);
    if (tz == nullptr) throw std::runtime_error(unknown_zone(zone));
    return *tz;
}

ZoneChoice FollowupSchedule::zone_for(std::string_view customer_zone,
                                      std::string_view e164) const {
    std::string customer_problem;
    if (customer_zone.empty())
        customer_problem = "no customer time zone";
    else if (find(customer_zone) != nullptr)
        return {std::string(customer_zone), "customer", ""};
    else
        customer_problem = "customer " + unknown_zone(customer_zone);

    const auto number = storage::number_timezones().zone_for(e164);
    std::string number_problem = number.reason;
    if (!number.zone.empty()) {
        if (find(number.zone) != nullptr) return {number.zone, "number", ""};
        number_problem = "number's " + unknown_zone(number.zone);
    }
    return {site_zone_, "site", customer_problem + "; " + number_problem};
}

bool FollowupSchedule::in_window(const config::CallingWindow& window, Instant at,
                                 std::string_view zone) const {
    check_window(window);
    const auto& tz = locate(zone);
    const auto today = local_day(tz, at);
    // A window lasts at most a day: only yesterday's, today's (and, around odd transitions,
    // tomorrow's) openings can hold `at`.
    for (auto day = today - date::days{1}; day <= today + date::days{1}; day += date::days{1}) {
        if (!window.days[day_index(day)]) continue;
        const auto opening = opening_on(tz, window, day);
        if (opening.open <= at && at < opening.close) return true;
    }
    return false;
}

Instant FollowupSchedule::next_in_window(const config::CallingWindow& window, Instant from,
                                         std::string_view zone) const {
    if (in_window(window, from, zone)) return from;  // also checks the window and zone
    const auto& tz = locate(zone);
    const auto today = local_day(tz, from);
    for (auto day = today - date::days{1}; day <= today + date::days{search_days};
         day += date::days{1}) {
        if (!window.days[day_index(day)]) continue;
        const auto opening = opening_on(tz, window, day);
        if (opening.open >= from && opening.open < opening.close) return opening.open;
    }
    throw std::runtime_error("calling window: no opening within " +
                             std::to_string(search_days) + " days of " + format_local(from, zone));
}

Instant FollowupSchedule::first_due(const config::FollowupPolicy& policy, Instant now,
                                    std::string_view zone) const {
    if (!policy.next_morning) {
        // "7d" means a week later at the same time on the customer's clock, across a DST
        // change too; hours and minutes are elapsed time.
        const auto whole_days = std::chrono::floor<date::days>(policy.delay);
        if (whole_days.count() > 0 && whole_days == policy.delay) {
            const auto& tz = locate(zone);
            const auto later = tz.to_local(now) + whole_days;
            return next_in_window(policy.window, tz.to_sys(later, date::choose::earliest), zone);
        }
        return next_in_window(policy.window, now + policy.delay, zone);
    }
    check_window(policy.window);
    const auto& tz = locate(zone);
    const auto today = local_day(tz, now);
    for (auto day = today + date::days{1}; day <= today + date::days{search_days};
         day += date::days{1}) {
        if (!policy.window.days[day_index(day)]) continue;
        const auto opening = opening_on(tz, policy.window, day);
        if (opening.open < opening.close) return opening.open;
    }
    throw std::runtime_error("calling window: no opening within " +
                             std::to_string(search_days) + " days after " +
                             format_local(now, zone));
}

std::string format_local(Instant at, std::string_view zone) {
    const auto& tz = locate_or_throw(zone);
    const auto offset = tz.get_info(at).offset;
    const date::local_seconds local{at.time_since_epoch() + offset};
    const auto day = date::floor<date::days>(local);
    const date::year_month_day ymd{day};
    const date::hh_mm_ss<std::chrono::seconds> time{local - day};
    const long long offset_seconds = offset.count();
    const long long magnitude = offset_seconds < 0 ? -offset_seconds : offset_seconds;
    char text[64];
    int length = std::snprintf(
        text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02d%c%02lld:%02lld",
        static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
        static_cast<unsigned>(ymd.day()), static_cast<int>(time.hours().count()),
        static_cast<int>(time.minutes().count()), static_cast<int>(time.seconds().count()),
        offset_seconds < 0 ? '-' : '+', magnitude / 3600, magnitude / 60 % 60);
    // Local mean time before standard time had second offsets; keep them exact.
    if (magnitude % 60 != 0 && length > 0 && static_cast<std::size_t>(length) < sizeof text)
        std::snprintf(text + length, sizeof text - static_cast<std::size_t>(length), ":%02lld",
                      magnitude % 60);
    return text;
}

nlohmann::json window_to_json(const config::CallingWindow& window) {
    nlohmann::json days = nlohmann::json::array();
    for (std::size_t i = 0; i < day_names.size(); ++i)
        if (window.days[i]) days.push_back(day_names[i]);
    return {{"from", two_digits_time(window.start_minute)},
            {"to", two_digits_time(window.end_minute)},
            {"days", std::move(days)}};
}

config::CallingWindow window_from_json(const nlohmann::json& json) {
    if (!json.is_object())
        throw std::invalid_argument("calling window: expected an object, got " + json.dump());
    config::CallingWindow window;
    window.start_minute = parse_time(json, "from");
    window.end_minute = parse_time(json, "to");
    const auto days = json.find("days");
    if (days == json.end()) throw std::invalid_argument("calling window: \"days\" is missing");
    if (!days->is_array() || days->empty())
        throw std::invalid_argument(
            "calling window: \"days\": expected a non-empty array of mon..sun, got " +
            days->dump());
    window.days.fill(false);
    for (const auto& day : *days) {
        std::optional<std::size_t> index;
        if (day.is_string()) {
            for (std::size_t i = 0; i < day_names.size(); ++i)
                if (day.get_ref<const std::string&>() == day_names[i]) index = i;
        }
        if (!index)
            throw std::invalid_argument(
                "calling window: \"days\": expected mon, tue, wed, thu, fri, sat or sun, got " +
                day.dump());
        if (window.days[*index])
            throw std::invalid_argument("calling window: \"days\": " + day.dump() +
                                        " is listed twice");
        window.days[*index] = true;
    }
    return window;
}

}  // namespace callpop::storage
