// Agent logins as the store keeps them: token hashes of both kinds.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "storage/token_hash.hpp"
#include "storage_test_support.hpp"

using namespace callpop;
using domain::AgentRole;
using storage::AgentAccount;
using test::TempDir;

// ---- tokens ------------------------------------------------------------------------------

TEST_CASE("tokens: a generated token is cpt_ and 43 base64url characters, new every time") {
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        const auto token = storage::generate_token();
        CHECK(token.size() == 47);
        CHECK(token.substr(0, 4) == "cpt_");
        CHECK(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                      "0123456789-_",
                                      4) == std::string::npos);
        CHECK(storage::looks_generated(token));
        seen.insert(token);
    }
    CHECK(seen.size() == 200);
    CHECK_FALSE(storage::looks_generated("demo-1001"));
    CHECK_FALSE(storage::looks_generated("cpt_short"));
    CHECK_FALSE(storage::looks_generated("cpt_" + std::string(43, '+')));
    CHECK_FALSE(storage::looks_generated("xpt_" + std::string(43, 'A')));
    CHECK(storage::looks_generated("cpt_" + std::string(43, 'A')));
}

TEST_CASE("tokens: a generated token's hash is salted SHA-256, and verifies only that token") {
    const auto token = storage::generate_token();
    const auto hash = storage::hash_generated_token(token);
    // "sha256$" + 16 bytes of salt + "$" + 32 bytes of hash, in hex.
    CHECK(hash.substr(0, 7) == "sha256$");
    CHECK(hash.size() == 7 + 32 + 1 + 64);
    CHECK_FALSE(storage::is_slow_hash(hash));
    CHECK(storage::verify_token(token, hash));
    CHECK_FALSE(storage::verify_token(storage::generate_token(), hash));
    CHECK_FALSE(storage::verify_token(token.substr(0, 46), hash));
    CHECK_FALSE(storage::verify_token("", hash));
    CHECK(storage::hash_generated_token(token) != hash);  // salted
    // The form, checked outside callpop: SHA-256 of salt then token (Python's hashlib).
    CHECK(storage::verify_token("cpt_" + std::string(43, 'A'),
                                "sha256$000102030405060708090a0b0c0d0e0f$"
                                "d5f8be6d1a95eb046cd7dbc0be5b1b08bccda3eefcc4625057c386bb7351b964"));
    // Broken stored hashes verify nothing.
    CHECK_FALSE(storage::verify_token(token, "sha256$"));
    CHECK_FALSE(storage::verify_token(token, "sha256$00"));
    CHECK_FALSE(storage::verify_token(token, hash.substr(0, hash.size() - 2)));
    CHECK_FALSE(storage::verify_token(token, "sha256$zz" + hash.substr(9)));
    std::string corrupted = hash;
    corrupted.back() = corrupted.back() == '0' ? '1' : '0';
    CHECK_FALSE(storage::verify_token(token, corrupted));
}

TEST_CASE("tokens: a chosen token keeps PBKDF2, and hashes stored before still verify") {
    const auto hash = storage::hash_token("demo-1001", 1000);
    CHECK(hash.substr(0, 19) == "pbkdf2-sha256$1000$");
    CHECK(storage::is_slow_hash(hash));
    CHECK(storage::verify_token("demo-1001", hash));
    CHECK_FALSE(storage::verify_token("demo-1002", hash));
    // A hash in the stored form, made outside callpop (Python's hashlib.pbkdf2_hmac:
    // "secret", salt 00..0f, 1000 iterations).
    const std::string stored_before =
        "pbkdf2-sha256$1000$000102030405060708090a0b0c0d0e0f$"
        "4efb2bbb6d2eb58ea8deaed54417ae2fd87fd50a8a8568709363da60d4560606";
    CHECK(storage::verify_token("secret", stored_before));
    CHECK_FALSE(storage::verify_token("Secret", stored_before));
    CHECK_FALSE(storage::verify_token("demo-1001", "pbkdf2-sha256$1000x$00$00"));
    CHECK_FALSE(storage::verify_token("demo-1001", "sha256-pbkdf2$1000$00$00"));
}

TEST_CASE("tokens: hex and random bytes") {
    CHECK(storage::to_hex(std::string("\x00\x01\xab\xff", 4)) == "0001abff");
    CHECK(storage::from_hex("0001abFF") == std::string("\x00\x01\xab\xff", 4));
    CHECK_FALSE(storage::from_hex("abc"));
    CHECK_FALSE(storage::from_hex("zz"));
    CHECK(storage::from_hex("") == std::string());
    CHECK(storage::random_bytes(32).size() == 32);
    CHECK(storage::random_bytes(32) != storage::random_bytes(32));
}

