#pragma once
// Agent tokens are stored as "pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>".
// Verifying is deliberately slow: run it off the event loop.
#include <string>
#include <string_view>

namespace callpop::storage {

inline constexpr int default_token_iterations = 20000;

std::string hash_token(std::string_view token, int iterations = default_token_iterations);
// False for a wrong token or a malformed stored hash.
bool verify_token(std::string_view token, std::string_view stored_hash);

}  // namespace callpop::storage
