#include <doctest/doctest.h>

#include "daemon/calls/call_tracker.hpp"

using callpop::daemon::CallChange;
using callpop::daemon::CallState;
using callpop::daemon::CallTracker;
using callpop::daemon::Clock;
using callpop::protocol::SwitchEvent;
using callpop::protocol::SwitchEventKind;
using Kind = CallChange::Kind;

namespace {

SwitchEvent event(SwitchEventKind kind, const std::string& call,
                  std::vector<std::string> extensions = {}) {
    SwitchEvent result;
    result.kind = kind;
    result.call = call;
    result.extensions = std::move(extensions);
    return result;
}

}  // namespace

TEST_CASE("ring, answer, hangup in order") {
    CallTracker tracker(std::chrono::hours(1), std::chrono::minutes(5), 1000);
    const auto now = Clock::now();
    auto ring = event(SwitchEventKind::ring, "c", {"1001", "1002"});
    ring.from = "+15550102000";
    auto change = tracker.apply(ring, "native", now);
    CHECK(change.kind == Kind::rang);
    CHECK(change.created);
    CHECK(change.new_extensions == std::vector<std::string>{"1001", "1002"});
    CHECK(change.call->caller_raw == "+15550102000");

    change = tracker.apply(event(SwitchEventKind::ring, "c", {"1002", "1003"}), "native", now);
    CHECK(change.kind == Kind::rang);
    CHECK(change.new_extensions == std::vector<std::string>{"1003"});

    change = tracker.apply(event(SwitchEventKind::answer, "c", {"1002"}), "native", now);
    CHECK(change.kind == Kind::answered);
    CHECK(change.call->answered_extension == "1002");
    CHECK(change.call->state == CallState::answered);

    change = tracker.apply(event(SwitchEventKind::hangup, "c"), "native", now);
    CHECK(change.kind == Kind::ended);
    CHECK(tracker.live_calls() == 0);
}

TEST_CASE("duplicates and late events are ignored, with a reason") {
    CallTracker tracker(std::chrono::hours(1), std::chrono::minutes(5), 1000);
    const auto now = Clock::now();
    tracker.apply(event(SwitchEventKind::ring, "c", {"1001"}), "native", now);
    auto change = tracker.apply(event(SwitchEventKind::ring, "c", {"1001"}), "native", now);
    CHECK(change.kind == Kind::ignored);
    CHECK(change.reason == "duplicate ring");
    tracker.apply(event(SwitchEventKind::answer, "c", {"1001"}), "native", now);
    change = tracker.apply(event(SwitchEventKind::answer, "c", {"1001"}), "native", now);
    CHECK(change.reason == "duplicate answer");
    change = tracker.apply(event(SwitchEventKind::ring, "c", {"1004"}), "native", now);
    CHECK(change.reason == "ring after the call was answered");
    tracker.apply(event(SwitchEventKind::hangup, "c"), "native", now);
    change = tracker.apply(event(SwitchEventKind::hangup, "c"), "native", now);
    CHECK(change.reason == "duplicate hangup");
    change = tracker.apply(event(SwitchEventKind::ring, "c", {"1001"}), "native", now);
    CHECK(change.reason == "ring after the call ended");
}

TEST_CASE("hangup before answer, and answer without ring") {
    CallTracker tracker(std::chrono::hours(1), std::chrono::minutes(5), 1000);
    const auto now = Clock::now();
    auto change = tracker.apply(event(SwitchEventKind::hangup, "late"), "native", now);
    CHECK(change.kind == Kind::ended);
    CHECK(change.created);
    change = tracker.apply(event(SwitchEventKind::answer, "late", {"1001"}), "native", now);
    CHECK(change.kind == Kind::answered_after_end);
    CHECK(change.call->answered_extension == "1001");
    change = tracker.apply(event(SwitchEventKind::answer, "late", {"1001"}), "native", now);
    CHECK(change.kind == Kind::ignored);

    change = tracker.apply(event(SwitchEventKind::answer, "direct", {"1002"}), "native", now);
    CHECK(change.kind == Kind::answered);
    CHECK(change.created);
    CHECK(change.call->rung_extensions.count("1002") == 1);
}

