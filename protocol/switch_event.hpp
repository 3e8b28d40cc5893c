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
// The event as a line of the native protocol (no newline), which parse_switch_event reads
// back as the same event (text that is not UTF-8 comes back with U+FFFD in its place).
std::string encode_switch_event(const SwitchEvent& event);

// A hello introduces a switch: first, when the port asks for a shared secret; at any time
// otherwise. A ping is answered with a pong. Either tells callpop the link is alive while
// no call comes.
enum class SwitchControlKind { hello, ping };
struct SwitchControl {
    SwitchControlKind kind = SwitchControlKind::hello;
    std::string switch_name;  // hello: "switch", for the log; empty when not given
    std::string secret;       // hello: empty when not given
};
// {"event":"hello",...} or {"event":"ping"}; any other line is an error naming what was
// expected.
Parsed<SwitchControl> parse_switch_control(std::string_view line);

std::string_view to_string(SwitchEventKind kind);

}  // namespace callpop::protocol
