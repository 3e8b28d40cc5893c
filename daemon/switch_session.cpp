#include "daemon/switch_session.hpp"

#include <spdlog/spdlog.h>

#include "daemon/server.hpp"
#include "protocol/switch_event.hpp"

namespace callpop::daemon {

namespace {
// A switch may be quiet all night; dead peers are found by TCP keepalive instead.
constexpr std::chrono::hours switch_quiet_allowed{24};
}  // namespace

SwitchSession::SwitchSession(tcp::socket socket, Server& server)
    : LineSession(std::move(socket), server.config().sessions.queue_max,
                  std::chrono::seconds(server.config().sessions.login_timeout_s)),
      server_(server) {}

void SwitchSession::on_line(std::string_view line) {
    auto parsed = protocol::parse_switch_event(line);
    if (auto* error = std::get_if<protocol::ProtocolError>(&parsed)) {
        spdlog::warn("{}: {}: {}", describe(), error->code, error->message);
        reject(error->code, error->message);
        return;
    }
    if (!heard_from_) {
        heard_from_ = true;
        set_idle_timeout(switch_quiet_allowed);
    }
    server_.on_switch_event(std::get<protocol::SwitchEvent>(parsed), "native");
}

void SwitchSession::on_closed() {
    spdlog::info("{}: disconnected", describe());
    server_.on_session_closed(*this);
}

}  // namespace callpop::daemon
