// The PostgreSQL backend's import (PostgresStore::begin_import, queue_customer), checked on
// the tests' server: the index of numbers left out while an empty phones table fills and built
// again at the end, after a failure, or when the store is next opened, but not while another
// session's import owes it; the rows sent by COPY as they are read, and what a failure in the
// middle of one leaves. What every backend must do is in test_storage_import.cpp.
#include <doctest/doctest.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "storage/importer.hpp"
#include "storage/postgresql/connection.hpp"
#include "import_test_support.hpp"
#include "storage_test_support.hpp"

using namespace callpop;
using storage::postgresql::Connection;
using test::customers_csv;
using test::FailingImport;
using test::TempDir;
using test::write_file;

// Named, not anonymous: the unity build puts several test files in one translation unit.
namespace postgresql_import_test {

Connection connect_directly(const TempDir& dir) {
    return Connection(test::PostgresBackend::settings(dir).conninfo);
}

bool has_number_index(Connection& db) {
    return db.query("SELECT to_regclass('phones_by_number') IS NOT NULL").text(0, 0) == "t";
}

std::unique_ptr<storage::Store> open_store(const TempDir& dir) {
    return storage::open_store(test::PostgresBackend::settings(dir), storage::Access::read_write);
}

// A store on a fresh database, a connection of the test's own beside it, and imports into
// the store of files written in the test's directory.
struct ImportingStore {
    TempDir dir;
    storage::PhoneNormalizer normalizer = test::us_normalizer();
    std::unique_ptr<storage::Store> store = open_store(dir);
    Connection db = connect_directly(dir);

    storage::ImportReport import(const std::string& file_name, const std::string& csv) {
        return storage::import_customers(*store, write_file(dir, file_name, csv), normalizer);
    }
};

}  // namespace postgresql_import_test

using namespace postgresql_import_test;

TEST_CASE("postgresql import: into an empty phones table the number index is built at the end") {
    const TempDir dir;
    auto store = open_store(dir);
    const auto reader = open_store(dir);
    auto db = connect_directly(dir);
    test::check_first_load_builds_number_index_at_end(*store, *reader, dir,
                                                      [&] { return has_number_index(db); });
    // Ids follow the file, chunk after chunk.
    CHECK(db.query("SELECT bool_and(external_id = 'C-' || id) FROM customers").text(0, 0) == "t");
}

TEST_CASE("postgresql import: a failed import puts the index back; so does opening the store, "
          "unless another import owes it") {
    const TempDir dir;
    const auto normalizer = test::us_normalizer();
    auto db = connect_directly(dir);
    {
        auto store = open_store(dir);
        FailingImport failing(*store, 20);
        CHECK_THROWS_WITH_AS(storage::import_customers(
                                 failing, write_file(dir, "customers.csv", customers_csv(50)),
                                 normalizer),
                             "disk full (test)", storage::StorageError);
        CHECK(has_number_index(db));
        // The chunk that failed was rolled back; the store takes the next import as before.
        CHECK_FALSE(store->customer_by_external_id("C-1"));
        const auto report = storage::import_customers(
            *store, write_file(dir, "retry.csv", customers_csv(50)), normalizer);
        CHECK(report.inserted_or_updated == 50);
        CHECK(store->customers_by_number("+15551000020", 5).size() == 1);
    }

    // An import running in another session that dropped the index holds the lock it
    // promises to build it under: opening leaves the index to it.
    db.exec("DROP INDEX phones_by_number");
    auto importer = connect_directly(dir);
    REQUIRE(importer.query("SELECT pg_try_advisory_lock(7700, 4)").text(0, 0) == "t");
    open_store(dir);
    CHECK_FALSE(has_number_index(db));
    // It died without building it (killed, power cut): the next open does.
    importer.query("SELECT pg_advisory_unlock(7700, 4)");
    auto store = open_store(dir);
    CHECK(has_number_index(db));
    CHECK(store->customers_by_number("+15551000020", 5).size() == 1);
}

