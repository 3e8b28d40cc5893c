// The follow-up rules on a real SQLite store, with the clock set by the test; on PostgreSQL
// where two daemons share one.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <chrono>
#include <future>

#include "daemon/followups/followup_desk.hpp"
#include "domain/timestamp.hpp"
#include "storage/postgresql/connection.hpp"
#include "storage_test_support.hpp"

using callpop::daemon::FollowupDesk;
using callpop::daemon::Instant;
using callpop::daemon::JobContext;
using callpop::domain::AttemptResult;
using callpop::domain::CallLogRecord;
using callpop::domain::FollowupKind;
using callpop::domain::FollowupStatus;
using callpop::domain::parse_utc;

namespace {

callpop::config::Config desk_config() {
    callpop::config::Config config;
    config.site.region = "US";
    config.site.timezone = "America/New_York";
    auto& followups = config.followups;
    followups.defaults.attempts = 2;
    followups.defaults.retry_after = std::chrono::hours(1);
    auto repaired = followups.defaults;
    repaired.kind = "satisfaction";
    repaired.delay = std::chrono::days(7);
    followups.by_outcome["repaired"] = repaired;
    auto complaint = followups.defaults;
    complaint.kind = "callback";
    complaint.next_morning = true;
    complaint.window.start_minute = 9 * 60;
    complaint.window.end_minute = 17 * 60;
    complaint.window.days = {true, true, true, true, true, false, false};
    followups.by_outcome["complaint"] = complaint;
    followups.missed_calls = followups.defaults;
    followups.missed_calls.kind = "callback";
    return config;
}

template <typename Backend>
struct DeskOn {
    callpop::test::TempDir dir;
    std::unique_ptr<callpop::storage::Store> store = callpop::test::open_test_store<Backend>(dir);
    FollowupDesk desk{desk_config()};
    int calls_made = 0;  // names each call made up here
    std::vector<CallLogRecord> logged;

    // Runs `work` as the writer thread does: in one transaction, with the call log.
    template <typename Work>
    auto run(Work work) {
        callpop::storage::StoreTransaction transaction(*store);
        JobContext context(*store, logged);
        auto result = work(context);
        transaction.commit();
        return result;
    }

    std::int64_t customer(const std::string& external_id, const std::string& zone,
                          const std::string& phone, bool do_not_call = false) {
        callpop::domain::Customer customer;
        customer.external_id = external_id;
        customer.name = "Customer " + external_id;
        customer.timezone = zone;
        customer.do_not_call = do_not_call;
        customer.phones = {phone};
        return run([&](JobContext& context) { return context.store.upsert_customer(customer); });
    }

    callpop::daemon::FollowupDecision outcome(const std::string& code, std::optional<std::int64_t> customer,
                                              const std::string& from, Instant now,
                                              std::optional<bool> requested = std::nullopt) {
        CallLogRecord record;
        record.kind = "outcome";
        record.call = "call-" + std::to_string(++calls_made);
        record.from = from;
        record.agent = "1001";
        record.customer_id = customer;
        record.outcome = code;
        return run([&](JobContext& context) {
            return desk.after_outcome(context, record, requested, now);
        });
    }

    callpop::daemon::FollowupDecision missed(const std::string& from, Instant now) {
        CallLogRecord record;
        record.kind = "hangup";
        record.call = "missed-" + std::to_string(++calls_made);
        record.from = from;
        record.cause = "abandoned";
        return run([&](JobContext& context) { return desk.after_missed_call(context, record, now); });
    }

    std::vector<callpop::daemon::FollowupOfferMade> offer(std::vector<std::string> agents, Instant now) {
        return run([&](JobContext& context) { return desk.offer_due(context, agents, now); });
    }

    callpop::daemon::FollowupUpdate attempt(const std::string& agent, std::int64_t id,
                                            AttemptResult result, Instant now,
                                            std::optional<int> score = std::nullopt) {
        callpop::protocol::FollowupResult message{id, result, score, ""};
        return run([&](JobContext& context) { return desk.record_attempt(context, agent, message, now); });
    }
};

using Desk = DeskOn<callpop::test::SqliteBackend>;

Instant at(const char* iso) { return parse_utc(iso); }

}  // namespace

