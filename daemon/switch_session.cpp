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
      server_(server) {
    NativeSwitchPort& port = server_.native_switch_port();
    ++port.status.connects;
    if (port.sessions++ == 0) {
        port.status.state = "up";
        port.status.up_since = std::chrono::system_clock::now();
    }
}

void SwitchSession::on_line(std::string_view line) {
    SwitchLinkStatus& figures = server_.native_switch_port().status;
    ++figures.messages;
    figures.last_event_at = std::chrono::system_clock::now();
    auto parsed = protocol::parse_switch_event(line);
    if (auto* error = std::get_if<protocol::ProtocolError>(&parsed)) {
        spdlog::warn("{}: {}: {}", describe(), error->code, error->message);
        ++figures.garbage;
        // The port has no link to go down: its last error is the last line it refused,
        // which is what whoever integrates a switch needs to see.
        figures.last_error = error->code + ": " + error->message;
        reject(error->code, error->message);
        return;
    }
    if (!heard_from_) {
        heard_from_ = true;
        set_idle_timeout(switch_quiet_allowed);
    }
    ++figures.events;
    if (server_.on_switch_event(std::get<protocol::SwitchEvent>(parsed),
                                std::string(native_switch_name)))
        ++figures.calls;
}

void SwitchSession::on_closed() {
    spdlog::info("{}: disconnected", describe());
    NativeSwitchPort& port = server_.native_switch_port();
    if (--port.sessions == 0) {
        port.status.state = "listening";
        port.status.up_since.reset();
    }
    server_.on_session_closed(*this);
}

}  // namespace callpop::daemon
