#pragma once
// Who may log in: the daemon checks logins, `callpop agent` and demo data write accounts.
// The key that signs resume tickets lives here too.
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
    // The key that signs resume tickets (storage/resume_ticket.hpp): 32 random bytes, made
    // and kept in the store the first time it is asked for, the same for every connection
    // and every process on this store from then on.
    virtual std::string ticket_key() = 0;
};

}  // namespace callpop::storage
