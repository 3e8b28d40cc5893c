#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "domain/timestamp.hpp"
#include "protocol/records.hpp"
#include "storage/demo_data.hpp"
#include "storage/importer.hpp"
#include "storage/token_hash.hpp"
#include "storage_test_support.hpp"

using namespace callpop;
using domain::AgentRole;
using domain::FollowupKind;
using domain::FollowupStatus;
using storage::ImportError;
using storage::ImportReport;
using test::TempDir;
using test::write_file;

namespace {

std::vector<storage::Followup> all_followups(storage::Store& store) {
    storage::FollowupQuery query;
    query.statuses.clear();
    query.limit = std::numeric_limits<std::size_t>::max();
    return store.list_followups(query);
}

std::vector<std::string> described_errors(const ImportReport& report) {
    std::vector<std::string> messages;
    for (const auto& error : report.errors) messages.push_back(report.describe(error));
    return messages;
}

std::vector<std::string> external_ids_on(storage::Store& store, const std::string& number) {
    std::vector<std::string> ids;
    for (const auto& customer : store.customers_by_number(number, 10))
        ids.push_back(customer.external_id);
    return ids;
}

using Strings = std::vector<std::string>;

constexpr const char* pat_doe_csv =
    "external_id,name,tier,phones\n"
    "C-1000,Pat Doe,gold,+1 (555) 010-2000\n";

}  // namespace

TEST_CASE_TEMPLATE("import customers: good rows kept, bad rows reported as file:line: reason",
                   Backend, CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    const auto normalizer = test::us_normalizer();
    const auto path = write_file(
        dir, "customers.csv",
        "External ID,Name,Company,Tier,Phones,Email,Do Not Call,Favourite Colour\n"
        "C-1,Pat Doe,\"Doe Print & Copy, Inc.\",gold,+1 (555) 010-2000; 555-010-2001,"
        "pat@example.com,no,blue\n"
        "C-2,Sam Roe,,silver,abc,,,red\n"
        "C-3,Kim Poe,,,555 010 2003,,maybe,green\n"
        ",Nobody,,,,,,\n"
        "C-4,Short Row\n"
        "C-5,\"Lee\nMultiline\",,,+999 1234567 | 5550102005,,TRUE,\n"
        "C-6,No Phone,,,,,,\n"
        "C-7,Unclosed,\"quote,,,,,\n");
    const ImportReport report = storage::import_customers(*store, path, normalizer);

    const std::string file = path.string();
    CHECK(report.file == file);
    CHECK(report.rows == 8);
    CHECK(report.inserted_or_updated == 3);
    CHECK(described_errors(report) ==
          Strings{file + ":3: phones: \"abc\" is not a phone number",
                  file + ":4: do_not_call: \"maybe\" is not true, false, yes, no, 1 or 0",
                  file + ":5: external_id: required, but empty",
                  file + ":6: has 2 fields, the header has 8",
                  file + ":10: field 3: quote never closed"});
    CHECK(report.warnings == Strings{"unknown column \"Favourite Colour\" (field 8) ignored"});
    CHECK(report.summary() == file + ": 8 rows, 3 imported, 5 rejected");

    const auto pat = store->customer_by_external_id("C-1");
    REQUIRE(pat);
    CHECK(pat->name == "Pat Doe");
    CHECK(pat->company == "Doe Print & Copy, Inc.");
    CHECK(pat->tier == "gold");
    CHECK(pat->email == "pat@example.com");
    CHECK_FALSE(pat->do_not_call);
    CHECK(pat->phones == Strings{"+15550102000", "+15550102001"});

    const auto lee = store->customer_by_external_id("C-5");
    REQUIRE(lee);
    CHECK(lee->name == "Lee\nMultiline");
    CHECK(lee->do_not_call);
    CHECK(lee->phones == Strings{"+999 1234567", "+15550102005"});
    CHECK(store->customer_by_external_id("C-6")->phones.empty());
    CHECK_FALSE(store->customer_by_external_id("C-2"));
}

TEST_CASE_TEMPLATE("import customers: every spelling of a number finds the customer", Backend,
                   CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    const auto normalizer = test::us_normalizer();
    const auto report =
        storage::import_customers(*store, write_file(dir, "c.csv", pat_doe_csv), normalizer);
    REQUIRE(report.errors.empty());

    for (const std::string spelling : {"+1 (555) 010-2000", "15550102000", "0015550102000",
                                       "5550102000", "011 1 555 010 2000"}) {
        CAPTURE(spelling);
        CHECK(external_ids_on(*store, normalizer.normalize(spelling)) == Strings{"C-1000"});
    }
    CHECK(external_ids_on(*store, normalizer.normalize("5550102001")).empty());
}

