// Logins in the SQLite backend, checked with SQLite itself: migration 3 (the secrets table)
// and the ticket key's row. What every backend must do is in test_storage_logins.cpp.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <string>

#include "storage/token_hash.hpp"
#include "support/sqlite_query.hpp"
#include "sqlite_migrations.hpp"
#include "storage_test_support.hpp"

using namespace callpop;
using test::TempDir;
using test::query_one;

using test::exec_sql;
using test::sqlite_migrations;

TEST_CASE("logins: a version-2 database gains the secrets table, and its agents still log in") {
    const TempDir dir;
    const auto path = dir / "callpop.db";
    const auto stored_before = storage::hash_token("secret-1001", 1000);
    exec_sql(path, std::string(sqlite_migrations[0]) + sqlite_migrations[1] +
                       "PRAGMA user_version = 2;"
                       "INSERT INTO agents (id, name, role, token_hash) VALUES ('1001', 'Alex', "
                       "'agent', '" + stored_before + "');");

    auto store = test::open_test_store<test::SqliteBackend>(dir);
    CHECK(query_one(path, "PRAGMA user_version") == std::to_string(std::size(sqlite_migrations)));
    CHECK(std::size(sqlite_migrations) >= 3);
    const auto alex = store->agent("1001");
    REQUIRE(alex);
    CHECK(storage::verify_token("secret-1001", alex->token_hash));
    // The key is made when first asked for, not by the migration.
    CHECK(query_one(path, "SELECT count(*) FROM secrets") == "0");
    const auto key = store->ticket_key();
    CHECK(query_one(path, "SELECT count(*) FROM secrets") == "1");
    CHECK(query_one(path, "SELECT value FROM secrets WHERE name = 'ticket_key'") ==
          storage::to_hex(key));
}

TEST_CASE("logins: a ticket key row that is not hex is a storage error, not a weak key") {
    const TempDir dir;
    const auto path = dir / "callpop.db";
    test::open_test_store<test::SqliteBackend>(dir);
    exec_sql(path, "INSERT INTO secrets (name, value) VALUES ('ticket_key', 'not hex!')");
    auto store = test::open_test_store<test::SqliteBackend>(dir);
    CHECK_THROWS_AS(store->ticket_key(), storage::StorageError);
}

TEST_CASE("logins: a ticket key row too short to be one is replaced by nothing: an error") {
    const TempDir dir;
    const auto path = dir / "callpop.db";
    test::open_test_store<test::SqliteBackend>(dir);
    exec_sql(path, "INSERT INTO secrets (name, value) VALUES ('ticket_key', '00ff')");
    auto store = test::open_test_store<test::SqliteBackend>(dir);
    CHECK_THROWS_AS(store->ticket_key(), storage::StorageError);
    CHECK(query_one(path, "SELECT value FROM secrets WHERE name = 'ticket_key'") == "00ff");
}

TEST_CASE("logins: a version-4 database (before the spool and the admin role) upgrades with "
          "its accounts and secrets kept") {
    const TempDir dir;
    const auto path = dir / "callpop.db";
    const auto stored_before = storage::hash_token("boss", 1000);
    std::string first_four;
    for (std::size_t index = 0; index < 4; ++index) first_four += sqlite_migrations[index];
    exec_sql(path, first_four +
                       "PRAGMA user_version = 4;"
                       "INSERT INTO agents (id, name, role, token_hash) VALUES ('super', 'Sam', "
                       "'supervisor', '" + stored_before + "');"
                       "INSERT INTO secrets (name, value) VALUES ('ticket_key', '" +
                       std::string(64, 'a') + "');");

    auto store = test::open_test_store<test::SqliteBackend>(dir);
    CHECK(query_one(path, "PRAGMA user_version") == std::to_string(std::size(sqlite_migrations)));
    const auto sam = store->agent("super");
    REQUIRE(sam);
    CHECK(sam->name == "Sam");
    CHECK(sam->role == domain::AgentRole::supervisor);
    CHECK(sam->extensions.empty());
    CHECK(storage::verify_token("boss", sam->token_hash));
    CHECK(storage::to_hex(store->ticket_key()) == std::string(64, 'a'));  // old tickets hold
    // Nothing spooled yet; accounts start counting changes from here.
    CHECK(store->spool_position().file == 0);
    const auto revision = store->accounts_revision();
    store->put_agent({.id = "root", .name = "", .role = domain::AgentRole::admin,
                      .token_hash = stored_before, .extensions = {"1001"}});
    CHECK(store->accounts_revision() > revision);
    CHECK(store->agent("root")->role == domain::AgentRole::admin);
}
