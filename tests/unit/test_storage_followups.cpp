// Follow-ups in the store, on every backend: leases, overdue callbacks, lists, reports.
// The SQLite backend's own follow-up tests are in test_storage_sqlite_followups.cpp.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "protocol/records.hpp"
#include "followup_test_support.hpp"
#include "storage_test_support.hpp"

using namespace callpop;
using domain::FollowupKind;
using domain::FollowupStatus;
using storage::CallLogRecord;
using storage::Followup;
using test::TempDir;
using test::add_customer;
using test::create;
using test::make_followup;
using test::update;

namespace {

void add_asset(storage::Store& store, const std::string& external_id, std::string product,
               std::string serial) {
    storage::StoreTransaction transaction(store);
    REQUIRE(store.upsert_asset(external_id, {std::move(product), std::move(serial), "2025-01-01", ""}));
    transaction.commit();
}

void append_required(storage::Store& store, const CallLogRecord& record) {
    storage::StoreTransaction transaction(store);
    REQUIRE(store.append_log(record));
    transaction.commit();
}

// A call on the support line answered by `agent`, with an outcome.
void log_answered_call(storage::Store& store, const std::string& call, std::optional<std::int64_t> customer,
                   const std::string& agent, const std::string& outcome,
                   const std::string& notes = "", const std::string& outcome_at = "2026-01-10T15:05:00.000Z") {
    CallLogRecord ring;
    ring.kind = "ring";
    ring.call = call;
    ring.at = "2026-01-10T15:00:00.000Z";
    ring.line = "Support hotline";
    ring.customer_id = customer;
    append_required(store, ring);
    CallLogRecord answer = ring;
    answer.kind = "answer";
    answer.at = "2026-01-10T15:00:05.000Z";
    answer.agent = agent;
    append_required(store, answer);
    CallLogRecord end = ring;
    end.kind = "hangup";
    end.at = "2026-01-10T15:04:00.000Z";
    append_required(store, end);
    CallLogRecord result;
    result.kind = "outcome";
    result.call = call;
    result.at = outcome_at;
    result.agent = agent;
    result.outcome = outcome;
    result.notes = notes;
    append_required(store, result);
}

// A satisfaction follow-up for `call`, completed with this answer.
std::int64_t completed_survey(storage::Store& store, const std::string& call,
                              std::optional<std::int64_t> customer, const std::string& scale,
                              int score, const std::string& comment, const std::string& closed_at) {
    auto followup = make_followup(FollowupKind::satisfaction, "+15550100001", "2026-01-12T14:00:00.000Z");
    followup.call = call;
    followup.customer_id = customer;
    followup.survey["scale"] = scale;
    const auto id = create(store, followup);
    REQUIRE(id);
    followup.id = *id;
    followup.status = FollowupStatus::completed;
    followup.score = score;
    followup.comment = comment;
    followup.closed_at = closed_at;
    followup.closed_by = "2001";
    followup.last_result = domain::AttemptResult::reached;
    update(store, followup);
    return *id;
}

std::vector<std::int64_t> ids_of(const std::vector<Followup>& followups) {
    std::vector<std::int64_t> ids;
    for (const auto& followup : followups) ids.push_back(followup.id);
    return ids;
}

}  // namespace


