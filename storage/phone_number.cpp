#include "storage/phone_number.hpp"
#include "storage/text.hpp"

#include <algorithm>
#include <array>
#include <iterator>
#include <optional>
#include <stdexcept>

#include <phonenumbers/phonenumberutil.h>

namespace callpop::storage {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Whether the digits of `text`, whatever is between them, start with `prefix`.
bool starts_with_digits(std::string_view text, std::string_view prefix) {
    std::size_t matched = 0;
    for (const char c : text) {
        if (matched == prefix.size()) break;
        if (!is_digit(c)) continue;
        if (c != prefix[matched]) return false;
        ++matched;
    }
    return matched == prefix.size();
}

// libphonenumber spends about 30 µs a number in ICU regular expressions: too slow for an
// import of a million customers or for 50,000 events a second. For a US or Canadian site,
// a plain North American number (digits, blanks, "-", ".", brackets, maybe "+1") is turned
// into E.164 here, exactly as libphonenumber would (tests/unit/test_storage_store.cpp
// compares the two), without allocating beyond the result; anything else still goes to
// libphonenumber.
std::optional<std::string> plain_north_american_number(std::string_view text) {
    const bool plus = !text.empty() && text.front() == '+';
    if (plus) text.remove_prefix(1);
    constexpr std::size_t max_digits = 11;  // 1, then the area code and the number
    std::array<char, max_digits> digits{};
    std::size_t count = 0;
    for (const char c : text) {
        if (is_digit(c)) {
            if (count == max_digits) return std::nullopt;
            digits[count++] = c;
        } else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')') {
            return std::nullopt;
        }
    }
    // Area codes start with 2 to 9; a leading 1 is the country code (or the trunk prefix).
    const auto is_area_code_start = [](char c) { return c >= '2' && c <= '9'; };
    if (!plus && count == 10 && is_area_code_start(digits[0]))
        return std::string("+1").append(digits.data(), count);
    if (count == 11 && digits[0] == '1' && is_area_code_start(digits[1]))
        return std::string("+").append(digits.data(), count);
    return std::nullopt;
}

}  // namespace

PhoneNormalizer::PhoneNormalizer(std::string region, std::vector<std::string> international_prefixes)
    : region_(std::move(region)),
      international_prefixes_(std::move(international_prefixes)),
      north_american_(region_ == "US" || region_ == "CA") {
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
    const auto digit_count =
        static_cast<std::size_t>(std::count_if(given.begin(), given.end(), is_digit));
    // Internal extensions ("1001") are not phone numbers; keep them as given.
    if (digit_count < 7) return std::string(given);
    std::string with_plus;  // the number with its international prefix turned into "+"
    // An international prefix is only recognised on a number written as plain digits
    // (spaces, dashes, dots and brackets allowed), never on one that already starts with "+".
    if (!given.empty() && given.front() != '+') {
        for (const auto& prefix : international_prefixes_) {
            if (!prefix.empty() && digit_count > prefix.size() + 4 &&
                starts_with_digits(given, prefix)) {
                with_plus = "+";
                std::copy_if(given.begin(), given.end(), std::back_inserter(with_plus),
                             is_digit);
                with_plus.erase(1, prefix.size());
                break;
            }
        }
    }
    const std::string_view candidate = with_plus.empty() ? given : std::string_view(with_plus);
    if (north_american_) {
        if (auto fast = plain_north_american_number(candidate)) return std::move(*fast);
    }
    const auto* util = PhoneNumberUtil::GetInstance();
    PhoneNumber number;
    if (util->Parse(std::string(candidate), region_, &number) != PhoneNumberUtil::NO_PARSING_ERROR)
        return std::string(given);
    std::string formatted;
    util->Format(number, PhoneNumberUtil::E164, &formatted);
    return formatted;
}

}  // namespace callpop::storage
