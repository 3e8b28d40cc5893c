#pragma once
// Timestamps on the wire and in the store: UTC, ISO 8601, milliseconds, "Z".
#include <chrono>
#include <string>

namespace callpop::protocol {

std::string format_utc(std::chrono::system_clock::time_point time);
inline std::string utc_now() { return format_utc(std::chrono::system_clock::now()); }

}  // namespace callpop::protocol
