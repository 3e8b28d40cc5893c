#pragma once
#include <string>
#include <vector>

namespace callpop::daemon {

// `callpop serve`: runs the daemon until SIGINT or SIGTERM; returns the exit code.
int command_serve(const std::vector<std::string>& arguments);
// `callpop check-config`: what serve checks before it starts (daemon/startup_checks.hpp).
int command_check_config(const std::vector<std::string>& arguments);

}  // namespace callpop::daemon
