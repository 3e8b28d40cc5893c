#include <iostream>
#include <set>

#include "cli/command_options.hpp"
#include "domain/states.hpp"
#include "storage/open_store.hpp"
#include "storage/store.hpp"
#include "storage/token_hash.hpp"

namespace callpop::cli {

int command_agent(const Arguments& arguments) {
    CommandLine command_line(
        "callpop agent ID... [--name NAME] [--role agent|supervisor]\n"
        "                    [--token TOKEN | --token-stdin | --print-token]\n"
        "\n"
        "Adds or updates agent logins. Without --token or --token-stdin, callpop generates\n"
        "each agent's token (256 random bits, \"cpt_\" and 43 characters) and prints it once:\n"
        "only a hash is kept, so a lost token is replaced by running this again. Tokens\n"
        "people choose (--token, --token-stdin: one ID only) are hashed slowly (PBKDF2), as\n"
        "guessable secrets need; generated ones need one SHA-256, so logins are quick.\n"
        "\n"
        "Output: \"<role> <id> saved; its token, shown this once only: <token>\" per agent,\n"
        "or with --print-token only the generated tokens, one line per ID in the order the\n"
        "IDs were given, for scripts.");
    command_line.options()("id", program_options::value<std::vector<std::string>>()->required(),
                           "agent ids (what the agents type at login)")(
        "name", program_options::value<std::string>()->default_value(""), "display name")(
        "role", program_options::value<std::string>()->default_value("agent"),
        "agent or supervisor")("token", program_options::value<std::string>(),
                               "the agent's own token (visible in ps; prefer --token-stdin)")(
        "token-stdin", "read the agent's own token from the first line of standard input")(
        "print-token", "print only the generated tokens on standard output, one a line");
    command_line.positional("id", -1);
    if (!command_line.parse(arguments)) return 0;

    const auto ids = command_line.get<std::vector<std::string>>("id");
    const auto role_name = command_line.get<std::string>("role");
    const auto role = domain::parse<domain::AgentRole>(role_name);
    if (!role) {
        std::cerr << "--role: \"" << role_name << "\" is not agent or supervisor\n";
        return 2;
    }
    std::set<std::string> seen;
    for (const auto& id : ids) {
        if (id.empty()) {
            std::cerr << "an agent id must not be empty\n";
            return 2;
        }
        if (!seen.insert(id).second) {
            std::cerr << "agent " << id << " is given twice\n";
            return 2;
        }
    }
    const bool chosen = command_line.has("token") || command_line.has("token-stdin");
    if (chosen && ids.size() > 1) {
        std::cerr << "--token and --token-stdin are for one agent; without them each agent "
                     "gets a generated token of its own\n";
        return 2;
    }
    if (chosen && command_line.has("print-token")) {
        std::cerr << "--print-token prints generated tokens: leave out --token and --token-stdin\n";
        return 2;
    }

    std::vector<storage::AgentAccount> accounts;
    std::vector<std::string> generated;
    if (chosen) {
        std::string token;
        if (command_line.has("token")) {
            token = command_line.get<std::string>("token");
        } else {
            std::getline(std::cin, token);
        }
        if (token.empty()) {
            std::cerr << "the token is empty (leave out --token and --token-stdin to have one "
                         "generated)\n";
            return 2;
        }
        accounts.push_back({ids.front(), command_line.get<std::string>("name"), *role,
                            storage::hash_token(token)});
    } else {
        for (const auto& id : ids) {
            generated.push_back(storage::generate_token());
            accounts.push_back({id, command_line.get<std::string>("name"), *role,
                                storage::hash_generated_token(generated.back())});
        }
    }

    const config::Config config = command_line.load_config();
    auto store = storage::open_store(config.storage);
    storage::StoreTransaction transaction(*store);
    for (const auto& account : accounts) store->put_agent(account);
    transaction.commit();

    // Only once saved: a token printed for an account that is not there would mislead.
    const bool tokens_only = command_line.has("print-token");
    for (std::size_t index = 0; index < accounts.size(); ++index) {
        const auto& account = accounts[index];
        if (tokens_only) {
            std::cout << generated[index] << "\n";
        } else if (chosen) {
            std::cout << domain::to_string(account.role) << " " << account.id << " saved\n";
        } else {
            std::cout << domain::to_string(account.role) << " " << account.id
                      << " saved; its token, shown this once only: " << generated[index] << "\n";
        }
    }
    std::cout.flush();
    return std::cout ? 0 : 1;
}

}  // namespace callpop::cli
