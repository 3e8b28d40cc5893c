#pragma once
// The command-line verbs of the callpop binary (`serve` and `check-config` are the daemon's:
// daemon/serve.hpp);
// each returns the process exit code.
#include <string>
#include <vector>

namespace callpop::cli {

using Arguments = std::vector<std::string>;  // after the verb

// Exit codes beside 0 and 1 that the verbs share.
inline constexpr int exit_usage = 2;          // the command line was wrong
inline constexpr int exit_rows_rejected = 3;  // an import skipped rows (each named on stderr)

int command_import(const Arguments& arguments);
int command_demo_data(const Arguments& arguments);
int command_agent(const Arguments& arguments);
int command_tail(const Arguments& arguments);
int command_followups(const Arguments& arguments);  // list, export, complete, cancel
int command_report(const Arguments& arguments);     // csat, feedback
int command_status(const Arguments& arguments);     // the daemon and its switch links
int command_reload(const Arguments& arguments);     // the daemon reads its config again
int command_console(const Arguments& arguments);    // an agent's terminal

}  // namespace callpop::cli