TEST_CASE_TEMPLATE("import customers: a number libphonenumber cannot parse is matched as given",
                   Backend, CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    const auto normalizer = test::us_normalizer();
    storage::import_customers(*store,
                              write_file(dir, "c.csv",
                                         "external_id,name,phones\n"
                                         "C-9,Odd Number, +999 1234567 \n"),
                              normalizer);
    CHECK(normalizer.normalize(" +999 1234567") == "+999 1234567");
    CHECK(external_ids_on(*store, normalizer.normalize(" +999 1234567")) == Strings{"C-9"});
}

TEST_CASE_TEMPLATE("import customers: a re-import updates by external id and replaces the phones",
                   Backend, CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    const auto normalizer = test::us_normalizer();
    storage::import_customers(*store, write_file(dir, "first.csv", pat_doe_csv), normalizer);
    const auto before = store->customer_by_external_id("C-1000");
    REQUIRE(before);

    const auto report = storage::import_customers(
        *store,
        write_file(dir, "second.csv",
                   "phones,name,external_id\n"
                   "555-010-3000|555-010-3001,Pat Doe-Smith,C-1000\n"),
        normalizer);
    CHECK(report.inserted_or_updated == 1);

    const auto after = store->customer_by_external_id("C-1000");
    REQUIRE(after);
    CHECK(after->id == before->id);
    CHECK(after->name == "Pat Doe-Smith");
    CHECK(after->tier == "gold");  // not in the second file: kept
    CHECK(after->phones == Strings{"+15550103000", "+15550103001"});
    CHECK(external_ids_on(*store, "+15550102000").empty());
    CHECK(external_ids_on(*store, "+15550103001") == Strings{"C-1000"});

    // A file without phones leaves them alone; an empty phones value removes them.
    storage::import_customers(*store,
                              write_file(dir, "third.csv", "external_id,name,tier\nC-1000,Pat,\n"),
                              normalizer);
    const auto third = store->customer_by_external_id("C-1000");
    CHECK(third->name == "Pat");
    CHECK(third->tier.empty());
    CHECK(third->phones == Strings{"+15550103000", "+15550103001"});
    storage::import_customers(
        *store, write_file(dir, "fourth.csv", "external_id,name,phones\nC-1000,Pat,\n"),
        normalizer);
    CHECK(store->customer_by_external_id("C-1000")->phones.empty());
}

namespace {

// What a customers file should leave in the store, worked out a row at a time.
struct ExpectedCustomer {
    std::string name;
    std::string tier;
    Strings phones;
};

// A plain North American number of its own for each (customer, variant).
std::string demo_number(std::size_t customer, std::size_t variant) {
    return "+1555" + std::to_string(1000000 + (customer * 7 + variant * 3'000'011) % 9'000'000);
}

}  // namespace

