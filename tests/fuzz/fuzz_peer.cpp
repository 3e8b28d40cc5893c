// libFuzzer target for what the daemons say to each other on callpop_events (docs/peers.md):
// parse_peer_message on each line, and encode_peer_message with what it accepts. Any user
// of the database may NOTIFY, so every line is hostile. Build and run: tests/fuzz/README.md.
#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>

#include "fuzz/protocol_support.hpp"
#include "protocol/peer_message.hpp"

namespace protocol = callpop::protocol;
using callpop::fuzz::check_encoded;
using callpop::fuzz::require;

namespace {

bool same_event(const protocol::SwitchEvent& a, const protocol::SwitchEvent& b) {
    return a.kind == b.kind && a.call == b.call && a.from == b.from && a.name == b.name &&
           a.to == b.to && a.extensions == b.extensions && a.queue == b.queue &&
           a.agent == b.agent && a.cause == b.cause && a.data == b.data;
}

bool same_card(const std::optional<protocol::PeerCard>& a, const std::optional<protocol::PeerCard>& b) {
    if (!a || !b) return !a && !b;
    return a->pop == b->pop && a->caller_number == b->caller_number && a->line == b->line &&
           a->customer_id == b->customer_id && a->customer_name == b->customer_name;
}

// What is read is what was said: an accepted message, written again, reads back the same.
bool same_message(const protocol::PeerMessage& a, const protocol::PeerMessage& b) {
    if (a.daemon != b.daemon || a.said.index() != b.said.index()) return false;
    if (const auto* call = std::get_if<protocol::PeerCallEvent>(&a.said)) {
        const auto& other = std::get<protocol::PeerCallEvent>(b.said);
        return call->switch_name == other.switch_name && same_event(call->event, other.event) &&
               same_card(call->card, other.card);
    }
    if (const auto* seats = std::get_if<protocol::PeerSeats>(&a.said)) {
        const auto& other = std::get<protocol::PeerSeats>(b.said);
        return seats->call == other.call && seats->agents == other.agents;
    }
    return std::get<protocol::PeerResync>(a.said).since_ms ==
           std::get<protocol::PeerResync>(b.said).since_ms;
}

void parse_line(const std::string& text) {
    auto parsed = protocol::parse_peer_message(text);
    if (auto* error = std::get_if<protocol::ProtocolError>(&parsed)) {
        require(!error->code.empty() && !error->message.empty());
        check_encoded(protocol::encode_error(*error));
        return;
    }
    const auto& message = std::get<protocol::PeerMessage>(parsed);
    if (const auto* call = std::get_if<protocol::PeerCallEvent>(&message.said)) {
        require(!call->event.call.empty());
        if (call->event.kind == protocol::SwitchEventKind::transfer)
            require(!call->event.extensions.empty());
    }
    if (const auto* seats = std::get_if<protocol::PeerSeats>(&message.said))
        for (const auto& [extension, agent] : seats->agents) require(!extension.empty());
    const std::string line = protocol::encode_peer_message(message);
    check_encoded(line + "\n");
    auto again = protocol::parse_peer_message(line);
    require(std::holds_alternative<protocol::PeerMessage>(again));
    require(same_message(message, std::get<protocol::PeerMessage>(again)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    callpop::fuzz::for_each_line(bytes, size, parse_line);
    return 0;
}