TEST_CASE("a repair's survey falls due a week later inside the window, on the customer's clock") {
    Desk desk;
    const auto pat = desk.customer("C-1", "America/New_York", "+15550102000");
    // Monday 10:00 in New York.
    const auto decision = desk.outcome("repaired", pat, "+15550102000", at("2026-11-23T15:00:00Z"));
    REQUIRE(decision.scheduled);
    CHECK(decision.scheduled->kind == FollowupKind::satisfaction);
    CHECK(decision.scheduled->due == "2026-11-30T10:00:00-05:00");
    const auto followup = desk.store->followup(decision.scheduled->id);
    REQUIRE(followup);
    CHECK(followup->due_at == "2026-11-30T15:00:00.000Z");
    CHECK(followup->timezone == "America/New_York");
    CHECK(followup->timezone_source == "customer");
    CHECK(followup->survey["scale"] == "csat");
    REQUIRE(desk.logged.size() == 1);
    CHECK(desk.logged[0].kind == "followup_created");
    CHECK(desk.logged[0].followup_id == decision.scheduled->id);
    CHECK(desk.logged[0].outcome == "repaired");
}

TEST_CASE("a customer in Shanghai called from a US site is called in Shanghai's window") {
    Desk desk;
    const auto li = desk.customer("C-2", "Asia/Shanghai", "+8613800138000");
    // 10:00 in New York is 23:00 in Shanghai; a week later the window is shut until 08:00.
    const auto decision = desk.outcome("repaired", li, "+8613800138000", at("2026-11-23T15:00:00Z"));
    REQUIRE(decision.scheduled);
    CHECK(decision.scheduled->due == "2026-12-01T08:00:00+08:00");
    CHECK(desk.store->followup(decision.scheduled->id)->due_at == "2026-12-01T00:00:00.000Z");

    // Without a zone on record the number tells: +86 is one zone.
    const auto unknown_zone = desk.customer("C-3", "", "+8613800138001");
    const auto by_number =
        desk.outcome("repaired", unknown_zone, "+8613800138001", at("2026-11-23T15:00:00Z"));
    REQUIRE(by_number.scheduled);
    CHECK(desk.store->followup(by_number.scheduled->id)->timezone == "Asia/Shanghai");
    CHECK(desk.store->followup(by_number.scheduled->id)->timezone_source == "number");
}

TEST_CASE("a complaint on Friday evening is called back Monday morning") {
    Desk desk;
    const auto pat = desk.customer("C-1", "America/New_York", "+15550102000");
    // Friday 18:00 in New York.
    const auto decision = desk.outcome("complaint", pat, "+15550102000", at("2026-11-27T23:00:00Z"));
    REQUIRE(decision.scheduled);
    CHECK(decision.scheduled->kind == FollowupKind::callback);
    CHECK(decision.scheduled->due == "2026-11-30T09:00:00-05:00");
}

TEST_CASE("do-not-call, declined, throttled: no follow-up, and the reason says why") {
    Desk desk;
    const auto quiet = desk.customer("C-9", "Europe/Berlin", "+49301234567", true);
    const auto pat = desk.customer("C-1", "America/New_York", "+15550102000");
    const Instant monday = at("2026-11-23T15:00:00Z");
    CHECK(desk.outcome("repaired", quiet, "+49301234567", monday).no_followup_reason ==
          "the customer is on the do-not-call list");
    CHECK(desk.outcome("repaired", pat, "+15550102000", monday, false).no_followup_reason ==
          "declined by the agent");
    REQUIRE(desk.outcome("repaired", pat, "+15550102000", monday).scheduled);
    const auto again = desk.outcome("repaired", pat, "+15550102000", monday + std::chrono::days(6));
    CHECK_FALSE(again.scheduled);
    CHECK(again.no_followup_reason == "surveyed on 2026-11-23 (one survey per 7 days)");
    CHECK(desk.outcome("repaired", pat, "+15550102000", monday + std::chrono::days(8)).scheduled);
    // No policy for "resolved": nothing, and nothing to explain.
    const auto resolved = desk.outcome("resolved", pat, "+15550102000", monday);
    CHECK_FALSE(resolved.scheduled);
    CHECK(resolved.no_followup_reason.empty());
}

TEST_CASE("missed calls: one open callback per number; withheld callers cannot be called back") {
    Desk desk;
    const Instant now = at("2026-11-23T15:00:00Z");
    const auto first = desk.missed("+15550109999", now);
    REQUIRE(first.scheduled);
    CHECK(first.scheduled->due == "2026-11-23T10:00:00-05:00");
    const auto second = desk.missed("+15550109999", now + std::chrono::minutes(1));
    CHECK_FALSE(second.scheduled);
    CHECK(second.no_followup_reason == "an open callback for +15550109999 exists already");
    CHECK(desk.missed("anonymous", now).no_followup_reason == "no number to call back");
}

