// Logging in, over real sockets: generated tokens, tokens people chose (PBKDF2, as stored
// before generated ones existed), and resume tickets, across a daemon restart too.
#include <doctest/doctest.h>

#include <sstream>

#include "harness.hpp"
#include "support/sqlite_query.hpp"

using namespace callpop::test;

namespace {

// `callpop agent add ID...` without --token: the generated tokens, from its human output
// ("agent 2001 saved; its token, shown this once only: cpt_...").
std::vector<std::string> add_agents(const Daemon& daemon, const std::vector<std::string>& ids) {
    std::vector<std::string> arguments{"agent", "add"};
    arguments.insert(arguments.end(), ids.begin(), ids.end());
    arguments.insert(arguments.end(), {"--config", daemon.config_path().string()});
    const auto added = run_callpop(arguments);
    REQUIRE_MESSAGE(added.exit_code == 0, added.output);
    std::vector<std::string> tokens;
    std::istringstream lines(added.output);
    for (std::string line; std::getline(lines, line);) {
        const std::string said = "agent " + ids.at(tokens.size()) + " saved; its token, shown this once only: ";
        REQUIRE_MESSAGE(line.substr(0, said.size()) == said, added.output);
        tokens.push_back(line.substr(said.size()));
    }
    REQUIRE(tokens.size() == ids.size());
    return tokens;
}

json ticket_login(Client& client, const std::string& agent, const std::string& ticket,
                  const std::vector<std::string>& extensions = {}) {
    json message = {{"type", "login"}, {"agent", agent}, {"ticket", ticket}};
    if (!extensions.empty()) message["extensions"] = extensions;
    client.send(message);
    return client.next();
}

std::string tampered(std::string ticket) {
    ticket.back() = ticket.back() == '0' ? '1' : '0';
    return ticket;
}

void check_refused(const json& answer, const std::string& message) {
    CHECK(answer["type"] == "error");
    CHECK(answer["code"] == "bad_login");
    CHECK(answer["message"] == message);
}

}  // namespace

TEST_CASE("login: a token callpop generated logs in, and the welcome brings a resume ticket") {
    Daemon daemon;
    daemon.start();
    const auto tokens = add_agents(daemon, {"2001"});
    const std::string& token = tokens.front();
    CHECK(token.substr(0, 4) == "cpt_");
    CHECK(token.size() == 47);
    // Kept as a fast hash only.
    const auto stored = query_one(daemon.database_path(),
                                  "SELECT token_hash FROM agents WHERE id = '2001'");
    CHECK(stored.substr(0, 7) == "sha256$");
    CHECK(stored.find(token) == std::string::npos);

    Client agent(daemon.agent_port());
    const json welcome = login(agent, "2001", token, {"2001"});
    CHECK(welcome["agent"] == "2001");
    REQUIRE(welcome["ticket"].is_string());
    CHECK(welcome["ticket"].get<std::string>().substr(0, 5) == "2001.");
    REQUIRE(welcome["ticket_expires"].is_string());
    CHECK(welcome["ticket_expires"].get<std::string>().back() == 'Z');
    // It works: a ring at its extension pops.
    Client phone_switch(daemon.switch_port());
    phone_switch.send(ring("c-1", "+1 (555) 010-2000", "2001"));
    CHECK(agent.expect("pop")["call"] == "c-1");

    // --print-token: the tokens alone, one line per id, in order; each logs its agent in.
    const auto printed = run_callpop({"agent", "add", "2002", "2003", "--print-token", "--role",
                                      "supervisor", "--config", daemon.config_path().string()});
    REQUIRE_MESSAGE(printed.exit_code == 0, printed.output);
    std::istringstream lines(printed.output);
    std::string token_2002;
    std::string token_2003;
    std::string extra;
    std::getline(lines, token_2002);
    std::getline(lines, token_2003);
    CHECK_FALSE(std::getline(lines, extra));
    Client second(daemon.agent_port());
    CHECK(login(second, "2002", token_2002)["role"] == "supervisor");
    Client third(daemon.agent_port());
    CHECK(login(third, "2003", token_2003)["role"] == "supervisor");
    Client crossed(daemon.agent_port());
    crossed.send({{"type", "login"}, {"agent", "2002"}, {"token", token_2003}});
    check_refused(crossed.next(), "unknown agent or wrong token");
}

