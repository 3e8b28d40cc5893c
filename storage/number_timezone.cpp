#include "storage/number_timezone.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <phonenumbers/phonenumberutil.h>

namespace callpop::storage {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

namespace {

struct PrefixZones {
    std::string_view prefix;  // E.164 digits, country code first
    std::string_view zones;   // IANA names separated by one blank
};

constexpr PrefixZones prefix_table[] = {
#include "storage/number_timezones.inc"
};

static_assert(std::is_sorted(std::begin(prefix_table), std::end(prefix_table),
                             [](const PrefixZones& a, const PrefixZones& b) {
                                 return a.prefix < b.prefix;
                             }),
              "storage/number_timezones.inc must be sorted by prefix");

constexpr std::size_t longest_prefix = [] {
    std::size_t longest = 0;
    for (const auto& row : prefix_table) longest = std::max(longest, row.prefix.size());
    return longest;
}();

// The row for the longest prefix of digits, or nullptr.
const PrefixZones* find_prefix(std::string_view digits) {
    for (std::size_t length = std::min(longest_prefix, digits.size()); length > 0; --length) {
        const std::string_view prefix = digits.substr(0, length);
        const auto* row = std::lower_bound(
            std::begin(prefix_table), std::end(prefix_table), prefix,
            [](const PrefixZones& r, std::string_view p) { return r.prefix < p; });
        if (row != std::end(prefix_table) && row->prefix == prefix) return row;
    }
    return nullptr;
}

// "+1 800" for +18005551000: the country code and, when libphonenumber knows it, the
// national destination code (area code).
std::string number_head(const PhoneNumberUtil& util, const PhoneNumber& number) {
    std::string head = "+" + std::to_string(number.country_code());
    std::string national;
    util.GetNationalSignificantNumber(number, &national);
    const int ndc = util.GetLengthOfNationalDestinationCode(number);
    if (ndc > 0 && static_cast<std::size_t>(ndc) <= national.size())
        head += " " + national.substr(0, static_cast<std::size_t>(ndc));
    return head;
}

}  // namespace

NumberTimezones::NumberTimezones(const std::filesystem::path& zone1970) {
    std::ifstream in(zone1970);
    if (!in) {
        zone1970_problem_ = "cannot read " + zone1970.string();
        return;
    }
    // Rows: country codes (comma list) TAB coordinates TAB zone [TAB comments].
    std::map<std::string, std::string, std::less<>> zone_of;
    std::map<std::string, int, std::less<>> rows_of;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line.front() == '#') continue;
        std::istringstream fields(line);
        std::string codes, coordinates, zone;
        if (!std::getline(fields, codes, '\t') || !std::getline(fields, coordinates, '\t') ||
            !std::getline(fields, zone, '\t') || zone.empty())
            continue;
        std::istringstream code_list(codes);
        std::string code;
        while (std::getline(code_list, code, ',')) {
            if (code.empty()) continue;
            zone_of[code] = zone;
            ++rows_of[code];
        }
    }
    if (in.bad()) {
        zone1970_problem_ = "cannot read " + zone1970.string();
        return;
    }
    for (auto& [code, zone] : zone_of) {
        if (rows_of[code] == 1) single_zone_regions_.emplace(code, std::move(zone));
    }
    if (single_zone_regions_.empty())
        zone1970_problem_ = zone1970.string() + " names no zones";
}

NumberZone NumberTimezones::zone_for(std::string_view e164) const {
    const auto with_table_problem = [this](std::string reason) {
        if (zone1970_problem_.empty()) return reason;
        const std::string note = "prefix table only: " + zone1970_problem_;
        return reason.empty() ? note : reason + " (" + note + ")";
    };
    if (e164.empty()) return {"", with_table_problem("no phone number")};
    const auto& util = *PhoneNumberUtil::GetInstance();
    PhoneNumber number;
    // Region "ZZ": only numbers with a "+" and a country code parse.
    if (util.Parse(std::string(e164), "ZZ", &number) != PhoneNumberUtil::NO_PARSING_ERROR)
        return {"", with_table_problem("\"" + std::string(e164) +
                                       "\" is not an international phone number")};

    if (zone1970_problem_.empty()) {
        std::string region;
        util.GetRegionCodeForNumber(number, &region);
        if (const auto found = single_zone_regions_.find(region);
            found != single_zone_regions_.end())
            return {found->second, ""};
    }

    std::string formatted;
    util.Format(number, PhoneNumberUtil::E164, &formatted);
    const std::string_view digits = std::string_view(formatted).substr(1);
    const PrefixZones* row = find_prefix(digits);
    if (row == nullptr)
        return {"", with_table_problem(number_head(util, number) +
                                       " has no time zone in libphonenumber's data")};
    if (row->zones.find(' ') != std::string_view::npos) {
        const auto zones = std::count(row->zones.begin(), row->zones.end(), ' ') + 1;
        return {"", with_table_problem(number_head(util, number) +
                                       " is not tied to one time zone (+" +
                                       std::string(row->prefix) + " spans " +
                                       std::to_string(zones) + " zones)")};
    }
    return {std::string(row->zones), with_table_problem("")};
}

const NumberTimezones& number_timezones() {
    static const NumberTimezones instance;
    return instance;
}

}  // namespace callpop::storage
