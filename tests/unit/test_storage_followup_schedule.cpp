#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "storage/followup_schedule.hpp"
#include "domain/timestamp.hpp"

using callpop::config::CallingWindow;
using callpop::config::FollowupPolicy;
using callpop::config::Site;
using callpop::storage::FollowupSchedule;
using callpop::storage::format_local;
using callpop::storage::Instant;
using callpop::storage::window_from_json;
using callpop::storage::window_to_json;
using callpop::domain::format_utc;
using callpop::domain::parse_utc;

namespace {

// The injected clock: every instant comes from a UTC literal.
Instant utc(const char* text) { return parse_utc(text); }

Site site_in(const char* zone) {
    Site site;
    site.timezone = zone;
    return site;
}

CallingWindow window(int start_hour, int start_minute, int end_hour, int end_minute,
                     std::array<bool, 7> days = {true, true, true, true, true, true, true}) {
    CallingWindow result;
    result.start_minute = start_hour * 60 + start_minute;
    result.end_minute = end_hour * 60 + end_minute;
    result.days = days;
    return result;
}

constexpr std::array<bool, 7> weekdays{true, true, true, true, true, false, false};
constexpr std::array<bool, 7> only_friday{false, false, false, false, true, false, false};
constexpr std::array<bool, 7> only_sunday{false, false, false, false, false, false, true};

FollowupPolicy after(std::chrono::seconds delay, CallingWindow calling = window(8, 0, 21, 0)) {
    FollowupPolicy policy;
    policy.kind = "satisfaction";
    policy.delay = delay;
    policy.window = calling;
    return policy;
}

constexpr auto week = std::chrono::hours(24 * 7);

}  // namespace

TEST_CASE("follow-ups: America/New_York, a week's delay across DST changes") {
    const FollowupSchedule schedule(site_in("America/New_York"));
    const char* zone = "America/New_York";
    // Spring forward on Sunday 2026-03-08: a week later is the same time on the local
    // clock, 10:00 EST → 10:00 EDT (167 hours); a delay in hours or minutes is elapsed time.
    const auto march = utc("2026-03-05T15:00:00Z");
    REQUIRE(format_local(march, zone) == "2026-03-05T10:00:00-05:00");
    CHECK(format_local(schedule.first_due(after(week), march, zone), zone) ==
          "2026-03-12T10:00:00-04:00");
    // 167.5 hours of elapsed time from 10:00 EST is 09:30 EST, shown as 10:30 EDT.
    CHECK(format_local(schedule.first_due(after(std::chrono::hours(167) + std::chrono::minutes(30)),
                                          march, zone),
                       zone) == "2026-03-12T10:30:00-04:00");
    // 20:59 EST plus a week is 20:59 EDT, still inside the window.
    CHECK(schedule.first_due(after(week), utc("2026-03-06T01:59:00Z"), zone) ==
          utc("2026-03-13T00:59:00Z"));
    // Fall back on Sunday 2026-11-01: 10:00 EDT plus a week is 10:00 EST.
    const auto october = utc("2026-10-29T14:00:00Z");
    REQUIRE(format_local(october, zone) == "2026-10-29T10:00:00-04:00");
    CHECK(format_local(schedule.first_due(after(week), october, zone), zone) ==
          "2026-11-05T10:00:00-05:00");
    // 07:30 EDT plus a week is 07:30 EST: wait for 08:00 EST.
    CHECK(format_local(schedule.first_due(after(week), utc("2026-10-29T11:30:00Z"), zone),
                       zone) == "2026-11-05T08:00:00-05:00");
}