TEST_CASE("login: a token chosen before (PBKDF2) still logs in, and gets a ticket too") {
    Daemon daemon;
    daemon.start();
    CHECK(query_one(daemon.database_path(), "SELECT token_hash FROM agents WHERE id = '1001'")
              .substr(0, 14) == "pbkdf2-sha256$");
    Client agent(daemon.agent_port());
    const json welcome = login(agent, "1001", "secret-1001", {"1001"});
    CHECK(welcome["ticket"].is_string());
    // A chosen token is still given with --token or --token-stdin, for one agent.
    const auto added = run_callpop(
        {"agent", "add", "2001", "--token-stdin", "--config", daemon.config_path().string()},
        "my own secret\n");
    REQUIRE_MESSAGE(added.exit_code == 0, added.output);
    CHECK(added.output == "agent 2001 saved\n");
    Client chosen(daemon.agent_port());
    CHECK(login(chosen, "2001", "my own secret")["agent"] == "2001");
}

TEST_CASE("login: a ticket logs its agent back in, also after the daemon restarts") {
    Daemon daemon;
    daemon.start();
    std::string ticket;
    {
        Client agent(daemon.agent_port());
        ticket = login(agent, "1001", "secret-1001", {"1001"})["ticket"];
    }
    Client again(daemon.agent_port());
    const json welcome = ticket_login(again, "1001", ticket, {"1001"});
    REQUIRE(welcome["type"] == "welcome");
    CHECK(welcome["agent"] == "1001");
    CHECK(welcome["role"] == "agent");
    REQUIRE(welcome["ticket"].is_string());
    const std::string renewed = welcome["ticket"];
    // The session is a full one: it gets pops.
    Client phone_switch(daemon.switch_port());
    phone_switch.send(ring("c-1", "+1 (555) 010-2000", "1001"));
    CHECK(again.expect("pop")["call"] == "c-1");
    again.close();
    phone_switch.close();

    // The key is in the store: tickets survive a restart.
    daemon.stop();
    daemon.start();
    Client after_restart(daemon.agent_port());
    const json resumed = ticket_login(after_restart, "1001", renewed, {"1001"});
    CHECK(resumed["type"] == "welcome");
    // An old ticket still in its lifetime works too.
    Client older(daemon.agent_port());
    CHECK(ticket_login(older, "1001", ticket, {"1001"})["type"] == "welcome");
    CHECK(after_restart.expect("bye")["code"] == "replaced");

    // A supervisor's ticket keeps the role.
    Client supervisor(daemon.agent_port());
    const std::string boss_ticket = login(supervisor, "super", "boss")["ticket"];
    Client supervisor_again(daemon.agent_port());
    CHECK(ticket_login(supervisor_again, "super", boss_ticket)["role"] == "supervisor");
}