TEST_CASE_TEMPLATE("followups: create, read and update round trip every field", Backend,
                   CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    const auto customer = add_customer(*store, "C-1", "Pat Doe");
    auto followup = make_followup(FollowupKind::satisfaction, "+15550102000", "2026-01-12T14:00:00.000Z");
    followup.customer_id = customer;
    followup.call = "c-1";
    followup.attempts_max = 4;
    followup.retry_after_s = 3600;
    const auto id = create(*store, followup);
    REQUIRE(id);

    auto stored = store->followup(*id);
    REQUIRE(stored);
    CHECK(stored->id == *id);
    CHECK(stored->kind == FollowupKind::satisfaction);
    CHECK(stored->status == FollowupStatus::open);
    CHECK(stored->customer_id == customer);
    CHECK(stored->customer_name == "Pat Doe");
    CHECK(stored->number == "+15550102000");
    CHECK(stored->call == "c-1");
    CHECK(stored->reason == "repaired");
    CHECK(stored->timezone == "America/New_York");
    CHECK(stored->timezone_source == "site");
    CHECK(stored->window == followup.window);
    CHECK(stored->survey == followup.survey);
    CHECK(stored->attempts_max == 4);
    CHECK(stored->retry_after_s == 3600);
    CHECK(stored->leased_by.empty());
    CHECK(stored->lease_until.empty());
    CHECK_FALSE(stored->last_result);
    CHECK_FALSE(stored->score);
    CHECK(stored->closed_at.empty());
    CHECK(stored->overdue_at.empty());
    CHECK(stored->created_at == "2026-01-10T15:05:00.000Z");
    CHECK_FALSE(store->followup(*id + 100));

    stored->status = FollowupStatus::completed;
    stored->due_at = "2026-01-12T16:00:00.000Z";
    stored->attempts_made = 2;
    stored->leased_by = "2001";
    stored->lease_until = "2026-01-12T16:05:00.000Z";
    stored->last_result = domain::AttemptResult::reached;
    stored->score = 4;
    stored->comment = "quick, thanks";
    stored->closed_at = "2026-01-12T16:02:00.000Z";
    stored->closed_by = "2001";
    stored->overdue_at = "2026-01-12T15:00:00.000Z";
    update(*store, *stored);
    {
        // The attempts are rows of their own, which no reader returns: each backend's own
        // tests read them (test_storage_sqlite_followups.cpp, test_storage_postgresql_store.cpp).
        storage::StoreTransaction transaction(*store);
        store->add_followup_attempt(
            *id, {"2026-01-12T14:00:00.000Z", "2001", domain::AttemptResult::no_answer, {}, ""});
        store->add_followup_attempt(*id, {"2026-01-12T16:02:00.000Z", "2001",
                                          domain::AttemptResult::reached, 4, "quick, thanks"});
        transaction.commit();
    }
    const auto updated = store->followup(*id);
    REQUIRE(updated);
    CHECK(protocol::to_json(*updated) == protocol::to_json(*stored));

    Followup missing = *stored;
    missing.id = *id + 100;
    storage::StoreTransaction transaction(*store);
    CHECK_THROWS_AS(store->update_followup(missing), storage::StorageError);
}

TEST_CASE_TEMPLATE("followups: one open callback per number", Backend, CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    const auto every_followup = [&] {
        storage::FollowupQuery query;
        query.statuses = {};
        return store->list_followups(query);
    };
    const auto first = create(*store, make_followup(FollowupKind::callback, "+15550102000", "2026-01-10T15:10:00.000Z"));
    REQUIRE(first);
    CHECK_FALSE(create(*store, make_followup(FollowupKind::callback, "+15550102000", "2026-01-10T16:00:00.000Z")));
    CHECK(ids_of(every_followup()) == std::vector<std::int64_t>{*first});
    // Other numbers, numberless callbacks and surveys on the same number are not limited.
    CHECK(create(*store, make_followup(FollowupKind::callback, "+15550102001", "2026-01-10T15:10:00.000Z")));
    CHECK(create(*store, make_followup(FollowupKind::callback, "", "2026-01-10T15:10:00.000Z")));
    CHECK(create(*store, make_followup(FollowupKind::callback, "", "2026-01-10T15:10:00.000Z")));
    CHECK(create(*store, make_followup(FollowupKind::satisfaction, "+15550102000", "2026-01-12T14:00:00.000Z")));
    CHECK(every_followup().size() == 5);

    SUBCASE("refused inside a larger transaction, the transaction goes on") {
        storage::StoreTransaction transaction(*store);
        CHECK_FALSE(store->create_followup(make_followup(FollowupKind::callback, "+15550102000", "2026-01-11T15:00:00.000Z")));
        CHECK(store->create_followup(make_followup(FollowupKind::callback, "+15550102002", "2026-01-11T15:00:00.000Z")));
        transaction.commit();
        CHECK(every_followup().size() == 6);
    }
    SUBCASE("after the first is completed, a new one is accepted; reopening the first is refused") {
        auto done = store->followup(*first);
        REQUIRE(done);
        done->status = FollowupStatus::completed;
        done->closed_at = "2026-01-10T15:20:00.000Z";
        update(*store, *done);
        const auto again = create(*store, make_followup(FollowupKind::callback, "+15550102000", "2026-01-11T15:00:00.000Z"));
        REQUIRE(again);
        CHECK(*again != *first);
        // Reopening the old one now would make two open for the number: the store refuses.
        done->status = FollowupStatus::open;
        done->closed_at.clear();
        {
            storage::StoreTransaction transaction(*store);
            CHECK_THROWS_AS(store->update_followup(*done), storage::StorageError);
        }
        // Rolled back, the store goes on with both as they were.
        CHECK(store->followup(*first)->status == FollowupStatus::completed);
        CHECK(store->followup(*again)->status == FollowupStatus::open);
        storage::FollowupQuery open_callbacks;
        open_callbacks.kind = FollowupKind::callback;
        CHECK(ids_of(store->list_followups(open_callbacks)).size() == 4);
    }
}

