#include <doctest/doctest.h>

#include <phonenumbers/phonenumberutil.h>

#include <algorithm>
#include <array>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "storage/phone_number.hpp"
#include "storage/token_hash.hpp"
#include "followup_test_support.hpp"
#include "storage_test_support.hpp"

using namespace callpop;
using storage::CallLogRecord;
using storage::Customer;
using storage::Note;
using test::TempDir;

namespace {

Customer make_customer(std::string external_id, std::string name,
                       std::vector<std::string> phones) {
    Customer customer;
    customer.external_id = std::move(external_id);
    customer.name = std::move(name);
    customer.phones = std::move(phones);
    return customer;
}

std::int64_t add_customer(storage::Store& store, const Customer& customer) {
    storage::StoreTransaction transaction(store);
    const auto id = store.upsert_customer(customer);
    transaction.commit();
    return id;
}

CallLogRecord call_event(std::string kind, std::string call, std::string at) {
    CallLogRecord record;
    record.kind = std::move(kind);
    record.call = std::move(call);
    record.at = std::move(at);
    return record;
}

// A ring, answer and hangup of one call, answered by agent 1001.
std::array<CallLogRecord, 3> answered_call(const std::string& call, std::int64_t customer_id) {
    auto ring = call_event("ring", call, "2026-01-10T15:00:00.000Z");
    ring.from = "+15550102000";
    ring.to = "8005551000";
    ring.line = "Support hotline";
    ring.extension = "1001";
    ring.customer_id = customer_id;
    auto answer = call_event("answer", call, "2026-01-10T15:00:07.000Z");
    answer.extension = "1001";
    answer.agent = "1001";
    auto hangup = call_event("hangup", call, "2026-01-10T15:04:00.000Z");
    hangup.cause = "normal";
    return {ring, answer, hangup};
}

bool append(storage::Store& store, const CallLogRecord& record) {
    storage::StoreTransaction transaction(store);
    const bool appended = store.append_log(record).has_value();
    transaction.commit();
    return appended;
}

}  // namespace

TEST_CASE_TEMPLATE("store: ring, answer and hangup fold into one call whatever their order",
                   Backend, CALLPOP_STORAGE_BACKENDS) {
    std::array<int, 3> order{0, 1, 2};
    do {
        CAPTURE(order[0]);
        CAPTURE(order[1]);
        CAPTURE(order[2]);
        const TempDir dir;
        auto store = test::open_test_store<Backend>(dir);
        const auto customer_id =
            add_customer(*store, make_customer("C-1", "Pat Doe", {"+15550102000"}));
        const auto events = answered_call("c-1", customer_id);
        for (const int index : order)
            CHECK(append(*store, events[static_cast<std::size_t>(index)]));

        const auto card = store->card(*store->customer_by_id(customer_id), 5);
        REQUIRE(card.history.size() == 1);
        const auto& call = card.history[0];
        CHECK(call.call == "c-1");
        CHECK(call.at == "2026-01-10T15:00:00.000Z");  // the ring, even when it came last
        CHECK(call.state == "completed");
        CHECK(call.agent == "1001");
        CHECK(call.line == "Support hotline");
        CHECK(store->recent_log(10).size() == 3);
    } while (std::next_permutation(order.begin(), order.end()));
}

