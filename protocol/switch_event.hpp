#pragma once
// The native switch protocol: one JSON event per line (docs/protocol-switch.md).
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "protocol/error.hpp"

namespace callpop::protocol {

enum class SwitchEventKind { ring, answer, hangup, transfer };

struct SwitchEvent {
    SwitchEventKind kind = SwitchEventKind::ring;
    std::string call;                     // the switch's call id
    std::string from;                     // caller number as sent
    std::string name;                     // caller name as sent
    std::string to;                       // dialed number (DID)
    std::vector<std::string> extensions;  // extensions rung / answering / transferred to
    std::string queue;
    std::string agent;                    // agent answering / transferred to, if known
    std::string cause;                    // hangup cause
    nlohmann::json data = nlohmann::json::object();  // what the IVR collected
};

Parsed<SwitchEvent> parse_switch_event(std::string_view line);

// What a switch says first when the port asks for a shared secret.
struct SwitchHello {
    std::string secret;
};
// {"event":"hello","secret":"..."}; any other line is an error naming what a hello is.
Parsed<SwitchHello> parse_switch_hello(std::string_view line);

std::string_view to_string(SwitchEventKind kind);

}  // namespace callpop::protocol