TEST_CASE("calls that never end time out, ended calls are forgotten later") {
    CallTracker tracker(std::chrono::seconds(60), std::chrono::seconds(30), 1000);
    const auto start = Clock::now();
    tracker.apply(event(SwitchEventKind::ring, "stuck", {"1001"}), "native", start);
    tracker.apply(event(SwitchEventKind::ring, "fresh", {"1001"}), "native",
                  start + std::chrono::seconds(50));
    CHECK(tracker.expire(start + std::chrono::seconds(59)).empty());
    const auto expired = tracker.expire(start + std::chrono::seconds(61));
    REQUIRE(expired.size() == 1);
    CHECK(expired.front()->id == "stuck");
    CHECK(tracker.expire(start + std::chrono::seconds(62)).empty());
    tracker.forget_ended(start + std::chrono::seconds(80));
    CHECK(tracker.find("stuck") != nullptr);
    tracker.forget_ended(start + std::chrono::seconds(92));
    CHECK(tracker.find("stuck") == nullptr);
    CHECK(tracker.find("fresh") != nullptr);
}

TEST_CASE("no more ended calls are kept than ended_max, the oldest forgotten first") {
    CallTracker tracker(std::chrono::hours(1), std::chrono::hours(1), 3);
    const auto start = Clock::now();
    for (int index = 0; index < 6; ++index) {
        const std::string id = "c-" + std::to_string(index);
        const auto at = start + std::chrono::seconds(index);
        tracker.apply(event(SwitchEventKind::ring, id, {"1001"}), "native", at);
        tracker.apply(event(SwitchEventKind::hangup, id, {}), "native", at);
    }
    tracker.apply(event(SwitchEventKind::ring, "live", {"1001"}), "native", start);
    CHECK(tracker.live_calls() == 1);
    tracker.forget_ended(start + std::chrono::seconds(10));
    for (int index = 0; index < 3; ++index) CHECK(tracker.find("c-" + std::to_string(index)) == nullptr);
    for (int index = 3; index < 6; ++index) CHECK(tracker.find("c-" + std::to_string(index)) != nullptr);
    CHECK(tracker.find("live") != nullptr);
    CHECK(tracker.live_calls() == 1);
}

TEST_CASE("what the tracker holds stays bounded by live calls and ended_max, however many calls") {
    // Calls that never time out within the test (4 h) and are kept an hour: only ended_max
    // bounds what the ended ones leave behind.
    CallTracker tracker(std::chrono::hours(4), std::chrono::hours(1), 10);
    const auto start = Clock::now();
    tracker.apply(event(SwitchEventKind::ring, "long", {"1001"}), "native", start);
    for (int index = 0; index < 5000; ++index) {
        const std::string id = "c-" + std::to_string(index);
        const auto at = start + std::chrono::milliseconds(index);
        tracker.apply(event(SwitchEventKind::ring, id, {"1002"}), "native", at);
        tracker.apply(event(SwitchEventKind::hangup, id, {}), "native", at);
        if (index % 100 == 0) tracker.forget_ended(at);
    }
    tracker.forget_ended(start + std::chrono::seconds(5));
    CHECK(tracker.live_calls() == 1);
    // The live call (its entry and start), 10 ended calls and their entries in the end order.
    CHECK(tracker.entries() == 1 + 1 + 10 + 10);
    // The live one still times out on schedule.
    const auto expired = tracker.expire(start + std::chrono::hours(4));
    REQUIRE(expired.size() == 1);
    CHECK(expired.front()->id == "long");
    CHECK(tracker.live_calls() == 0);
}

TEST_CASE("transfer after the answer: the call rings at the target, whose answer is a second leg") {
    CallTracker tracker(std::chrono::hours(1), std::chrono::minutes(5), 1000);
    const auto now = Clock::now();
    tracker.apply(event(SwitchEventKind::ring, "c", {"1001"}), "native", now);
    auto first_answer = event(SwitchEventKind::answer, "c", {"1001"});
    first_answer.agent = "a-1";
    tracker.apply(first_answer, "native", now);

    auto change = tracker.apply(event(SwitchEventKind::transfer, "c", {"1002"}), "native", now);
    CHECK(change.kind == Kind::transferred);
    CHECK(change.new_extensions == std::vector<std::string>{"1002"});
    // Until the target answers, the call is still the transferring agent's.
    CHECK(change.call->state == CallState::answered);
    CHECK(change.call->answered_extension == "1001");
    CHECK(change.call->answered_agent == "a-1");
    CHECK(change.call->transfer_targets == std::vector<std::string>{"1002"});

    auto second_answer = event(SwitchEventKind::answer, "c", {"1002"});
    second_answer.agent = "a-2";
    change = tracker.apply(second_answer, "native", now);
    CHECK(change.kind == Kind::answered);
    CHECK(change.took_transfer);
    CHECK(change.handed_on_by_extension == "1001");
    CHECK(change.handed_on_by_agent == "a-1");
    CHECK(change.call->answered_extension == "1002");
    CHECK(change.call->answered_agent == "a-2");
    CHECK(change.call->transfer_targets.empty());

    // The transfer was taken: one more answer there is a duplicate again.
    change = tracker.apply(event(SwitchEventKind::answer, "c", {"1002"}), "native", now);
    CHECK(change.reason == "duplicate answer");

    // The new agent may hand it on again, even back where it came from.
    change = tracker.apply(event(SwitchEventKind::transfer, "c", {"1001"}), "native", now);
    CHECK(change.kind == Kind::transferred);
    CHECK(change.new_extensions == std::vector<std::string>{"1001"});
}

