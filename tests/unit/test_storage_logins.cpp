// Agent logins as the store keeps them: token hashes of both kinds, the ticket key, and
// resume tickets. The SQLite file's own secrets row is checked in
// test_storage_sqlite_logins.cpp.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "storage/resume_ticket.hpp"
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

// ---- accounts and the ticket key ---------------------------------------------------------

TEST_CASE_TEMPLATE("logins: accounts keep either kind of hash, and both verify read back", Backend,
                   CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    const auto generated = storage::generate_token();
    {
        auto store = test::open_test_store<Backend>(dir);
        store->put_agent({"1001", "Alex", AgentRole::agent, storage::hash_generated_token(generated)});
        store->put_agent({"1002", "Sam", AgentRole::supervisor, storage::hash_token("chosen", 1000)});
    }
    auto store = test::open_test_store<Backend>(dir);
    const auto alex = store->agent("1001");
    const auto sam = store->agent("1002");
    REQUIRE(alex);
    REQUIRE(sam);
    CHECK(storage::verify_token(generated, alex->token_hash));
    CHECK_FALSE(storage::is_slow_hash(alex->token_hash));
    CHECK(storage::verify_token("chosen", sam->token_hash));
    CHECK(sam->role == AgentRole::supervisor);
    CHECK_FALSE(store->agent("1003"));
}

TEST_CASE_TEMPLATE("logins: accounts list, remove, keep their extensions, and every change moves "
                   "the revision another process sees",
                   Backend, CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto writer = test::open_test_store<Backend>(dir);
    auto watcher = test::open_test_store<Backend>(dir);  // the daemon, beside `callpop agent`
    const auto start = watcher->accounts_revision();
    writer->put_agent({"1002", "Sam", AgentRole::admin, "sha256$00$11", {"1002", "2002"}});
    writer->put_agent({"1001", "Alex", AgentRole::agent, "sha256$00$22"});
    const auto added = watcher->accounts_revision();
    CHECK(added > start);
    const auto accounts = watcher->agents();
    REQUIRE(accounts.size() == 2);
    CHECK(accounts[0].id == "1001");
    CHECK(accounts[0].extensions.empty());
    CHECK(accounts[1].role == AgentRole::admin);
    CHECK(accounts[1].extensions == std::vector<std::string>{"1002", "2002"});
    writer->put_agent({"1001", "Alex", AgentRole::agent, "sha256$00$33"});
    const auto changed = watcher->accounts_revision();
    CHECK(changed > added);
    CHECK(writer->remove_agent("1001"));
    CHECK_FALSE(writer->remove_agent("1001"));
    CHECK(watcher->accounts_revision() > changed);
    CHECK_FALSE(watcher->agent("1001"));
    CHECK(watcher->agents().size() == 1);
}

TEST_CASE_TEMPLATE("logins: the ticket key is made on first use and is the same from then on",
                   Backend, CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    std::string key;
    {
        auto store = test::open_test_store<Backend>(dir);
        key = store->ticket_key();
        CHECK(key.size() == 32);
        CHECK(store->ticket_key() == key);
    }
    // Another connection, and the store reopened (a daemon restart), see the same key.
    auto first = test::open_test_store<Backend>(dir);
    auto second = test::open_test_store<Backend>(dir);
    CHECK(first->ticket_key() == key);
    CHECK(second->ticket_key() == key);
    // Another store has a key of its own.
    const TempDir elsewhere;
    CHECK(test::open_test_store<Backend>(elsewhere)->ticket_key() != key);
}

TEST_CASE_TEMPLATE("logins: connections asking at once for a store's first key all get one key",
                   Backend, CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    test::open_test_store<Backend>(dir);  // the schema, made before the race
    constexpr int connections = 6;
    std::vector<std::string> keys(connections);
    std::vector<std::thread> threads;
    for (int i = 0; i < connections; ++i) {
        threads.emplace_back([&, i] {
            auto store = test::open_test_store<Backend>(dir);
            keys[static_cast<std::size_t>(i)] = store->ticket_key();
        });
    }
    for (auto& thread : threads) thread.join();
    for (const auto& key : keys) CHECK(key == keys.front());
    CHECK(keys.front().size() == 32);
}

