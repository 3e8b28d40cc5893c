// The SQLite backend's import settings (SqliteStore::begin_import), checked with SQLite
// itself: the index of numbers left out while an empty phones table fills and built again at
// the end, after a failure, or when the store is next opened. What every backend must do is in
// test_storage_import.cpp.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "storage/importer.hpp"
#include "support/sqlite_query.hpp"
#include "import_test_support.hpp"
#include "storage_test_support.hpp"

using namespace callpop;
using test::TempDir;
using test::query_one;
using test::write_file;
using test::customers_csv;
using test::FailingImport;

namespace {

const std::string index_query =
    "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'phones_by_number'";

bool has_number_index(const std::filesystem::path& database) {
    return query_one(database, index_query) == "1";
}

void drop_number_index(const std::filesystem::path& database) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(database.c_str(), &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "DROP INDEX phones_by_number", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
}

}  // namespace

TEST_CASE("sqlite import: into an empty phones table the number index is built at the end") {
    const TempDir dir;
    const auto database = dir / "callpop.db";
    auto store = test::open_test_store<test::SqliteBackend>(dir);
    const auto reader = test::open_test_store<test::SqliteBackend>(dir);
    test::check_first_load_builds_number_index_at_end(
        *store, *reader, dir, [&] { return has_number_index(database); });
    CHECK(query_one(database, "PRAGMA integrity_check") == "ok");
    CHECK(query_one(database, "SELECT count(*) FROM phones") ==
          std::to_string(100'000 + storage::progress_interval * 2 + 5));
}

TEST_CASE("sqlite import: a failed import puts the index back; so does opening the store") {
    const TempDir dir;
    const auto database = dir / "callpop.db";
    const auto normalizer = test::us_normalizer();
    {
        auto store = test::open_test_store<test::SqliteBackend>(dir);
        FailingImport failing(*store, 20);
        CHECK_THROWS_WITH_AS(storage::import_customers(
                                 failing, write_file(dir, "customers.csv", customers_csv(50)),
                                 normalizer),
                             "disk full (test)", storage::StorageError);
        CHECK(has_number_index(database));
        // The chunk that failed was rolled back; the store takes the next import as before.
        CHECK_FALSE(store->customer_by_external_id("C-1"));
        const auto report = storage::import_customers(
            *store, write_file(dir, "retry.csv", customers_csv(50)), normalizer);
        CHECK(report.inserted_or_updated == 50);
        CHECK(store->customers_by_number("+15551000020", 5).size() == 1);
    }

    // An import that died without cleaning up (killed, power cut) left no index: the next
    // open builds it.
    drop_number_index(database);
    REQUIRE_FALSE(has_number_index(database));
    auto store = test::open_test_store<test::SqliteBackend>(dir);
    CHECK(has_number_index(database));
    CHECK(store->customers_by_number("+15551000020", 5).size() == 1);
}

TEST_CASE("sqlite import: a store opens while an import holds the write lock without the index") {
    const TempDir dir;
    const auto database = dir / "callpop.db";
    test::open_test_store<test::SqliteBackend>(dir);
    drop_number_index(database);
    // Another process importing: the write lock held, the index not there yet.
    sqlite3* importer = nullptr;
    REQUIRE(sqlite3_open(database.c_str(), &importer) == SQLITE_OK);
    REQUIRE(sqlite3_exec(importer, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
    // Opening waits for the lock (the busy timeout), then carries on without building it.
    auto store = test::open_test_store<test::SqliteBackend>(dir);
    CHECK(store->customers_by_number("+15551000001", 5).empty());
    CHECK_FALSE(has_number_index(database));
    sqlite3_exec(importer, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(importer);
    // The next open builds it.
    store = test::open_test_store<test::SqliteBackend>(dir);
    CHECK(has_number_index(database));
}
