#include "daemon/command_options.hpp"

#include <cstdlib>
#include <iostream>

namespace callpop::daemon {

CommandLine::CommandLine(std::string synopsis) : synopsis_(std::move(synopsis)) {
    options_.add_options()("help,h", "show this help")(
        "config,c", program_options::value<std::string>(),
        "configuration file (default: $CALLPOP_CONFIG, else config/callpop.yaml)");
}

bool CommandLine::parse(const Arguments& arguments) {
    program_options::store(program_options::command_line_parser(arguments)
                               .options(options_)
                               .positional(positional_)
                               .run(),
                           values_);
    if (values_.count("help")) {
        std::cout << "usage: " << synopsis_ << "\n\n" << options_ << "\n";
        return false;
    }
    program_options::notify(values_);
    return true;
}

std::string CommandLine::config_path() const {
    if (values_.count("config")) return values_["config"].as<std::string>();
    if (const char* from_environment = std::getenv("CALLPOP_CONFIG")) return from_environment;
    return "config/callpop.yaml";
}

config::Config CommandLine::load_config() const { return config::load_config(config_path()); }

}  // namespace callpop::daemon