TEST_CASE_FIXTURE(ImportingStore, "postgresql import: a row the server refuses in the middle "
                                   "of a COPY fails the chunk, and the store goes on") {
    // A name that is not UTF-8, after enough rows that some were sent by COPY before it was
    // read (1.4 MB; they go in 256 KiB sends).
    std::string csv = customers_csv(20'000);
    csv += "C-bad,Bad \xff name,,,,,,+15559999999,,,0\n";
    CHECK_THROWS_AS(import("bad.csv", csv), storage::StorageError);
    CHECK(db.query("SELECT count(*) FROM customers").integer(0, 0) == 0);
    CHECK(has_number_index(db));

    // The connection is out of the COPY: the store reads and imports again.
    CHECK_FALSE(store->customer_by_external_id("C-1"));
    const auto report = import("good.csv", customers_csv(20'000));
    CHECK(report.inserted_or_updated == 20'000);
    CHECK(store->customers_by_number("+15551000020", 5).at(0).external_id == "C-20");

    // Rows of one external id, the last wins, in the first one's place.
    const std::string twice = test::customers_header +
                              "N-1,First,,,,,,+15552000001,,,0\n"
                              "N-2,Second,,,,,,+15552000002,,,0\n"
                              "N-1,First again,,,,,,+15552000003,,,0\n"
                              "N-1,First at last,,,,,,+15552000004,,,0\n";
    import("twice.csv", twice);
    const auto first = store->customer_by_external_id("N-1");
    REQUIRE(first);
    CHECK(first->name == "First at last");
    CHECK(first->phones == std::vector<std::string>{"+15552000004"});
    CHECK(first->id < store->customer_by_external_id("N-2")->id);
}

TEST_CASE_FIXTURE(ImportingStore, "postgresql import: a first load whose later chunk repeats "
                                   "an earlier chunk's external id updates that customer") {
    // The directory being empty, each chunk is first inserted as all new. The second's
    // first row is new, its second repeats one of the first chunk's: that insert fails on
    // the unique key, after taking ids 100,001 and 100,002, and the chunk is merged.
    std::string csv = customers_csv(100'000);
    csv += "N-1,Newcomer,,,,,,+15553000002,,,0\n"
           "C-1,Customer 1 moved,,,,,,+15553000001,,,0\n";
    const auto report = import("customers.csv", csv);
    CHECK(report.inserted_or_updated == 100'002);
    CHECK(db.query("SELECT count(*) FROM customers").integer(0, 0) == 100'001);
    const auto moved = store->customer_by_external_id("C-1");
    REQUIRE(moved);
    CHECK(moved->name == "Customer 1 moved");
    CHECK(moved->phones == std::vector<std::string>{"+15553000001"});
    CHECK(moved->id == 1);
    const auto newcomer = store->customer_by_external_id("N-1");
    REQUIRE(newcomer);
    // Not 100,001: the ids of the insert that was rolled back are not taken again.
    CHECK(newcomer->id == 100'003);
    CHECK(newcomer->phones == std::vector<std::string>{"+15553000002"});
    CHECK(db.query("SELECT count(*) FROM phones").integer(0, 0) == 100'001);
    CHECK(db.query("SELECT count(*) FROM phones p WHERE NOT EXISTS (SELECT 1 FROM customers c "
                   "WHERE c.id = p.customer_id)")
              .integer(0, 0) == 0);
    CHECK(store->customers_by_number("+15551000001", 5).empty());
}

TEST_CASE_FIXTURE(ImportingStore, "postgresql import: a first load's chunk that fails for "
                                   "another reason fails as it is, not merged again") {
    db.exec("ALTER TABLE customers ADD CONSTRAINT no_forbidden_names CHECK (name <> 'Forbidden')");
    const std::string forbidden = test::customers_header + "F-1,Forbidden,,,,,,+15554000001,,,0\n";
    const auto error = test::storage_error_of([&] { import("forbidden.csv", forbidden); });
    CHECK(std::string(error.what()).find("no_forbidden_names") != std::string::npos);
    // One try took one id; merging it again would have taken another.
    import("fine.csv", test::customers_header + "F-2,Fine,,,,,,+15554000002,,,0\n");
    CHECK(store->customer_by_external_id("F-2")->id == 2);
}
