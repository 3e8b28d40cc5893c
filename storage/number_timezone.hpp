#pragma once
// The IANA time zone of a phone number: its region's zone when the tz database's zone1970.tab
// gives the region exactly one, else libphonenumber's prefix → zone data
// (storage/number_timezones.inc, longest prefix of the E.164 digits).
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

namespace callpop::storage {

struct NumberZone {
    std::string zone;    // IANA name; empty when the number is not tied to one zone
    std::string reason;  // why zone is empty ("+1 800 is not tied to one time zone"); also
                         // set, with a zone, when zone1970.tab could not be read
};

class NumberTimezones {
public:
    // Reads zone1970 here, once. When it cannot be read only the prefix table is used, and
    // every answer's reason says so.
    explicit NumberTimezones(
        const std::filesystem::path& zone1970 = "/usr/share/zoneinfo/zone1970.tab");

    // e164: "+12125550100" (other formatting libphonenumber parses with a "+" is accepted).
    NumberZone zone_for(std::string_view e164) const;

private:
    std::map<std::string, std::string, std::less<>> single_zone_regions_;  // "DK" → zone
    std::string zone1970_problem_;  // empty when zone1970.tab was read
};

// The process-wide instance on the system's zone1970.tab, loaded on first use (thread-safe).
const NumberTimezones& number_timezones();

}  // namespace callpop::storage
