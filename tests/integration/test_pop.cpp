// Switch event → customer → screen pop, against the real daemon.
#include <doctest/doctest.h>

#include "harness.hpp"
#include "support/sqlite_query.hpp"
#include "support/wait_until.hpp"

using namespace callpop::test;

TEST_CASE("a ring pops the known customer to the agent at the ringing extension only") {
    Daemon daemon;
    daemon.start();
    Client agent_1001(daemon.agent_port());
    Client agent_1002(daemon.agent_port());
    login(agent_1001, "1001", "secret-1001", {"1001"});
    login(agent_1002, "1002", "secret-1002", {"1002"});
    Client pbx(daemon.switch_port());
    pbx.send(ring("c-1", "+1 (555) 010-2000", "1001", {{"language", "en"}}));

    const json pop = agent_1001.expect("pop");
    CHECK(pop["call"] == "c-1");
    CHECK(pop["caller"]["number"] == "+15550102000");
    CHECK(pop["caller"]["raw"] == "+1 (555) 010-2000");
    CHECK(pop["caller"]["name"] == "CALLER");
    CHECK(pop["dialed"] == "8005551000");
    CHECK(pop["line"] == "Support hotline");
    CHECK(pop["queue"] == "support");
    CHECK(pop["match"] == "number");
    CHECK(pop["data"]["language"] == "en");
    REQUIRE(pop["customer"].is_object());
    CHECK(pop["customer"]["external_id"] == "C-1000");
    CHECK(pop["customer"]["name"] == "Pat Doe");
    CHECK(pop["customer"]["tier"] == "gold");
    REQUIRE(pop["customer"]["preferences"].size() == 1);
    CHECK(pop["customer"]["preferences"][0]["text"] == "tea, not coffee");
    REQUIRE(pop["customer"]["notes"].size() == 1);
    CHECK(pop["customer"]["notes"][0]["text"] == "VIP since 2019");
    REQUIRE(pop["assets"].size() == 1);
    CHECK(pop["assets"][0]["product"] == "LaserJet Pro M404");
    CHECK(pop["assets"][0]["serial"] == "7XK2Q1");
    CHECK(pop["assets"][0]["purchased"] == "2025-03-14");
    CHECK(pop["history"].is_array());
    CHECK(pop["followups"].is_array());
    CHECK(pop["candidates"].empty());
    CHECK(pop["seq"].get<std::uint64_t>() > 0);
    CHECK(agent_1002.quiet());
}

