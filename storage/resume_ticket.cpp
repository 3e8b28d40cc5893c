#include "storage/resume_ticket.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <charconv>
#include <stdexcept>

#include "storage/token_hash.hpp"

namespace callpop::storage {

namespace {

constexpr std::size_t mac_bytes = 32;
constexpr std::size_t min_key_bytes = 32;

// Each part with its length in front, so that no two accounts give the same text.
void add_part(std::string& message, std::string_view part) {
    message += std::to_string(part.size());
    message += ':';
    message += part;
    message += '\n';
}

}  // namespace

std::optional<TicketClaim> parse_ticket(std::string_view ticket) {
    const auto mac_dot = ticket.rfind('.');
    if (mac_dot == std::string_view::npos || mac_dot == 0) return std::nullopt;
    const auto expiry_dot = ticket.rfind('.', mac_dot - 1);
    if (expiry_dot == std::string_view::npos || expiry_dot == 0) return std::nullopt;
    TicketClaim claim;
    claim.agent = std::string(ticket.substr(0, expiry_dot));
    const auto expiry = ticket.substr(expiry_dot + 1, mac_dot - expiry_dot - 1);
    const auto parsed =
        std::from_chars(expiry.data(), expiry.data() + expiry.size(), claim.expires_at);
    if (expiry.empty() || parsed.ec != std::errc() || parsed.ptr != expiry.data() + expiry.size() ||
        claim.expires_at <= 0)
        return std::nullopt;
    auto mac = from_hex(ticket.substr(mac_dot + 1));
    if (!mac || mac->size() != mac_bytes) return std::nullopt;
    claim.mac = std::move(*mac);
    return claim;
}

TicketSigner::TicketSigner(std::string key) : key_(std::move(key)) {
    if (key_.size() < min_key_bytes) throw std::invalid_argument("a ticket key needs 32 bytes");
}

std::string TicketSigner::mac(const AgentAccount& account, std::int64_t expires_at) const {
    std::string message = "callpop resume ticket 1\n";
    add_part(message, account.id);
    add_part(message, domain::to_string(account.role));
    add_part(message, account.token_hash);
    add_part(message, std::to_string(expires_at));
    std::string out(EVP_MAX_MD_SIZE, '\0');
    unsigned size = 0;
    if (HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
             reinterpret_cast<const unsigned char*>(message.data()), message.size(),
             reinterpret_cast<unsigned char*>(out.data()), &size) == nullptr ||
        size != mac_bytes)
        throw std::runtime_error("HMAC-SHA256 failed");
    out.resize(size);
    return out;
}

std::string TicketSigner::issue(const AgentAccount& account, std::int64_t expires_at) const {
    return account.id + "." + std::to_string(expires_at) + "." + to_hex(mac(account, expires_at));
}

bool TicketSigner::signed_for(const TicketClaim& claim, const AgentAccount& account) const {
    const auto expected = mac(account, claim.expires_at);
    const bool same_mac = claim.mac.size() == expected.size() &&
                          CRYPTO_memcmp(claim.mac.data(), expected.data(), expected.size()) == 0;
    return same_mac && claim.agent == account.id;
}

}  // namespace callpop::storage