TEST_CASE_TEMPLATE("store: a switch's event record is kept once, however many daemons hearing "
                   "the switch log it", Backend, CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    const auto customer_id =
        add_customer(*store, make_customer("C-1", "Pat Doe", {"+15550102000"}));
    auto [ring, answer, hangup] = answered_call("c-1", customer_id);
    for (auto* record : {&ring, &answer, &hangup}) record->occurrence = 1;
    CHECK(append(*store, ring));
    CHECK(append(*store, answer));

    // The other daemon's records of the same events: made a moment later, under its own name
    // for the switch, and without the agent, who is not logged in to it.
    auto ring_elsewhere = ring;
    ring_elsewhere.at = "2026-01-10T15:00:00.040Z";
    ring_elsewhere.switch_name = "pbx-b";
    CHECK_FALSE(append(*store, ring_elsewhere));
    auto answer_elsewhere = answer;
    answer_elsewhere.at = "2026-01-10T15:00:07.030Z";
    answer_elsewhere.agent = "";
    CHECK_FALSE(append(*store, answer_elsewhere));

    // Transferred back, the call is answered at 1001 a second time: a record of its own, once.
    auto answered_again = answer;
    answered_again.at = "2026-01-10T15:03:00.000Z";
    answered_again.occurrence = 2;
    CHECK(append(*store, answered_again));
    answered_again.at = "2026-01-10T15:03:00.020Z";
    CHECK_FALSE(append(*store, answered_again));

    // A call ends once: the other daemon's hangup with another cause, or its timeout of the
    // call when it missed the hangup, is the same end.
    CHECK(append(*store, hangup));
    auto hangup_elsewhere = hangup;
    hangup_elsewhere.cause = "unknown";
    CHECK_FALSE(append(*store, hangup_elsewhere));
    auto timeout = hangup;
    timeout.kind = "timeout";
    timeout.cause = "timeout";
    timeout.at = "2026-01-10T19:00:00.000Z";
    CHECK_FALSE(append(*store, timeout));

    // Another call's records are its own; records without an occurrence (an outcome, a record
    // from an older spool) are never taken for another.
    auto other_call = ring;
    other_call.call = "c-2";
    CHECK(append(*store, other_call));
    auto unnumbered = ring;
    unnumbered.call = "c-3";
    unnumbered.occurrence = 0;
    CHECK(append(*store, unnumbered));
    CHECK(append(*store, unnumbered));

    std::string kinds;
    for (const auto& record : store->recent_log(20)) kinds += record.kind + ":" + record.call + " ";
    CHECK(kinds == "ring:c-1 answer:c-1 answer:c-1 hangup:c-1 ring:c-2 ring:c-3 ring:c-3 ");
    // What was not written left the call's row as it was: answered by 1001, completed.
    const auto summary = store->call_summary("c-1");
    REQUIRE(summary);
    CHECK(summary->entry.state == "completed");
    CHECK(summary->answered_agent == "1001");
}

TEST_CASE_TEMPLATE("store: the newest log record before a time, where a tail since it begins", Backend,
                   CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    CHECK(store->last_log_id_before("2026-01-10T15:00:00.000Z") == 0);  // an empty log
    const auto customer_id = add_customer(*store, make_customer("C-1", "Pat Doe", {"+15550102000"}));
    for (const auto& record : answered_call("c-1", customer_id)) CHECK(append(*store, record));
    const auto log = store->recent_log(10);
    REQUIRE(log.size() == 3);
    CHECK(store->last_log_id_before("2026-01-10T14:59:59.999Z") == 0);
    CHECK(store->last_log_id_before(log[0].at) == 0);  // before, not at
    CHECK(store->last_log_id_before(log[1].at) == log[0].id);
    CHECK(store->last_log_id_before("2027-01-01T00:00:00.000Z") == log[2].id);
}

TEST_CASE_TEMPLATE("store: a transferred call's row shows who took it last, and its log both legs",
                   Backend, CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    const auto customer_id =
        add_customer(*store, make_customer("C-1", "Pat Doe", {"+15550102000"}));
    const auto [ring, first_leg, hangup] = answered_call("c-3", customer_id);
    auto transfer = call_event("transfer", "c-3", "2026-01-10T15:02:00.000Z");
    transfer.extension = "1002";
    transfer.agent = "1002";
    transfer.notes = "from extension 1001 (agent 1001) to extension 1002";
    auto second_leg = call_event("answer", "c-3", "2026-01-10T15:02:09.000Z");
    second_leg.extension = "1002";
    second_leg.agent = "1002";
    const std::vector<CallLogRecord> in_order{ring, first_leg, transfer, second_leg, hangup};
    for (const auto& record : in_order) CHECK(append(*store, record));

    const auto card = store->card(*store->customer_by_id(customer_id), 5);
    REQUIRE(card.history.size() == 1);
    CHECK(card.history[0].state == "completed");
    CHECK(card.history[0].agent == "1002");
    const auto log = store->recent_log(10);
    REQUIRE(log.size() == 5);
    CHECK(log[2].kind == "transfer");
    CHECK(log[2].extension == "1002");
    CHECK(log[2].notes == "from extension 1001 (agent 1001) to extension 1002");
    CHECK(log[3].kind == "answer");
    CHECK(log[3].agent == "1002");
}

