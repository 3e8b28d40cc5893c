#include "protocol/switch_event.hpp"

#include "protocol/json_fields.hpp"

namespace callpop::protocol {

std::string_view to_string(SwitchEventKind kind) {
    switch (kind) {
        case SwitchEventKind::ring: return "ring";
        case SwitchEventKind::answer: return "answer";
        case SwitchEventKind::hangup: return "hangup";
        case SwitchEventKind::transfer: return "transfer";
    }
    return "unknown";
}

Parsed<SwitchEvent> parse_switch_event(std::string_view line) {
    auto parsed = parse_json_object(line);
    if (auto* error = std::get_if<ProtocolError>(&parsed)) return *error;
    const auto& object = std::get<nlohmann::json>(parsed);

    SwitchEvent event;
    FieldReader event_name(object, "event");
    const std::string name = event_name.required_string("event");
    if (event_name.error()) return *event_name.error();
    if (name == "ring") {
        event.kind = SwitchEventKind::ring;
    } else if (name == "answer") {
        event.kind = SwitchEventKind::answer;
    } else if (name == "hangup") {
        event.kind = SwitchEventKind::hangup;
    } else if (name == "transfer") {
        event.kind = SwitchEventKind::transfer;
    } else {
        return ProtocolError{"unknown_event",
                             "unknown event \"" + name +
                                 "\" (expected ring, answer, hangup, transfer, hello or ping)"};
    }

    FieldReader fields(object, name + " event");
    event.call = fields.required_string("call");
    event.from = fields.optional_string("from");
    event.name = fields.optional_string("name");
    event.to = fields.optional_string("to");
    event.extensions = fields.string_list("ext", false);
    event.queue = fields.optional_string("queue");
    event.agent = fields.optional_string("agent");
    event.cause = fields.optional_string("cause");
    event.data = fields.optional_object("data");
    if (fields.error()) return *fields.error();
    if (event.kind == SwitchEventKind::transfer && event.extensions.empty())
        return ProtocolError{"missing_field",
                             "transfer event: missing field \"ext\" (the extension the call moves to)"};
    return event;
}

Parsed<SwitchControl> parse_switch_control(std::string_view line) {
    auto parsed = parse_json_object(line);
    if (auto* error = std::get_if<ProtocolError>(&parsed)) return *error;
    const auto& object = std::get<nlohmann::json>(parsed);
    FieldReader event_name(object, "event");
    const std::string name = event_name.required_string("event");
    if (event_name.error()) return *event_name.error();
    if (name == "ping") return SwitchControl{SwitchControlKind::ping, {}, {}};
    if (name != "hello")
        return ProtocolError{"hello_expected",
                             "expected {\"event\":\"hello\",\"secret\":...} first, got a \"" +
                                 name + "\" event"};
    FieldReader fields(object, "hello");
    SwitchControl hello;
    hello.switch_name = fields.optional_string("switch");
    hello.secret = fields.optional_string("secret");
    if (fields.error()) return *fields.error();
    return hello;
}

}  // namespace callpop::protocol
