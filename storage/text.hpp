#pragma once
// Small text helpers shared inside storage/.
#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

namespace callpop::storage {

inline bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Without the blanks around it. (Compared by hand: find_first_not_of runs memchr over the
// blanks for every character, and an import trims every field.)
inline std::string_view trim(std::string_view text) {
    while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
    return text;
}

inline std::string lowercase(std::string_view text) {
    std::string result(text);
    std::transform(result.begin(), result.end(), result.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return result;
}

}  // namespace callpop::storage
