#include <iostream>

#include "cli/command_options.hpp"
#include "daemon/serve.hpp"
#include "daemon/startup_checks.hpp"

namespace callpop::daemon {

int command_check_config(const std::vector<std::string>& arguments) {
    cli::CommandLine command_line("callpop check-config [--config FILE]");
    command_line.positional("config", 1);
    if (!command_line.parse(arguments)) return 0;
    try {
        const config::Config config = command_line.load_config();
        check_what_serve_needs(config);
        std::cout << config.source.string() << ": OK (" << config.lines.size() << " lines, "
                  << config.outcomes.size() << " outcome codes)\n";
        return 0;
    } catch (const config::ConfigError& error) {
        std::cerr << error.what() << "\n";
        return 1;
    }
}

}  // namespace callpop::daemon
