#include <cstdio>
#include <exception>
#include <string_view>

#include "cli/commands.hpp"
#include "daemon/serve.hpp"

namespace {

struct Verb {
    std::string_view name;
    int (*run)(const callpop::cli::Arguments&);
    std::string_view summary;
};

constexpr Verb verbs[] = {
    {"serve", callpop::daemon::command_serve, "run the daemon"},
    {"check-config", callpop::daemon::command_check_config, "validate callpop.yaml, start nothing"},
    {"import", callpop::cli::command_import, "import customers, assets, notes from CSV"},
    {"demo-data", callpop::cli::command_demo_data, "fill the store with generated demo data"},
    {"agent", callpop::cli::command_agent, "add, update, remove or list agent logins, or give one a new token"},
    {"tail", callpop::cli::command_tail, "show the call log (-f: live)"},
    {"followups", callpop::cli::command_followups, "list or export follow-up calls"},
    {"report", callpop::cli::command_report, "satisfaction scores (csat) and feedback"},
    {"status", callpop::cli::command_status, "the running daemon and its switch links"},
    {"console", callpop::cli::command_console, "an agent's terminal: pops as cards, outcomes and notes"},
    {"reload", callpop::cli::command_reload, "the running daemon reads its config again (admins)"},
};

void usage(std::FILE* out) {
    std::fprintf(out, "usage: callpop <verb> [options]   (callpop <verb> --help)\n\nverbs:\n");
    for (const auto& verb : verbs)
        std::fprintf(out, "  %-14.*s %.*s\n", static_cast<int>(verb.name.size()), verb.name.data(),
                     static_cast<int>(verb.summary.size()), verb.summary.data());
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const std::string_view name = argv[1];
    if (name == "--help" || name == "-h" || name == "help") {
        usage(stdout);
        return 0;
    }
    for (const auto& verb : verbs) {
        if (verb.name != name) continue;
        try {
            return verb.run(callpop::cli::Arguments(argv + 2, argv + argc));
        } catch (const std::exception& error) {
            std::fprintf(stderr, "callpop %s: %s\n", argv[1], error.what());
            return 1;
        }
    }
    std::fprintf(stderr, "callpop: unknown verb \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 2;
}
