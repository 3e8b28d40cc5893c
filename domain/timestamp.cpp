#include "domain/timestamp.hpp"

#include <ctime>
#include <cstdio>
#include <stdexcept>

namespace callpop::domain {

std::string format_utc(std::chrono::system_clock::time_point time) {
    using namespace std::chrono;
    const auto since_epoch = time.time_since_epoch();
    const auto seconds = floor<std::chrono::seconds>(since_epoch);
    const auto millis = duration_cast<milliseconds>(since_epoch - seconds).count();
    const std::time_t as_time_t = seconds.count();
    std::tm parts{};
    gmtime_r(&as_time_t, &parts);
    char text[96];  // room for any int the compiler can imagine in each field
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900,
                  parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                  static_cast<int>(millis));
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