TEST_CASE("login: tampered tickets, other agents' tickets and unknown agents get bad_login") {
    Daemon daemon;
    daemon.start();
    std::string ticket;
    {
        Client agent(daemon.agent_port());
        ticket = login(agent, "1001", "secret-1001", {"1001"})["ticket"];
    }
    Client client(daemon.agent_port());
    check_refused(ticket_login(client, "1001", tampered(ticket)), "unknown agent or bad ticket");
    // The expiry moved later, the MAC kept.
    const auto first_dot = ticket.find('.');
    const auto second_dot = ticket.find('.', first_dot + 1);
    const std::string later = ticket.substr(0, first_dot + 1) + "9999999999" + ticket.substr(second_dot);
    check_refused(ticket_login(client, "1001", later), "unknown agent or bad ticket");
    // Another agent presents 1001's ticket, or rewrites it to name itself.
    check_refused(ticket_login(client, "1002", ticket), "unknown agent or bad ticket");
    check_refused(ticket_login(client, "1002", "1002" + ticket.substr(4)),
                  "unknown agent or bad ticket");
    check_refused(ticket_login(client, "1001", "not a ticket"), "unknown agent or bad ticket");
    // Unknown agents, with a token or a ticket.
    client.send({{"type", "login"}, {"agent", "nobody"}, {"token", "secret-1001"}});
    check_refused(client.next(), "unknown agent or wrong token");
    client.send({{"type", "login"}, {"agent", "nobody"}, {"token", "cpt_" + std::string(43, 'A')}});
    check_refused(client.next(), "unknown agent or wrong token");
    check_refused(ticket_login(client, "nobody", "nobody" + ticket.substr(4)),
                  "unknown agent or bad ticket");
    // Both at once is a malformed login.
    client.send({{"type", "login"}, {"agent", "1001"}, {"token", "secret-1001"}, {"ticket", ticket}});
    CHECK(client.next()["code"] == "bad_field");

    // After all that, the same connection logs in with the good ticket.
    CHECK(ticket_login(client, "1001", ticket, {"1001"})["type"] == "welcome");

    // A new token for the agent ends its tickets.
    const auto tokens = add_agents(daemon, {"1001"});
    Client after_change(daemon.agent_port());
    check_refused(ticket_login(after_change, "1001", ticket), "unknown agent or bad ticket");
    CHECK(login(after_change, "1001", tokens.front(), {"1001"})["agent"] == "1001");
}

TEST_CASE("login: an expired ticket gets bad_login; the token still works") {
    Daemon::Options options;
    options.ticket_ttl_s = 1;
    Daemon daemon(options);
    daemon.start();
    std::string ticket;
    {
        Client agent(daemon.agent_port());
        const json welcome = login(agent, "1001", "secret-1001", {"1001"});
        ticket = welcome["ticket"];
    }
    std::this_thread::sleep_for(2100ms);
    Client agent(daemon.agent_port());
    check_refused(ticket_login(agent, "1001", ticket, {"1001"}), "unknown agent or bad ticket");
    CHECK(daemon.log().find("expired ticket for agent \"1001\"") != std::string::npos);
    CHECK(login(agent, "1001", "secret-1001", {"1001"})["agent"] == "1001");
}

TEST_CASE("login: with sessions.ticket_ttl_s 0 there are no tickets") {
    Daemon::Options options;
    options.ticket_ttl_s = 0;
    Daemon daemon(options);
    daemon.start();
    Client agent(daemon.agent_port());
    const json welcome = login(agent, "1001", "secret-1001", {"1001"});
    CHECK_FALSE(welcome.contains("ticket"));
    CHECK_FALSE(welcome.contains("ticket_expires"));
}

TEST_CASE("callpop agent add: a chosen token is for one agent, and --print-token is for generated ones") {
    Daemon daemon;  // not started: only its store and config
    const std::string config = daemon.config_path().string();
    auto several = run_callpop({"agent", "add", "2001", "2002", "--token", "x", "--config", config});
    CHECK(several.exit_code == 2);
    CHECK(several.output.find("--token and --token-stdin are for one agent") != std::string::npos);
    auto print_chosen = run_callpop({"agent", "add", "2001", "--token", "x", "--print-token", "--config", config});
    CHECK(print_chosen.exit_code == 2);
    auto twice = run_callpop({"agent", "add", "2001", "2001", "--config", config});
    CHECK(twice.exit_code == 2);
    auto empty = run_callpop({"agent", "add", "2001", "--token-stdin", "--config", config}, "\n");
    CHECK(empty.exit_code == 2);
    CHECK(query_one(daemon.database_path(), "SELECT count(*) FROM agents WHERE id = '2001'") == "0");
    auto help = run_callpop({"agent", "add", "--help"});
    CHECK(help.exit_code == 0);
    CHECK(help.output.find("--print-token") != std::string::npos);
}

