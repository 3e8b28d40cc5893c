#include "storage/phone_number.hpp"
#include "storage/text.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <stdexcept>

#include <phonenumbers/phonenumberutil.h>

namespace callpop::storage {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

namespace {

// libphonenumber spends about 30 µs a number in ICU regular expressions: too slow for an
// import of a million customers or for 50,000 events a second. For a US or Canadian site,
// a plain North American number (digits, blanks, "-", ".", brackets, maybe "+1") is turned
// into E.164 here, exactly as libphonenumber would (tests/unit/test_storage_store.cpp
// compares the two); anything else still goes to libphonenumber.
std::optional<std::string> plain_north_american_number(std::string_view region,
                                                       std::string_view text) {
    if (region != "US" && region != "CA") return std::nullopt;
    const bool plus = !text.empty() && text.front() == '+';
    std::string digits;
    for (char c : text.substr(plus ? 1 : 0)) {
        if (std::isdigit(static_cast<unsigned char>(c)))
            digits += c;
        else if (std::string_view(" -.()").find(c) == std::string_view::npos)
            return std::nullopt;
    }
    // Area codes start with 2 to 9; a leading 1 is the country code (or the trunk prefix).
    const auto is_area_code_start = [](char c) { return c >= '2' && c <= '9'; };
    if (!plus && digits.size() == 10 && is_area_code_start(digits[0])) return "+1" + digits;
    if (digits.size() == 11 && digits[0] == '1' && is_area_code_start(digits[1]))
        return "+" + digits;
    return std::nullopt;
}

}  // namespace

PhoneNormalizer::PhoneNormalizer(std::string region, std::vector<std::string> international_prefixes)
    : region_(std::move(region)), international_prefixes_(std::move(international_prefixes)) {
    const auto* util = PhoneNumberUtil::GetInstance();
    if (util->GetCountryCodeForRegion(region_) == 0)
        throw std::invalid_argument("unknown phone region \"" + region_ + "\"");
    // Longest prefix first, so "011" is tried before "0".
    std::sort(international_prefixes_.begin(), international_prefixes_.end(),
              [](const auto& a, const auto& b) { return a.size() > b.size(); });
}

bool PhoneNormalizer::is_withheld(std::string_view raw) {
    const std::string text = lowercase(trim(raw));
    return text.empty() || text == "anonymous" || text == "withheld" || text == "private" ||
           text == "restricted" || text == "unavailable" || text == "unknown" ||
           text == "<unknown>";
}

std::string PhoneNormalizer::normalize(std::string_view raw) const {
    const std::string_view given = trim(raw);
    std::string digits_only;
    for (char c : given) {
        if (std::isdigit(static_cast<unsigned char>(c))) digits_only += c;
    }
    // Internal extensions ("1001") are not phone numbers; keep them as given.
    if (digits_only.size() < 7) return std::string(given);
    std::string candidate(given);
    // An international prefix is only recognised on a number written as plain digits
    // (spaces, dashes, dots and brackets allowed), never on one that already starts with "+".
    if (!given.empty() && given.front() != '+') {
        for (const auto& prefix : international_prefixes_) {
            if (!prefix.empty() && digits_only.size() > prefix.size() + 4 &&
                digits_only.compare(0, prefix.size(), prefix) == 0) {
                candidate = "+" + digits_only.substr(prefix.size());
                break;
            }
        }
    }
    if (auto fast = plain_north_american_number(region_, candidate)) return std::move(*fast);
    const auto* util = PhoneNumberUtil::GetInstance();
    PhoneNumber number;
    if (util->Parse(candidate, region_, &number) != PhoneNumberUtil::NO_PARSING_ERROR)
        return std::string(given);
    std::string formatted;
    util->Format(number, PhoneNumberUtil::E164, &formatted);
    return formatted;
}

}  // namespace callpop::storage