TEST_CASE("a due follow-up goes to one agent under a lease; attempts run out as unreachable") {
    Desk desk;
    const Instant now = at("2026-11-23T15:00:00Z");
    const auto id = desk.missed("+15550109999", now).scheduled->id;
    auto offers = desk.offer({"1002", "1003"}, now);
    REQUIRE(offers.size() == 1);
    CHECK(offers[0].lease.agent == "1002");
    CHECK(offers[0].lease.followup_id == id);
    CHECK(desk.offer({"1003"}, now + std::chrono::seconds(10)).empty());  // held by 1002
    CHECK(desk.attempt("1003", id, AttemptResult::reached, now).error_code == "not_offered");

    auto update = desk.attempt("1002", id, AttemptResult::no_answer, now + std::chrono::minutes(2));
    CHECK(update.status == FollowupStatus::open);
    CHECK(update.next_due == "2026-11-23T11:02:00-05:00");  // retry_after: 1 h
    CHECK(desk.offer({"1003"}, now + std::chrono::minutes(30)).empty());  // not due yet
    offers = desk.offer({"1003"}, now + std::chrono::minutes(62));
    REQUIRE(offers.size() == 1);
    // The lease runs out when nobody renews it: the next agent gets it.
    CHECK(desk.offer({"1002"}, now + std::chrono::minutes(62 + 6)).size() == 1);
    update = desk.attempt("1002", id, AttemptResult::busy, now + std::chrono::minutes(70));
    CHECK(update.status == FollowupStatus::unreachable);
    CHECK(desk.store->followup(id)->attempts_made == 2);
    CHECK(desk.attempt("1002", id, AttemptResult::reached, now + std::chrono::minutes(71))
              .error_code == "followup_closed");
    CHECK(desk.logged.back().kind == "followup_unreachable");
}

