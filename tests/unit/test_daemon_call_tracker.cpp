#include <doctest/doctest.h>

#include "daemon/call_tracker.hpp"

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
    CallTracker tracker(std::chrono::hours(1), std::chrono::minutes(5));
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
    CallTracker tracker(std::chrono::hours(1), std::chrono::minutes(5));
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
    CallTracker tracker(std::chrono::hours(1), std::chrono::minutes(5));
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
    CallTracker tracker(std::chrono::seconds(60), std::chrono::seconds(30));
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