TEST_CASE_TEMPLATE("store: a call that rings and hangs up unanswered is abandoned", Backend,
                   CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    const auto customer_id = add_customer(*store, make_customer("C-1", "Pat Doe", {}));
    auto ring = call_event("ring", "c-2", "2026-01-10T15:00:00.000Z");
    ring.customer_id = customer_id;
    append(*store, ring);
    append(*store, call_event("hangup", "c-2", "2026-01-10T15:00:30.000Z"));
    const auto card = store->card(*store->customer_by_id(customer_id), 5);
    REQUIRE(card.history.size() == 1);
    CHECK(card.history[0].state == "abandoned");
}

TEST_CASE_TEMPLATE("store: outcomes attach to known calls; for an unknown call nothing is written",
                   Backend, CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    const auto customer_id = add_customer(*store, make_customer("C-1", "Pat Doe", {}));
    for (const auto& event : answered_call("c-1", customer_id)) append(*store, event);

    auto outcome = call_event("outcome", "c-404", "2026-01-10T15:05:00.000Z");
    outcome.outcome = "repaired";
    CHECK_FALSE(append(*store, outcome));
    CHECK(store->recent_log(10).size() == 3);

    outcome.call = "c-1";
    outcome.notes = "replaced the roller";
    outcome.agent = "1001";
    CHECK(append(*store, outcome));
    const auto log = store->recent_log(10);
    REQUIRE(log.size() == 4);
    CHECK(log.front().kind == "ring");  // oldest first
    CHECK(log.back().kind == "outcome");
    CHECK(log.back().id > log.front().id);  // ids assigned by the store
    const auto card = store->card(*store->customer_by_id(customer_id), 5);
    REQUIRE(card.history.size() == 1);
    CHECK(card.history[0].outcome == "repaired");
    CHECK(card.history[0].notes == "replaced the roller");
}

TEST_CASE_TEMPLATE("store: records appended together are logged as one by one: in order, and "
                   "what is refused is not written", Backend, CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    const auto customer_id = add_customer(*store, make_customer("C-1", "Pat Doe", {}));
    auto [ring, answer, hangup] = answered_call("c-1", customer_id);
    for (auto* record : {&ring, &answer, &hangup}) record->occurrence = 1;
    auto unknown_call = call_event("outcome", "c-404", "2026-01-10T15:05:00.000Z");
    unknown_call.outcome = "repaired";
    auto outcome = unknown_call;
    outcome.call = "c-1";
    outcome.agent = "1001";
    auto ring_again = ring;
    ring_again.switch_name = "pbx-b";

    storage::StoreTransaction transaction(*store);
    const auto ids =
        store->append_logs(std::vector{ring, answer, unknown_call, outcome, ring_again, hangup});
    transaction.commit();
    REQUIRE(ids.size() == 6);
    std::string written;
    for (const auto& id : ids) written += id ? "id " : "- ";
    CHECK(written == "id id - id - id ");
    CHECK(*ids[0] < *ids[1]);
    CHECK(*ids[1] < *ids[3]);
    CHECK(*ids[3] < *ids[5]);
    std::string kinds;
    for (const auto& record : store->recent_log(10)) kinds += record.kind + ":" + record.call + " ";
    CHECK(kinds == "ring:c-1 answer:c-1 outcome:c-1 hangup:c-1 ");
    const auto summary = store->call_summary("c-1");
    REQUIRE(summary);
    CHECK(summary->entry.state == "completed");
    CHECK(summary->entry.outcome == "repaired");
}