TEST_CASE("two daemons on one database hand out follow-ups at the same moment: the first holds "
          "only as many as it has agents waiting, the second gets the rest") {
    DeskOn<callpop::test::PostgresBackend> east;
    const Instant now = at("2026-11-23T15:00:00Z");
    for (const char* number : {"+15550109991", "+15550109992", "+15550109993", "+15550109994"})
        REQUIRE(east.missed(number, now).scheduled);
    const auto settings = callpop::test::PostgresBackend::settings(east.dir);
    auto west_store = callpop::storage::open_store(settings);
    FollowupDesk west_desk{desk_config()};
    callpop::storage::postgresql::Connection server(settings.conninfo);

    // Each daemon offers in its writer's transaction. East's is still open when west offers:
    // west reads the due ones past east's, then waits for east's commit to log its offers.
    callpop::storage::StoreTransaction east_transaction(*east.store);
    JobContext east_context(*east.store, east.logged);
    CHECK(east.desk.offer_due(east_context, {"1001"}, now).size() == 1);
    auto west_offers = std::async(std::launch::async, [&] {
        std::vector<CallLogRecord> west_logged;
        callpop::storage::StoreTransaction west_transaction(*west_store);
        JobContext west_context(*west_store, west_logged);
        auto offers = west_desk.offer_due(west_context, {"1002", "1003", "1004"}, now);
        west_transaction.commit();
        return offers.size();
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (west_offers.wait_for(std::chrono::milliseconds(10)) != std::future_status::ready &&
           server.query("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'advisory'")
                   .integer(0, 0) == 0 &&
           std::chrono::steady_clock::now() < deadline) {
    }
    east_transaction.commit();
    CHECK(west_offers.get() == 3);
}

TEST_CASE("a follow-up whose window closed before anyone took it waits for the window") {
    Desk desk;
    // 20:59 in New York: due at once, inside the 08:00-21:00 window.
    const auto id = desk.missed("+15550109999", at("2026-11-24T01:59:00Z")).scheduled->id;
    // Nobody asked until 21:30.
    CHECK(desk.offer({"1002"}, at("2026-11-24T02:30:00Z")).empty());
    CHECK(desk.store->followup(id)->due_at == "2026-11-24T13:00:00.000Z");  // 08:00 New York
    CHECK(desk.offer({"1002"}, at("2026-11-24T13:00:00Z")).size() == 1);
}

TEST_CASE("surveys take a score on their scale; callbacks take none") {
    Desk desk;
    const auto pat = desk.customer("C-1", "America/New_York", "+15550102000");
    const Instant now = at("2026-11-23T15:00:00Z");
    const auto survey = desk.outcome("repaired", pat, "+15550102000", now).scheduled->id;
    const Instant due = now + std::chrono::days(7);
    REQUIRE(desk.offer({"1002"}, due).size() == 1);
    CHECK(desk.attempt("1002", survey, AttemptResult::reached, due, 6).error ==
          "score 6 is outside the csat scale (1 to 5)");
    const auto done = desk.attempt("1002", survey, AttemptResult::reached, due, 5);
    CHECK(done.status == FollowupStatus::completed);
    CHECK(desk.store->followup(survey)->score == 5);

    const auto callback = desk.missed("+15550109999", due).scheduled->id;
    REQUIRE(desk.offer({"1002"}, due).size() == 1);
    CHECK(desk.attempt("1002", callback, AttemptResult::reached, due, 3).error_code == "bad_field");
}

TEST_CASE("callbacks left past their due time are flagged overdue once") {
    Desk desk;
    const Instant now = at("2026-11-23T15:00:00Z");
    const auto id = desk.missed("+15550109999", now).scheduled->id;
    CHECK(desk.run([&](JobContext& context) {
        return desk.desk.flag_overdue(context, now + std::chrono::minutes(29));
    }) == 0);
    CHECK(desk.run([&](JobContext& context) {
        return desk.desk.flag_overdue(context, now + std::chrono::minutes(31));
    }) == 1);
    CHECK(desk.logged.back().kind == "followup_overdue");
    CHECK(desk.logged.back().followup_id == id);
    CHECK(desk.logged.back().notes == "callback due 2026-11-23T10:00:00-05:00 is 31 min late");
    CHECK(desk.run([&](JobContext& context) {
        return desk.desk.flag_overdue(context, now + std::chrono::minutes(40));
    }) == 0);
    CHECK_FALSE(desk.store->followup(id)->overdue_at.empty());
}

TEST_CASE("a lease is freed only while it is still the one handed out") {
    Desk desk;
    const Instant now = at("2026-11-23T15:00:00Z");
    const auto id = desk.missed("+15550109999", now).scheduled->id;
    const auto first = desk.offer({"1002"}, now).at(0).lease;
    // Renewed since (the agent is still on the call): the stale lease frees nothing.
    desk.run([&](JobContext& context) {
        desk.desk.renew_leases(context, {{id, "1002", ""}}, now + std::chrono::minutes(2));
        desk.desk.release(context, {first});
        return 0;
    });
    CHECK(desk.store->followup(id)->leased_by == "1002");
    // The agent's session ended: whatever it holds is free at once.
    desk.run([&](JobContext& context) {
        desk.desk.release(context, {{id, "1002", ""}});
        return 0;
    });
    CHECK(desk.store->followup(id)->leased_by.empty());
    CHECK(desk.offer({"1003"}, now + std::chrono::minutes(3)).size() == 1);
}

TEST_CASE("a follow-up that cannot be read is set aside, not blocking the ones behind it") {
    Desk desk;
    const Instant now = at("2026-11-23T15:00:00Z");
    const auto broken = desk.missed("+15550109998", now - std::chrono::minutes(5)).scheduled->id;
    const auto fine = desk.missed("+15550109999", now).scheduled->id;
    // A zone that a tzdata update removed, say.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((desk.dir / "callpop.db").c_str(), &db) == SQLITE_OK);
    const std::string sql = "UPDATE followups SET timezone = 'Mars/Olympus_Mons' WHERE id = " +
                            std::to_string(broken);
    CHECK(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
    const auto offers = desk.offer({"1002"}, now);
    REQUIRE(offers.size() == 1);
    CHECK(offers[0].lease.followup_id == fine);
    CHECK(desk.store->followup(broken)->due_at == "2026-11-24T15:00:00.000Z");
}

TEST_CASE("an answer that comes after the hangup cancels the callback the hangup made") {
    Desk desk;
    const Instant now = at("2026-11-23T15:00:00Z");
    const auto decision = desk.missed("+15550109999", now);
    REQUIRE(decision.scheduled);
    const std::string call = desk.store->followup(decision.scheduled->id)->call;
    desk.run([&](JobContext& context) {
        desk.desk.after_late_answer(context, call, now + std::chrono::seconds(1));
        return 0;
    });
    CHECK(desk.store->followup(decision.scheduled->id)->status == FollowupStatus::cancelled);
    CHECK(desk.logged.back().kind == "followup_cancelled");
    CHECK(desk.logged.back().notes == "the call was answered after all");
    // The number may have a new callback now.
    CHECK(desk.missed("+15550109999", now + std::chrono::minutes(1)).scheduled);
}