TEST_CASE_TEMPLATE("followups: due ones come earliest first, leased ones only once the lease ran out",
                   Backend, CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    const auto late = *create(*store, make_followup(FollowupKind::callback, "+15550100003", "2026-01-10T15:30:00.000Z"));
    const auto early = *create(*store, make_followup(FollowupKind::callback, "+15550100001", "2026-01-10T15:10:00.000Z"));
    const auto middle = *create(*store, make_followup(FollowupKind::satisfaction, "+15550100002", "2026-01-10T15:20:00.000Z"));
    const auto future = *create(*store, make_followup(FollowupKind::callback, "+15550100004", "2026-01-10T18:00:00.000Z"));
    auto closed = make_followup(FollowupKind::callback, "+15550100005", "2026-01-10T15:00:00.000Z");
    closed.status = FollowupStatus::cancelled;
    REQUIRE(create(*store, closed));

    const std::string now = "2026-01-10T16:00:00.000Z";
    CHECK(ids_of(store->due_followups(now, 10)) == std::vector<std::int64_t>{early, middle, late});
    CHECK(ids_of(store->due_followups(now, 2)) == std::vector<std::int64_t>{early, middle});
    CHECK(ids_of(store->due_followups("2026-01-10T18:00:00.000Z", 10)) ==
          std::vector<std::int64_t>{early, middle, late, future});

    auto held = *store->followup(early);
    held.leased_by = "2001";
    held.lease_until = "2026-01-10T16:05:00.000Z";
    update(*store, held);
    CHECK(ids_of(store->due_followups(now, 10)) == std::vector<std::int64_t>{middle, late});
    CHECK(ids_of(store->due_followups("2026-01-10T16:05:00.000Z", 10)) ==
          std::vector<std::int64_t>{early, middle, late});
}

TEST_CASE_TEMPLATE("followups: the last survey created ignores cancelled ones and callbacks",
                   Backend, CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    const auto customer = add_customer(*store, "C-1", "Pat Doe");
    const auto other = add_customer(*store, "C-2", "Sam Roe");
    CHECK_FALSE(store->last_survey_created(customer));

    auto survey = make_followup(FollowupKind::satisfaction, "+15550100001", "2026-01-12T14:00:00.000Z");
    survey.customer_id = customer;
    survey.created_at = "2026-01-05T10:00:00.000Z";
    survey.status = FollowupStatus::completed;
    REQUIRE(create(*store, survey));
    survey.created_at = "2026-01-07T10:00:00.000Z";
    survey.status = FollowupStatus::cancelled;
    REQUIRE(create(*store, survey));
    auto callback = make_followup(FollowupKind::callback, "+15550100001", "2026-01-12T14:00:00.000Z");
    callback.customer_id = customer;
    callback.created_at = "2026-01-08T10:00:00.000Z";
    REQUIRE(create(*store, callback));
    survey.customer_id = other;
    survey.status = FollowupStatus::open;
    survey.created_at = "2026-01-09T10:00:00.000Z";
    REQUIRE(create(*store, survey));

    CHECK(store->last_survey_created(customer) == "2026-01-05T10:00:00.000Z");
    CHECK(store->last_survey_created(other) == "2026-01-09T10:00:00.000Z");
}

TEST_CASE_TEMPLATE("followups: open callbacks late and not yet flagged", Backend,
                   CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    const auto late = *create(*store, make_followup(FollowupKind::callback, "+15550100001", "2026-01-10T15:00:00.000Z"));
    const auto later = *create(*store, make_followup(FollowupKind::callback, "+15550100002", "2026-01-10T15:10:00.000Z"));
    REQUIRE(create(*store, make_followup(FollowupKind::callback, "+15550100003", "2026-01-10T15:30:00.000Z")));
    REQUIRE(create(*store, make_followup(FollowupKind::satisfaction, "+15550100004", "2026-01-10T14:00:00.000Z")));
    auto closed = make_followup(FollowupKind::callback, "+15550100005", "2026-01-10T14:00:00.000Z");
    closed.status = FollowupStatus::unreachable;
    REQUIRE(create(*store, closed));

    const std::string cutoff = "2026-01-10T15:30:00.000Z";
    CHECK(ids_of(store->unflagged_overdue_callbacks(cutoff, 10)) == std::vector<std::int64_t>{late, later});
    CHECK(ids_of(store->unflagged_overdue_callbacks(cutoff, 1)) == std::vector<std::int64_t>{late});
    auto flagged = *store->followup(late);
    flagged.overdue_at = "2026-01-10T15:31:00.000Z";
    update(*store, flagged);
    CHECK(ids_of(store->unflagged_overdue_callbacks(cutoff, 10)) == std::vector<std::int64_t>{later});
}

