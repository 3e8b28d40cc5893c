// Follow-ups in the SQLite backend, checked with SQLite itself: migration 2, and the rows
// the store wrote. What every backend must do is in test_storage_followups.cpp.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <string>
#include <vector>

#include "support/sqlite_query.hpp"
#include "followup_test_support.hpp"
#include "sqlite_migrations.hpp"
#include "storage_test_support.hpp"

using namespace callpop;
using domain::FollowupKind;
using domain::FollowupStatus;
using test::TempDir;
using test::query_one;
using test::add_customer;
using test::create;
using test::make_followup;

using test::exec_sql;
using test::try_sql;
using test::sqlite_migrations;

TEST_CASE("followups: a step-1 database migrates to version 2 and keeps its data") {
    const TempDir dir;
    const auto path = dir / "callpop.db";
    exec_sql(path, std::string(sqlite_migrations[0]) +
                       "PRAGMA user_version = 1;"
                       "INSERT INTO customers (id, external_id, name) VALUES (7, 'C-7', 'Pat Doe');"
                       "INSERT INTO phones VALUES (7, '+15550102000', 0);"
                       "INSERT INTO assets (customer_id, product) VALUES (7, 'LaserJet');"
                       "INSERT INTO calls (call_id, started_at, state, customer_id, outcome) "
                       "VALUES ('c-1', '2026-01-10T15:00:00.000Z', 'completed', 7, 'repaired');"
                       "INSERT INTO call_log (id, at, kind, call_id, customer_id) "
                       "VALUES (41, '2026-01-10T15:00:00.000Z', 'ring', 'c-1', 7);"
                       "INSERT INTO followups (id, customer_id, call_id, kind, due_at, reason, "
                       "created_at) VALUES (3, 7, 'c-1', 'satisfaction', "
                       "'2026-01-12T14:00:00.000Z', 'repaired', '2026-01-10T15:05:00.000Z');");
    CHECK(query_one(path, "PRAGMA user_version") == "1");

    auto store = test::open_test_store<test::SqliteBackend>(dir);
    CHECK(query_one(path, "PRAGMA user_version") == std::to_string(std::size(sqlite_migrations)));
    CHECK(std::size(sqlite_migrations) >= 2);
    const auto customer = store->customer_by_id(7);
    REQUIRE(customer);
    CHECK(customer->name == "Pat Doe");
    CHECK(customer->phones == std::vector<std::string>{"+15550102000"});
    const auto log = store->recent_log(10);
    REQUIRE(log.size() == 1);
    CHECK(log[0].id == 41);
    CHECK_FALSE(log[0].followup_id);
    const auto card = store->card(*customer, 5);
    CHECK(card.history.size() == 1);
    CHECK(card.assets.size() == 1);
    REQUIRE(card.followups.size() == 1);
    CHECK(card.followups[0].id == 3);

    const auto followup = store->followup(3);
    REQUIRE(followup);
    CHECK(followup->kind == FollowupKind::satisfaction);
    CHECK(followup->status == FollowupStatus::open);
    CHECK(followup->customer_name == "Pat Doe");
    CHECK(followup->call == "c-1");
    CHECK(followup->due_at == "2026-01-12T14:00:00.000Z");
    CHECK(followup->window == nlohmann::json::object());
    CHECK(followup->survey.is_null());
    CHECK(followup->attempts_made == 0);
    CHECK(followup->attempts_max == 3);
    // The new rules hold on the migrated table.
    CHECK(try_sql(path, "UPDATE followups SET status = 'pending' WHERE id = 3") ==
          "CHECK constraint failed: status IN ('open', 'completed', 'unreachable', 'cancelled')");
    CHECK(query_one(path, "SELECT status FROM followups WHERE id = 3") == "open");
}

TEST_CASE("followups: attempts are rows of their own, kept in the order made") {
    // What the store reads back of a follow-up is checked on every backend
    // (test_storage_followups.cpp); its attempts no reader returns.
    const TempDir dir;
    auto store = test::open_test_store<test::SqliteBackend>(dir);
    const auto id = create(*store, make_followup(FollowupKind::satisfaction, "+15550102000",
                                                 "2026-01-12T14:00:00.000Z"));
    REQUIRE(id);
    {
        storage::StoreTransaction transaction(*store);
        store->add_followup_attempt(
            *id, {"2026-01-12T14:00:00.000Z", "2001", domain::AttemptResult::no_answer, {}, ""});
        store->add_followup_attempt(*id, {"2026-01-12T16:02:00.000Z", "2001",
                                          domain::AttemptResult::reached, 4, "quick, thanks"});
        transaction.commit();
    }
    CHECK(query_one(dir / "callpop.db",
                    "SELECT group_concat(followup_id || ':' || agent || ':' || result || ':' || "
                    "coalesce(score, '-') || ':' || comment, ',') FROM "
                    "(SELECT * FROM followup_attempts ORDER BY at)") ==
          std::to_string(*id) + ":2001:no_answer:-:," + std::to_string(*id) +
              ":2001:reached:4:quick, thanks");
}