TEST_CASE("follow-ups: America/New_York, window edges in the skipped and the repeated hour") {
    const FollowupSchedule schedule(site_in("America/New_York"));
    const char* zone = "America/New_York";
    // 02:30 does not exist on 2026-03-08 (02:00 EST → 03:00 EDT): the window opens at 03:00.
    const auto gap = window(2, 30, 6, 0);
    const auto opening = schedule.next_in_window(gap, utc("2026-03-08T05:00:00Z"), zone);
    CHECK(opening == utc("2026-03-08T07:00:00Z"));
    CHECK(format_local(opening, zone) == "2026-03-08T03:00:00-04:00");
    CHECK_FALSE(schedule.in_window(gap, utc("2026-03-08T06:59:59Z"), zone));
    CHECK(schedule.in_window(gap, utc("2026-03-08T07:00:00Z"), zone));
    // The day after, 02:30 EDT as usual.
    CHECK(schedule.next_in_window(gap, utc("2026-03-08T10:00:00Z"), zone) ==
          utc("2026-03-09T06:30:00Z"));

    // 01:30 happens twice on 2026-11-01 (EDT, then EST): the window opens at the first.
    const auto repeated = window(1, 30, 5, 0);
    const auto first = schedule.next_in_window(repeated, utc("2026-11-01T04:00:00Z"), zone);
    CHECK(first == utc("2026-11-01T05:30:00Z"));
    CHECK(format_local(first, zone) == "2026-11-01T01:30:00-04:00");
    CHECK(format_local(utc("2026-11-01T06:30:00Z"), zone) == "2026-11-01T01:30:00-05:00");
    // Once open it stays open, though the clock reads 01:15 EST again.
    CHECK(schedule.in_window(repeated, utc("2026-11-01T06:15:00Z"), zone));
    // It closes at 05:00 EST.
    CHECK(schedule.in_window(repeated, utc("2026-11-01T09:59:59Z"), zone));
    CHECK_FALSE(schedule.in_window(repeated, utc("2026-11-01T10:00:00Z"), zone));
    // A window ending at 01:30 closes at the first 01:30 and does not reopen at 01:00 EST.
    const auto ends_repeated = window(0, 0, 1, 30);
    CHECK(schedule.in_window(ends_repeated, utc("2026-11-01T05:29:59Z"), zone));
    CHECK_FALSE(schedule.in_window(ends_repeated, utc("2026-11-01T05:30:00Z"), zone));
    CHECK_FALSE(schedule.in_window(ends_repeated, utc("2026-11-01T06:15:00Z"), zone));
    CHECK(schedule.next_in_window(ends_repeated, utc("2026-11-01T06:15:00Z"), zone) ==
          utc("2026-11-02T05:00:00Z"));
}

TEST_CASE("follow-ups: Europe/Berlin, last Sundays of March and October") {
    const FollowupSchedule schedule(site_in("Europe/Berlin"));
    const char* zone = "Europe/Berlin";
    // 2026-03-29: 02:00 CET → 03:00 CEST.
    CHECK(format_local(schedule.first_due(after(week), utc("2026-03-26T09:00:00Z"), zone),
                       zone) == "2026-04-02T10:00:00+02:00");
    const auto gap = window(2, 30, 9, 0);
    const auto opening = schedule.next_in_window(gap, utc("2026-03-28T23:00:00Z"), zone);
    CHECK(opening == utc("2026-03-29T01:00:00Z"));
    CHECK(format_local(opening, zone) == "2026-03-29T03:00:00+02:00");
    // 2026-10-25: 03:00 CEST → 02:00 CET; 02:30 happens twice, the window opens at the first.
    CHECK(format_local(schedule.first_due(after(week), utc("2026-10-22T08:00:00Z"), zone),
                       zone) == "2026-10-29T10:00:00+01:00");
    const auto repeated = schedule.next_in_window(gap, utc("2026-10-24T22:00:00Z"), zone);
    CHECK(repeated == utc("2026-10-25T00:30:00Z"));
    CHECK(format_local(repeated, zone) == "2026-10-25T02:30:00+02:00");
    CHECK(format_local(utc("2026-10-25T01:30:00Z"), zone) == "2026-10-25T02:30:00+01:00");
    // Ends at 09:00 CET.
    CHECK(schedule.in_window(gap, utc("2026-10-25T07:59:59Z"), zone));
    CHECK_FALSE(schedule.in_window(gap, utc("2026-10-25T08:00:00Z"), zone));
}