TEST_CASE_TEMPLATE("followups: the list filters by status, kind, agent, reason, due and overdue",
                   Backend, CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    log_answered_call(*store, "c-1", std::nullopt, "1001", "repaired");
    log_answered_call(*store, "c-2", std::nullopt, "1002", "complaint");
    auto survey = make_followup(FollowupKind::satisfaction, "+15550100001", "2026-01-12T14:00:00.000Z");
    survey.call = "c-1";
    const auto a = *create(*store, survey);
    auto callback = make_followup(FollowupKind::callback, "+15550100002", "2026-01-10T16:00:00.000Z");
    callback.call = "c-2";
    callback.reason = "complaint";
    const auto b = *create(*store, callback);
    auto missed = make_followup(FollowupKind::callback, "+15550100003", "2026-01-10T15:30:00.000Z");
    missed.reason = "missed";
    missed.overdue_at = "2026-01-10T16:00:00.000Z";
    missed.leased_by = "1003";
    missed.lease_until = "2026-01-10T16:05:00.000Z";
    const auto c = *create(*store, missed);
    auto gone = make_followup(FollowupKind::callback, "+15550100004", "2026-01-10T15:00:00.000Z");
    gone.status = FollowupStatus::cancelled;
    gone.closed_by = "1001";
    const auto d = *create(*store, gone);

    storage::FollowupQuery query;
    CHECK(ids_of(store->list_followups(query)) == std::vector<std::int64_t>{c, b, a});
    query.statuses = {};
    CHECK(ids_of(store->list_followups(query)) == std::vector<std::int64_t>{d, c, b, a});
    query.statuses = {FollowupStatus::cancelled, FollowupStatus::completed};
    CHECK(ids_of(store->list_followups(query)) == std::vector<std::int64_t>{d});
    query = {};
    query.kind = FollowupKind::callback;
    CHECK(ids_of(store->list_followups(query)) == std::vector<std::int64_t>{c, b});
    query = {};
    query.statuses = {};
    query.agent = "1001";  // took c-1, cancelled d
    CHECK(ids_of(store->list_followups(query)) == std::vector<std::int64_t>{d, a});
    query.agent = "1003";  // holds c
    CHECK(ids_of(store->list_followups(query)) == std::vector<std::int64_t>{c});
    query = {};
    query.reason = "complaint";
    CHECK(ids_of(store->list_followups(query)) == std::vector<std::int64_t>{b});
    query = {};
    query.due_by = "2026-01-10T16:00:00.000Z";
    CHECK(ids_of(store->list_followups(query)) == std::vector<std::int64_t>{c, b});
    query = {};
    query.overdue = "yes";
    CHECK(ids_of(store->list_followups(query)) == std::vector<std::int64_t>{c});
    query = {};
    query.limit = 1;
    CHECK(ids_of(store->list_followups(query)) == std::vector<std::int64_t>{c});
}

TEST_CASE_TEMPLATE("followups: survey results carry the call's agent, outcome, line and products",
                   Backend, CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    const auto pat = add_customer(*store, "C-1", "Pat Doe");
    add_asset(*store, "C-1", "LaserJet Pro", "S1");
    add_asset(*store, "C-1", "Router AX", "S2");
    add_asset(*store, "C-1", "LaserJet Pro", "S3");
    log_answered_call(*store, "c-1", pat, "1001", "repaired");
    log_answered_call(*store, "c-2", std::nullopt, "1002", "resolved");
    const auto first = completed_survey(*store, "c-1", pat, "csat", 5, "", "2026-01-12T14:05:00.000Z");
    const auto second = completed_survey(*store, "c-2", std::nullopt, "nps", 9, "great", "2026-01-13T14:05:00.000Z");
    completed_survey(*store, "c-2", std::nullopt, "csat", 3, "", "2026-02-01T00:00:00.000Z");
    // Not results: open, cancelled, and completed without a score.
    REQUIRE(create(*store, make_followup(FollowupKind::satisfaction, "+15550100001", "2026-01-12T14:00:00.000Z")));
    auto refused = make_followup(FollowupKind::satisfaction, "+15550100001", "2026-01-12T14:00:00.000Z");
    refused.status = FollowupStatus::completed;
    refused.closed_at = "2026-01-12T14:00:00.000Z";
    refused.last_result = domain::AttemptResult::refused;
    REQUIRE(create(*store, refused));

    const auto results = store->survey_results("2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z");
    REQUIRE(results.size() == 2);
    CHECK(results[0].followup_id == first);
    CHECK(results[0].completed_at == "2026-01-12T14:05:00.000Z");
    CHECK(results[0].scale == domain::SurveyScale::csat);
    CHECK(results[0].score == 5);
    CHECK(results[0].agent == "1001");
    CHECK(results[0].outcome == "repaired");
    CHECK(results[0].line == "Support hotline");
    CHECK(results[0].customer_id == pat);
    CHECK(results[0].customer_name == "Pat Doe");
    CHECK(results[0].products == std::vector<std::string>{"LaserJet Pro", "Router AX"});
    CHECK(results[1].followup_id == second);
    CHECK(results[1].scale == domain::SurveyScale::nps);
    CHECK(results[1].comment == "great");
    CHECK(results[1].agent == "1002");
    CHECK_FALSE(results[1].customer_id);
    CHECK(results[1].products.empty());
    CHECK(store->survey_results("", "").size() == 3);
    CHECK(store->survey_results("2026-01-13T00:00:00.000Z", "").size() == 2);
}

