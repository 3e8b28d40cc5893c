#include "storage/token_hash.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <charconv>
#include <stdexcept>
#include <vector>

namespace callpop::storage {

namespace {

constexpr std::size_t salt_bytes = 16;
constexpr std::size_t hash_bytes = 32;

std::string to_hex(const unsigned char* bytes, std::size_t size) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(size * 2);
    for (std::size_t i = 0; i < size; ++i) {
        hex += digits[bytes[i] >> 4];
        hex += digits[bytes[i] & 0x0f];
    }
    return hex;
}

bool from_hex(std::string_view hex, std::vector<unsigned char>& bytes) {
    if (hex.size() % 2 != 0) return false;
    bytes.clear();
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        unsigned value = 0;
        const auto result = std::from_chars(hex.data() + i, hex.data() + i + 2, value, 16);
        if (result.ec != std::errc() || result.ptr != hex.data() + i + 2) return false;
        bytes.push_back(static_cast<unsigned char>(value));
    }
    return true;
}

std::vector<unsigned char> derive(std::string_view token, const std::vector<unsigned char>& salt,
                                  int iterations, std::size_t size) {
    std::vector<unsigned char> out(size);
    if (PKCS5_PBKDF2_HMAC(token.data(), static_cast<int>(token.size()), salt.data(),
                          static_cast<int>(salt.size()), iterations, EVP_sha256(),
                          static_cast<int>(size), out.data()) != 1)
        throw std::runtime_error("PBKDF2 failed");
    return out;
}

}  // namespace

std::string hash_token(std::string_view token, int iterations) {
    std::vector<unsigned char> salt(salt_bytes);
    if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1)
        throw std::runtime_error("no random bytes for a token salt");
    const auto hash = derive(token, salt, iterations, hash_bytes);
    return "pbkdf2-sha256$" + std::to_string(iterations) + "$" + to_hex(salt.data(), salt.size()) +
           "$" + to_hex(hash.data(), hash.size());
}

bool verify_token(std::string_view token, std::string_view stored_hash) {
    constexpr std::string_view scheme = "pbkdf2-sha256$";
    if (stored_hash.substr(0, scheme.size()) != scheme) return false;
    std::string_view rest = stored_hash.substr(scheme.size());
    const auto first = rest.find('$');
    const auto second = rest.find('$', first == std::string_view::npos ? first : first + 1);
    if (first == std::string_view::npos || second == std::string_view::npos) return false;
    int iterations = 0;
    const auto iterations_text = rest.substr(0, first);
    const auto parsed = std::from_chars(iterations_text.data(),
                                        iterations_text.data() + iterations_text.size(), iterations);
    if (parsed.ec != std::errc() || iterations < 1 || iterations > 10'000'000) return false;
    std::vector<unsigned char> salt;
    std::vector<unsigned char> expected;
    if (!from_hex(rest.substr(first + 1, second - first - 1), salt) ||
        !from_hex(rest.substr(second + 1), expected) || expected.empty())
        return false;
    const auto actual = derive(token, salt, iterations, expected.size());
    return CRYPTO_memcmp(actual.data(), expected.data(), expected.size()) == 0;
}

}  // namespace callpop::storage