TEST_CASE("follow-ups: windows past midnight belong to the day they open on") {
    const FollowupSchedule schedule(site_in("America/New_York"));
    const char* zone = "America/New_York";
    // Fridays 18:00–02:00; 2026-01-09 is a Friday, EST all along.
    const auto friday_night = window(18, 0, 2, 0, only_friday);
    CHECK_FALSE(schedule.in_window(friday_night, utc("2026-01-09T22:59:59Z"), zone));
    CHECK(schedule.in_window(friday_night, utc("2026-01-09T23:00:00Z"), zone));   // Fri 18:00
    CHECK(schedule.in_window(friday_night, utc("2026-01-10T05:00:00Z"), zone));   // Sat 00:00
    CHECK(schedule.in_window(friday_night, utc("2026-01-10T06:30:00Z"), zone));   // Sat 01:30
    CHECK_FALSE(schedule.in_window(friday_night, utc("2026-01-10T07:00:00Z"), zone));  // 02:00
    CHECK_FALSE(schedule.in_window(friday_night, utc("2026-01-10T23:30:00Z"), zone));  // Sat 18:30
    CHECK_FALSE(schedule.in_window(friday_night, utc("2026-01-09T06:30:00Z"), zone));  // Fri 01:30
    CHECK(schedule.next_in_window(friday_night, utc("2026-01-10T06:30:00Z"), zone) ==
          utc("2026-01-10T06:30:00Z"));
    CHECK(schedule.next_in_window(friday_night, utc("2026-01-10T08:00:00Z"), zone) ==
          utc("2026-01-16T23:00:00Z"));

    // Sundays 22:00–06:00 end Monday 06:00 though Monday is not a window day.
    const auto sunday_night = window(22, 0, 6, 0, only_sunday);
    CHECK(schedule.in_window(sunday_night, utc("2026-01-12T10:30:00Z"), zone));  // Mon 05:30
    CHECK_FALSE(schedule.in_window(sunday_night, utc("2026-01-12T11:00:00Z"), zone));
    CHECK(format_local(schedule.next_in_window(sunday_night, utc("2026-01-12T11:00:00Z"), zone),
                       zone) == "2026-01-18T22:00:00-05:00");
}

TEST_CASE("follow-ups: weekday windows skip the weekend; next_morning") {
    const FollowupSchedule schedule(site_in("America/New_York"));
    const char* zone = "America/New_York";
    const auto office = window(8, 0, 21, 0, weekdays);
    // Friday 2026-01-09 21:30 EST → Monday 08:00.
    CHECK(format_local(schedule.next_in_window(office, utc("2026-01-10T02:30:00Z"), zone),
                       zone) == "2026-01-12T08:00:00-05:00");
    // Thursday 20:00 plus two days is Saturday 20:00 → Monday 08:00.
    CHECK(format_local(schedule.first_due(after(std::chrono::hours(48), office),
                                          utc("2026-01-09T01:00:00Z"), zone),
                       zone) == "2026-01-12T08:00:00-05:00");

    FollowupPolicy morning = after(std::chrono::seconds(0), office);
    morning.next_morning = true;
    // A complaint on Friday evening is called back on Monday at the window's start.
    CHECK(format_local(schedule.first_due(morning, utc("2026-01-10T00:00:00Z"), zone), zone) ==
          "2026-01-12T08:00:00-05:00");
    // Monday 07:00, before the window: still the next window day, Tuesday.
    CHECK(format_local(schedule.first_due(morning, utc("2026-01-12T12:00:00Z"), zone), zone) ==
          "2026-01-13T08:00:00-05:00");
    // Thursday 23:30 → Friday 08:00.
    CHECK(format_local(schedule.first_due(morning, utc("2026-01-09T04:30:00Z"), zone), zone) ==
          "2026-01-09T08:00:00-05:00");
    // The local date is the customer's: Thursday 20:00 in New York is Friday in Shanghai.
    CHECK(format_local(schedule.first_due(morning, utc("2026-01-09T01:00:00Z"), "Asia/Shanghai"),
                       "Asia/Shanghai") == "2026-01-12T08:00:00+08:00");
}

TEST_CASE("follow-ups: a customer in Shanghai for a New York site") {
    const FollowupSchedule schedule(site_in("America/New_York"));
    const auto from_record = schedule.zone_for("Asia/Shanghai", "+12127365000");
    CHECK(from_record.zone == "Asia/Shanghai");
    CHECK(from_record.source == "customer");
    CHECK(from_record.note.empty());
    const auto from_number = schedule.zone_for("", "+861012345678");
    CHECK(from_number.zone == "Asia/Shanghai");
    CHECK(from_number.source == "number");
    CHECK(from_number.note.empty());

    // Friday 2026-11-27 15:00 EST plus a day is Sunday 04:00 in Shanghai: due at 08:00 there.
    const auto now = utc("2026-11-27T20:00:00Z");
    const auto due = schedule.first_due(after(std::chrono::hours(24)), now, from_number.zone);
    CHECK(due == utc("2026-11-29T00:00:00Z"));
    CHECK(format_local(due, "Asia/Shanghai") == "2026-11-29T08:00:00+08:00");
    CHECK(schedule.in_window(window(8, 0, 21, 0), due, "Asia/Shanghai"));
    // On the site's clock the same call would be due at once (Saturday 15:00 EST).
    CHECK(schedule.first_due(after(std::chrono::hours(24)), now, "America/New_York") ==
          utc("2026-11-28T20:00:00Z"));
}

