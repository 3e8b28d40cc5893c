// libFuzzer target for the Kamailio link (docs/protocol-evapi.md): netstring framing
// (NetstringDecoder), parse_evapi_event on every payload, and the per-link call mapper
// (EvapiCallMapper). Build and run: tests/fuzz/README.md.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "fuzz/fuzz_support.hpp"
#include "protocol/evapi_event.hpp"
#include "protocol/netstring.hpp"

namespace protocol = callpop::protocol;
using callpop::fuzz::require;

namespace {

// The netstring decoder's items as text, for comparing two ways of cutting the same bytes.
// Every payload also goes through the evapi event parser and a per-link call mapper, which
// must never emit an event without a call, nor keep more calls than its bound.
std::vector<std::string> evapi_items(std::string_view data, std::size_t chunk,
                                     std::size_t max_payload) {
    constexpr std::size_t max_open_calls = 8;
    protocol::NetstringDecoder decoder(max_payload);
    protocol::EvapiCallMapper calls(max_open_calls);
    std::vector<std::string> items;
    for (std::size_t at = 0; at < data.size(); at += chunk) {
        decoder.feed(data.substr(at, chunk));
        while (auto item = decoder.next()) {
            if (auto* error = std::get_if<protocol::ProtocolError>(&*item)) {
                require(!error->code.empty() && !error->message.empty());
                items.push_back("error " + error->code + " " + error->message);
                continue;
            }
            const auto& payload = std::get<std::string>(*item);
            require(payload.size() <= max_payload);
            items.push_back("payload " + payload);
            auto parsed = protocol::parse_evapi_event(payload);
            if (auto* error = std::get_if<protocol::ProtocolError>(&parsed)) {
                require(!error->code.empty());
                continue;
            }
            const auto& event = std::get<protocol::EvapiEvent>(parsed);
            const auto started = calls.calls_started();
            const auto open_before = calls.open_calls();
            if (auto mapped = calls.on_event(event)) {
                require(event.kind != protocol::EvapiEventKind::hello);
                require(!mapped->call.empty());
                for (const auto& extension : mapped->extensions) require(!extension.empty());
                // An end closes the call: never more open calls after it.
                if (mapped->kind == protocol::SwitchEventKind::hangup)
                    require(calls.open_calls() <= open_before);
            } else {
                require(event.kind == protocol::EvapiEventKind::hello);
            }
            require(calls.calls_started() >= started);
            require(calls.open_calls() <= max_open_calls);
        }
        // Drained, the decoder holds at most one unfinished payload.
        require(decoder.pending_bytes() <= max_payload);
    }
    // The link drops: what was open closes as unknown, oldest first, and nothing stays.
    const auto open = calls.open_calls();
    const auto closed = calls.close_open_calls();
    require(closed.size() == open);
    for (const auto& event : closed) {
        require(!event.call.empty() && event.cause == "unknown");
        require(event.kind == protocol::SwitchEventKind::hangup);
    }
    require(calls.open_calls() == 0);
    return items;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    if (size == 0) return 0;
    const std::size_t chunk = 1 + bytes[0] % 16u;
    const std::string_view data(reinterpret_cast<const char*>(bytes) + 1, size - 1);
    const auto whole = data.size() + 1;
    require(evapi_items(data, chunk, protocol::netstring_max_payload_bytes) ==
            evapi_items(data, whole, protocol::netstring_max_payload_bytes));
    // A tiny limit reaches the too-long paths with short inputs.
    constexpr std::size_t small_limit = 12;
    require(evapi_items(data, chunk, small_limit) == evapi_items(data, whole, small_limit));
    return 0;
}
