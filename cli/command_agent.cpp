#include <iostream>

#include "cli/command_options.hpp"
#include "domain/states.hpp"
#include "storage/open_store.hpp"
#include "storage/store.hpp"
#include "storage/token_hash.hpp"

namespace callpop::cli {

int command_agent(const Arguments& arguments) {
    CommandLine command_line(
        "callpop agent ID [--name NAME] [--role agent|supervisor] (--token TOKEN | "
        "--token-stdin)");
    command_line.options()("id", program_options::value<std::string>()->required(),
                           "agent id (what the agent types at login)")(
        "name", program_options::value<std::string>()->default_value(""), "display name")(
        "role", program_options::value<std::string>()->default_value("agent"),
        "agent or supervisor")("token", program_options::value<std::string>(),
                               "the agent's token (visible in ps; prefer --token-stdin)")(
        "token-stdin", "read the token from the first line of standard input");
    command_line.positional("id", 1);
    if (!command_line.parse(arguments)) return 0;

    storage::AgentAccount account;
    account.id = command_line.get<std::string>("id");
    account.name = command_line.get<std::string>("name");
    const auto role_name = command_line.get<std::string>("role");
    const auto role = domain::parse<domain::AgentRole>(role_name);
    if (!role) {
        std::cerr << "--role: \"" << role_name << "\" is not agent or supervisor\n";
        return 2;
    }
    account.role = *role;
    std::string token;
    if (command_line.has("token")) {
        token = command_line.get<std::string>("token");
    } else if (command_line.has("token-stdin")) {
        std::getline(std::cin, token);
    }
    if (token.empty()) {
        std::cerr << "give the token with --token or --token-stdin\n";
        return 2;
    }
    account.token_hash = storage::hash_token(token);

    const config::Config config = command_line.load_config();
    auto store = storage::open_store(config.storage);
    storage::StoreTransaction transaction(*store);
    store->put_agent(account);
    transaction.commit();
    std::cout << domain::to_string(account.role) << " " << account.id << " saved\n";
    return 0;
}

}  // namespace callpop::cli