TEST_CASE("follow-ups: zone_for falls back to the number, then to the site with a note") {
    const FollowupSchedule schedule(site_in("America/New_York"));
    const auto la = schedule.zone_for("Mars/Olympus_Mons", "+14155550100");
    CHECK(la.zone == "America/Los_Angeles");
    CHECK(la.source == "number");
    CHECK(schedule.zone_for("", "+61293744000").zone == "Australia/Sydney");
    CHECK(schedule.zone_for("", "+4930901820").zone == "Europe/Berlin");
    CHECK(schedule.zone_for("", "+12127365000").zone == "America/New_York");

    const auto toll_free = schedule.zone_for("", "+18005551000");
    CHECK(toll_free.zone == "America/New_York");
    CHECK(toll_free.source == "site");
    CHECK(toll_free.note.find("no customer time zone") != std::string::npos);
    CHECK(toll_free.note.find("+1 800 is not tied to one time zone") != std::string::npos);

    const auto garbage = schedule.zone_for("Mars/Olympus_Mons", "garbage");
    CHECK(garbage.source == "site");
    CHECK(garbage.note.find("Mars/Olympus_Mons") != std::string::npos);
    CHECK(garbage.note.find("garbage") != std::string::npos);
    // The server's own clock is not a customer's zone.
    CHECK(schedule.zone_for("localtime", "garbage").source == "site");
    // Links in the tz database are zones too.
    CHECK(schedule.zone_for("US/Pacific", "").source == "customer");

    CHECK_THROWS_WITH_AS(FollowupSchedule(site_in("Mars/Olympus_Mons")),
                         doctest::Contains("Mars/Olympus_Mons"), std::runtime_error);
    CHECK_THROWS_AS(FollowupSchedule(site_in("")), std::runtime_error);
    CHECK_THROWS_WITH_AS(schedule.next_in_window(window(8, 0, 21, 0), utc("2026-01-01T00:00:00Z"),
                                                 "Nowhere/City"),
                         doctest::Contains("Nowhere/City"), std::runtime_error);
}

TEST_CASE("follow-ups: every result is inside the window, and the first such moment") {
    // An hour-by-hour sweep over 2026 in zones with 1-hour and 30-minute DST changes.
    for (const char* zone : {"America/New_York", "Europe/Berlin", "Australia/Lord_Howe"}) {
        const FollowupSchedule schedule(site_in(zone));
        for (const auto& calling :
             {window(8, 0, 21, 0, weekdays), window(18, 0, 2, 0, only_friday),
              window(2, 15, 2, 45), window(1, 45, 1, 45, only_sunday)}) {
            for (auto from = utc("2026-01-01T00:17:00Z"); from < utc("2027-01-01T00:00:00Z");
                 from += std::chrono::hours(1)) {
                const auto next = schedule.next_in_window(calling, from, zone);
                REQUIRE(next >= from);
                REQUIRE(schedule.in_window(calling, next, zone));
                if (next != from)
                    REQUIRE_FALSE(
                        schedule.in_window(calling, next - std::chrono::seconds(1), zone));
                REQUIRE(next - from <= std::chrono::hours(24 * 8));
                if (next != from && from.time_since_epoch().count() % 97 == 0) {
                    // Now and then, nothing in between is inside the window.
                    for (auto between = from; between < next; between += std::chrono::minutes(5))
                        REQUIRE_FALSE(schedule.in_window(calling, between, zone));
                }
            }
        }
    }
}

