#pragma once
// Imports for the backends' own import tests (test_storage_<backend>_import.cpp): a file of
// customers, and a store whose writes fail part-way.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>

#include "storage/importer.hpp"
#include "storage/phone_number.hpp"
#include "storage/store.hpp"
#include "storage/storage_error.hpp"
#include "storage_test_support.hpp"

namespace callpop::test {

// Every column of the customers file: its rows may be held and written together
// (CustomerImport::queue_customer; on PostgreSQL, by COPY).
inline const std::string customers_header =
    "external_id,name,company,tier,segment,language,timezone,phones,email,address,do_not_call\n";

// `rows` customers C-1..C-<rows>, each with one number of its own, in every column.
inline std::string customers_csv(std::size_t rows) {
    std::string csv = customers_header;
    for (std::size_t row = 1; row <= rows; ++row)
        csv += "C-" + std::to_string(row) + ",Customer " + std::to_string(row) + ",,,,,,+1555" +
               std::to_string(1000000 + row) + ",,,0\n";
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

// A first import of a bit more than one chunk (docs/csv.md: chunks of 100,000) into `store`,
// its index of numbers watched at each progress report by `has_index`, and read by number, as
// another daemon would, by `reader`: once the first chunk is committed its rows are found,
// without the index. Then a second import, into phones that are not empty, keeps the index
// all along.
template <typename HasIndex>
void check_first_load_builds_number_index_at_end(storage::Store& store, storage::Store& reader,
                                                 const TempDir& dir, HasIndex has_index) {
    const auto normalizer = us_normalizer();
    REQUIRE(has_index());
    constexpr std::size_t chunk = 100'000;
    const auto rows = chunk + storage::progress_interval * 2 + 5;
    std::vector<bool> index_seen;
    std::size_t checked_after_chunk = 0;
    std::size_t found_after_chunk = 0;
    const auto report = storage::import_customers(
        store, write_file(dir, "customers.csv", customers_csv(rows)), normalizer,
        [&](std::size_t done) {
            index_seen.push_back(has_index());
            if (done < chunk) return;
            ++checked_after_chunk;
            found_after_chunk += reader.customers_by_number("+15551000001", 5).size();
        });
    CHECK(report.inserted_or_updated == rows);
    REQUIRE_FALSE(index_seen.empty());
    CHECK(index_seen == std::vector<bool>(index_seen.size(), false));
    CHECK(checked_after_chunk >= 2);
    CHECK(found_after_chunk == checked_after_chunk);
    CHECK(has_index());
    CHECK(store.customers_by_number("+15551000007", 5).at(0).external_id == "C-7");

    index_seen.clear();
    storage::import_customers(
        store, write_file(dir, "again.csv", customers_csv(storage::progress_interval * 2 + 5)),
        normalizer, [&](std::size_t) { index_seen.push_back(has_index()); });
    REQUIRE_FALSE(index_seen.empty());
    CHECK(index_seen == std::vector<bool>(index_seen.size(), true));
}

}  // namespace callpop::test
