#pragma once
// Who may log in: the daemon checks logins, `callpop agent` and demo data write accounts.
// The key that signs resume tickets lives here too.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/states.hpp"

namespace callpop::storage {

struct AgentAccount {
    std::string id;
    std::string name;
    domain::AgentRole role = domain::AgentRole::agent;
    std::string token_hash;  // see storage/token_hash.hpp
    // The extensions the account may log in at; empty: any.
    std::vector<std::string> extensions = {};
};

class AgentAccounts {
public:
    virtual ~AgentAccounts() = default;

    virtual std::optional<AgentAccount> agent(std::string_view id) = 0;
    virtual void put_agent(const AgentAccount& account) = 0;
    // False when there was no such account.
    virtual bool remove_agent(std::string_view id) = 0;
    // Every account, by id.
    virtual std::vector<AgentAccount> agents() = 0;
    // Goes up with every change to the accounts, by any process: a daemon that sees it move
    // reads them again and disconnects sessions whose account went or changed.
    virtual std::int64_t accounts_revision() = 0;
    // The key that signs resume tickets (storage/resume_ticket.hpp): 32 random bytes, made
    // and kept in the store the first time it is asked for, the same for every connection
    // and every process on this store from then on.
    virtual std::string ticket_key() = 0;
};

}  // namespace callpop::storage
