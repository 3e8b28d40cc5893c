#pragma once
// Agent tokens, and how they are stored. Two kinds of stored hash:
//   "sha256$<salt hex>$<hash hex>"
//       a token callpop generated (generate_token(): 256 bits from OpenSSL's CSPRNG). Nobody
//       can guess it, so one salted SHA-256 is enough: checking costs about a microsecond.
//   "pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>"
//       a token a person chose (`callpop agent --token`). Slow on purpose (~6.6 ms at the
//       default iterations), since people choose guessable secrets: never check it on the
//       event loop.
// Both verify with verify_token(), which compares in constant time.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace callpop::storage {

inline constexpr int default_token_iterations = 20000;

// Generated tokens are "cpt_" and 43 base64url characters (32 random bytes): the prefix
// lets people and secret scanners tell one when they see it.
inline constexpr std::string_view generated_token_prefix = "cpt_";
std::string generate_token();
// True when `token` has the shape of a generated token (not whether it is a real one).
bool looks_generated(std::string_view token);

// A generated token's hash: salted SHA-256.
std::string hash_generated_token(std::string_view token);
// A chosen token's hash: PBKDF2-HMAC-SHA256.
std::string hash_token(std::string_view token, int iterations = default_token_iterations);
// False for a wrong token or a malformed stored hash.
bool verify_token(std::string_view token, std::string_view stored_hash);
// True when checking against this stored hash is the slow kind (PBKDF2).
bool is_slow_hash(std::string_view stored_hash);

// `count` bytes from OpenSSL's CSPRNG; throws when it has none to give.
std::string random_bytes(std::size_t count);
std::string to_hex(std::string_view bytes);
// nullopt when `hex` is not an even number of hex digits.
std::optional<std::string> from_hex(std::string_view hex);

}  // namespace callpop::storage
