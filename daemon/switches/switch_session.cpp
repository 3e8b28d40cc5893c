#include "daemon/switches/switch_session.hpp"

#include <spdlog/spdlog.h>

#include "protocol/switch_event.hpp"

namespace callpop::daemon {

namespace {
// A switch may be quiet all night; dead peers are found by TCP keepalive instead.
constexpr std::chrono::hours switch_quiet_allowed{24};
}  // namespace

SwitchSession::SwitchSession(tcp::socket socket, NativeSwitchPort& port, SwitchEventSink sink,
                             SessionRegistry& registry, const config::Sessions& settings)
    : LineSession(std::move(socket), settings.queue_max,
                  std::chrono::seconds(settings.login_timeout_s)),
      port_(port),
      sink_(std::move(sink)),
      registry_(registry) {
    ++port_.status.connects;
    if (port_.sessions++ == 0) {
        port_.status.state = "up";
        port_.status.up_since = std::chrono::system_clock::now();
    }
}

void SwitchSession::on_line(std::string_view line) {
    SwitchLinkStatus& figures = port_.status;
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
    if (sink_(std::get<protocol::SwitchEvent>(parsed), std::string(native_switch_name)))
        ++figures.calls;
}

void SwitchSession::on_closed() {
    spdlog::info("{}: disconnected", describe());
    if (--port_.sessions == 0) {
        port_.status.state = "listening";
        port_.status.up_since.reset();
    }
    registry_.remove(*this);
}

}  // namespace callpop::daemon
