// PostgresStore on its own: what only a shared server has (several daemons on one database,
// ids the server hands out, transactions the server aborts, snapshots, its checks on text)
// and the rows no reader returns. Each case has a fresh database on the tests' server
// (tests/support/postgres_cluster.hpp). What every backend must do is in the generic storage
// suite (TEST_CASE_TEMPLATE over CALLPOP_STORAGE_BACKENDS).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "storage/postgresql/connection.hpp"
#include "followup_test_support.hpp"
#include "storage_test_support.hpp"

using namespace callpop;
using domain::FollowupKind;
using storage::CallLogRecord;
using storage::StorageError;
using storage::postgresql::Connection;
using test::TempDir;

// Named, not anonymous: the unity build puts several test files in one translation unit.
namespace postgresql_store_test {

// Opened as a daemon opens it: the test case's own database, migrated on the first open.
std::unique_ptr<storage::Store> open_daemon_store(
    const TempDir& dir, storage::Access access = storage::Access::read_write) {
    return storage::open_store(test::PostgresBackend::settings(dir), access);
}

// Straight to the server, past the store: to read rows no reader returns, and to write
// what the store never would.
Connection connect_directly(const TempDir& dir) {
    return Connection(test::PostgresBackend::settings(dir).conninfo);
}

std::int64_t count_rows(Connection& db, const std::string& table) {
    return db.query("SELECT count(*) FROM " + table).integer(0, 0);
}

// Ids as "3,4": doctest shows a failed comparison of text, not of vectors.
std::string joined(const std::vector<std::int64_t>& ids) {
    std::string text;
    for (const auto id : ids) text += (text.empty() ? "" : ",") + std::to_string(id);
    return text;
}

std::string followup_ids(const std::vector<storage::Followup>& followups) {
    std::vector<std::int64_t> ids;
    for (const auto& followup : followups) ids.push_back(followup.id);
    return joined(ids);
}

std::string log_ids(const std::vector<CallLogRecord>& records) {
    std::vector<std::int64_t> ids;
    for (const auto& record : records) ids.push_back(record.id);
    return joined(ids);
}

CallLogRecord ring(std::string call, std::string at) {
    CallLogRecord record;
    record.kind = "ring";
    record.call = std::move(call);
    record.at = std::move(at);
    record.from = "+15550102000";
    record.extension = "1001";
    return record;
}


bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

}  // namespace postgresql_store_test

using namespace postgresql_store_test;

TEST_CASE("postgresql store: a due follow-up goes to one daemon; another skips it while held, "
          "and once leased") {
    const TempDir dir;
    auto first_daemon = open_daemon_store(dir);
    auto second_daemon = open_daemon_store(dir);
    std::vector<std::int64_t> due;
    for (const char* number : {"+15550100001", "+15550100002", "+15550100003", "+15550100004"}) {
        const auto id = test::create(
            *first_daemon, test::make_followup(FollowupKind::callback, number,
                                               "2026-01-10T15:0" + std::to_string(due.size()) +
                                                   ":00.000Z"));
        REQUIRE(id);
        due.push_back(*id);
    }
    const std::string now = "2026-01-10T16:00:00.000Z";
    const std::string lease_end = "2026-01-10T16:05:00.000Z";

    // Both hand out follow-ups in their writer's transaction at the same moment. The rows the
    // first took stay locked until it commits; the second neither waits for them nor gets
    // them, even in a transaction that outlasts the first's.
    first_daemon->begin();
    auto taken_by_first = first_daemon->due_followups(now, 2);
    CHECK(followup_ids(taken_by_first) == joined({due[0], due[1]}));
    second_daemon->begin();
    CHECK(followup_ids(second_daemon->due_followups(now, 10)) == joined({due[2], due[3]}));

    for (auto& followup : taken_by_first) {
        followup.leased_by = "2001";
        followup.lease_until = lease_end;
        first_daemon->update_followup(followup);
    }
    first_daemon->commit();
    // Committed, the first's are leased: the second, still in its transaction, reads them
    // again and leaves them out, and keeps its own.
    CHECK(followup_ids(second_daemon->due_followups(now, 10)) == joined({due[2], due[3]}));
    second_daemon->commit();

    // What a daemon took and gave back without a lease (it rolled back) is free again.
    first_daemon->begin();
    CHECK(followup_ids(first_daemon->due_followups(now, 10)) == joined({due[2], due[3]}));
    first_daemon->rollback();
    second_daemon->begin();
    CHECK(followup_ids(second_daemon->due_followups(now, 10)) == joined({due[2], due[3]}));
    second_daemon->rollback();
    // And the leased ones come back when their lease runs out.
    CHECK(followup_ids(second_daemon->due_followups(lease_end, 10)) == joined(due));
}