TEST_CASE("login: connections beyond sessions.logins_at_once wait their turn; silent ones do not block it") {
    Daemon::Options options;
    options.logins_at_once = 1;
    Daemon daemon(options);
    daemon.start();
    const auto tokens = add_agents(daemon, {"2001"});
    // A client that connects and says nothing holds the one place for 200 ms at most.
    Client silent(daemon.agent_port());
    std::string ticket;
    {
        Client agent(daemon.agent_port());
        const auto asked = std::chrono::steady_clock::now();
        ticket = login(agent, "1001", "secret-1001", {"1001"})["ticket"];
        CHECK(std::chrono::steady_clock::now() - asked < 1500ms);
    }
    // Many at once: each gets its welcome, one after the other.
    constexpr int clients = 40;
    std::vector<std::unique_ptr<Client>> many;
    for (int i = 0; i < clients; ++i) {
        many.push_back(std::make_unique<Client>(daemon.agent_port()));
        many.back()->send({{"type", "login"}, {"agent", "2001"}, {"token", tokens.front()}});
    }
    int welcomed = 0;
    for (auto& client : many) {
        const json answer = client->next(10s);
        if (answer["type"] == "welcome") ++welcomed;
    }
    // Each login replaced the one before: all were welcomed.
    CHECK(welcomed == clients);
    Client resumed(daemon.agent_port());
    CHECK(ticket_login(resumed, "1001", ticket, {"1001"})["type"] == "welcome");
}

TEST_CASE("callpop agent: list, reset-token, remove, and limits on extensions; a running daemon "
          "closes the sessions of accounts that change") {
    Daemon daemon;
    daemon.start();
    const std::string config = daemon.config_path().string();
    const auto added = run_callpop({"agent", "add", "3001", "--name", "Robin", "--extensions",
                                    "3001,3002", "--print-token", "--config", config});
    REQUIRE_MESSAGE(added.exit_code == 0, added.output);
    const std::string token = added.output.substr(0, added.output.find('\n'));
    const auto admin = run_callpop({"agent", "add", "boss", "--role", "admin", "--token", "root-1",
                                    "--config", config});
    REQUIRE_MESSAGE(admin.exit_code == 0, admin.output);
    const auto listed = run_callpop({"agent", "list", "--config", config});
    CHECK(listed.exit_code == 0);
    CHECK(listed.output.find("3001             agent      3001,3002                Robin") !=
          std::string::npos);
    CHECK(listed.output.find("boss             admin      any") != std::string::npos);
    CHECK(listed.output.find("cpt_") == std::string::npos);  // no token, ever

    // Only at its own extensions; a refused login disturbs nothing.
    Client agent(daemon.agent_port());
    agent.send({{"type", "login"}, {"agent", "3001"}, {"token", token}, {"extensions", {"2001"}}});
    const json refused = agent.expect("error");
    CHECK(refused["code"] == "extension_not_allowed");
    CHECK(refused["message"] == "agent 3001 may log in at 3001,3002 only, not at 2001");
    const auto ticket = login(agent, "3001", token, {"3002"})["ticket"].get<std::string>();
    // An admin does what supervisors do.
    Client boss(daemon.agent_port());
    CHECK(login(boss, "boss", "root-1")["role"] == "admin");
    CHECK(ask_status(boss)["agents_logged_in"] == 1);

    // A new token: the session is closed within seconds, the old token and ticket refused.
    const auto reset = run_callpop({"agent", "reset-token", "3001", "--print-token", "--config", config});
    REQUIRE_MESSAGE(reset.exit_code == 0, reset.output);
    const std::string new_token = reset.output.substr(0, reset.output.find('\n'));
    CHECK(new_token != token);
    const json changed = agent.expect("bye", 5s);
    CHECK(changed["code"] == "account_changed");
    Client old(daemon.agent_port());
    old.send({{"type", "login"}, {"agent", "3001"}, {"token", token}});
    check_refused(old.next(), "unknown agent or wrong token");
    old.send({{"type", "login"}, {"agent", "3001"}, {"ticket", ticket}});
    check_refused(old.next(), "unknown agent or bad ticket");
    Client again(daemon.agent_port());
    login(again, "3001", new_token, {"3001"});

    // Removed: closed, and no login any more.
    CHECK(run_callpop({"agent", "remove", "3001", "--config", config}).exit_code == 0);
    CHECK(again.expect("bye", 5s)["code"] == "account_removed");
    Client gone(daemon.agent_port());
    gone.send({{"type", "login"}, {"agent", "3001"}, {"token", new_token}});
    check_refused(gone.next(), "unknown agent or wrong token");
    CHECK(ask_status(boss)["faults"]["sessions_closed_for_account"] == 2);

    // Unknown ids change nothing and say which.
    const auto unknown = run_callpop({"agent", "remove", "boss", "nobody", "--config", config});
    CHECK(unknown.exit_code == 2);
    CHECK(unknown.output.find("no agent nobody") != std::string::npos);
    CHECK(query_one(daemon.database_path(), "SELECT count(*) FROM agents WHERE id = 'boss'") == "1");
    CHECK(run_callpop({"agent", "reset-token", "nobody", "--config", config}).exit_code == 2);
    CHECK(run_callpop({"agent", "add", "x", "--extensions", "1,,2", "--config", config}).exit_code == 2);
    CHECK(run_callpop({"agent", "add", "x", "--role", "root", "--config", config}).exit_code == 2);
    CHECK(run_callpop({"agent", "frobnicate", "--config", config}).exit_code == 2);
}

