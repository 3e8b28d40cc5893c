#include <iostream>

#include "cli/command_options.hpp"

namespace callpop::cli {

int command_check_config(const Arguments& arguments) {
    CommandLine command_line("callpop check-config [--config FILE]");
    command_line.positional("config", 1);
    if (!command_line.parse(arguments)) return 0;
    try {
        const config::Config config = command_line.load_config();
        std::cout << config.source.string() << ": OK (" << config.lines.size() << " lines, "
                  << config.outcomes.size() << " outcome codes)\n";
        return 0;
    } catch (const config::ConfigError& error) {
        std::cerr << error.what() << "\n";
        return 1;
    }
}

}  // namespace callpop::cli