TEST_CASE_TEMPLATE("store: the card holds notes, preferences, assets and history", Backend,
                   CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    const auto customer_id = add_customer(*store, make_customer("C-1", "Pat Doe", {"+15550102000"}));
    {
        storage::StoreTransaction transaction(*store);
        CHECK(store->upsert_asset("C-1", {"LaserJet Pro M404", "7XK2Q1", "2025-03-14", ""}));
        CHECK_FALSE(store->upsert_asset("C-2", {"ThinkPad T14", "PF1", "2025-01-01", ""}));
        CHECK(store->upsert_note("C-1", {0, "preference", "tea, not coffee", "1001",
                                         "2025-03-20T15:00:00.000Z"}));
        CHECK_FALSE(store->upsert_note("C-2", {0, "note", "x", "", "2025-03-20T15:00:00.000Z"}));
        const auto note_id =
            store->add_note(customer_id, {0, "note", "called about toner", "1002",
                                          "2025-04-01T10:00:00.000Z"});
        CHECK(note_id.has_value());
        CHECK_FALSE(store->add_note(customer_id + 100, {0, "note", "nobody", "", "x"}));
        transaction.commit();
    }
    for (const auto& event : answered_call("c-1", customer_id)) append(*store, event);

    const auto card = store->card(*store->customer_by_id(customer_id), 5);
    CHECK(card.customer.name == "Pat Doe");
    REQUIRE(card.preferences.size() == 1);
    CHECK(card.preferences[0].text == "tea, not coffee");
    REQUIRE(card.notes.size() == 1);
    CHECK(card.notes[0].text == "called about toner");
    CHECK(card.notes[0].author == "1002");
    REQUIRE(card.assets.size() == 1);
    CHECK(card.assets[0].serial == "7XK2Q1");
    REQUIRE(card.history.size() == 1);
    CHECK(card.followups.empty());
    CHECK(store->card(*store->customer_by_id(customer_id), 0).history.empty());

    // What a ring by number reads in one go is the same card, field by field.
    const auto match = store->caller_by_number("+15550102000", 5, 5);
    REQUIRE(match.card);
    CHECK(match.others.empty());
    const auto& popped = *match.card;
    CHECK(popped.customer.id == customer_id);
    CHECK(popped.customer.phones == std::vector<std::string>{"+15550102000"});
    const auto note_fields = [](const domain::Note& note) {
        return std::vector<std::string>{std::to_string(note.id), note.kind, note.text, note.author,
                                        note.created_at};
    };
    REQUIRE(popped.notes.size() == 1);
    CHECK(note_fields(popped.notes[0]) == note_fields(card.notes[0]));
    REQUIRE(popped.preferences.size() == 1);
    CHECK(note_fields(popped.preferences[0]) == note_fields(card.preferences[0]));
    REQUIRE(popped.assets.size() == 1);
    const auto& asset = popped.assets[0];
    CHECK(std::vector<std::string>{asset.product, asset.serial, asset.purchased, asset.warranty_end} ==
          std::vector<std::string>{"LaserJet Pro M404", "7XK2Q1", "2025-03-14", ""});
    REQUIRE(popped.history.size() == 1);
    const auto call_fields = [](const domain::HistoryEntry& call) {
        return std::vector<std::string>{call.call,  call.at,      call.line, call.state,
                                        call.agent, call.outcome, call.notes};
    };
    CHECK(call_fields(popped.history[0]) == call_fields(card.history[0]));
    CHECK(call_fields(popped.history[0])[0] == "c-1");
    auto followup = test::make_followup(domain::FollowupKind::satisfaction, "+15550102000",
                                        "2026-01-12T14:00:00.000Z");
    followup.customer_id = customer_id;
    const auto followup_id = test::create(*store, followup);
    REQUIRE(followup_id);
    for (const auto& with_followup :
         {store->card(*store->customer_by_id(customer_id), 5),
          *store->caller_by_number("+15550102000", 5, 5).card}) {
        REQUIRE(with_followup.followups.size() == 1);
        const auto& open = with_followup.followups[0];
        CHECK(open.id == *followup_id);
        CHECK(open.kind == domain::FollowupKind::satisfaction);
        CHECK(open.status == domain::FollowupStatus::open);
        CHECK(open.due == "2026-01-12T14:00:00.000Z");
        CHECK(open.reason == "repaired");
    }
    CHECK(store->caller_by_number("+15550102000", 5, 0).card->history.empty());
}