TEST_CASE("every spelling of a number finds the same customer") {
    Daemon daemon;
    daemon.start();
    Client agent(daemon.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
    Client pbx(daemon.switch_port());
    int call = 0;
    for (const char* spelling : {"+1 (555) 010-2000", "15550102000", "0015550102000", "5550102000",
                                 "011 1 555 010 2000", "+1 555 010 2001"}) {
        CAPTURE(spelling);
        pbx.send(ring("spell-" + std::to_string(++call), spelling, "1001"));
        const json pop = agent.expect("pop");
        REQUIRE(pop["customer"].is_object());
        CHECK(pop["customer"]["external_id"] == "C-1000");
    }
}

TEST_CASE("what the IVR collected wins over the caller's number") {
    Daemon daemon;
    daemon.start();
    Client agent(daemon.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
    Client pbx(daemon.switch_port());

    pbx.send(ring("by-asset", "+1 555 010 4000", "1001", {{"service_tag", "7XK2Q1"}}));
    json pop = agent.expect("pop");
    CHECK(pop["match"] == "asset");
    CHECK(pop["customer"]["external_id"] == "C-1000");

    pbx.send(ring("by-account", "+1 555 010 2000", "1001", {{"account", "C-1003"}}));
    pop = agent.expect("pop");
    CHECK(pop["match"] == "account");
    CHECK(pop["customer"]["external_id"] == "C-1003");
    CHECK(pop["customer"]["do_not_call"] == true);

    pbx.send(ring("unknown-serial", "+1 555 010 2000", "1001", {{"serial", "NOPE"}}));
    pop = agent.expect("pop");
    CHECK(pop["match"] == "number");
    CHECK(pop["customer"]["external_id"] == "C-1000");
}

TEST_CASE("a shared number pops every candidate, an unknown one pops null, withheld pops as such") {
    Daemon daemon;
    daemon.start();
    Client agent(daemon.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
    Client pbx(daemon.switch_port());

    pbx.send(ring("shared", "5550104000", "1001"));
    json pop = agent.expect("pop");
    REQUIRE(pop["customer"].is_object());
    REQUIRE(pop["candidates"].size() == 1);
    std::set<std::string> found{pop["customer"]["external_id"].get<std::string>(),
                                pop["candidates"][0]["external_id"].get<std::string>()};
    CHECK(found == std::set<std::string>{"C-1001", "C-1002"});

    pbx.send(ring("stranger", "+1 555 010 9999", "1001"));
    pop = agent.expect("pop");
    CHECK(pop["customer"].is_null());
    CHECK(pop["match"] == "none");
    CHECK(pop["caller"]["number"] == "+15550109999");
    CHECK(pop["assets"].empty());

    pbx.send(ring("hidden", "anonymous", "1001"));
    pop = agent.expect("pop");
    CHECK(pop["caller"]["withheld"] == true);
    CHECK(pop["caller"]["number"].is_null());
    CHECK(pop["customer"].is_null());
    CHECK(pop["match"] == "withheld");

    pbx.send(ring("garbled", "not a number", "1001"));
    pop = agent.expect("pop");
    CHECK(pop["caller"]["number"] == "not a number");
    CHECK(pop["customer"].is_null());
}

TEST_CASE("when one agent answers, the others' pops are withdrawn") {
    Daemon daemon;
    daemon.start();
    Client agent_1001(daemon.agent_port());
    Client agent_1002(daemon.agent_port());
    login(agent_1001, "1001", "secret-1001", {"1001"});
    login(agent_1002, "1002", "secret-1002", {"1002"});
    Client pbx(daemon.switch_port());
    json both = ring("c-9", "+15550102000", "1001");
    both["ext"] = {"1001", "1002"};
    pbx.send(both);
    const auto seq = agent_1001.expect("pop")["seq"];
    CHECK(agent_1002.expect("pop")["seq"] == seq);

    pbx.send({{"event", "answer"}, {"call", "c-9"}, {"ext", "1002"}});
    const json withdrawn = agent_1001.expect("call");
    CHECK(withdrawn["call"] == "c-9");
    CHECK(withdrawn["state"] == "answered");
    CHECK(withdrawn["by"] == "1002");
    CHECK(agent_1002.quiet());

    pbx.send({{"event", "hangup"}, {"call", "c-9"}, {"cause", "normal"}});
    const json ended = agent_1002.expect("call");
    CHECK(ended["state"] == "ended");
    CHECK(ended["cause"] == "normal");
}

TEST_CASE("an agent who logs in while its phone rings gets the pop, not once the call is taken") {
    Daemon daemon;
    daemon.start();
    Client pbx(daemon.switch_port());
    json both = ring("rings-on", "+15550102000", "1001");
    both["ext"] = {"1001", "1002"};
    pbx.send(both);
    pbx.send(ring("taken", "+15550102000", "1001"));
    pbx.send({{"event", "answer"}, {"call", "taken"}, {"ext", "1001"}});
    wait_until([&] {
        return query_one(daemon.database_path(),
                         "SELECT state FROM calls WHERE call_id = 'taken'") == "answered";
    }, 5s, "the answer handled");

    Client agent(daemon.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
    const json pop = agent.expect("pop");
    CHECK(pop["call"] == "rings-on");
    CHECK(pop["customer"]["name"] == "Pat Doe");
    CHECK(agent.quiet());  // nothing for the call someone already took
    pbx.send({{"event", "answer"}, {"call", "rings-on"}, {"ext", "1002"}});
    CHECK(agent.expect("call")["state"] == "answered");

    Client late(daemon.agent_port());
    login(late, "1002", "secret-1002", {"1002"});
    CHECK(late.quiet());  // answered before it sat down
}

TEST_CASE("an agent who logs in where a transferred call now rings gets its pop") {
    Daemon daemon;
    daemon.start();
    Client first(daemon.agent_port());
    login(first, "1001", "secret-1001", {"1001"});
    Client pbx(daemon.switch_port());
    pbx.send(ring("handed-on", "+15550102000", "1001"));
    CHECK(first.expect("pop")["call"] == "handed-on");
    pbx.send({{"event", "answer"}, {"call", "handed-on"}, {"ext", "1001"}});
    pbx.send({{"event", "transfer"}, {"call", "handed-on"}, {"ext", "1003"}});
    wait_until([&] {
        return query_one(daemon.database_path(),
                         "SELECT count(*) FROM call_log WHERE call_id = 'handed-on' AND kind = "
                         "'transfer'") == "1";
    }, 5s, "the transfer handled");

    Client taker(daemon.agent_port());
    login(taker, "1003", "secret-1003", {"1003"});
    const json pop = taker.expect("pop");
    CHECK(pop["call"] == "handed-on");
    CHECK(pop["customer"]["name"] == "Pat Doe");
    first.send({{"type", "logout"}});
    first.expect("bye");
    Client old_seat(daemon.agent_port());
    login(old_seat, "1002", "secret-1002", {"1001"});  // the call rings at 1001 no more
    CHECK(old_seat.quiet());
}

TEST_CASE("an agent that reconnects gets the pops it missed while the call is live") {
    Daemon daemon;
    daemon.start();
    std::uint64_t first_seq = 0;
    {
        Client agent(daemon.agent_port());
        login(agent, "1001", "secret-1001", {"1001"});
        Client pbx(daemon.switch_port());
        pbx.send(ring("r-1", "+15550102000", "1001"));
        first_seq = agent.expect("pop")["seq"].get<std::uint64_t>();
        agent.send({{"type", "ack"}, {"seq", first_seq}});
        agent.close();
        // Rings while the agent is away.
        pbx.send(ring("r-2", "+15550102000", "1001"));
        pbx.send(ring("r-3", "+15550109999", "1001"));
        pbx.send({{"event", "hangup"}, {"call", "r-3"}});
        pbx.send({{"event", "ping-not-an-event"}, {"call", "x"}});
        CHECK(pbx.expect("error")["code"] == "unknown_event");
    }
    Client agent(daemon.agent_port());
    login(agent, "1001", "secret-1001", {"1001"}, first_seq);
    const json missed = agent.expect("pop");
    CHECK(missed["call"] == "r-2");  // r-1 was acked, r-3 has ended
    CHECK(missed["seq"].get<std::uint64_t>() > first_seq);
    CHECK(agent.quiet());

    // Not acked: a second reconnect replays it again.
    agent.close();
    Client again(daemon.agent_port());
    login(again, "1001", "secret-1001", {"1001"}, first_seq);
    CHECK(again.expect("pop")["call"] == "r-2");
}

TEST_CASE("out of order and duplicate switch events keep one record per call") {
    Daemon daemon({.extra_config = without_missed_call_followups});
    daemon.start();
    Client agent(daemon.agent_port());
    login(agent, "1003", "secret-1003", {"1003"});
    Client supervisor(daemon.agent_port());
    follow_call_log(supervisor);
    Client pbx(daemon.switch_port());

    // Answer without ring: the answering agent still gets the pop.
    pbx.send({{"event", "answer"}, {"call", "o-1"}, {"ext", "1003"}, {"from", "+15550102000"}});
    CHECK(agent.expect("pop")["customer"]["external_id"] == "C-1000");
    // Duplicates are ignored.
    pbx.send({{"event", "answer"}, {"call", "o-1"}, {"ext", "1003"}});
    pbx.send({{"event", "ring"}, {"call", "o-1"}, {"ext", "1003"}});
    pbx.send({{"event", "hangup"}, {"call", "o-1"}});
    pbx.send({{"event", "hangup"}, {"call", "o-1"}});
    // Hangup before answer: the late answer is recorded, nothing pops.
    pbx.send({{"event", "hangup"}, {"call", "o-2"}, {"from", "5550102000"}});
    pbx.send({{"event", "answer"}, {"call", "o-2"}, {"ext", "1003"}});

    std::vector<std::string> kinds;
    while (kinds.size() < 4) {
        const json record = supervisor.expect("log");
        kinds.push_back(record["call"].get<std::string>() + ":" +
                        record["kind"].get<std::string>());
    }
    CHECK(kinds ==
          std::vector<std::string>{"o-1:answer", "o-1:hangup", "o-2:hangup", "o-2:answer"});
    CHECK(supervisor.quiet());
    CHECK(agent.expect("call")["state"] == "ended");
    CHECK(agent.quiet());
}
