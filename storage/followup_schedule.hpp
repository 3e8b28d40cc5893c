#pragma once
// When follow-up calls fall due: the customer's time zone, the policy's delay, and the
// calling window on the customer's local clock. Pure functions of their inputs (the clock
// is passed in), on the system tz database through Howard Hinnant's date library.
//
// A window (config::CallingWindow) opens on each enabled day at `start` local time and
// closes at `end`, on the next day when end <= start; the part after midnight belongs to the
// day it opened on. Opening and closing are turned into instants once: a local time that
// does not exist (spring forward) means the first instant after the gap, a repeated one
// (fall back) the earlier of the two. A window is the instants [opening, closing).
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "config/config.hpp"

namespace date {
class time_zone;
}

namespace callpop::storage {

using Instant = std::chrono::sys_seconds;
inline Instant now_seconds() {
    return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

// Where a customer's local clock is read, and why.
struct ZoneChoice {
    std::string zone;    // IANA name
    std::string source;  // customer, number, site
    // Why the site's zone was used ("no customer time zone; +1 800 is not tied to one time
    // zone (+1 spans 42 zones)"); empty for the customer's or the number's zone.
    std::string note;
};

// Used on one thread (it caches located zones). Every function taking a zone throws
// std::runtime_error naming it when it is not in the tz database.
class FollowupSchedule {
public:
    // Throws std::runtime_error naming the zone when the site's zone is not in the tz database.
    explicit FollowupSchedule(const config::Site& site);

    // The customer's own zone when it names a real zone, else the number's (e164, see
    // storage/number_timezone.hpp), else the site's.
    ZoneChoice zone_for(std::string_view customer_zone, std::string_view e164) const;
    // The first attempt: next_in_window(now + delay); with next_morning, the window's opening
    // on the first window day after now's local date. Throws std::invalid_argument when the
    // window has no day.
    Instant first_due(const config::FollowupPolicy& policy, Instant now,
                      std::string_view zone) const;
    // The first moment at or after `from` inside the window: `from` itself or an opening.
    // Throws std::invalid_argument when the window has no day.
    Instant next_in_window(const config::CallingWindow& window, Instant from,
                           std::string_view zone) const;
    bool in_window(const config::CallingWindow& window, Instant at, std::string_view zone) const;

private:
    const date::time_zone& locate(std::string_view zone) const;  // throws
    const date::time_zone* find(std::string_view zone) const;    // nullptr when unknown

    std::string site_zone_;
    mutable std::map<std::string, const date::time_zone*, std::less<>> zones_;
};

// "2026-11-29T10:00:00-05:00": the instant on the zone's clock, with its UTC offset
// ("+00:00" for UTC). Throws std::runtime_error for a zone not in the tz database.
std::string format_local(Instant at, std::string_view zone);

// The window as stored with each follow-up: {"from":"08:00","to":"21:00","days":["mon",..]}
// (days Monday first, the enabled ones only). window_from_json throws std::invalid_argument
// naming what is wrong; it wants at least one day.
nlohmann::json window_to_json(const config::CallingWindow& window);
config::CallingWindow window_from_json(const nlohmann::json& json);

}  // namespace callpop::storage