TEST_CASE_TEMPLATE("store: customers on a shared number come most recently called first", Backend,
                   CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    add_customer(*store, make_customer("C-1", "Older", {"+15550102000"}));
    const auto newer = add_customer(*store, make_customer("C-2", "Newer", {"+15550102000"}));
    CHECK(store->customers_by_number("+15550102000", 5).front().external_id == "C-1");

    auto ring = call_event("ring", "c-1", "2026-01-10T15:00:00.000Z");
    ring.customer_id = newer;
    append(*store, ring);
    const auto customers = store->customers_by_number("+15550102000", 5);
    REQUIRE(customers.size() == 2);
    CHECK(customers[0].external_id == "C-2");
    CHECK(customers[1].external_id == "C-1");
    CHECK(store->customers_by_number("+15550102000", 1).size() == 1);

    // A ring from the number: the best one's card, the others by name.
    const auto match = store->caller_by_number("+15550102000", 5, 5);
    REQUIRE(match.card);
    CHECK(match.card->customer.external_id == "C-2");
    CHECK(match.card->history.size() == 1);
    REQUIRE(match.others.size() == 1);
    CHECK(match.others[0].external_id == "C-1");
    CHECK(store->caller_by_number("+15550102000", 1, 5).others.empty());
    const auto nobody = store->caller_by_number("+15550109999", 5, 5);
    CHECK_FALSE(nobody.card);
    CHECK(nobody.others.empty());
}

TEST_CASE_TEMPLATE("store: callers looked up together get what each gets alone, in order",
                   Backend, CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    add_customer(*store, make_customer("C-1", "Older", {"+15550102000"}));
    const auto newer = add_customer(*store, make_customer("C-2", "Newer", {"+15550102000"}));
    add_customer(*store, make_customer("C-3", "Alone", {"+15550103000", "+15550104000"}));
    auto ring = call_event("ring", "c-1", "2026-01-10T15:00:00.000Z");
    ring.customer_id = newer;
    append(*store, ring);

    // What a match is made of, to compare: the card's customer and history, then the others.
    const auto summary = [](const storage::NumberMatch& match) {
        std::vector<std::string> fields;
        if (match.card) {
            fields.push_back(match.card->customer.external_id);
            fields.push_back(std::to_string(match.card->history.size()));
            for (const auto& phone : match.card->customer.phones) fields.push_back(phone);
        }
        for (const auto& other : match.others) fields.push_back("other " + other.external_id);
        return fields;
    };
    const std::vector<std::string> numbers{"+15550102000", "+15550109999", "+15550104000",
                                           "+15550102000", ""};
    for (const std::size_t limit : {5, 1}) {
        const auto together = store->callers_by_numbers(numbers, limit, 5);
        REQUIRE(together.size() == numbers.size());
        for (std::size_t index = 0; index < numbers.size(); ++index) {
            CAPTURE(index);
            CHECK(summary(together[index]) ==
                  summary(store->caller_by_number(numbers[index], limit, 5)));
        }
    }
    const auto together = store->callers_by_numbers(numbers, 5, 5);
    CHECK(summary(together[0]) ==
          std::vector<std::string>{"C-2", "1", "+15550102000", "other C-1"});
    CHECK(summary(together[1]).empty());
    CHECK(summary(together[2]) ==
          std::vector<std::string>{"C-3", "0", "+15550103000", "+15550104000"});
    CHECK(store->callers_by_numbers({}, 5, 5).empty());
}

TEST_CASE_TEMPLATE("store: data and schema survive reopening the file", Backend,
                   CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    {
        auto store = test::open_test_store<Backend>(dir);
        add_customer(*store, make_customer("C-1", "Pat Doe", {"+15550102000"}));
        storage::StoreTransaction transaction(*store);
        store->put_agent(
            {"1001", "Alex", domain::AgentRole::agent, storage::hash_token("secret", 1)});
        transaction.commit();
    }
    auto store = test::open_test_store<Backend>(dir);
    CHECK(store->customer_by_external_id("C-1")->phones ==
          std::vector<std::string>{"+15550102000"});
    CHECK(store->agent("1001")->name == "Alex");
    CHECK_FALSE(store->agent("1002"));
}