TEST_CASE("login: an address with too many failed logins is refused unchecked until its window "
          "has passed; agents logged in are not disturbed") {
    Daemon::Options options;
    options.sessions_config = "  login_failures_max: 3\n  login_failures_window_s: 2\n";
    Daemon daemon(options);
    daemon.start();
    Client seated(daemon.agent_port());
    login(seated, "1001", "secret-1001", {"1001"});
    Client guesser(daemon.agent_port());
    for (const char* guess : {"a", "b", "c"}) {
        guesser.send({{"type", "login"}, {"agent", "1002"}, {"token", guess}});
        check_refused(guesser.next(), "unknown agent or wrong token");
    }
    const auto blocked_at = std::chrono::steady_clock::now();
    // Now even the right token is not checked, from any connection of that address.
    Client right(daemon.agent_port());
    right.send({{"type", "login"}, {"agent", "1002"}, {"token", "secret-1002"}});
    const json refused = right.next();
    CHECK(refused["code"] == "too_many_failures");
    CHECK(refused["message"].get<std::string>().find("too many failed logins from 127.0.0.1: try "
                                                     "again in ") == 0);
    Client pbx(daemon.switch_port());
    pbx.send(ring("still-served", "+15550102000", "1001"));
    CHECK(seated.expect("pop")["call"] == "still-served");
    Client supervisor(daemon.agent_port());
    supervisor.send({{"type", "login"}, {"agent", "super"}, {"token", "boss"}});
    CHECK(supervisor.next()["code"] == "too_many_failures");

    std::this_thread::sleep_until(blocked_at + 2100ms);
    Client later(daemon.agent_port());  // the others were closed for not logging in in 2 s
    login(later, "1002", "secret-1002", {"1002"});
    Client watching(daemon.agent_port());
    login(watching, "super", "boss");
    const json faults = ask_status(watching)["faults"];
    CHECK(faults["logins_refused"] == 3);
    CHECK(faults["logins_throttled"] == 2);
    CHECK(daemon.log().find("too many failed logins from 127.0.0.1") != std::string::npos);
}
