#include "daemon/switches/evapi_client.hpp"

#include <spdlog/spdlog.h>

namespace callpop::daemon {

EvapiClient::EvapiClient(asio::io_context& io, config::SwitchLink link, SwitchEventSink sink)
    : SwitchClient(io, std::move(link), std::move(sink)) {}

void EvapiClient::on_connected() {
    // A new stream starts with a new netstring; half of one from the old stream is gone.
    decoder_ = protocol::NetstringDecoder();
}

// Kamailio blocks its SIP routing once the evapi socket's buffers fill: a client that
// stops reading freezes the switch. So this runs straight from the read loop, decodes
// everything the read brought and hands each event on at once: the call tracker works in
// memory and with indexed reads, queues call-log writes for the writer thread and pops on
// agents' bounded queues (a slow agent is dropped, never waited for). Nothing here waits,
// and the next read is issued as soon as this returns.
void EvapiClient::on_data(std::string_view bytes) {
    decoder_.feed(bytes);
    while (auto item = decoder_.next()) {
        if (const auto* error = std::get_if<protocol::ProtocolError>(&*item)) {
            count_garbage(error->code + ": " + error->message);
            continue;
        }
        count_message();
        on_payload(std::get<std::string>(*item));
    }
}

void EvapiClient::on_payload(const std::string& payload) {
    auto parsed = protocol::parse_evapi_event(payload);
    if (const auto* error = std::get_if<protocol::ProtocolError>(&parsed)) {
        // The payload's start says which event it was, for whoever reads the log.
        count_garbage(error->code + ": " + error->message + " in " + payload.substr(0, 120) +
                      (payload.size() > 120 ? "..." : ""));
        return;
    }
    const auto& event = std::get<protocol::EvapiEvent>(parsed);
    if (event.kind == protocol::EvapiEventKind::hello) {
        spdlog::info("{}: {} is sending events", describe(),
                     event.server.empty() ? "the switch" : event.server);
        return;
    }
    if (auto switch_event = calls_.on_event(event)) report(*switch_event);
}


void EvapiClient::on_quiet(std::chrono::seconds) {
    // evapi has no ping, and a switch is quiet at night: TCP keepalive (on for every switch
    // link) finds a peer that vanished.
}

void EvapiClient::on_disconnected() {
    // Whatever happened to these calls while we are away will never be sent: say so now
    // rather than leave their pops ringing until calls.max_duration_s.
    const auto closed = calls_.close_open_calls();
    if (!closed.empty()) {
        spdlog::warn(
            "{}: closing {} call(s) in an unknown state: evapi does not resend what "
            "happens while callpop is disconnected",
            describe(), closed.size());
    }
    for (const auto& event : closed) report(event);
}

}  // namespace callpop::daemon
