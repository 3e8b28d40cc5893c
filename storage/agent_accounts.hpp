#pragma once
// Who may log in: the daemon checks logins, `callpop agent` and demo data write accounts.
#include <optional>
#include <string>
#include <string_view>

#include "domain/states.hpp"

namespace callpop::storage {

struct AgentAccount {
    std::string id;
    std::string name;
    domain::AgentRole role = domain::AgentRole::agent;
    std::string token_hash;  // see storage/token_hash.hpp
};

class AgentAccounts {
public:
    virtual ~AgentAccounts() = default;

    virtual std::optional<AgentAccount> agent(std::string_view id) = 0;
    virtual void put_agent(const AgentAccount& account) = 0;
};

}  // namespace callpop::storage
