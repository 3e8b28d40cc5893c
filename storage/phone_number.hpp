#pragma once
// Phone numbers to E.164 with libphonenumber, the same way on import and on every event.
#include <string>
#include <string_view>
#include <vector>

namespace callpop::storage {

class PhoneNormalizer {
public:
    // region: ISO 3166 alpha-2 ("US"); international_prefixes: leading digits that mean "+"
    // whatever the region ("011", "00"). Throws std::invalid_argument for an unknown region.
    PhoneNormalizer(std::string region, std::vector<std::string> international_prefixes);

    // E.164 ("+15550102000") when libphonenumber can parse it, valid or not; otherwise the
    // input with surrounding blanks removed, so it can still be matched as given.
    std::string normalize(std::string_view raw) const;

    // Anonymous, withheld, private, restricted, unavailable or empty.
    static bool is_withheld(std::string_view raw);

private:
    std::string region_;
    std::vector<std::string> international_prefixes_;
    bool north_american_;  // US or CA: plain numbers take a fast path
};

}  // namespace callpop::storage