TEST_CASE("attended transfer: the transfer and the target's answer arrive together") {
    CallTracker tracker(std::chrono::hours(1), std::chrono::minutes(5), 1000);
    const auto now = Clock::now();
    tracker.apply(event(SwitchEventKind::answer, "c", {"1001"}), "native", now);
    CHECK(tracker.apply(event(SwitchEventKind::transfer, "c", {"1002"}), "native", now).kind ==
          Kind::transferred);
    const auto change = tracker.apply(event(SwitchEventKind::answer, "c", {"1002"}), "native", now);
    CHECK(change.kind == Kind::answered);
    CHECK(change.took_transfer);
    CHECK(change.handed_on_by_extension == "1001");
    CHECK(change.call->answered_extension == "1002");
}

TEST_CASE("transfer to several extensions: any of them may answer, the others may not") {
    CallTracker tracker(std::chrono::hours(1), std::chrono::minutes(5), 1000);
    const auto now = Clock::now();
    tracker.apply(event(SwitchEventKind::ring, "c", {"1001", "1003"}), "native", now);
    tracker.apply(event(SwitchEventKind::answer, "c", {"1001"}), "native", now);
    auto change =
        tracker.apply(event(SwitchEventKind::transfer, "c", {"1002", "1003"}), "native", now);
    CHECK(change.kind == Kind::transferred);
    // 1003 rang at first and was told the call was answered: it rings again.
    CHECK(change.new_extensions == std::vector<std::string>{"1002", "1003"});
    // A second transfer adds targets, as a ring adds extensions.
    change = tracker.apply(event(SwitchEventKind::transfer, "c", {"1003", "1004"}), "native", now);
    CHECK(change.new_extensions == std::vector<std::string>{"1004"});

    change = tracker.apply(event(SwitchEventKind::answer, "c", {"1005"}), "native", now);
    CHECK(change.reason == "duplicate answer");
    change = tracker.apply(event(SwitchEventKind::answer, "c", {"1001"}), "native", now);
    CHECK(change.reason == "duplicate answer");
    change = tracker.apply(event(SwitchEventKind::answer, "c"), "native", now);
    CHECK(change.reason == "duplicate answer");
    change = tracker.apply(event(SwitchEventKind::answer, "c", {"1003"}), "native", now);
    CHECK(change.kind == Kind::answered);
    CHECK(change.call->answered_extension == "1003");
}

TEST_CASE("transfer before the answer: the call rings at the new extensions too") {
    CallTracker tracker(std::chrono::hours(1), std::chrono::minutes(5), 1000);
    const auto now = Clock::now();
    tracker.apply(event(SwitchEventKind::ring, "c", {"1001"}), "native", now);
    auto change =
        tracker.apply(event(SwitchEventKind::transfer, "c", {"1001", "1002"}), "native", now);
    CHECK(change.kind == Kind::rang);
    CHECK(change.new_extensions == std::vector<std::string>{"1002"});
    CHECK(change.call->state == CallState::ringing);
    CHECK(change.call->transfer_targets.empty());
    change = tracker.apply(event(SwitchEventKind::transfer, "c", {"1002"}), "native", now);
    CHECK(change.kind == Kind::ignored);
    CHECK(change.reason == "duplicate transfer");
    // A first answer anywhere it rang, as without the transfer.
    change = tracker.apply(event(SwitchEventKind::answer, "c", {"1002"}), "native", now);
    CHECK(change.kind == Kind::answered);
    CHECK_FALSE(change.took_transfer);

    // The first event callpop sees for a call is a transfer: the call rings there.
    change = tracker.apply(event(SwitchEventKind::transfer, "new", {"1005"}), "native", now);
    CHECK(change.kind == Kind::rang);
    CHECK(change.created);
    CHECK(change.new_extensions == std::vector<std::string>{"1005"});
}

