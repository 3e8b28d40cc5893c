#pragma once
// What serve checks before it opens anything, and check-config with it: the values the
// loader cannot judge from the file alone (a phone region, a zone in the tz database, a
// certificate and its key, the authorities a switch link trusts). Each is reported as the
// loader reports, at the key's file:line:col, by throwing config::ConfigError.
#include "config/config.hpp"

namespace callpop::daemon {

void check_what_serve_needs(const config::Config& config);

}  // namespace callpop::daemon
