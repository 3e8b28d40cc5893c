#include <doctest/doctest.h>

#include "daemon/agents/agent_directory.hpp"

using callpop::daemon::AgentDirectory;
using callpop::daemon::PendingPop;

TEST_CASE("agents sit at extensions until they log out or someone else sits there") {
    AgentDirectory directory(8);
    directory.attach("a1", {"1001", "1002"}, nullptr);
    CHECK(directory.agents_at("1002") == std::vector<std::string>{"a1"});
    directory.detach("a1", nullptr);  // disconnected, still seated
    CHECK(directory.agents_at("1001") == std::vector<std::string>{"a1"});
    directory.attach("a2", {"1002"}, nullptr);  // hot-desking: a2 takes 1002 over
    CHECK(directory.agents_at("1002") == std::vector<std::string>{"a2"});
    CHECK(directory.agents_at("1001") == std::vector<std::string>{"a1"});
    directory.attach("a1", {"1003"}, nullptr);  // a1 moved desks
    CHECK(directory.agents_at("1001").empty());
    CHECK(directory.agents_at("1002") == std::vector<std::string>{"a2"});
    CHECK(directory.agents_at("1003") == std::vector<std::string>{"a1"});
    directory.remove("a2");
    CHECK(directory.agents_at("1002").empty());
}

TEST_CASE("pending pops are replayed after a seq until acked or their call is dropped") {
    AgentDirectory directory(3);
    directory.add_pending("never-logged-in", PendingPop{1, "call-1", nullptr});
    CHECK(directory.pending_after("never-logged-in", 0).empty());
    directory.attach("a1", {}, nullptr);
    for (std::uint64_t seq = 1; seq <= 3; ++seq)
        directory.add_pending("a1", PendingPop{seq, "call-" + std::to_string(seq), nullptr});
    CHECK(directory.pending_after("a1", 0).size() == 3);
    CHECK(directory.pending_after("a1", 2).size() == 1);
    directory.ack("a1", 1);
    directory.drop_call("a1", "call-3");
    const auto left = directory.pending_after("a1", 0);
    REQUIRE(left.size() == 1);
    CHECK(left.front().call == "call-2");
    for (std::uint64_t seq = 10; seq < 20; ++seq) directory.add_pending("a1", {seq, "x", nullptr});
    const auto kept = directory.pending_after("a1", 0);  // bounded: the newest are kept
    REQUIRE(kept.size() == 3);
    CHECK(kept[0].seq == 17);
    CHECK(kept[2].seq == 19);
    for (std::uint64_t seq = 17; seq < 20; ++seq) directory.ack("a1", seq);
    CHECK(directory.pending_after("a1", 0).empty());
    CHECK(directory.pending_after("nobody", 0).empty());
}
