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
#include "storage_test_support.hpp"

using namespace callpop;
using test::TempDir;
using test::query_one;
using test::write_file;

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

// `rows` customers C-1..C-<rows>, each with one number of its own.
std::string customers_csv(std::size_t rows) {
    std::string csv = "external_id,name,phones\n";
    for (std::size_t row = 1; row <= rows; ++row)
        csv += "C-" + std::to_string(row) + ",Customer " + std::to_string(row) + ",+1555" +
               std::to_string(1000000 + row) + "\n";
    return csv;
}

// The store, but its upsert_customer fails at the given call, as a full disk would.
class FailingImport final : public storage::CustomerImport {
public:
    FailingImport(storage::Store& store, std::size_t fail_at) : store_(store), fail_at_(fail_at) {}

    std::vector<storage::Customer> customers_by_number(std::string_view number,
                                                       std::size_t limit) override {
        return store_.customers_by_number(number, limit);
    }
    std::optional<storage::Customer> customer_by_asset_serial(std::string_view serial) override {
        return store_.customer_by_asset_serial(serial);
    }
    std::optional<storage::Customer> customer_by_external_id(std::string_view id) override {
        return store_.customer_by_external_id(id);
    }
    std::optional<storage::Customer> customer_by_id(std::int64_t id) override {
        return store_.customer_by_id(id);
    }
    storage::CustomerCard card(const storage::Customer& customer, std::size_t history) override {
        return store_.card(customer, history);
    }
    storage::NumberMatch caller_by_number(std::string_view number, std::size_t limit,
                                          std::size_t history) override {
        return store_.caller_by_number(number, limit, history);
    }
    void begin() override { store_.begin(); }
    void commit() override { store_.commit(); }
    void rollback() override { store_.rollback(); }
    void begin_import() override { store_.begin_import(); }
    void end_import() override { store_.end_import(); }
    std::int64_t upsert_customer(const storage::Customer& customer) override {
        if (++calls_ == fail_at_) throw storage::StorageError("disk full (test)", true);
        return store_.upsert_customer(customer);
    }
    void queue_customer(const storage::Customer& customer) override { upsert_customer(customer); }
    bool upsert_asset(std::string_view customer, const storage::Asset& asset) override {
        return store_.upsert_asset(customer, asset);
    }
    bool upsert_note(std::string_view customer, const storage::Note& note) override {
        return store_.upsert_note(customer, note);
    }

private:
    storage::Store& store_;
    std::size_t fail_at_;
    std::size_t calls_ = 0;
};

}  // namespace

TEST_CASE("sqlite import: into an empty phones table the number index is built at the end") {
    const TempDir dir;
    const auto database = dir / "callpop.db";
    auto store = test::open_test_store<test::SqliteBackend>(dir);
    const auto normalizer = test::us_normalizer();
    REQUIRE(has_number_index(database));

    // Read, as the daemon would, while the import runs: once the first chunk of rows is
    // committed (docs/csv.md: chunks of 100,000), they are found by number, without the index.
    constexpr std::size_t chunk = 100'000;
    const auto reader = test::open_test_store<test::SqliteBackend>(dir);
    const auto rows = chunk + storage::progress_interval * 2 + 5;
    std::vector<bool> index_seen;
    std::size_t checked_after_chunk = 0;
    std::size_t found_after_chunk = 0;
    const auto report = storage::import_customers(
        *store, write_file(dir, "customers.csv", customers_csv(rows)), normalizer,
        [&](std::size_t done) {
            index_seen.push_back(has_number_index(database));
            if (done < chunk) return;
            ++checked_after_chunk;
            found_after_chunk += reader->customers_by_number("+15551000001", 5).size();
        });
    CHECK(report.inserted_or_updated == rows);
    REQUIRE_FALSE(index_seen.empty());
    CHECK(index_seen == std::vector<bool>(index_seen.size(), false));
    CHECK(checked_after_chunk >= 2);
    CHECK(found_after_chunk == checked_after_chunk);
    CHECK(has_number_index(database));
    CHECK(query_one(database, "PRAGMA integrity_check") == "ok");
    CHECK(query_one(database, "SELECT count(*) FROM phones") == std::to_string(rows));
    CHECK(store->customers_by_number("+15551000007", 5).at(0).external_id == "C-7");

    // A table with phones keeps its index all along.
    index_seen.clear();
    const auto see_index = [&](std::size_t) { index_seen.push_back(has_number_index(database)); };
    storage::import_customers(
        *store, write_file(dir, "again.csv", customers_csv(storage::progress_interval * 2 + 5)),
        normalizer, see_index);
    REQUIRE_FALSE(index_seen.empty());
    CHECK(index_seen == std::vector<bool>(index_seen.size(), true));

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
