// callpop reload: asks the running daemon, as an admin, to read its config file again, as
// SIGHUP does (the reload message, docs/protocol-agent.md).
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command_options.hpp"
#include "cli/daemon_client.hpp"

namespace callpop::cli {

int command_reload(const Arguments& arguments) {
    CommandLine command_line(
        "callpop reload [--config FILE] [--user ID --token TOKEN] [--host H] [--port P]");
    add_daemon_login_options(command_line);
    if (!command_line.parse(arguments)) return 0;
    const config::Config config = command_line.load_config();
    const auto login = daemon_login(command_line, config, "reload");
    if (!login) return exit_usage;
    // A file that does not pass comes back as an error naming its file:line:col: main()
    // prints it and exits 1, and the daemon keeps running on what it had.
    const nlohmann::json reloaded = ask_daemon(*login, {{"type", "reload"}});
    std::cout << reloaded.value("config", "the config")
              << " passed its checks: log.level and the TLS certificates applied, the JSONL call "
                 "log's file opened again";
    if (reloaded.value("restart_needed", false))
        std::cout << "; other changes take effect at the next start";
    std::cout << "\n";
    return 0;
}

}  // namespace callpop::cli