// ---- resume tickets ----------------------------------------------------------------------

namespace {

const AgentAccount alex{"1001", "Alex", AgentRole::agent, "sha256$00$11"};

}  // namespace

TEST_CASE("tickets: a ticket is <agent>.<expiry>.<hmac> and is signed for its account") {
    const storage::TicketSigner signer(std::string(32, 'k'));
    const auto ticket = signer.issue(alex, 1732413600);
    CHECK(ticket.substr(0, 16) == "1001.1732413600.");
    CHECK(ticket.size() == 16 + 64);
    const auto claim = storage::parse_ticket(ticket);
    REQUIRE(claim);
    CHECK(claim->agent == "1001");
    CHECK(claim->expires_at == 1732413600);
    CHECK(signer.signed_for(*claim, alex));
    CHECK(signer.issue(alex, 1732413600) == ticket);  // no salt: the same input, the same MAC
}

TEST_CASE("tickets: a ticket changed in any part, or for an account that changed, is refused") {
    const storage::TicketSigner signer(std::string(32, 'k'));
    const auto ticket = signer.issue(alex, 1732413600);
    auto check = [&](const std::string& text, const AgentAccount& account) {
        const auto claim = storage::parse_ticket(text);
        return claim && signer.signed_for(*claim, account);
    };
    CHECK(check(ticket, alex));

    SUBCASE("the MAC") {
        std::string tampered = ticket;
        tampered.back() = tampered.back() == '0' ? '1' : '0';
        CHECK_FALSE(check(tampered, alex));
    }
    SUBCASE("the expiry, pushed later") {
        CHECK_FALSE(check("1001.1732413601" + ticket.substr(15), alex));
    }
    SUBCASE("the agent") {
        AgentAccount other = alex;
        other.id = "1002";
        CHECK_FALSE(check("1002" + ticket.substr(4), other));
        // Presented as another agent's: the claim names 1001.
        CHECK_FALSE(check(ticket, other));
    }
    SUBCASE("the account's role or token changed since") {
        AgentAccount promoted = alex;
        promoted.role = AgentRole::supervisor;
        CHECK_FALSE(check(ticket, promoted));
        AgentAccount new_token = alex;
        new_token.token_hash = "sha256$00$22";
        CHECK_FALSE(check(ticket, new_token));
    }
    SUBCASE("another store's key") {
        const storage::TicketSigner other(std::string(32, 'j'));
        CHECK_FALSE(other.signed_for(*storage::parse_ticket(ticket), alex));
    }
}

TEST_CASE("tickets: agent ids with dots, and text that is not a ticket") {
    const storage::TicketSigner signer(std::string(32, 'k'));
    const AgentAccount dotted{"team.a.7", "", AgentRole::agent, "h"};
    const auto ticket = signer.issue(dotted, 99);
    const auto claim = storage::parse_ticket(ticket);
    REQUIRE(claim);
    CHECK(claim->agent == "team.a.7");
    CHECK(signer.signed_for(*claim, dotted));

    const std::string mac(64, 'a');
    CHECK(storage::parse_ticket("1001.5." + mac));
    CHECK_FALSE(storage::parse_ticket(""));
    CHECK_FALSE(storage::parse_ticket("1001"));
    CHECK_FALSE(storage::parse_ticket(".5." + mac));
    CHECK_FALSE(storage::parse_ticket("1001.." + mac));
    CHECK_FALSE(storage::parse_ticket("1001.-5." + mac));
    CHECK_FALSE(storage::parse_ticket("1001.0." + mac));
    CHECK_FALSE(storage::parse_ticket("1001.5x." + mac));
    CHECK_FALSE(storage::parse_ticket("1001.99999999999999999999." + mac));
    CHECK_FALSE(storage::parse_ticket("1001.5." + mac.substr(2)));
    CHECK_FALSE(storage::parse_ticket("1001.5." + mac + "aa"));
    CHECK_FALSE(storage::parse_ticket("1001.5." + std::string(64, 'z')));
    CHECK_THROWS(storage::TicketSigner(std::string(31, 'k')));
}
