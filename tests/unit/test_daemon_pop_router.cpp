#include <doctest/doctest.h>

#include "daemon/agents/pop_router.hpp"

using callpop::daemon::PendingPop;
using callpop::daemon::PopRouter;
using callpop::domain::PoppedCallState;

// Agents attach without a session (one needs a socket): what the router routes shows in the
// pops it keeps pending for them.
namespace {

std::vector<std::uint64_t> pending_seqs(const PopRouter& router, const std::string& agent) {
    std::vector<std::uint64_t> seqs;
    for (const auto& pop : router.pending_after(agent, 0)) seqs.push_back(pop.seq);
    return seqs;
}

}  // namespace

TEST_CASE("a ring pops for the agents seated at its extensions, once each") {
    PopRouter router(8);
    router.attach("a1", {"1001"}, nullptr);
    router.attach("a2", {"1002"}, nullptr);
    router.attach("a3", {"1003"}, nullptr);
    CHECK(router.agent_at("1002") == "a2");
    CHECK(router.agent_at("1009").empty());
    const PendingPop pop{7, "c-1", nullptr};
    router.pop_at({"1001", "1002"}, pop);
    router.pop_at({"1002"}, pop);  // rings there again: no second pop
    router.pop_for("a1", pop);
    CHECK(pending_seqs(router, "a1") == std::vector<std::uint64_t>{7});
    CHECK(pending_seqs(router, "a2") == std::vector<std::uint64_t>{7});
    CHECK(pending_seqs(router, "a3").empty());
    // A transfer pops it again under a new seq; the older pop is no longer pending.
    router.pop_again_for("a2", PendingPop{9, "c-1", nullptr});
    CHECK(pending_seqs(router, "a2") == std::vector<std::uint64_t>{9});
}

TEST_CASE("telling the agents a call popped for withdraws its pop, but for those excepted") {
    PopRouter router(8);
    router.attach("a1", {"1001"}, nullptr);
    router.attach("a2", {"1002"}, nullptr);
    router.attach("a3", {"1003"}, nullptr);
    router.pop_at({"1001", "1002"}, PendingPop{1, "c-1", nullptr});
    router.pop_at({"1001", "1003"}, PendingPop{2, "c-2", nullptr});
    router.tell_agents("c-1", PoppedCallState::answered, "a1", "", {"a1"});
    CHECK(pending_seqs(router, "a1") == std::vector<std::uint64_t>{1, 2});
    CHECK(pending_seqs(router, "a2").empty());
    router.tell_agent("c-2", "a3", PoppedCallState::transferred, "a1", "");
    CHECK(pending_seqs(router, "a3").empty());
    router.call_ended("c-2", "normal");
    CHECK(pending_seqs(router, "a1") == std::vector<std::uint64_t>{1});
    // An ended call is forgotten, whom it popped for too.
    router.pop_for("a3", PendingPop{2, "c-2", nullptr});
    CHECK(pending_seqs(router, "a3") == std::vector<std::uint64_t>{2});
}