TEST_CASE("postgresql store: call-log ids follow commit order across daemons") {
    const TempDir dir;
    auto first = open_daemon_store(dir);
    auto second = open_daemon_store(dir);
    // The first daemon's writer has a record in an open transaction...
    storage::StoreTransaction first_batch(*first);
    const auto first_id = first->append_log(ring("c-first", "2026-01-10T15:00:00.000Z"));
    REQUIRE(first_id);
    // ...when the second one's writes a record and commits.
    std::atomic<bool> second_committed = false;
    std::optional<std::int64_t> second_id;
    std::thread second_writer([&] {
        storage::StoreTransaction batch(*second);
        second_id = second->append_log(ring("c-second", "2026-01-10T15:00:00.001Z"));
        batch.commit();
        second_committed = true;
    });
    // Had the second committed now, with its larger id, a tail that read it would go on
    // after it and never see the first's smaller one. It waits for the first instead.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK_FALSE(second_committed);
    first_batch.commit();
    second_writer.join();
    REQUIRE(second_id);
    CHECK(*second_id > *first_id);
    CHECK(log_ids(first->log_after(0, 10)) ==
          std::to_string(*first_id) + "," + std::to_string(*second_id));
}

TEST_CASE("postgresql store: two daemons hearing one switch log each of its events once, "
          "whichever commits first; a first writer that rolls back leaves it to the second") {
    const TempDir dir;
    auto east = open_daemon_store(dir);
    auto west = open_daemon_store(dir);
    // Each daemon's writer appends its record of one ring in a transaction of its own, at
    // the same time: west's waits for east's to end (the log lock), then inserts or finds
    // east's record. Returns what west's append_log said.
    const auto race = [&](const std::string& call, bool east_commits) {
        auto east_record = ring(call, "2026-01-10T15:00:00.000Z");
        east_record.occurrence = 1;
        auto west_record = east_record;
        west_record.at = "2026-01-10T15:00:00.020Z";
        std::atomic<bool> west_done = false;
        std::optional<std::int64_t> west_id;
        east->begin();
        REQUIRE(east->append_log(east_record));
        std::thread west_writer([&] {
            storage::StoreTransaction west_batch(*west);
            west_id = west->append_log(west_record);
            west_batch.commit();
            west_done = true;
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        CHECK_FALSE(west_done);
        if (east_commits) {
            east->commit();
        } else {
            east->rollback();
        }
        west_writer.join();
        return west_id;
    };
    CHECK_FALSE(race("c-east", true));
    CHECK(race("c-west", false));
    Connection db = connect_directly(dir);
    CHECK(db.query("SELECT string_agg(call_id || ' ' || at, ', ' ORDER BY id) FROM call_log")
              .text(0, 0) ==
          "c-east 2026-01-10T15:00:00.000Z, c-west 2026-01-10T15:00:00.020Z");
}

TEST_CASE("postgresql store: committing a transaction a statement failed in is an error, and "
          "keeps nothing of it") {
    const TempDir dir;
    auto store = open_daemon_store(dir);
    const auto customer = test::add_customer(*store, "C-1", "Pat Doe");
    const auto followup_id = *test::create(
        *store, test::make_followup(FollowupKind::callback, "+15550102000", "2026-01-10T15:00:00.000Z"));
    auto leased = *store->followup(followup_id);
    leased.leased_by = "2001";
    leased.lease_until = "2026-01-10T16:05:00.000Z";

    store->begin();
    REQUIRE(store->append_log(ring("c-1", "2026-01-10T15:00:00.000Z")));
    REQUIRE(store->add_note(customer, {0, "note", "prefers mornings", "2001",
                                       "2026-01-10T15:00:00.000Z"}));
    store->update_followup(leased);
    store->add_followup_attempt(followup_id, {"2026-01-10T15:01:00.000Z", "2001",
                                              domain::AttemptResult::no_answer, {}, ""});
    // No such follow-up: the server refuses the row (its foreign key) and aborts the
    // transaction, whatever the caller does next.
    CHECK_THROWS_AS(store->add_followup_attempt(followup_id + 100,
                                                {"2026-01-10T15:01:00.000Z", "2001",
                                                 domain::AttemptResult::no_answer, {}, ""}),
                    StorageError);
    // A caller that commits anyway must hear that nothing was written.
    CHECK_THROWS_AS(store->commit(), StorageError);
    store->rollback();

    Connection db = connect_directly(dir);
    CHECK(count_rows(db, "call_log") == 0);
    CHECK(count_rows(db, "calls") == 0);
    CHECK(count_rows(db, "notes") == 0);
    CHECK(count_rows(db, "followup_attempts") == 0);
    CHECK(store->followup(followup_id)->leased_by.empty());
    CHECK(store->last_log_id() == 0);

    // The store goes on: the same transaction without the bad row commits.
    {
        storage::StoreTransaction transaction(*store);
        REQUIRE(store->append_log(ring("c-1", "2026-01-10T15:00:00.000Z")));
        store->update_followup(leased);
        store->add_followup_attempt(followup_id, {"2026-01-10T15:01:00.000Z", "2001",
                                                  domain::AttemptResult::no_answer, {}, ""});
        transaction.commit();
    }
    CHECK(count_rows(db, "call_log") == 1);
    CHECK(count_rows(db, "followup_attempts") == 1);
    CHECK(store->followup(followup_id)->leased_by == "2001");
}

TEST_CASE("postgresql store: a follow-up's attempts are rows of their own, kept in the order "
          "made") {
    // What the store reads back of a follow-up is checked on every backend
    // (test_storage_followups.cpp); its attempts no reader returns.
    const TempDir dir;
    auto store = open_daemon_store(dir);
    const auto id = *test::create(*store, test::make_followup(FollowupKind::satisfaction,
                                                              "+15550102000",
                                                              "2026-01-12T14:00:00.000Z"));
    {
        storage::StoreTransaction transaction(*store);
        store->add_followup_attempt(
            id, {"2026-01-12T14:00:00.000Z", "2001", domain::AttemptResult::no_answer, {}, ""});
        store->add_followup_attempt(id, {"2026-01-12T16:02:00.000Z", "2001",
                                         domain::AttemptResult::reached, 4, "quick, thanks"});
        transaction.commit();
    }
    Connection db = connect_directly(dir);
    CHECK(db.query("SELECT string_agg(followup_id || ':' || agent || ':' || result || ':' || "
                   "coalesce(score::text, '-') || ':' || comment, ',' ORDER BY at) "
                   "FROM followup_attempts")
              .text(0, 0) == std::to_string(id) + ":2001:no_answer:-:," + std::to_string(id) +
                                 ":2001:reached:4:quick, thanks");
}

TEST_CASE("postgresql store: a reader needs the schema there, and reads one snapshot a "
          "transaction") {
    const TempDir dir;
    // Readers beside the writer never create the schema: on a database nobody migrated yet
    // they are refused, and leave it as it was.
    const auto refused = test::storage_error_of([&] { open_daemon_store(dir, storage::Access::read_only); });
    INFO(refused.what());
    CHECK(contains(refused.what(), "PostgreSQL"));
    CHECK(contains(refused.what(), "schema"));
    {
        Connection db = connect_directly(dir);
        CHECK(db.query("SELECT to_regclass('schema_version') IS NULL").text(0, 0) == "t");
    }

    auto writer = open_daemon_store(dir);
    auto reader = open_daemon_store(dir, storage::Access::read_only);
    CHECK_FALSE(reader->customer_by_external_id("C-1"));

    // A caller's whole card is read in one transaction: what the writer commits meanwhile
    // waits for the reader's next one.
    reader->begin();
    CHECK_FALSE(reader->customer_by_external_id("C-1"));
    const auto added = test::add_customer(*writer, "C-1", "Pat Doe");
    CHECK_FALSE(reader->customer_by_external_id("C-1"));
    CHECK_FALSE(reader->customer_by_id(added));
    reader->commit();
    reader->begin();
    const auto seen = reader->customer_by_external_id("C-1");
    REQUIRE(seen);
    CHECK(seen->id == added);
    CHECK(seen->name == "Pat Doe");
    reader->commit();

    // A reader's transaction writes nothing.
    reader->begin();
    const auto write = test::storage_error_of([&] {
        storage::Customer customer;
        customer.external_id = "C-2";
        reader->upsert_customer(customer);
    });
    INFO(write.what());
    CHECK(contains(write.what(), "read-only"));
    reader->rollback();
    CHECK_FALSE(writer->customer_by_external_id("C-2"));
}

TEST_CASE("postgresql store: a stored value the code has no name for is an error naming the "
          "follow-up and the column") {
    const TempDir dir;
    auto store = open_daemon_store(dir);
    const auto broken = *test::create(*store, test::make_followup(FollowupKind::satisfaction,
                                                                  "+15550102000",
                                                                  "2026-01-10T15:00:00.000Z"));
    const auto fine = *test::create(*store, test::make_followup(FollowupKind::callback,
                                                                "+15550102001",
                                                                "2026-01-10T15:00:00.000Z"));
    const std::string broken_id = std::to_string(broken);
    Connection db = connect_directly(dir);
    // The schema's CHECKs keep unknown statuses and kinds out; the survey is JSON it does
    // not look into.
    db.query("UPDATE followups SET survey = '{\"scale\":\"stars\"}' WHERE id = $1", {broken_id});

    const auto read = test::storage_error_of([&] { store->followup(broken); });
    CHECK(std::string(read.what()) ==
          "follow-up " + broken_id + ": survey: unknown survey scale \"stars\"");
    CHECK_FALSE(read.transient());
    // Every reader of the row says so, and the query that threw answers the next caller.
    CHECK_THROWS_WITH_AS(store->due_followups("2026-01-10T16:00:00.000Z", 10),
                         ("follow-up " + broken_id + ": survey: unknown survey scale \"stars\"")
                             .c_str(),
                         StorageError);
    CHECK(store->followup(fine)->status == domain::FollowupStatus::open);

    db.query("UPDATE followups SET survey = NULL, calling_window = 'from eight' WHERE id = $1",
             {broken_id});
    CHECK_THROWS_WITH_AS(store->followup(broken),
                         ("follow-up " + broken_id + ": calling_window is not JSON").c_str(),
                         StorageError);

    // No CHECK on the last attempt's result: the reader's own check names it.
    db.query("UPDATE followups SET calling_window = '{}', last_result = 'voicemail' WHERE id = $1",
             {broken_id});
    CHECK_THROWS_WITH_AS(store->followup(broken),
                         "followups.last_result: unknown value \"voicemail\"", StorageError);
    CHECK(store->followup(fine)->status == domain::FollowupStatus::open);
}

TEST_CASE("postgresql store: text that is not UTF-8 or holds a NUL byte is refused, and the "
          "store goes on") {
    const TempDir dir;
    auto store = open_daemon_store(dir);
    std::string bad;
    // The server refuses the one; libpq cannot send the other, which would be cut short.
    SUBCASE("not UTF-8") { bad = "Pat \xff\xfe Doe"; }
    SUBCASE("a NUL byte") { bad = std::string("Pat \0 Doe", 9); }

    for (int round = 1; round <= 2; ++round) {
        CAPTURE(round);  // the second finds the customer and the call there already
        storage::Customer customer;
        customer.external_id = "C-1";
        customer.name = bad;
        {
            storage::StoreTransaction transaction(*store);
            CHECK_THROWS_AS(store->upsert_customer(customer), StorageError);
        }
        CallLogRecord record = ring("c-1", "2026-01-10T15:00:00.000Z");
        record.caller_name = bad;
        {
            storage::StoreTransaction transaction(*store);
            CHECK_THROWS_AS(store->append_log(record), StorageError);
        }
        // Rolled back, the store takes the same rows with good text.
        customer.name = "Pat Doe";
        record.caller_name = "Pat Doe";
        {
            storage::StoreTransaction transaction(*store);
            store->upsert_customer(customer);
            REQUIRE(store->append_log(record));
            transaction.commit();
        }
        CHECK(store->customer_by_external_id("C-1")->name == "Pat Doe");
        CHECK(store->recent_log(1).at(0).caller_name == "Pat Doe");
    }
    CHECK(store->recent_log(10).size() == 2);
}

TEST_CASE("postgresql store: each daemon closes only its own calls left open, and keeps a spool "
          "position of its own") {
    const TempDir dir;
    auto settings = test::PostgresBackend::settings(dir);
    settings.daemon_name = "east-1";
    auto east = storage::open_store(settings);
    settings.daemon_name = "west-1";
    auto west = storage::open_store(settings);
    {
        storage::StoreTransaction transaction(*east);
        REQUIRE(east->append_log(ring("c-east", "2026-01-10T15:00:00.000Z")));
        transaction.commit();
    }
    {
        storage::StoreTransaction transaction(*west);
        REQUIRE(west->append_log(ring("c-west", "2026-01-10T15:00:01.000Z")));
        transaction.commit();
    }
    // West restarting must not close east's live call as left open.
    const auto east_open = east->calls_left_open();
    REQUIRE(east_open.size() == 1);
    CHECK(east_open[0].call == "c-east");
    const auto west_open = west->calls_left_open();
    REQUIRE(west_open.size() == 1);
    CHECK(west_open[0].call == "c-west");

    east->set_spool_position({3, 120});
    west->set_spool_position({1, 40});
    CHECK(east->spool_position().file == 3);
    CHECK(east->spool_position().offset == 120);
    CHECK(west->spool_position().file == 1);
    CHECK(west->spool_position().offset == 40);
}

TEST_CASE("postgresql store: a daemon name is served by one daemon at a time") {
    const TempDir dir;
    auto settings = test::PostgresBackend::settings(dir);
    settings.daemon_name = "east-1";
    storage::open_store(settings)->daemon_seen(
        {"east-1", "cti-east", 4242, "0.1.0", "2026-01-10T08:00:00.000Z",
         "2026-01-10T08:00:05.000Z"});
    {
        const auto held = storage::lock_store_for_serving(settings);
        try {
            storage::lock_store_for_serving(settings);
            FAIL("a second daemon got the name");
        } catch (const StorageError& error) {
            CHECK(std::string(error.what()) ==
                  "daemon name \"east-1\" is served by another callpop serve on this database "
                  "(host cti-east, pid 4242, last seen 2026-01-10T08:00:05.000Z): give each "
                  "daemon its own storage.daemon_name");
        }
        // Another name is free.
        settings.daemon_name = "west-1";
        CHECK(storage::lock_store_for_serving(settings));
        settings.daemon_name = "east-1";
    }
    // Released with its daemon.
    CHECK(storage::lock_store_for_serving(settings));
}

// Every message the bus receives within `wait`, until `count` came.
std::vector<storage::BusMessage> receive_until(storage::StoreBus& bus, std::size_t count,
                                               std::chrono::milliseconds wait = std::chrono::seconds(5)) {
    std::vector<storage::BusMessage> received;
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (received.size() < count && std::chrono::steady_clock::now() < deadline) {
        for (auto& message : bus.receive()) received.push_back(std::move(message));
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return received;
}

TEST_CASE("postgresql bus: messages reach the other daemons in order, not the sender, and "
          "listening survives a lost connection") {
    const TempDir dir;
    const auto settings = test::PostgresBackend::settings(dir);
    auto east = storage::open_bus(settings);
    auto west = storage::open_bus(settings);
    REQUIRE(east);
    REQUIRE(west);
    east->listen("callpop_test");
    west->listen("callpop_test");
    // Not the sender: its own come back to its session, which passes over them.
    CHECK(test::publish_and_wait(*west, "callpop_test",
                                 {"one", "two, with a comma", "three \"quoted\""})
              .empty());
    const auto received = receive_until(*east, 3);
    REQUIRE(received.size() == 3);
    CHECK(received[0].payload == "one");
    CHECK(received[1].payload == "two, with a comma");
    CHECK(received[2].payload == "three \"quoted\"");
    CHECK(received[0].channel == "callpop_test");
    CHECK(receive_until(*west, 1, std::chrono::milliseconds(300)).empty());
    // Too long for a notification: refused whole, before anything is sent.
    CHECK_THROWS_AS(west->publish("callpop_test", {"fine", std::string(8000, 'x')}), StorageError);
    CHECK(receive_until(*east, 1, std::chrono::milliseconds(300)).empty());

    // Many at once go several to a notification: every one arrives whole, in order, the
    // longest allowed ones and text that needs escaping in an array literal too.
    std::vector<std::string> many;
    for (int index = 0; index < 300; ++index)
        many.push_back("{\"n\":" + std::to_string(index) + ",\"text\":\"a \\\"quote\\\" and a \\\\\"}");
    many.insert(many.begin() + 100, std::string(storage::StoreBus::max_payload_bytes, 'y'));
    many.insert(many.begin() + 101, std::string(storage::StoreBus::max_payload_bytes, 'z'));
    many.emplace_back("");
    CHECK(test::publish_and_wait(*west, "callpop_test", many).empty());
    const auto packed = receive_until(*east, many.size());
    REQUIRE(packed.size() == many.size());
    for (std::size_t index = 0; index < many.size(); ++index) CHECK(packed[index].payload == many[index]);
    // A line break would split a message in two: refused whole, before anything is sent.
    CHECK_THROWS_AS(west->publish("callpop_test", {"fine", "two\nlines"}), StorageError);
    CHECK(receive_until(*east, 1, std::chrono::milliseconds(300)).empty());

    // Publishing waits for nothing: the answer comes with a later receive().
    west->publish("callpop_test", {"unanswered yet"});
    CHECK(west->publishing());
    CHECK_THROWS_AS(west->publish("callpop_test", {"a second at once"}), std::logic_error);
    const auto unanswered = receive_until(*east, 1);
    REQUIRE(unanswered.size() == 1);
    CHECK(unanswered[0].payload == "unanswered yet");
    CHECK(receive_until(*west, 1, std::chrono::milliseconds(300)).empty());
    CHECK_FALSE(west->publishing());

    // The server ends east's session: an error, and east is done with; a new bus listens.
    auto admin = connect_directly(dir);
    // East's last statement was its LISTEN; west's, its publish.
    CHECK(admin.query("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND query LIKE 'LISTEN%' AND "
                      "pid <> pg_backend_pid()")
              .integer(0, 0) == 1);
    bool lost = false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!lost && std::chrono::steady_clock::now() < deadline) {
        try {
            east->receive();
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        } catch (const StorageError& error) {
            CHECK(error.transient());
            lost = true;
        }
    }
    CHECK(lost);
    east = storage::open_bus(settings);
    east->listen("callpop_test");
    CHECK(test::publish_and_wait(*west, "callpop_test", {"after"}).empty());
    const auto after = receive_until(*east, 1);
    REQUIRE(after.size() == 1);
    CHECK(after[0].payload == "after");
}
