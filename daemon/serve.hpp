#pragma once
#include <string>
#include <vector>

namespace callpop::daemon {

// `callpop serve`: runs the daemon until SIGINT or SIGTERM; returns the exit code.
int command_serve(const std::vector<std::string>& arguments);

}  // namespace callpop::daemon