TEST_CASE_TEMPLATE("import customers: a big first load, then a re-import of new, changed, "
                   "unchanged and repeated rows, leaves what each row says in turn",
                   Backend, CALLPOP_STORAGE_BACKENDS) {
    // A file of some columns reads each stored customer back (upsert_customer); one of every
    // column may have its rows held back and written together (queue_customer).
    bool every_column = false;
    SUBCASE("some columns") {}
    SUBCASE("every column") { every_column = true; }
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    const auto normalizer = test::us_normalizer();
    std::map<std::string, ExpectedCustomer> expected;
    std::set<std::string> numbers;  // every number any file gave
    const auto add_row = [&](std::string& csv, std::size_t customer, const std::string& name,
                             const std::string& tier, const Strings& phones) {
        const std::string id = "C-" + std::to_string(customer);
        std::string field;
        for (const auto& phone : phones) {
            field += (field.empty() ? "" : "; ") + phone;
            numbers.insert(phone);
        }
        if (every_column)
            csv += id + "," + name + ",," + tier + ",,,," + field + ",,,no\n";
        else
            csv += id + "," + name + "," + tier + "," + field + "\n";
        expected[id] = {name, tier, phones};
    };
    const std::string header =
        every_column ? "external_id,name,company,tier,segment,language,timezone,phones,email,"
                       "address,do_not_call\n"
                     : "external_id,name,tier,phones\n";

    constexpr std::size_t first_load = 6'000;
    std::string first = header;
    for (std::size_t customer = 0; customer < first_load; ++customer) {
        Strings phones;
        for (std::size_t variant = 0; variant < 1 + customer % 3; ++variant)
            phones.push_back(demo_number(customer, variant));
        add_row(first, customer, "Customer " + std::to_string(customer), "silver", phones);
    }
    auto report = storage::import_customers(*store, write_file(dir, "first.csv", first),
                                            normalizer);
    CHECK(report.inserted_or_updated == first_load);
    CHECK(report.rejected() == 0);

    // Runs of known and new customers, so that the store switches between updating and
    // inserting first, and customers named twice: the later row wins.
    std::string second = header;
    std::size_t rows = 0;
    for (std::size_t customer = 0; customer < first_load; ++customer, ++rows) {
        const auto& before = expected["C-" + std::to_string(customer)];
        switch (customer / 50 % 5) {
            case 0:  // unchanged
                add_row(second, customer, before.name, before.tier, before.phones);
                break;
            case 1:  // another name and tier, the same phones
                add_row(second, customer, before.name + " Jr", "gold", before.phones);
                break;
            case 2: {  // the phones changed: one more, one fewer, or reordered
                Strings phones = before.phones;
                if (customer % 3 == 0) phones.push_back(demo_number(customer, 5));
                else if (customer % 3 == 1) phones.pop_back();
                else std::reverse(phones.begin(), phones.end());
                add_row(second, customer, before.name, before.tier, phones);
                break;
            }
            case 3:  // a new customer in between
                add_row(second, first_load + customer, "New " + std::to_string(customer),
                        "bronze", {demo_number(first_load + customer, 0)});
                break;
            default:  // a new customer, then again further down with other values
                add_row(second, first_load + customer, "Twice", "bronze",
                        {demo_number(first_load + customer, 0)});
                if (customer % 50 == 49) {
                    for (std::size_t again = customer - 49; again <= customer; ++again, ++rows)
                        add_row(second, first_load + again, "Twice again", "gold",
                                {demo_number(first_load + again, 1),
                                 demo_number(first_load + again, 2)});
                }
        }
    }
    report = storage::import_customers(*store, write_file(dir, "second.csv", second), normalizer);
    CHECK(report.rows == rows);
    CHECK(report.inserted_or_updated == rows);
    CHECK(report.rejected() == 0);

    std::map<std::string, std::string> owner;  // number -> the customer who has it now
    for (const auto& [id, customer] : expected) {
        for (const auto& phone : customer.phones) owner[phone] = id;
        const auto stored = store->customer_by_external_id(id);
        REQUIRE_MESSAGE(stored, id);
        CHECK_MESSAGE(stored->name == customer.name, id);
        CHECK_MESSAGE(stored->tier == customer.tier, id);
        CHECK_MESSAGE(stored->phones == customer.phones, id);
    }
    for (const auto& number : numbers) {
        const auto found = owner.find(number);
        CHECK_MESSAGE(external_ids_on(*store, number) ==
                          (found == owner.end() ? Strings{} : Strings{found->second}),
                      number);
    }
}

TEST_CASE_TEMPLATE("import: file-level errors name the file and stop the import", Backend,
                   CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    const auto normalizer = test::us_normalizer();
    const auto missing = write_file(dir, "missing.csv", "external_id,phones\nC-1,5550102000\n");
    CHECK_THROWS_WITH_AS(storage::import_customers(*store, missing, normalizer),
                         (missing.string() + ": missing column \"name\"").c_str(), ImportError);

    const auto both_missing = write_file(dir, "notes.csv", "author\nme\n");
    CHECK_THROWS_WITH_AS(
        storage::import_notes(*store, both_missing),
        (both_missing.string() + ": missing columns \"customer\", \"text\"").c_str(), ImportError);

    const auto twice = write_file(dir, "twice.csv", "external_id,name,Name\n");
    CHECK_THROWS_WITH_AS(storage::import_customers(*store, twice, normalizer),
                         (twice.string() + ": column \"name\" appears twice in the header").c_str(),
                         ImportError);

    const auto empty = write_file(dir, "empty.csv", "\n");
    CHECK_THROWS_WITH_AS(storage::import_assets(*store, empty),
                         (empty.string() + ": empty file, expected a header row").c_str(),
                         ImportError);

    const auto absent = dir / "absent.csv";
    CHECK_THROWS_AS(storage::import_assets(*store, absent), ImportError);
    CHECK_FALSE(store->customer_by_external_id("C-1"));
}

