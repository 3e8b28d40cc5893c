// libFuzzer target for the Asterisk link (docs/protocol-ami.md): AMI framing (AmiDecoder)
// and the call mapper (AmiCallMapper) fed with every message it frames.
// Build and run: tests/fuzz/README.md.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "fuzz/fuzz_support.hpp"
#include "protocol/ami_calls.hpp"
#include "protocol/ami_frame.hpp"

namespace protocol = callpop::protocol;
using callpop::fuzz::require;

namespace {

// The AMI decoder's items, as text, for comparing two ways of cutting the same bytes.
std::vector<std::string> ami_items(std::string_view data, std::size_t chunk) {
    protocol::AmiDecoder decoder;
    std::vector<std::string> items;
    for (std::size_t at = 0; at < data.size(); at += chunk) {
        decoder.feed(data.substr(at, chunk));
        while (auto item = decoder.next()) {
            if (auto* message = std::get_if<protocol::AmiMessage>(&*item)) {
                require(message->fields.size() <= protocol::ami_max_fields);
                require(message->output.size() <= protocol::ami_max_output_bytes);
                std::string text;
                for (const auto& [key, value] : message->fields) text += key + ": " + value + "\n";
                items.push_back(text + message->output);
            } else if (auto* banner = std::get_if<protocol::AmiBanner>(&*item)) {
                items.push_back("banner " + banner->text);
            } else {
                const auto& error = std::get<protocol::ProtocolError>(*item);
                require(!error.code.empty());
                items.push_back("error " + error.code);
            }
        }
        // A line not yet complete is held up to the limit and a CR.
        require(decoder.pending_bytes() <= protocol::ami_max_line_bytes + 1);
    }
    return items;
}

// Whatever the events say, the call mapper neither crashes nor emits an event without a
// call, and a channel list that follows ends every call it does not name.
void map_ami_events(std::string_view data, const protocol::AmiCallRules& rules) {
    protocol::AmiCallMapper mapper(rules);
    protocol::AmiDecoder decoder;
    decoder.feed(data);
    const auto check = [](const std::vector<protocol::SwitchEvent>& events) {
        for (const auto& event : events) {
            require(!event.call.empty());
            for (const auto& extension : event.extensions) require(!extension.empty());
            if (event.kind == protocol::SwitchEventKind::transfer)
                require(!event.extensions.empty());
        }
    };
    while (auto item = decoder.next()) {
        if (auto* message = std::get_if<protocol::AmiMessage>(&*item)) {
            check(mapper.on_event(*message));
        }
    }
    // An empty channel list after a reconnect: every call ends, as unknown.
    mapper.begin_resync();
    const auto ended = mapper.end_resync();
    check(ended);
    for (const auto& event : ended) {
        if (event.kind == protocol::SwitchEventKind::hangup) require(event.cause == "unknown");
    }
    require(mapper.live_calls() == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    if (size == 0) return 0;
    const std::size_t chunk = 1 + bytes[0] % 16u;
    const std::string_view data(reinterpret_cast<const char*>(bytes) + 1, size - 1);
    require(ami_items(data, chunk) == ami_items(data, data.size() + 1));
    // Every call, and only the inbound ones (tests/fixtures/ami come from from-trunk).
    map_ami_events(data, {{"PJSIP/{ext}", "Local/{ext}@phones"}, {}});
    map_ami_events(data, {{"PJSIP/{ext}", "Local/{ext}@phones"}, {"from-trunk"}});
    return 0;
}