TEST_CASE("transfers after the hangup, or to where the call already is, are ignored") {
    CallTracker tracker(std::chrono::hours(1), std::chrono::minutes(5), 1000);
    const auto now = Clock::now();
    tracker.apply(event(SwitchEventKind::answer, "c", {"1001"}), "native", now);
    auto change = tracker.apply(event(SwitchEventKind::transfer, "c", {"1001"}), "native", now);
    CHECK(change.kind == Kind::ignored);
    CHECK(change.reason == "duplicate transfer");
    tracker.apply(event(SwitchEventKind::transfer, "c", {"1002"}), "native", now);
    change = tracker.apply(event(SwitchEventKind::transfer, "c", {"1002", "1001"}), "native", now);
    CHECK(change.kind == Kind::ignored);
    CHECK(change.reason == "duplicate transfer");

    tracker.apply(event(SwitchEventKind::hangup, "c"), "native", now);
    change = tracker.apply(event(SwitchEventKind::transfer, "c", {"1003"}), "native", now);
    CHECK(change.kind == Kind::ignored);
    CHECK(change.reason == "transfer after the call ended");
    CHECK(change.call->transfer_targets == std::vector<std::string>{"1002"});
}

TEST_CASE("hangup after a transfer nobody took: the call was answered, by the transferer") {
    CallTracker tracker(std::chrono::hours(1), std::chrono::minutes(5), 1000);
    const auto now = Clock::now();
    tracker.apply(event(SwitchEventKind::ring, "c", {"1001"}), "native", now);
    tracker.apply(event(SwitchEventKind::answer, "c", {"1001"}), "native", now);
    tracker.apply(event(SwitchEventKind::transfer, "c", {"1002"}), "native", now);
    auto change = tracker.apply(event(SwitchEventKind::hangup, "c"), "native", now);
    CHECK(change.kind == Kind::ended);
    CHECK(change.call->ever_answered);
    CHECK(change.call->answered_extension == "1001");

    // The target's answer reported after the hangup still names the second leg; an answer
    // elsewhere does not.
    change = tracker.apply(event(SwitchEventKind::answer, "c", {"1003"}), "native", now);
    CHECK(change.reason == "answer after the call ended");
    change = tracker.apply(event(SwitchEventKind::answer, "c", {"1002"}), "native", now);
    CHECK(change.kind == Kind::answered_after_end);
    CHECK(change.took_transfer);
    CHECK(change.handed_on_by_extension == "1001");
    CHECK(change.call->answered_extension == "1002");
    change = tracker.apply(event(SwitchEventKind::answer, "c", {"1002"}), "native", now);
    CHECK(change.reason == "answer after the call ended");
}

TEST_CASE("a call answered without an extension was answered all the same") {
    CallTracker tracker(std::chrono::hours(1), std::chrono::minutes(5), 1000);
    const auto now = Clock::now();
    tracker.apply(event(SwitchEventKind::ring, "c", {"1001"}), "native", now);
    tracker.apply(event(SwitchEventKind::answer, "c"), "native", now);
    auto change = tracker.apply(event(SwitchEventKind::hangup, "c"), "native", now);
    CHECK(change.call->ever_answered);
    CHECK(change.call->answered_extension.empty());
    // Its late answer with an extension is not the first answer of a missed call.
    change = tracker.apply(event(SwitchEventKind::answer, "c", {"1001"}), "native", now);
    CHECK(change.reason == "answer after the call ended");
}

TEST_CASE("records are numbered per kind and extension: a call transferred back is answered "
          "there again, the second time as the second") {
    CallTracker tracker(std::chrono::hours(1), std::chrono::minutes(5), 1000);
    auto& call = *tracker.apply(event(SwitchEventKind::ring, "c", {"1001"}), "native",
                                Clock::now())
                      .call;
    CHECK(call.next_record_occurrence("ring", "1001") == 1);
    CHECK(call.next_record_occurrence("answer", "1001") == 1);
    CHECK(call.next_record_occurrence("transfer", "1002") == 1);
    CHECK(call.next_record_occurrence("answer", "1002") == 1);
    CHECK(call.next_record_occurrence("transfer", "1001") == 1);
    CHECK(call.next_record_occurrence("answer", "1001") == 2);
    CHECK(call.next_record_occurrence("transfer", "1002") == 2);
    // A ring names only extensions new to the call, and a call ends once.
    CHECK(call.next_record_occurrence("hangup", "1001") == 1);
    CHECK(call.repeatable_records.size() == 4);
}