TEST_CASE_TEMPLATE("import assets: dates checked, unknown customers reported, re-import updates",
                   Backend, CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    storage::import_customers(*store, write_file(dir, "c.csv", pat_doe_csv),
                              test::us_normalizer());
    const auto path = write_file(dir, "assets.csv",
                                 "customer,product,serial,purchased,warranty_end\n"
                                 "C-1000,LaserJet Pro M404,7XK2Q1,2025-03-14,2026-03-14\n"
                                 "C-999,ThinkPad T14,PF1,2024-01-01,\n"
                                 "C-1000,ThinkPad T14,PF2,2023-02-30,\n"
                                 "C-1000,ThinkPad T14,PF3,2024-01-01,next year\n"
                                 "C-1000,,PF4,2024-01-01,\n"
                                 "C-1000,Router,,2024-02-29,\n"
                                 "C-1000,Router,,,\n");
    const auto report = storage::import_assets(*store, path);
    const std::string file = path.string();
    CHECK(described_errors(report) ==
          Strings{file + ":3: customer \"C-999\" is not known",
                  file + ":4: purchased: \"2023-02-30\" is not a date (YYYY-MM-DD)",
                  file + ":5: warranty_end: \"next year\" is not a date (YYYY-MM-DD)",
                  file + ":6: product: required, but empty"});
    CHECK(report.inserted_or_updated == 3);

    const auto pat = store->customer_by_external_id("C-1000");
    REQUIRE(pat);
    CHECK(store->card(*pat, 5).assets.size() == 3);
    CHECK(store->customer_by_asset_serial("7XK2Q1")->external_id == "C-1000");

    // Same serial again: the asset is updated, not duplicated.
    storage::import_assets(*store, write_file(dir, "again.csv",
                                              "customer,product,serial,purchased\n"
                                              "C-1000,LaserJet Pro M404dn,7XK2Q1,2025-03-15\n"));
    const auto assets = store->card(*pat, 5).assets;
    CHECK(assets.size() == 3);
    const auto laserjet = std::find_if(assets.begin(), assets.end(),
                                       [](const auto& asset) { return asset.serial == "7XK2Q1"; });
    REQUIRE(laserjet != assets.end());
    CHECK(laserjet->product == "LaserJet Pro M404dn");
    CHECK(laserjet->purchased == "2025-03-15");
    CHECK(laserjet->warranty_end.empty());
}

TEST_CASE_TEMPLATE("import assets: a long file's rows are applied in order, and refusals named "
                   "by their lines", Backend, CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    storage::import_customers(*store, write_file(dir, "c.csv", pat_doe_csv),
                              test::us_normalizer());
    // Line 2 adds a serial that line 1,102 updates, several hundred rows later; lines 3 and
    // 1,103 name no customer.
    std::string csv = "customer,product,serial,purchased,warranty_end\n"
                      "C-1000,LaserJet Pro M404,7XK2Q1,2025-03-14,\n"
                      "C-999,ThinkPad T14,PF0,2024-01-01,\n";
    for (int row = 4; row <= 1101; ++row)
        csv += "C-1000,Cable,C" + std::to_string(row) + ",2024-01-01,\n";
    csv += "C-1000,LaserJet Pro M404dn,7XK2Q1,2025-03-15,\n"
           "C-998,ThinkPad T14,PF1,2024-01-01,\n";
    const auto path = write_file(dir, "assets.csv", csv);
    const auto report = storage::import_assets(*store, path);
    const std::string file = path.string();
    CHECK(described_errors(report) == Strings{file + ":3: customer \"C-999\" is not known",
                                              file + ":1103: customer \"C-998\" is not known"});
    CHECK(report.rows == 1102);
    CHECK(report.inserted_or_updated == 1100);
    const auto pat = store->customer_by_external_id("C-1000");
    REQUIRE(pat);
    CHECK(store->customer_by_asset_serial("C1101")->external_id == "C-1000");
    const auto laserjet = store->customer_by_asset_serial("7XK2Q1");
    REQUIRE(laserjet);
    std::size_t laserjets = 0;
    for (const auto& asset : store->card(*pat, 5).assets)
        laserjets += asset.serial == "7XK2Q1" && asset.product == "LaserJet Pro M404dn" ? 1 : 0;
    // The card shows the newest 50: the LaserJet bought in 2025 is among them, once.
    CHECK(laserjets == 1);
}

