#include "protocol/timestamp.hpp"

#include <ctime>
#include <cstdio>

namespace callpop::protocol {

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

}  // namespace callpop::protocol
