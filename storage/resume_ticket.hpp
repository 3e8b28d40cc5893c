#pragma once
// Resume tickets: what a login hands out so that a reconnect (after a network blip or a
// daemon restart) need not present the agent's token again, nor cost a slow hash.
//
//   "<agent id>.<expires: unix seconds>.<HMAC-SHA256, hex>"
//
// The HMAC covers the agent id, its role, its stored token hash and the expiry, keyed by the
// store's ticket key (AgentAccounts::ticket_key(): 32 random bytes, the same for every
// daemon on that store, so tickets outlive a restart). A ticket is therefore good only
// while the agent exists with the same role and the same token: `callpop agent ID` with a
// new token, or a new role, ends every ticket the agent holds. Checking one costs two
// HMACs, a few microseconds.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "storage/agent_accounts.hpp"

namespace callpop::storage {

// A ticket as presented, split into its parts; nothing about it is checked yet.
struct TicketClaim {
    std::string agent;
    std::int64_t expires_at = 0;  // unix seconds
    std::string mac;              // the raw bytes of the HMAC
};
// nullopt when the text does not have the shape of a ticket.
std::optional<TicketClaim> parse_ticket(std::string_view ticket);

class TicketSigner {
public:
    // `key`: the raw bytes of the store's ticket key (at least 32).
    explicit TicketSigner(std::string key);

    std::string issue(const AgentAccount& account, std::int64_t expires_at) const;
    // True when the claim names `account` and its MAC is the one issue() gives for it, the
    // MAC compared in constant time. Expiry is the caller's to check.
    bool signed_for(const TicketClaim& claim, const AgentAccount& account) const;

private:
    std::string mac(const AgentAccount& account, std::int64_t expires_at) const;

    std::string key_;
};

}  // namespace callpop::storage
