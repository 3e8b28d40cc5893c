// libFuzzer target for protocol/: the line decoder, the switch-event parser and the
// agent-message parser, plus the encoders fed with whatever the parsers accepted.
// Build and run: tests/fuzz/README.md.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/agent_message.hpp"
#include "protocol/line_decoder.hpp"
#include "protocol/switch_event.hpp"

namespace protocol = callpop::protocol;

namespace {

// An invariant broke: crash so that libFuzzer keeps the input.
void require(bool holds) {
    if (!holds) std::abort();
}

// Each encoder must return one line of valid JSON, whatever bytes went in.
void check_encoded(const std::string& line) {
    require(!line.empty() && line.back() == '\n');
    require(line.find('\n') == line.size() - 1);
    require(nlohmann::json::accept(std::string_view(line).substr(0, line.size() - 1)));
}

void parse_line(const std::string& text) {
    auto event = protocol::parse_switch_event(text);
    if (auto* error = std::get_if<protocol::ProtocolError>(&event)) {
        require(!error->code.empty());
        check_encoded(protocol::encode_error(*error));
    } else {
        const auto& parsed = std::get<protocol::SwitchEvent>(event);
        require(!parsed.call.empty());
        for (const auto& extension : parsed.extensions) require(!extension.empty());
        protocol::Pop pop;
        pop.call = parsed.call;
        pop.caller.raw = parsed.from;
        pop.caller.number = parsed.from;
        pop.caller.name = parsed.name;
        pop.dialed = parsed.to;
        pop.queue = parsed.queue;
        pop.data = parsed.data;
        check_encoded(protocol::encode_pop(pop));
        check_encoded(
            protocol::encode_call_state(parsed.call, "ended", parsed.agent, parsed.cause));
    }

    auto message = protocol::parse_agent_message(text);
    if (auto* error = std::get_if<protocol::ProtocolError>(&message)) {
        require(!error->code.empty());
        check_encoded(protocol::encode_error(*error));
    } else if (auto* login =
                   std::get_if<protocol::Login>(&std::get<protocol::AgentMessage>(message))) {
        check_encoded(
            protocol::encode_welcome(login->agent, "agent", 15, login->resume_after.value_or(0)));
    } else if (auto* outcome =
                   std::get_if<protocol::Outcome>(&std::get<protocol::AgentMessage>(message))) {
        protocol::CallLogRecord record;
        record.kind = "outcome";
        record.call = outcome->call;
        record.outcome = outcome->code;
        record.notes = outcome->notes;
        check_encoded(protocol::encode_log(record));
        check_encoded(protocol::encode_outcome_saved(outcome->call));
    }
}

// Decodes data fed in pieces of `chunk` bytes; returns the lines, "" standing for too_long.
std::vector<std::string> decode(std::string_view data, std::size_t chunk, std::size_t max_line) {
    protocol::LineDecoder decoder(max_line);
    std::vector<std::string> lines;
    for (std::size_t at = 0; at < data.size(); at += chunk) {
        decoder.feed(data.substr(at, chunk));
        while (auto line = decoder.next()) {
            require(line->too_long == line->text.empty());
            require(line->text.size() <= max_line);
            lines.push_back(std::move(line->text));
        }
        // While a line is incomplete the decoder holds at most the limit and a CR.
        require(decoder.pending_bytes() <= max_line + 1);
    }
    return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    if (size == 0) return 0;
    // The first byte picks how the rest is cut into reads; the same lines must come out.
    const std::size_t chunk = 1 + bytes[0] % 16;
    const std::string_view data(reinterpret_cast<const char*>(bytes) + 1, size - 1);

    const auto lines = decode(data, data.size() + 1, protocol::max_line_bytes);
    require(decode(data, chunk, protocol::max_line_bytes) == lines);
    for (const auto& line : lines) {
        if (!line.empty()) parse_line(line);
    }

    // A tiny limit reaches the too-long paths with short inputs.
    constexpr std::size_t small_limit = 12;
    require(decode(data, chunk, small_limit) == decode(data, data.size() + 1, small_limit));
    return 0;
}
