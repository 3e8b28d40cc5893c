#include "cli/command_options.hpp"

#include <cstdlib>
#include <iostream>

namespace callpop::cli {

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

int run_action(std::string_view verb, const Arguments& arguments, std::span<const Action> actions,
               std::string_view usage) {
    const std::string name = arguments.empty() ? "" : arguments.front();
    if (name == "--help" || name == "-h" || name == "help") {
        std::cout << usage;
        return 0;
    }
    std::string names;
    for (const auto& action : actions) {
        if (!names.empty()) names += action.name == actions.back().name ? " or " : ", ";
        names += action.name;
        if (action.name != name) continue;
        try {
            return action.run(Arguments(arguments.begin() + 1, arguments.end()));
        } catch (const program_options::error& error) {
            std::cerr << "callpop " << verb << " " << name << ": " << error.what() << "\n";
            return exit_usage;
        } catch (const UsageError& error) {
            std::cerr << "callpop " << verb << " " << name << ": " << error.what() << "\n";
            return exit_usage;
        }
    }
    if (name.empty())
        std::cerr << "callpop " << verb << ": give one of: " << names << "\n";
    else
        std::cerr << "callpop " << verb << ": unknown \"" << name << "\" (" << names << ")\n";
    std::cerr << usage;
    return exit_usage;
}

}  // namespace callpop::cli
