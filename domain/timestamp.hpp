#pragma once
// Timestamps on the wire and in the store: UTC, ISO 8601, milliseconds, "Z".
#include <chrono>
#include <string>
#include <string_view>

namespace callpop::domain {

std::string format_utc(std::chrono::system_clock::time_point time);
// Reads format_utc's form back (milliseconds optional); throws std::invalid_argument
// naming the text when it is not one.
std::chrono::sys_seconds parse_utc(std::string_view iso);
inline std::string utc_now() { return format_utc(std::chrono::system_clock::now()); }

}  // namespace callpop::domain
