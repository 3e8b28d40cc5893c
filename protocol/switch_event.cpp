#include "protocol/switch_event.hpp"

#include "protocol/json_fields.hpp"

#include <optional>
#include <utility>

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

namespace {

// Reads a text field as FieldReader::optional_string does (null: absent; an integer: its
// digits); false for any other type.
bool read_text(simdjson::dom::element value, std::string& text) {
    switch (value.type()) {
        case simdjson::dom::element_type::STRING:
            text = std::string_view(value);
            return true;
        case simdjson::dom::element_type::NULL_VALUE:
            text.clear();
            return true;
        case simdjson::dom::element_type::INT64:
            text = std::to_string(std::int64_t(value));
            return true;
        case simdjson::dom::element_type::UINT64:
            text = std::to_string(std::uint64_t(value));
            return true;
        default:
            return false;
    }
}

// Reads "ext" as FieldReader::string_list does; false where it would fail.
bool read_extensions(simdjson::dom::element value, std::vector<std::string>& extensions) {
    extensions.clear();
    if (value.is_null()) return true;
    if (value.is_string()) {
        const std::string_view extension(value);
        if (!extension.empty()) extensions.emplace_back(extension);
        return true;
    }
    if (!value.is_array()) return false;
    for (const auto item : simdjson::dom::array(value)) {
        if (!item.is_string() || std::string_view(item).empty()) return false;
        extensions.emplace_back(std::string_view(item));
    }
    return true;
}

std::optional<SwitchEventKind> event_kind(std::string_view name) {
    if (name == "ring") return SwitchEventKind::ring;
    if (name == "answer") return SwitchEventKind::answer;
    if (name == "hangup") return SwitchEventKind::hangup;
    if (name == "transfer") return SwitchEventKind::transfer;
    return std::nullopt;
}

// The event a well-formed line holds, read straight from simdjson's DOM (nlohmann's would
// cost the loop more than the rest of the event's handling); nothing when anything is off,
// and the exact reading below names the problem. Fields go in order, so that the last of
// duplicate keys counts, as in nlohmann's reading.
std::optional<SwitchEvent> read_well_formed_event(std::string_view line) {
    const auto object = read_plain_object(line);
    if (!object) return std::nullopt;
    SwitchEvent event;
    std::string name;
    bool call_is_text = false;  // an integer call id is the exact reading's error to name
    for (const auto field : *object) {
        const std::string_view key = field.key;
        bool read = true;
        if (key == "event") read = field.value.is_string() && read_text(field.value, name);
        else if (key == "call") {
            call_is_text = field.value.is_string();
            read = read_text(field.value, event.call);
        }
        else if (key == "from") read = read_text(field.value, event.from);
        else if (key == "name") read = read_text(field.value, event.name);
        else if (key == "to") read = read_text(field.value, event.to);
        else if (key == "ext") read = read_extensions(field.value, event.extensions);
        else if (key == "queue") read = read_text(field.value, event.queue);
        else if (key == "agent") read = read_text(field.value, event.agent);
        else if (key == "cause") read = read_text(field.value, event.cause);
        else if (key == "data") {
            read = field.value.is_null() || field.value.is_object();
            if (read) event.data = field.value.is_null() ? nlohmann::json::object() : to_nlohmann(field.value);
        }
        if (!read) return std::nullopt;
    }
    const auto kind = event_kind(name);
    if (!kind || !call_is_text || event.call.empty()) return std::nullopt;
    if (*kind == SwitchEventKind::transfer && event.extensions.empty()) return std::nullopt;
    event.kind = *kind;
    return event;
}

}  // namespace

Parsed<SwitchEvent> parse_switch_event(std::string_view line) {
    if (auto event = read_well_formed_event(line)) return std::move(*event);
    auto parsed = parse_json_object(line);
    if (auto* error = std::get_if<ProtocolError>(&parsed)) return *error;
    const auto& object = std::get<nlohmann::json>(parsed);

    SwitchEvent event;
    FieldReader event_name(object, "event");
    const std::string name = event_name.required_string("event");
    if (event_name.error()) return *event_name.error();
    const auto kind = event_kind(name);
    if (!kind)
        return ProtocolError{"unknown_event",
                             "unknown event \"" + name +
                                 "\" (expected ring, answer, hangup, transfer, hello or ping)"};
    event.kind = *kind;

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

std::string encode_switch_event(const SwitchEvent& event) {
    nlohmann::json line = {{"event", to_string(event.kind)}, {"call", event.call}};
    const auto optional = [&](const char* key, const std::string& value) {
        if (!value.empty()) line[key] = value;
    };
    optional("from", event.from);
    optional("name", event.name);
    optional("to", event.to);
    if (!event.extensions.empty()) line["ext"] = event.extensions;
    optional("queue", event.queue);
    optional("agent", event.agent);
    optional("cause", event.cause);
    if (!event.data.empty()) line["data"] = event.data;
    // Text that is not UTF-8 becomes U+FFFD rather than an exception.
    return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
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
