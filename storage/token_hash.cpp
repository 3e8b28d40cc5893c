#include "storage/token_hash.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <charconv>
#include <memory>
#include <stdexcept>

namespace callpop::storage {

namespace {

constexpr std::size_t salt_bytes = 16;
constexpr std::size_t hash_bytes = 32;
constexpr std::size_t generated_token_bytes = 32;
constexpr std::size_t generated_token_chars = 43;  // 32 bytes in base64url, no padding

constexpr std::string_view pbkdf2_scheme = "pbkdf2-sha256$";
constexpr std::string_view sha256_scheme = "sha256$";

constexpr std::string_view base64url_digits =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64url(std::string_view bytes) {
    std::string text;
    text.reserve((bytes.size() * 4 + 2) / 3);
    std::size_t i = 0;
    auto byte = [&](std::size_t at) { return static_cast<unsigned char>(bytes[at]); };
    for (; i + 3 <= bytes.size(); i += 3) {
        const unsigned group = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
        for (int shift = 18; shift >= 0; shift -= 6) text += base64url_digits[(group >> shift) & 63];
    }
    if (bytes.size() - i == 1) {
        const unsigned group = byte(i) << 16;
        text += base64url_digits[(group >> 18) & 63];
        text += base64url_digits[(group >> 12) & 63];
    } else if (bytes.size() - i == 2) {
        const unsigned group = (byte(i) << 16) | (byte(i + 1) << 8);
        text += base64url_digits[(group >> 18) & 63];
        text += base64url_digits[(group >> 12) & 63];
        text += base64url_digits[(group >> 6) & 63];
    }
    return text;
}

std::string derive(std::string_view token, std::string_view salt, int iterations,
                   std::size_t size) {
    std::string out(size, '\0');
    if (PKCS5_PBKDF2_HMAC(token.data(), static_cast<int>(token.size()),
                          reinterpret_cast<const unsigned char*>(salt.data()),
                          static_cast<int>(salt.size()), iterations, EVP_sha256(),
                          static_cast<int>(size), reinterpret_cast<unsigned char*>(out.data())) != 1)
        throw std::runtime_error("PBKDF2 failed");
    return out;
}

std::string salted_sha256(std::string_view salt, std::string_view token) {
    const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                          &EVP_MD_CTX_free);
    std::string out(hash_bytes, '\0');
    unsigned size = 0;
    if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1 ||
        EVP_DigestUpdate(context.get(), salt.data(), salt.size()) != 1 ||
        EVP_DigestUpdate(context.get(), token.data(), token.size()) != 1 ||
        EVP_DigestFinal_ex(context.get(), reinterpret_cast<unsigned char*>(out.data()), &size) != 1 ||
        size != hash_bytes)
        throw std::runtime_error("SHA-256 failed");
    return out;
}

bool same_bytes(std::string_view a, std::string_view b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// "<salt hex>$<hash hex>" into its bytes; false when malformed.
bool split_salt_and_hash(std::string_view text, std::string& salt, std::string& hash) {
    const auto dollar = text.find('$');
    if (dollar == std::string_view::npos) return false;
    auto parsed_salt = from_hex(text.substr(0, dollar));
    auto parsed_hash = from_hex(text.substr(dollar + 1));
    if (!parsed_salt || !parsed_hash || parsed_hash->empty()) return false;
    salt = std::move(*parsed_salt);
    hash = std::move(*parsed_hash);
    return true;
}

bool verify_pbkdf2(std::string_view token, std::string_view rest) {
    const auto first = rest.find('$');
    if (first == std::string_view::npos) return false;
    int iterations = 0;
    const auto iterations_text = rest.substr(0, first);
    const auto parsed = std::from_chars(iterations_text.data(),
                                        iterations_text.data() + iterations_text.size(), iterations);
    if (parsed.ec != std::errc() || parsed.ptr != iterations_text.data() + iterations_text.size() ||
        iterations < 1 || iterations > 10'000'000)
        return false;
    std::string salt;
    std::string expected;
    if (!split_salt_and_hash(rest.substr(first + 1), salt, expected)) return false;
    return same_bytes(derive(token, salt, iterations, expected.size()), expected);
}

bool verify_sha256(std::string_view token, std::string_view rest) {
    std::string salt;
    std::string expected;
    if (!split_salt_and_hash(rest, salt, expected) || expected.size() != hash_bytes) return false;
    return same_bytes(salted_sha256(salt, token), expected);
}

}  // namespace

std::string random_bytes(std::size_t count) {
    std::string bytes(count, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(count)) != 1)
        throw std::runtime_error("no random bytes from OpenSSL");
    return bytes;
}

std::string to_hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(bytes.size() * 2);
    for (const char c : bytes) {
        const auto byte = static_cast<unsigned char>(c);
        hex += digits[byte >> 4];
        hex += digits[byte & 0x0f];
    }
    return hex;
}

std::optional<std::string> from_hex(std::string_view hex) {
    if (hex.size() % 2 != 0) return std::nullopt;
    std::string bytes;
    bytes.reserve(hex.size() / 2);
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        unsigned value = 0;
        const auto result = std::from_chars(hex.data() + i, hex.data() + i + 2, value, 16);
        if (result.ec != std::errc() || result.ptr != hex.data() + i + 2) return std::nullopt;
        bytes += static_cast<char>(value);
    }
    return bytes;
}

std::string generate_token() {
    return std::string(generated_token_prefix) + base64url(random_bytes(generated_token_bytes));
}

bool looks_generated(std::string_view token) {
    if (token.substr(0, generated_token_prefix.size()) != generated_token_prefix) return false;
    token.remove_prefix(generated_token_prefix.size());
    return token.size() == generated_token_chars &&
           token.find_first_not_of(base64url_digits) == std::string_view::npos;
}

std::string hash_generated_token(std::string_view token) {
    const auto salt = random_bytes(salt_bytes);
    return std::string(sha256_scheme) + to_hex(salt) + "$" + to_hex(salted_sha256(salt, token));
}

std::string hash_token(std::string_view token, int iterations) {
    const auto salt = random_bytes(salt_bytes);
    return std::string(pbkdf2_scheme) + std::to_string(iterations) + "$" + to_hex(salt) + "$" +
           to_hex(derive(token, salt, iterations, hash_bytes));
}

bool verify_token(std::string_view token, std::string_view stored_hash) {
    if (stored_hash.starts_with(sha256_scheme))
        return verify_sha256(token, stored_hash.substr(sha256_scheme.size()));
    if (stored_hash.starts_with(pbkdf2_scheme))
        return verify_pbkdf2(token, stored_hash.substr(pbkdf2_scheme.size()));
    return false;
}

bool is_slow_hash(std::string_view stored_hash) { return stored_hash.starts_with(pbkdf2_scheme); }

}  // namespace callpop::storage