TEST_CASE_TEMPLATE("import notes: kinds, times in UTC, unknown customers, no duplicates on re-import",
                   Backend, CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    storage::import_customers(*store, write_file(dir, "c.csv", pat_doe_csv),
                              test::us_normalizer());
    const std::string csv =
        "Customer,Kind,Text,Author,Created At\n"
        "C-1000,Preference,\"tea, not coffee\",1001,2025-03-20T15:00:00Z\n"
        "C-1000,,owns a print shop,1002,2025-03-14 11:30:00.250-05:00\n"
        "C-1000,note,call after 6 pm,,2025-03-01\n"
        "C-1000,memo,what kind is this,,\n"
        "C-1000,note,,,\n"
        "C-404,note,who is this,,\n"
        "C-1000,note,bad time,,2025-13-01T00:00Z\n"
        "C-1000,note,no time given,,\n";
    const auto path = write_file(dir, "notes.csv", csv);
    const auto report = storage::import_notes(*store, path);
    const std::string file = path.string();
    CHECK(described_errors(report) ==
          Strings{file + ":5: kind: \"memo\" is not note or preference",
                  file + ":6: text: required, but empty",
                  file + ":7: customer \"C-404\" is not known",
                  file + ":8: created_at: \"2025-13-01T00:00Z\" is not an ISO 8601 time "
                         "(2024-05-01T14:30:00Z)"});
    CHECK(report.inserted_or_updated == 4);

    const auto pat = store->customer_by_external_id("C-1000");
    REQUIRE(pat);
    auto card = store->card(*pat, 5);
    REQUIRE(card.preferences.size() == 1);
    CHECK(card.preferences[0].text == "tea, not coffee");
    CHECK(card.preferences[0].author == "1001");
    CHECK(card.preferences[0].created_at == "2025-03-20T15:00:00.000Z");
    REQUIRE(card.notes.size() == 3);
    CHECK(card.notes[0].text == "no time given");  // stamped with the import time: newest
    CHECK(card.notes[1].text == "owns a print shop");
    CHECK(card.notes[1].created_at == "2025-03-14T16:30:00.000Z");
    CHECK(card.notes[2].created_at == "2025-03-01T00:00:00.000Z");

    const auto again = storage::import_notes(*store, write_file(dir, "again.csv", csv));
    CHECK(again.inserted_or_updated == 4);
    card = store->card(*pat, 5);
    CHECK(card.preferences.size() == 1);
    CHECK(card.notes.size() == 3);
}

// Found by tests/fuzz/fuzz_csv (corpus/fuzz_csv/notes-year-2471): a time past what
// system_clock holds (nanoseconds in 64 bits: 1677 to 2262) overflowed while it was read.
TEST_CASE_TEMPLATE("import notes: a time system_clock cannot hold is rejected, not wrapped",
                   Backend, CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    storage::import_customers(*store, write_file(dir, "c.csv", pat_doe_csv),
                              test::us_normalizer());
    const auto path = write_file(dir, "notes.csv",
                                 "customer,text,created_at\n"
                                 "C-1000,far ahead,2471-03-20 10:00:00.250-05:00\n"
                                 "C-1000,far back,1600-01-01\n"
                                 "C-1000,last day it holds,2262-04-11\n");
    const auto report = storage::import_notes(*store, path);
    const std::string file = path.string();
    CHECK(described_errors(report) ==
          Strings{file + ":2: created_at: \"2471-03-20 10:00:00.250-05:00\" is not an ISO 8601 "
                         "time (2024-05-01T14:30:00Z)",
                  file + ":3: created_at: \"1600-01-01\" is not an ISO 8601 time "
                         "(2024-05-01T14:30:00Z)"});
    const auto pat = store->customer_by_external_id("C-1000");
    REQUIRE(pat);
    const auto card = store->card(*pat, 5);
    REQUIRE(card.notes.size() == 1);
    CHECK(card.notes[0].created_at == "2262-04-11T00:00:00.000Z");
}

