#include "daemon/startup_checks.hpp"

#include <exception>
#include <string>

#include "daemon/net/tls.hpp"
#include "storage/followup_schedule.hpp"
#include "storage/phone_number.hpp"

namespace callpop::daemon {

void check_what_serve_needs(const config::Config& config) {
    try {
        const storage::PhoneNormalizer numbers(config.site.region, config.site.international_prefixes);
    } catch (const std::exception& error) {
        config.fail("site.region", error.what());
    }
    try {
        const storage::FollowupSchedule schedule(config.site);
    } catch (const std::exception& error) {
        config.fail("site.timezone", error.what());
    }
    if (config.listen.agent_tls) {
        try {
            server_tls_context(*config.listen.agent_tls);
        } catch (const TlsFileError& error) {
            config.fail("listen.agent.tls." + error.part, error.what());
        }
    }
    if (config.listen.http && config.listen.http->tls) {
        try {
            server_tls_context(*config.listen.http->tls);
        } catch (const TlsFileError& error) {
            config.fail("listen.http.tls." + error.part, error.what());
        }
    }
    for (std::size_t index = 0; index < config.switches.size(); ++index) {
        const auto& link = config.switches[index];
        if (!link.tls) continue;
        try {
            client_tls_context(link.ca);
        } catch (const std::exception& error) {
            const std::string path = "switches[" + std::to_string(index) + "]";
            config.fail(path + (link.ca.empty() ? ".tls" : ".ca"), error.what());
        }
    }
}

}  // namespace callpop::daemon