TEST_CASE_TEMPLATE("store: a transaction not committed leaves nothing behind", Backend,
                   CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    {
        storage::StoreTransaction transaction(*store);
        store->upsert_customer(make_customer("C-1", "Pat Doe", {}));
    }
    CHECK_FALSE(store->customer_by_external_id("C-1"));
}

TEST_CASE_TEMPLATE("store: the store numbers call-log records in the order they come, "
                   "whatever id they carry", Backend, CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    std::vector<std::int64_t> given;
    {
        storage::StoreTransaction transaction(*store);
        for (const std::int64_t carried : {7, 0, 3}) {
            auto record = call_event("ring", "c-" + std::to_string(given.size()),
                                     "2026-01-10T15:00:00.000Z");
            record.id = carried;
            const auto id = store->append_log(record);
            REQUIRE(id);
            given.push_back(*id);
        }
        transaction.commit();
    }
    CHECK(given[0] < given[1]);
    CHECK(given[1] < given[2]);
    const auto log = store->recent_log(10);
    REQUIRE(log.size() == 3);
    for (std::size_t index = 0; index < log.size(); ++index) {
        CHECK(log[index].id == given[index]);
        CHECK(log[index].call == "c-" + std::to_string(index));
    }
    CHECK(store->last_log_id() == given.back());
}

TEST_CASE_TEMPLATE("store: a read-only store writes nothing, in a transaction or not", Backend,
                   CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto writer = test::open_test_store<Backend>(dir);
    auto reader = storage::open_store(Backend::settings(dir), storage::Access::read_only);
    CHECK_THROWS_AS(reader->upsert_customer(make_customer("C-1", "Pat Doe", {})),
                    storage::StorageError);
    {
        storage::StoreTransaction transaction(*reader);
        CHECK_THROWS_AS(reader->upsert_customer(make_customer("C-2", "Sam Roe", {})),
                        storage::StorageError);
    }
    CHECK_FALSE(writer->customer_by_external_id("C-1"));
    CHECK_FALSE(writer->customer_by_external_id("C-2"));
}

TEST_CASE("token hash: the right token verifies, a wrong one or a broken hash does not") {
    const auto hash = storage::hash_token("demo-1001", 1000);
    CHECK(hash.starts_with("pbkdf2-sha256$1000$"));
    CHECK(storage::verify_token("demo-1001", hash));
    CHECK_FALSE(storage::verify_token("demo-1002", hash));
    CHECK_FALSE(storage::verify_token("", hash));
    CHECK(storage::hash_token("demo-1001", 1000) != hash);  // salted
    CHECK_FALSE(storage::verify_token("demo-1001", "plain-text"));
    CHECK_FALSE(storage::verify_token("demo-1001", "pbkdf2-sha256$1000$zz$00"));
    CHECK_FALSE(storage::verify_token("demo-1001", "pbkdf2-sha256$0$00$00"));
    std::string corrupted = hash;
    corrupted.back() = corrupted.back() == '0' ? '1' : '0';
    CHECK_FALSE(storage::verify_token("demo-1001", corrupted));
}

TEST_CASE("phone numbers: withheld callers are recognised") {
    using storage::PhoneNormalizer;
    for (const char* withheld : {"", "  ", "anonymous", "Anonymous", "WITHHELD", "private",
                                 "restricted", "unavailable", "unknown"}) {
        CAPTURE(withheld);
        CHECK(PhoneNormalizer::is_withheld(withheld));
    }
    for (const char* number : {"+15550102000", "1001", "5550102000"}) {
        CAPTURE(number);
        CHECK_FALSE(PhoneNormalizer::is_withheld(number));
    }
}

