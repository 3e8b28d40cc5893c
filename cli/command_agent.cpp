#include <iostream>
#include <set>

#include <fmt/format.h>

#include "cli/command_options.hpp"
#include "domain/states.hpp"
#include "storage/open_store.hpp"
#include "storage/store.hpp"
#include "storage/token_hash.hpp"

namespace callpop::cli {

namespace {

// The verb's exit status once its output is out: 1 when standard output failed (a full
// disk, a closed pipe), so that scripts do not take lost output for success.
int printed_all() {
    std::cout.flush();
    return std::cout ? 0 : 1;
}

// The ids given; throws UsageError for an empty one or one given twice.
std::vector<std::string> distinct_ids(const CommandLine& command_line) {
    auto ids = command_line.get<std::vector<std::string>>("id");
    std::set<std::string> seen;
    for (const auto& id : ids) {
        if (id.empty()) throw UsageError("an agent id must not be empty");
        if (!seen.insert(id).second) throw UsageError("agent " + id + " is given twice");
    }
    return ids;
}

std::vector<std::string> split_extensions(const std::string& list) {
    std::vector<std::string> extensions;
    for (std::size_t start = 0; start <= list.size();) {
        const auto comma = std::min(list.find(',', start), list.size());
        std::string extension = list.substr(start, comma - start);
        if (extension.empty())
            throw UsageError("--extensions: \"" + list + "\" has an empty extension");
        extensions.push_back(std::move(extension));
        start = comma + 1;
    }
    return extensions;
}

std::string joined(const std::vector<std::string>& items) {
    std::string text;
    for (const auto& item : items) text += (text.empty() ? "" : ",") + item;
    return text;
}

// Prints what was saved, once it is: a token printed for an account that is not there
// would mislead.
void print_saved(const std::vector<storage::AgentAccount>& accounts,
                 const std::vector<std::string>& generated, bool tokens_only) {
    for (std::size_t index = 0; index < accounts.size(); ++index) {
        const auto& account = accounts[index];
        if (tokens_only) {
            std::cout << generated[index] << "\n";
        } else if (generated.empty()) {
            std::cout << domain::to_string(account.role) << " " << account.id << " saved\n";
        } else {
            std::cout << domain::to_string(account.role) << " " << account.id
                      << " saved; its token, shown this once only: " << generated[index] << "\n";
        }
    }
}

int agent_add(const Arguments& arguments) {
    CommandLine command_line(
        "callpop agent add ID... [--name NAME] [--role agent|supervisor|admin]\n"
        "                        [--extensions EXT,...] [--token TOKEN | --token-stdin | --print-token]\n"
        "\n"
        "Adds agent logins, or updates them (name, role, extensions and token). Without --token\n"
        "or --token-stdin, callpop generates each agent's token (256 random bits, \"cpt_\" and\n"
        "43 characters) and prints it once: only a hash is kept. Tokens people choose\n"
        "(--token, --token-stdin: one ID only) are hashed slowly (PBKDF2), as guessable secrets\n"
        "need; generated ones need one SHA-256, so logins are quick. A running daemon\n"
        "disconnects a session whose account changed within 2 seconds.\n"
        "\n"
        "Output: \"<role> <id> saved; its token, shown this once only: <token>\" per agent,\n"
        "or with --print-token only the generated tokens, one line per ID in the order the\n"
        "IDs were given, for scripts.");
    command_line.options()("id", program_options::value<std::vector<std::string>>()->required(),
                           "agent ids (what the agents type at login)")(
        "name", program_options::value<std::string>()->default_value(""), "display name")(
        "role", program_options::value<std::string>()->default_value("agent"),
        "agent, supervisor or admin")(
        "extensions", program_options::value<std::string>()->default_value(""),
        "the only extensions the account may log in at, comma-separated (default: any)")(
        "token", program_options::value<std::string>(),
        "the agent's own token (visible in ps; prefer --token-stdin)")(
        "token-stdin", "read the agent's own token from the first line of standard input")(
        "print-token", "print only the generated tokens on standard output, one a line");
    command_line.positional("id", -1);
    if (!command_line.parse(arguments)) return 0;

    const auto ids = distinct_ids(command_line);
    const auto role_name = command_line.get<std::string>("role");
    const auto role = domain::parse<domain::AgentRole>(role_name);
    if (!role) throw UsageError("--role: \"" + role_name + "\" is not agent, supervisor or admin");
    const auto extension_list = command_line.get<std::string>("extensions");
    const auto extensions =
        extension_list.empty() ? std::vector<std::string>{} : split_extensions(extension_list);
    const bool chosen = command_line.has("token") || command_line.has("token-stdin");
    if (chosen && ids.size() > 1)
        throw UsageError("--token and --token-stdin are for one agent; without them each agent "
                         "gets a generated token of its own");
    if (chosen && command_line.has("print-token"))
        throw UsageError("--print-token prints generated tokens: leave out --token and "
                         "--token-stdin");

    std::vector<storage::AgentAccount> accounts;
    std::vector<std::string> generated;
    const auto name = command_line.get<std::string>("name");
    if (chosen) {
        std::string token;
        if (command_line.has("token")) {
            token = command_line.get<std::string>("token");
        } else {
            std::getline(std::cin, token);
        }
        if (token.empty())
            throw UsageError("the token is empty (leave out --token and --token-stdin to have "
                             "one generated)");
        accounts.push_back({ids.front(), name, *role, storage::hash_token(token), extensions});
    } else {
        for (const auto& id : ids) {
            generated.push_back(storage::generate_token());
            accounts.push_back({id, name, *role, storage::hash_generated_token(generated.back()),
                                extensions});
        }
    }

    const config::Config config = command_line.load_config();
    auto store = storage::open_store(config.storage);
    storage::StoreTransaction transaction(*store);
    for (const auto& account : accounts) store->put_agent(account);
    transaction.commit();
    print_saved(accounts, generated, command_line.has("print-token"));
    return printed_all();
}

// The accounts named, as stored; throws naming the first id the store does not have.
std::vector<storage::AgentAccount> existing_accounts(storage::Store& store,
                                                     const std::vector<std::string>& ids) {
    std::vector<storage::AgentAccount> accounts;
    for (const auto& id : ids) {
        auto account = store.agent(id);
        if (!account) throw UsageError("no agent " + id + " (nothing was changed)");
        accounts.push_back(std::move(*account));
    }
    return accounts;
}

int agent_remove(const Arguments& arguments) {
    CommandLine command_line(
        "callpop agent remove ID...\n"
        "\n"
        "Removes agent logins. A running daemon disconnects their sessions within 2 seconds\n"
        "(bye account_removed); their resume tickets stop working at once. The call log keeps\n"
        "their name on the calls they handled.");
    command_line.options()("id", program_options::value<std::vector<std::string>>()->required(),
                           "agent ids");
    command_line.positional("id", -1);
    if (!command_line.parse(arguments)) return 0;
    const auto ids = distinct_ids(command_line);
    auto store = storage::open_store(command_line.load_config().storage);
    storage::StoreTransaction transaction(*store);
    existing_accounts(*store, ids);  // all or nothing
    for (const auto& id : ids) store->remove_agent(id);
    transaction.commit();
    for (const auto& id : ids) std::cout << "agent " << id << " removed\n";
    return printed_all();
}

int agent_reset_token(const Arguments& arguments) {
    CommandLine command_line(
        "callpop agent reset-token ID... [--print-token]\n"
        "\n"
        "Gives each agent a new generated token, printed once, for one that was lost or\n"
        "leaked. The old token and every resume ticket made with it stop working; a running\n"
        "daemon disconnects the agent's session within 2 seconds (bye account_changed).");
    command_line.options()("id", program_options::value<std::vector<std::string>>()->required(),
                           "agent ids")(
        "print-token", "print only the new tokens on standard output, one a line");
    command_line.positional("id", -1);
    if (!command_line.parse(arguments)) return 0;
    const auto ids = distinct_ids(command_line);
    auto store = storage::open_store(command_line.load_config().storage);
    storage::StoreTransaction transaction(*store);
    auto accounts = existing_accounts(*store, ids);
    std::vector<std::string> generated;
    for (auto& account : accounts) {
        generated.push_back(storage::generate_token());
        account.token_hash = storage::hash_generated_token(generated.back());
        store->put_agent(account);
    }
    transaction.commit();
    print_saved(accounts, generated, command_line.has("print-token"));
    return printed_all();
}

int agent_list(const Arguments& arguments) {
    CommandLine command_line(
        "callpop agent list\n"
        "\n"
        "The agent logins, one a line: id, role, the extensions it may log in at (\"any\"),\n"
        "and its name. Tokens are never shown: only their hashes are kept.");
    if (!command_line.parse(arguments)) return 0;
    auto store = storage::open_store(command_line.load_config().storage);
    const auto accounts = store->agents();
    std::cout << fmt::format("{:<16} {:<10} {:<24} {}\n", "id", "role", "extensions", "name");
    for (const auto& account : accounts) {
        std::cout << fmt::format(
            "{:<16} {:<10} {:<24} {}\n", account.id, domain::to_string(account.role),
            account.extensions.empty() ? "any" : joined(account.extensions), account.name);
    }
    return printed_all();
}

constexpr std::string_view agent_usage =
    "usage: callpop agent add ID... [--role agent|supervisor|admin] [--extensions EXT,...]\n"
    "                                [--token TOKEN | --token-stdin | --print-token]\n"
    "       callpop agent remove ID...\n"
    "       callpop agent reset-token ID... [--print-token]\n"
    "       callpop agent list\n"
    "(callpop agent add --help shows the options)\n";

constexpr Action agent_actions[] = {{"add", agent_add},
                                    {"remove", agent_remove},
                                    {"reset-token", agent_reset_token},
                                    {"list", agent_list}};

}  // namespace

int command_agent(const Arguments& arguments) {
    return run_action("agent", arguments, agent_actions, agent_usage);
}

}  // namespace callpop::cli