TEST_CASE_TEMPLATE("followups: feedback is low scores, comments and complaint outcomes, with products",
                   Backend, CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    const auto pat = add_customer(*store, "C-1", "Pat Doe");
    add_asset(*store, "C-1", "LaserJet Pro", "S1");
    const auto sam = add_customer(*store, "C-2", "Sam Roe");
    log_answered_call(*store, "c-1", pat, "1001", "repaired");
    log_answered_call(*store, "c-2", sam, "1002", "complaint", "toner everywhere",
                  "2026-01-11T09:00:00.000Z");
    log_answered_call(*store, "c-3", sam, "1002", "resolved", "fine", "2026-01-11T10:00:00.000Z");
    log_answered_call(*store, "c-4", pat, "1003", "refund", "wants money back", "2026-01-11T11:00:00.000Z");
    completed_survey(*store, "c-1", pat, "csat", 2, "", "2026-01-12T10:00:00.000Z");         // low
    completed_survey(*store, "c-1", pat, "csat", 3, "", "2026-01-12T11:00:00.000Z");         // not
    completed_survey(*store, "c-1", pat, "csat", 5, "lovely", "2026-01-12T12:00:00.000Z");   // comment
    completed_survey(*store, "c-3", sam, "nps", 6, "", "2026-01-12T13:00:00.000Z");          // low
    completed_survey(*store, "c-3", sam, "nps", 7, "", "2026-01-12T14:00:00.000Z");          // not

    const auto items = store->feedback("2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z",
                                       {"complaint", "refund"});
    REQUIRE(items.size() == 5);
    CHECK(items[0].source == "outcome");
    CHECK(items[0].at == "2026-01-11T09:00:00.000Z");
    CHECK(items[0].outcome == "complaint");
    CHECK(items[0].text == "toner everywhere");
    CHECK(items[0].agent == "1002");
    CHECK(items[0].call == "c-2");
    CHECK(items[0].customer_name == "Sam Roe");
    CHECK_FALSE(items[0].score);
    CHECK(items[0].products.empty());
    CHECK(items[1].outcome == "refund");
    CHECK(items[1].products == std::vector<std::string>{"LaserJet Pro"});
    CHECK(items[2].source == "survey");
    CHECK(items[2].scale == domain::SurveyScale::csat);
    CHECK(items[2].score == 2);
    CHECK(items[2].outcome == "repaired");
    CHECK(items[2].agent == "1001");
    CHECK(items[2].products == std::vector<std::string>{"LaserJet Pro"});
    CHECK(items[3].text == "lovely");
    CHECK(items[4].scale == domain::SurveyScale::nps);
    CHECK(items[4].score == 6);

    CHECK(store->feedback("", "", {}).size() == 3);
    CHECK(store->feedback("2026-01-12T11:00:00.000Z", "", {"complaint"}).size() == 2);
}

TEST_CASE_TEMPLATE("followups: call-log records keep the follow-up they are about", Backend,
                   CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    const auto id = *create(*store, make_followup(FollowupKind::callback, "+15550100001", "2026-01-10T15:00:00.000Z"));
    CallLogRecord record;
    record.kind = "followup_done";
    record.at = "2026-01-10T15:10:00.000Z";
    record.agent = "2001";
    record.followup_id = id;
    append_required(*store, record);
    const auto log = store->recent_log(1);
    REQUIRE(log.size() == 1);
    CHECK(log[0].followup_id == id);
    const auto json = protocol::to_json(log[0]);
    CHECK(json["followup"] == id);
    CHECK(protocol::call_log_record_from_json(json).followup_id == id);
}
