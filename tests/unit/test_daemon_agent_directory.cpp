#include <doctest/doctest.h>

#include "daemon/agent_directory.hpp"

using callpop::daemon::AgentDirectory;
using callpop::daemon::PendingPop;

TEST_CASE("agents sit at extensions until they log out, also while disconnected") {
    AgentDirectory directory(8);
    directory.attach("a1", {"1001", "1002"}, nullptr);
    directory.attach("a2", {"1002"}, nullptr);
    CHECK(directory.agents_at("1001") == std::vector<std::string>{"a1"});
    CHECK(directory.agents_at("1002") == std::vector<std::string>{"a1", "a2"});
    directory.detach("a1", nullptr);
    CHECK(directory.agents_at("1001") == std::vector<std::string>{"a1"});
    directory.attach("a1", {"1003"}, nullptr);  // moved desks
    CHECK(directory.agents_at("1001").empty());
    CHECK(directory.agents_at("1003") == std::vector<std::string>{"a1"});
    directory.remove("a2");
    CHECK(directory.agents_at("1002").empty());
}

TEST_CASE("pending pops are replayed after a seq until acked or their call is dropped") {
    AgentDirectory directory(3);
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
    CHECK(directory.pending_after("a1", 0).size() == 3);  // bounded
    CHECK(directory.pending_after("nobody", 0).empty());
}