TEST_CASE("phone numbers: short extensions stay as given, an unknown region is refused") {
    const auto normalizer = test::us_normalizer();
    CHECK(normalizer.normalize(" 1001 ") == "1001");
    CHECK(normalizer.normalize("+44 20 7946 0000") == "+442079460000");
    CHECK_THROWS_AS(storage::PhoneNormalizer("XX", {}), std::invalid_argument);
}

namespace {

// What libphonenumber alone makes of a number (PhoneNormalizer without its fast path), for
// numbers without an international prefix.
std::string libphonenumber_e164(const std::string& text, const std::string& region) {
    using i18n::phonenumbers::PhoneNumberUtil;
    const auto* util = PhoneNumberUtil::GetInstance();
    i18n::phonenumbers::PhoneNumber number;
    if (util->Parse(text, region, &number) != PhoneNumberUtil::NO_PARSING_ERROR) return text;
    std::string formatted;
    util->Format(number, PhoneNumberUtil::E164, &formatted);
    return formatted;
}

// Digits as people write them: grouped by blanks, dashes, dots or brackets, maybe with "+".
std::string spelt_randomly(const std::string& digits, std::mt19937& random) {
    static constexpr std::string_view separators[] = {"", "", "", " ", "-", ".", "(", ") "};
    std::string text = random() % 4 == 0 ? "+" : "";
    for (const char digit : digits) {
        text += separators[random() % std::size(separators)];
        text += digit;
    }
    return text;
}

}  // namespace

TEST_CASE("phone numbers: the North American fast path gives what libphonenumber gives") {
    for (const std::string region : {"US", "CA"}) {
        CAPTURE(region);
        const storage::PhoneNormalizer normalizer(region, {"00"});
        const auto check = [&](const std::string& text) {
            CAPTURE(text);
            REQUIRE(normalizer.normalize(text) == libphonenumber_e164(text, region));
        };
        // Every area code, with and without the country code.
        for (int area = 100; area <= 999; ++area) {
            const std::string national = std::to_string(area) + "5550123";
            check(national);
            check("1" + national);
            check("+1 " + national);
            check("(" + std::to_string(area) + ") 055-0123");
        }
        // Random lengths, digits and spellings; no leading 0, so no international prefix.
        std::mt19937 random(20260115);
        for (int sample = 0; sample < 10'000; ++sample) {
            std::string digits(1, static_cast<char>('1' + random() % 9));
            const auto length = 8 + random() % 5;
            while (digits.size() < length) digits += static_cast<char>('0' + random() % 10);
            check(spelt_randomly(digits, random));
        }
    }
}

TEST_CASE_TEMPLATE("store: daemons write their own row in the registry, and every one is listed",
                   Backend, CALLPOP_STORAGE_BACKENDS) {
    const TempDir dir;
    auto store = test::open_test_store<Backend>(dir);
    CHECK(store->daemons().empty());
    storage::DaemonSeen west{"west-1", "cti-west", 77, "0.1.0", "2026-01-10T09:00:00.000Z",
                             "2026-01-10T09:00:00.000Z"};
    storage::DaemonSeen east{"east-1", "cti-east", 4242, "0.1.0", "2026-01-10T08:00:00.000Z",
                             "2026-01-10T08:00:00.000Z"};
    store->daemon_seen(west);
    store->daemon_seen(east);
    // Seen again, and restarted with a new pid: the same row, by name.
    west.last_seen = "2026-01-10T09:00:05.000Z";
    store->daemon_seen(west);
    east.pid = 4343;
    east.started_at = east.last_seen = "2026-01-10T10:00:00.000Z";
    store->daemon_seen(east);
    const auto daemons = store->daemons();
    REQUIRE(daemons.size() == 2);
    CHECK(daemons[0].name == "east-1");
    CHECK(daemons[0].host == "cti-east");
    CHECK(daemons[0].pid == 4343);
    CHECK(daemons[0].started_at == "2026-01-10T10:00:00.000Z");
    CHECK(daemons[1].name == "west-1");
    CHECK(daemons[1].pid == 77);
    CHECK(daemons[1].version == "0.1.0");
    CHECK(daemons[1].last_seen == "2026-01-10T09:00:05.000Z");
}