TEST_CASE_TEMPLATE("import: progress is reported every progress_interval rows", Backend,
                   CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    storage::import_customers(*store, write_file(dir, "c.csv", pat_doe_csv),
                              test::us_normalizer());
    std::string csv = "customer,product,purchased\n";
    const std::string row = "C-1000,Router,2024-01-01\n";
    for (std::size_t index = 0; index < storage::progress_interval + 10; ++index) csv += row;

    std::vector<std::size_t> progress;
    const auto report =
        storage::import_assets(*store, write_file(dir, "assets.csv", csv),
                               [&](std::size_t rows) { progress.push_back(rows); });
    CHECK(progress == std::vector<std::size_t>{storage::progress_interval});
    CHECK(report.rows == storage::progress_interval + 10);
    CHECK(report.inserted_or_updated == report.rows);
    CHECK(store->card(*store->customer_by_external_id("C-1000"), 5).assets.size() == 1);
}

TEST_CASE_TEMPLATE("demo data: walkthrough customer, agents, calls, follow-ups; reproducible, re-runnable",
                   Backend, CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    storage::DemoOptions options;
    options.customers = 1000;
    options.seed = 42;
    options.csv_directory = dir / "demo-csv";
    options.now = std::chrono::sys_days{std::chrono::year{2026} / 1 / 15};
    options.token_iterations = 1;
    // repaired (csat) and sale (nps) make surveys.
    options.outcome_codes = {"resolved", "repaired", "sale", "callback_requested"};

    const auto summary = storage::make_demo_data(*store, test::us_normalizer(), options);
    CHECK(summary.customers.rows == options.customers);
    CHECK(summary.customers.errors.empty());
    CHECK(summary.assets.errors.empty());
    CHECK(summary.notes.errors.empty());
    CHECK(summary.customers.inserted_or_updated == options.customers);
    CHECK(summary.calls > 1);
    CHECK(summary.logins.size() == 21);

    const auto pats = store->customers_by_number("+15550102000", 5);
    REQUIRE(pats.size() == 1);
    const auto& pat = pats.front();
    CHECK(pat.external_id == "C-1000");
    CHECK(pat.name == "Pat Doe");
    CHECK(pat.tier == "gold");
    const auto card = store->card(pat, 5);
    REQUIRE(card.assets.size() == 1);
    CHECK(card.assets[0].product == "LaserJet Pro M404");
    CHECK(card.assets[0].serial == "7XK2Q1");
    CHECK(card.assets[0].purchased == "2025-03-14");
    REQUIRE(card.preferences.size() == 1);
    CHECK(card.preferences[0].text == "tea, not coffee");
    REQUIRE(card.history.size() == 1);
    CHECK(card.history[0].call == "demo-1");
    CHECK(card.history[0].state == "completed");
    CHECK(card.history[0].agent == "1001");
    CHECK(card.history[0].outcome == "repaired");
    CHECK(store->customer_by_asset_serial("7XK2Q1")->id == pat.id);

    const auto agent = store->agent("1001");
    REQUIRE(agent);
    CHECK(agent->role == AgentRole::agent);
    CHECK(storage::verify_token("demo-1001", agent->token_hash));
    const auto supervisor = store->agent("super");
    REQUIRE(supervisor);
    CHECK(supervisor->role == AgentRole::supervisor);
    CHECK(storage::verify_token("demo-super", supervisor->token_hash));

    CHECK(store->recent_log(summary.calls * 4).size() >= summary.calls * 2);  // ring, hangup, ...

    // Follow-ups as the daemon would have made them.
    CHECK(summary.followups.surveys > 0);
    CHECK(summary.followups.callbacks > 0);
    CHECK(summary.followups.completed > 0);
    CHECK(summary.followups.open >= summary.followups.callbacks);
    const auto followups = all_followups(*store);
    CHECK(followups.size() == summary.followups.total());
    std::size_t scored = 0;
    std::set<std::string> open_callback_numbers;
    std::map<std::int64_t, std::vector<std::chrono::sys_seconds>> surveyed;
    std::map<std::string, std::size_t> surveys_by_reason;
    for (const auto& followup : followups) {
        CAPTURE(protocol::to_json(followup).dump());
        if (followup.customer_id) {
            const auto customer = store->customer_by_id(*followup.customer_id);
            REQUIRE(customer);
            CHECK_FALSE(customer->do_not_call);
        }
        CHECK(followup.number.starts_with("+1"));
        CHECK(followup.window.dump() ==
              R"({"days":["mon","tue","wed","thu","fri","sat"],"from":"08:00","to":"21:00"})");
        CHECK(followup.attempts_made <= followup.attempts_max);
        CHECK(followup.closed_at.empty() == (followup.status == FollowupStatus::open));
        if (followup.kind == FollowupKind::satisfaction) {
            REQUIRE(followup.customer_id);
            surveyed[*followup.customer_id].push_back(domain::parse_utc(followup.created_at));
            CHECK(followup.survey.value("scale", "") ==
                  (followup.reason == "sale" ? "nps" : "csat"));
            ++surveys_by_reason[followup.reason];
        } else {
            CHECK(followup.status == FollowupStatus::open);
            CHECK((followup.reason == "abandoned" || followup.reason == "missed"));
            CHECK(open_callback_numbers.insert(followup.number).second);  // one per number
        }
        if (followup.score) {
            ++scored;
            CHECK(followup.status == FollowupStatus::completed);
            CHECK(followup.last_result == domain::AttemptResult::reached);
            const bool nps = followup.survey.value("scale", "") == "nps";
            CHECK(*followup.score >= (nps ? 0 : 1));
            CHECK(*followup.score <= (nps ? 10 : 5));
        }
    }
    // Do-not-call customers who had a call that asks for a survey got none.
    std::size_t do_not_call_skipped = 0;
    for (std::size_t number = 1000; number < 1000 + options.customers; ++number) {
        const auto customer = store->customer_by_external_id("C-" + std::to_string(number));
        REQUIRE(customer);
        if (!customer->do_not_call) continue;
        for (const auto& call : store->card(*customer, 100).history)
            if (call.outcome == "repaired" || call.outcome == "sale") ++do_not_call_skipped;
        CHECK(surveyed.count(customer->id) == 0);
    }
    CHECK(do_not_call_skipped > 0);
    CHECK(surveys_by_reason.size() == 2);  // repaired and sale, nothing else
    CHECK(surveys_by_reason["repaired"] > 0);
    CHECK(surveys_by_reason["sale"] > 0);
    CHECK(scored == summary.followups.scored);
    CHECK(scored > 0);
    for (auto& [customer, created] : surveyed) {  // one survey per customer per 7 days
        std::sort(created.begin(), created.end());
        for (std::size_t index = 1; index < created.size(); ++index)
            CHECK(created[index] - created[index - 1] >= std::chrono::days{7});
    }
    // The follow-ups' records are in the log with the calls', in time order.
    const auto log = store->recent_log(1'000'000);
    CHECK(std::is_sorted(log.begin(), log.end(),
                         [](const auto& a, const auto& b) { return a.at < b.at; }));
    const auto count_kind = [&](std::string_view kind) {
        return static_cast<std::size_t>(std::count_if(
            log.begin(), log.end(), [&](const auto& record) { return record.kind == kind; }));
    };
    CHECK(count_kind("followup_created") == summary.followups.total());
    CHECK(count_kind("followup_attempted") == summary.followups.attempts);
    CHECK(count_kind("followup_completed") == summary.followups.completed);
    CHECK(count_kind("followup_unreachable") == summary.followups.unreachable);

    const auto again = storage::make_demo_data(*store, test::us_normalizer(), options);
    CHECK(again.calls == 0);
    CHECK(again.followups.total() == 0);
    CHECK(store->card(pat, 5).history.size() == 1);
    CHECK(all_followups(*store).size() == followups.size());

    // Same seed and clock: the same follow-ups in a fresh store.
    {
        const TempDir other_dir;
        auto other = test::open_test_store<Backend>(other_dir);
        auto other_options = options;
        other_options.csv_directory = other_dir / "demo-csv";
        storage::make_demo_data(*other, test::us_normalizer(), other_options);
        const auto others = all_followups(*other);
        REQUIRE(others.size() == followups.size());
        for (std::size_t index = 0; index < others.size(); ++index)
            CHECK(protocol::to_json(others[index]).dump() ==
                  protocol::to_json(followups[index]).dump());
    }

    // Same seed and clock: byte for byte the same files.
    options.csv_directory = dir / "demo-csv-2";
    const auto files = storage::write_demo_csv(options);
    const auto slurp = [](const std::filesystem::path& path) {
        std::ifstream input(path, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(input), {});
    };
    CHECK(slurp(files.customers) == slurp(dir / "demo-csv" / "customers.csv"));
    CHECK(slurp(files.assets) == slurp(dir / "demo-csv" / "assets.csv"));
    CHECK(slurp(files.notes) == slurp(dir / "demo-csv" / "notes.csv"));
}
