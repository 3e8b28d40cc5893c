#pragma once
// What the daemons sharing a store say to each other on the callpop_events channel: one
// JSON object a line (docs/peers.md, "The channels").
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "protocol/error.hpp"
#include "protocol/switch_event.hpp"

namespace callpop::protocol {

// The card the publishing daemon found for a call: the others pop it as it is.
struct PeerCard {
    std::string pop;  // the pop line as sent to agents, newline included
    std::string caller_number;
    std::string line;
    std::optional<std::int64_t> customer_id;
    std::string customer_name;
};

// An event of one of the publishing daemon's switches, as that daemon applied it.
struct PeerCallEvent {
    std::string switch_name;
    SwitchEvent event;
    std::optional<PeerCard> card;  // nothing when none was sent or it was not well formed
};

// The agents seated, on the daemon that says so, at extensions where a call rings.
struct PeerSeats {
    std::string call;
    std::vector<std::pair<std::string, std::string>> agents;  // extension, agent
};

// Asks the others to tell again what their switches said since then (the wall clock, in
// milliseconds since the epoch).
struct PeerResync {
    std::int64_t since_ms = 0;
};

struct PeerMessage {
    std::string daemon;  // who said it
    std::variant<PeerCallEvent, PeerSeats, PeerResync> said;
};

// Anyone who may use the database may notify: a line that is not one of these is an error
// that names what is wrong.
Parsed<PeerMessage> parse_peer_message(std::string_view line);
// One line, without the newline, that parse_peer_message reads back as the same message.
std::string encode_peer_message(const PeerMessage& message);

}  // namespace callpop::protocol
