#pragma once
// The CLI verbs that talk to a running daemon (tail, followups complete|cancel) log in on
// its agent port as a supervisor; this is how they find it and who they say they are.
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/command_options.hpp"

namespace callpop::cli {

struct DaemonLogin {
    std::string host;
    unsigned short port = 0;
    std::string user;
    std::string token;
};

// Adds --host, --port, --user and --token.
void add_daemon_login_options(CommandLine& command_line);
// From the options, else listen.agent in the config and $CALLPOP_USER / $CALLPOP_TOKEN.
// Prints what is missing and returns nullopt when there is no login.
std::optional<DaemonLogin> daemon_login(const CommandLine& command_line,
                                        const config::Config& config, const char* verb);
// Logs in, sends one request and returns the first reply that is not the welcome: the
// answer, or an error or bye (throws std::runtime_error naming it).
nlohmann::json ask_daemon(const DaemonLogin& login, const nlohmann::json& request);

}  // namespace callpop::cli
