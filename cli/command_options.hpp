#pragma once
// Command-line parsing shared by the verbs: --help, --config, positional arguments.
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include <boost/program_options.hpp>

#include "config/config.hpp"
#include "cli/commands.hpp"

namespace callpop::cli {

namespace program_options = boost::program_options;

class CommandLine {
public:
    // synopsis: e.g. "callpop import [--config FILE] --customers FILE ..."
    explicit CommandLine(std::string synopsis);

    program_options::options_description_easy_init options() { return options_.add_options(); }
    void positional(const char* name, int max_count) { positional_.add(name, max_count); }

    // False when --help was asked for (and printed). Throws program_options errors.
    bool parse(const Arguments& arguments);
    const program_options::variables_map& values() const { return values_; }
    bool has(const char* name) const { return values_.count(name) > 0; }
    template <typename T>
    T get(const char* name) const { return values_[name].as<T>(); }

    // --config, else $CALLPOP_CONFIG, else config/callpop.yaml.
    std::string config_path() const;
    config::Config load_config() const;

private:
    std::string synopsis_;
    program_options::options_description options_{"options"};
    program_options::positional_options_description positional_;
    program_options::variables_map values_;
};

// A bad option value, named in the message; the verb prints it and exits 2.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Verbs with actions (callpop followups list, callpop report csat).
struct Action {
    std::string_view name;
    int (*run)(const Arguments& arguments);
};
// Runs the action named by the first argument with the rest. Usage problems (an unknown
// action, a bad option) are printed with `usage` and exit 2.
int run_action(std::string_view verb, const Arguments& arguments, std::span<const Action> actions,
               std::string_view usage);

}  // namespace callpop::cli
