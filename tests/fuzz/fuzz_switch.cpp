// libFuzzer target for the native switch port (docs/protocol-switch.md): the line decoder
// and parse_switch_event (parse_switch_control too), and the encoders fed with what it accepts (the pop, the call
// state, the callback a missed call schedules). Build and run: tests/fuzz/README.md.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>
#include <vector>

#include "fuzz/protocol_support.hpp"
#include "protocol/switch_event.hpp"

namespace protocol = callpop::protocol;
namespace domain = callpop::domain;
using callpop::fuzz::check_encoded;
using callpop::fuzz::require;

namespace {

// A hello is an object whose event is "hello", with its secret and switch name as given (or
// absent); a ping one whose event is "ping".
void parse_control(const std::string& text) {
    auto control = protocol::parse_switch_control(text);
    if (auto* error = std::get_if<protocol::ProtocolError>(&control)) {
        require(!error->code.empty());
        check_encoded(protocol::encode_error(*error));
        return;
    }
    const auto reference = nlohmann::json::parse(text, nullptr, false);
    require(reference.is_object());
    const auto& hello = std::get<protocol::SwitchControl>(control);
    if (hello.kind == protocol::SwitchControlKind::ping) {
        require(reference.value("event", "") == "ping");
        return;
    }
    require(reference.value("event", "") == "hello");
    const auto given = [&](const char* key, const std::string& value) {
        const auto found = reference.find(key);
        if (found == reference.end() || found->is_null()) return value.empty();
        return found->is_string() ? found->get<std::string>() == value
                                  : found->is_number_integer() && found->dump() == value;
    };
    require(given("secret", hello.secret) && given("switch", hello.switch_name));
}

void parse_line(const std::string& text) {
    parse_control(text);
    auto event = protocol::parse_switch_event(text);
    // simdjson reads lines first and nlohmann decides whatever simdjson refuses: together
    // they must accept what nlohmann alone accepts, with the same values.
    const bool nlohmann_accepts = nlohmann::json::accept(text);
    if (auto* error = std::get_if<protocol::ProtocolError>(&event)) {
        require(!error->code.empty());
        if (!nlohmann_accepts) require(error->code == "bad_json");
        check_encoded(protocol::encode_error(*error));
        return;
    }
    const auto& parsed = std::get<protocol::SwitchEvent>(event);
    require(nlohmann_accepts);
    const auto reference = nlohmann::json::parse(text, nullptr, false);
    require(reference.is_object());
    if (reference.contains("data") && reference["data"].is_object())
        require(parsed.data == reference["data"]);
    else
        require(parsed.data == nlohmann::json::object());
    require(!parsed.call.empty());
    for (const auto& extension : parsed.extensions) require(!extension.empty());
    // Every field is the one nlohmann reads (a well-formed line is read from simdjson's DOM,
    // others from nlohmann's: the two must agree, unescaping and repeated keys included).
    const auto text_of = [&](const char* key) {
        const auto found = reference.find(key);
        if (found == reference.end() || found->is_null()) return std::string();
        return found->is_string() ? found->get<std::string>() : found->dump();
    };
    require(reference["call"].is_string() && reference["call"] == parsed.call);
    require(text_of("from") == parsed.from && text_of("name") == parsed.name &&
            text_of("to") == parsed.to && text_of("queue") == parsed.queue &&
            text_of("agent") == parsed.agent && text_of("cause") == parsed.cause);
    require(protocol::to_string(parsed.kind) == reference["event"].get<std::string>());
    const auto& ext = reference.contains("ext") ? reference["ext"] : nlohmann::json();
    std::vector<std::string> extensions;
    if (ext.is_string() && !ext.get<std::string>().empty()) extensions.push_back(ext.get<std::string>());
    if (ext.is_array())
        for (const auto& item : ext) extensions.push_back(item.get<std::string>());
    require(extensions == parsed.extensions);
    // A transfer says where the call goes.
    if (parsed.kind == protocol::SwitchEventKind::transfer) require(!parsed.extensions.empty());
    protocol::Pop pop;
    pop.call = parsed.call;
    pop.caller.raw = parsed.from;
    pop.caller.number = parsed.from;
    pop.caller.name = parsed.name;
    pop.dialed = parsed.to;
    pop.queue = parsed.queue;
    pop.data = parsed.data;
    check_encoded(protocol::encode_pop(pop));
    check_encoded(protocol::encode_call_state(parsed.call, domain::PoppedCallState::ended,
                                              parsed.agent, parsed.cause));
    // A missed call becomes a callback to the caller.
    callpop::fuzz::check_followup_offer(parsed.from, parsed.name, parsed.call, parsed.cause,
                                        parsed.to, 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    callpop::fuzz::for_each_line(bytes, size, parse_line);
    return 0;
}