TEST_CASE("follow-ups: in_window reads the local clock where no DST change is near") {
    // An oracle on format_local's text: local date, weekday, minute of the day, offset.
    struct Local {
        int weekday;  // Monday = 0
        int minute;
        std::string offset;
    };
    const auto read_local = [](Instant at, const char* zone) {
        const auto text = format_local(at, zone);
        const auto number = [&](std::size_t from, std::size_t count) {
            return std::stoi(text.substr(from, count));
        };
        const std::chrono::year_month_day date{std::chrono::year{number(0, 4)},
                                               std::chrono::month(number(5, 2)),
                                               std::chrono::day(number(8, 2))};
        const auto weekday = std::chrono::weekday{std::chrono::sys_days{date}}.iso_encoding() - 1;
        return Local{static_cast<int>(weekday), number(11, 2) * 60 + number(14, 2),
                     text.substr(19)};
    };
    for (const char* zone : {"America/New_York", "Europe/Berlin", "Asia/Shanghai"}) {
        const FollowupSchedule schedule(site_in(zone));
        for (const auto& calling :
             {window(8, 0, 21, 0, weekdays), window(18, 0, 2, 0, only_friday),
              window(22, 0, 6, 0, only_sunday), window(9, 30, 9, 30, {true, false, true, false,
                                                                       true, false, false})}) {
            for (auto at = utc("2026-01-01T00:00:00Z"); at < utc("2027-01-01T00:00:00Z");
                 at += std::chrono::minutes(37)) {
                const auto local = read_local(at, zone);
                if (read_local(at - std::chrono::hours(26), zone).offset != local.offset ||
                    read_local(at + std::chrono::hours(26), zone).offset != local.offset)
                    continue;
                const int start = calling.start_minute, end = calling.end_minute;
                const int yesterday = (local.weekday + 6) % 7;
                const bool expected =
                    (calling.days[local.weekday] && local.minute >= start &&
                     (end > start ? local.minute < end : true)) ||
                    (end <= start && local.minute < end && calling.days[yesterday]);
                CAPTURE(format_local(at, zone));
                REQUIRE(schedule.in_window(calling, at, zone) == expected);
            }
        }
    }
}

TEST_CASE("follow-ups: a window without days is refused") {
    const FollowupSchedule schedule(site_in("UTC"));
    const auto never = window(8, 0, 21, 0, {false, false, false, false, false, false, false});
    CHECK_THROWS_AS(schedule.next_in_window(never, utc("2026-01-01T00:00:00Z"), "UTC"),
                    std::invalid_argument);
    FollowupPolicy policy = after(std::chrono::seconds(0), never);
    policy.next_morning = true;
    CHECK_THROWS_AS(schedule.first_due(policy, utc("2026-01-01T00:00:00Z"), "UTC"),
                    std::invalid_argument);
    CHECK_THROWS_AS(schedule.in_window(window(25, 0, 21, 0), utc("2026-01-01T00:00:00Z"), "UTC"),
                    std::invalid_argument);
}

