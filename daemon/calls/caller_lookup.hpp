#pragma once
// Finds who is calling: an asset serial or account number the IVR collected wins over the
// caller's number; a number shared by several customers gives all of them, best first.
#include <optional>
#include <string>
#include <unordered_map>

#include "config/config.hpp"
#include "protocol/agent_message.hpp"
#include "storage/customer_directory.hpp"
#include "storage/phone_number.hpp"

namespace callpop::daemon {

struct TrackedCall;

class CallerLookup {
public:
    CallerLookup(storage::CustomerDirectory& directory, const config::Config& config);

    // Fills the call's caller_number, line_name and customer fields, and returns the pop
    // (seq still to set).
    protocol::Pop look_up(TrackedCall& call);

    std::string line_name(const std::string& dialed) const;
    const storage::PhoneNormalizer& normalizer() const { return normalizer_; }

private:
    std::optional<storage::Customer> customer_from_data(const TrackedCall& call,
                                                        std::string& match);

    storage::CustomerDirectory& directory_;
    const config::Config& config_;
    storage::PhoneNormalizer normalizer_;
    std::unordered_map<std::string, std::string> line_names_;  // normalized number → name
};

}  // namespace callpop::daemon