TEST_CASE("followups: a state name the store does not know is an error naming column and value") {
    const TempDir dir;
    const auto path = dir / "callpop.db";
    auto store = test::open_test_store<test::SqliteBackend>(dir);
    const auto customer = add_customer(*store, "C-1", "Pat Doe");
    auto followup = make_followup(FollowupKind::callback, "+15550102000", "2026-01-12T14:00:00.000Z");
    followup.customer_id = customer;
    const auto broken = *create(*store, followup);
    const auto fine = *create(*store, make_followup(FollowupKind::satisfaction, "+15550102001",
                                                    "2026-01-12T14:00:00.000Z"));
    {
        storage::StoreTransaction transaction(*store);
        store->put_agent({"1001", "Alex", domain::AgentRole::agent, ""});
        transaction.commit();
    }
    // The schema's CHECKs keep such names out; a database written by hand may have them all
    // the same.
    exec_sql(path, "PRAGMA ignore_check_constraints = ON;"
                   "UPDATE followups SET status = 'reopened' WHERE id = " +
                       std::to_string(broken) + ";"
                   "UPDATE agents SET role = 'boss' WHERE id = '1001';");

    CHECK_THROWS_WITH_AS(store->followup(broken), "followups.status: unknown value \"reopened\"",
                         storage::StorageError);
    // The query that threw answers the next caller.
    CHECK(store->followup(fine)->status == FollowupStatus::open);
    CHECK_THROWS_WITH_AS(store->agent("1001"), "agents.role: unknown value \"boss\"",
                         storage::StorageError);

    exec_sql(path, "PRAGMA ignore_check_constraints = ON;"
                   "UPDATE followups SET status = 'open', kind = 'survey' WHERE id = " +
                       std::to_string(broken) + ";");
    // Read with no snapshot left over from the query that threw above.
    CHECK_THROWS_WITH_AS(store->followup(broken), "followups.kind: unknown value \"survey\"",
                         storage::StorageError);
    CHECK_THROWS_WITH_AS(store->card(*store->customer_by_id(customer), 5),
                         "followups.kind: unknown value \"survey\"", storage::StorageError);
}

TEST_CASE("followups: an attempt result or survey scale the store does not know is an error") {
    const TempDir dir;
    const auto path = dir / "callpop.db";
    auto store = test::open_test_store<test::SqliteBackend>(dir);
    const auto id = *create(*store, make_followup(FollowupKind::satisfaction, "+15550102000",
                                                  "2026-01-12T14:00:00.000Z"));
    const auto fine = *create(*store, make_followup(FollowupKind::callback, "+15550102001",
                                                    "2026-01-12T14:00:00.000Z"));
    CHECK_FALSE(store->followup(id)->last_result);  // '' in the row: no attempt yet

    exec_sql(path, "UPDATE followups SET last_result = 'voicemail' WHERE id = " +
                       std::to_string(id) + ";");
    CHECK_THROWS_WITH_AS(store->followup(id), "followups.last_result: unknown value \"voicemail\"",
                         storage::StorageError);
    CHECK(store->followup(fine)->status == FollowupStatus::open);

    // The survey is JSON the schema does not look into.
    exec_sql(path, "UPDATE followups SET last_result = 'reached', status = 'completed', "
                   "score = 4, closed_at = '2026-01-12T15:00:00.000Z', "
                   "survey = json_set(survey, '$.scale', 'stars') WHERE id = " +
                       std::to_string(id) + ";");
    CHECK_THROWS_WITH_AS(store->followup(id),
                         ("follow-up " + std::to_string(id) +
                          ": survey: unknown survey scale \"stars\"").c_str(),
                         storage::StorageError);
    CHECK_THROWS_WITH_AS(store->survey_results("", ""),
                         "followups.survey scale: unknown value \"stars\"",
                         storage::StorageError);
    CHECK(store->followup(fine)->status == FollowupStatus::open);

    exec_sql(path, "UPDATE followups SET survey = json_remove(survey, '$.scale') WHERE id = " +
                       std::to_string(id) + ";");
    // A survey that names no scale is csat, as the desk reads it.
    REQUIRE(store->survey_results("", "").size() == 1);
    CHECK(store->survey_results("", "")[0].scale == domain::SurveyScale::csat);
    CHECK(store->followup(id)->last_result == domain::AttemptResult::reached);
}