TEST_CASE("timestamps: format_local and parse_utc") {
    const auto instant = utc("2026-11-29T15:00:00.000Z");
    CHECK(instant == utc("2026-11-29T15:00:00Z"));
    CHECK(format_utc(instant) == "2026-11-29T15:00:00.000Z");
    CHECK(format_local(instant, "UTC") == "2026-11-29T15:00:00+00:00");
    CHECK(format_local(instant, "America/New_York") == "2026-11-29T10:00:00-05:00");
    CHECK(format_local(instant, "Asia/Shanghai") == "2026-11-29T23:00:00+08:00");
    CHECK(format_local(instant, "Asia/Kolkata") == "2026-11-29T20:30:00+05:30");
    CHECK(format_local(instant, "America/St_Johns") == "2026-11-29T11:30:00-03:30");
    CHECK(format_local(utc("2026-12-31T23:59:59Z"), "Pacific/Kiritimati") ==
          "2027-01-01T13:59:59+14:00");
    // Milliseconds are dropped (sys_seconds).
    CHECK(utc("2026-11-29T15:00:00.999Z") == instant);
    CHECK(utc("2024-03-01T00:00:00Z") - utc("2024-02-28T00:00:00Z") == std::chrono::hours(48));
    for (const auto* text : {"2026-01-01T00:00:00.000Z", "1999-12-31T23:59:59.000Z",
                             "2038-01-19T03:14:08.000Z"})
        CHECK(format_utc(utc(text)) == text);
    // Milliseconds written, truncated, on any day: leap days, the epoch, before it.
    using std::chrono::milliseconds;
    CHECK(format_utc(utc("2024-02-29T23:59:59Z") + milliseconds(999)) == "2024-02-29T23:59:59.999Z");
    CHECK(format_utc(std::chrono::system_clock::time_point(std::chrono::microseconds(1'001'999))) ==
          "1970-01-01T00:00:01.001Z");
    CHECK(format_utc(utc("1970-01-01T00:00:00Z") - milliseconds(1)) == "1969-12-31T23:59:59.999Z");
    CHECK(format_utc(utc("2000-03-01T07:08:09Z") + milliseconds(40)) == "2000-03-01T07:08:09.040Z");
    CHECK_THROWS_AS(format_local(instant, "Nowhere/City"), std::runtime_error);

    for (const char* bad :
         {"", "2026-11-29", "2026-11-29 15:00:00Z", "2026-11-29T15:00:00",
          "2026-11-29T15:00:00+01:00", "2026-11-29T15:00:00.0Z", "2026-11-29T15:00:00.0000Z",
          "2026-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-29T24:00:00Z",
          "2026-11-29T15:60:00Z", "2026-11-29T15:00:60Z", "2026-11-29t15:00:00Z",
          "+026-11-29T15:00:00Z", "2026-11-29T15:00:00.00xZ", "2026-00-10T00:00:00Z"}) {
        CAPTURE(bad);
        const std::string quoted = std::string("\"") + bad + "\"";
        CHECK_THROWS_WITH_AS(parse_utc(bad), doctest::Contains(quoted.c_str()),
                             std::invalid_argument);
    }
}

TEST_CASE("follow-ups: calling windows as JSON") {
    const auto office = window(8, 0, 21, 0, weekdays);
    const auto json = window_to_json(office);
    CHECK(json.dump() ==
          R"({"days":["mon","tue","wed","thu","fri"],"from":"08:00","to":"21:00"})");
    const auto back = window_from_json(json);
    CHECK(back.start_minute == office.start_minute);
    CHECK(back.end_minute == office.end_minute);
    CHECK(back.days == office.days);

    const auto night = window(18, 30, 2, 5, only_sunday);
    const auto night_back = window_from_json(window_to_json(night));
    CHECK(window_to_json(night)["from"] == "18:30");
    CHECK(window_to_json(night)["to"] == "02:05");
    CHECK(night_back.start_minute == night.start_minute);
    CHECK(night_back.end_minute == night.end_minute);
    CHECK(night_back.days == night.days);

    const auto parsed = window_from_json(
        nlohmann::json::parse(R"({"from":"00:00","to":"23:59","days":["sun","sat"]})"));
    CHECK(parsed.start_minute == 0);
    CHECK(parsed.end_minute == 23 * 60 + 59);
    CHECK(parsed.days == std::array<bool, 7>{false, false, false, false, false, true, true});

    const auto refused = [](const char* text, const char* message) {
        CAPTURE(text);
        CHECK_THROWS_WITH_AS(window_from_json(nlohmann::json::parse(text)),
                             doctest::Contains(message), std::invalid_argument);
    };
    refused(R"([1,2])", "expected an object");
    refused(R"({"to":"21:00","days":["mon"]})", "\"from\" is missing");
    refused(R"({"from":"08:00","days":["mon"]})", "\"to\" is missing");
    refused(R"({"from":"08:00","to":"21:00"})", "\"days\" is missing");
    refused(R"({"from":"8:00","to":"21:00","days":["mon"]})", "\"from\"");
    refused(R"({"from":"08:00","to":"24:00","days":["mon"]})", "\"to\"");
    refused(R"({"from":"08:60","to":"21:00","days":["mon"]})", "08:60");
    refused(R"({"from":800,"to":"21:00","days":["mon"]})", "800");
    refused(R"({"from":"08:00","to":"21:00","days":[]})", "non-empty array");
    refused(R"({"from":"08:00","to":"21:00","days":"mon"})", "non-empty array");
    refused(R"({"from":"08:00","to":"21:00","days":["monday"]})", "\"monday\"");
    refused(R"({"from":"08:00","to":"21:00","days":["mon","mon"]})", "listed twice");
}
