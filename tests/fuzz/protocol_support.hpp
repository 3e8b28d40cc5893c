#pragma once
// What the protocol targets share: the one-line JSON check for encoders, the reads an input
// is cut into, and the encoders fed with parsed text (tests/fuzz/README.md).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_support.hpp"
#include "protocol/agent_message.hpp"
#include "protocol/line_decoder.hpp"

namespace callpop::fuzz {

// Each encoder must return one line of valid JSON, whatever bytes went in.
inline void check_encoded(const std::string& line) {
    require(!line.empty() && line.back() == '\n');
    require(line.find('\n') == line.size() - 1);
    require(nlohmann::json::accept(std::string_view(line).substr(0, line.size() - 1)));
}

// The protocol targets' input: the first byte picks a read size from 1 to 16, the rest is
// the stream. Both ways of cutting the stream (one read, reads of that size) must decode
// alike.
struct Stream {
    std::size_t chunk = 1;
    std::string_view data;
};

inline Stream split_input(const std::uint8_t* bytes, std::size_t size) {
    if (size == 0) return {};
    return {1 + bytes[0] % 16u, std::string_view(reinterpret_cast<const char*>(bytes) + 1, size - 1)};
}

// Decodes data fed in pieces of `chunk` bytes; returns the lines, "" standing for too_long.
inline std::vector<std::string> decode_lines(std::string_view data, std::size_t chunk,
                                             std::size_t max_line) {
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

// A limit this small reaches the too-long paths with short inputs.
inline constexpr std::size_t small_limit = 12;

// The lines of a JSON-lines stream (switch or agent port), checked: the same for both cuts,
// with the real limit and with the small one.
inline std::vector<std::string> checked_lines(const Stream& stream) {
    const auto whole = stream.data.size() + 1;
    const auto lines = decode_lines(stream.data, whole, protocol::max_line_bytes);
    require(decode_lines(stream.data, stream.chunk, protocol::max_line_bytes) == lines);
    require(decode_lines(stream.data, stream.chunk, small_limit) ==
            decode_lines(stream.data, whole, small_limit));
    return lines;
}

// A target over lines: each non-empty line the decoder gives, checked as above, to `parse`.
template <typename Parse>
void for_each_line(const std::uint8_t* bytes, std::size_t size, Parse parse) {
    if (size == 0) return;
    for (const auto& line : checked_lines(split_input(bytes, size))) {
        if (!line.empty()) parse(line);
    }
}


// An outbound pop made of whatever text the parsers let through, so that bytes that are
// not UTF-8 reach every string of it (the follow-up, the survey, the customer, the call).
inline void check_followup_offer(const std::string& number, const std::string& name,
                                 const std::string& call, const std::string& reason,
                                 const std::string& text, std::int64_t id) {
    using domain::FollowupKind;
    using domain::FollowupStatus;
    protocol::FollowupOffer offer;
    offer.followup.id = id;
    offer.followup.kind =
        text.size() % 2 == 0 ? FollowupKind::satisfaction : FollowupKind::callback;
    offer.followup.status = FollowupStatus::open;
    offer.followup.customer_name = name;
    offer.followup.number = number;
    offer.followup.call = call;
    offer.followup.reason = reason;
    offer.followup.timezone = text;
    offer.followup.window = {{"from", text}, {"to", text}, {"days", nlohmann::json::array({text})}};
    offer.followup.leased_by = name;
    // The reason's name when it is a result (none otherwise, as before a first attempt).
    offer.followup.last_result = domain::parse<domain::AttemptResult>(reason);
    offer.followup.comment = text;
    if (offer.followup.kind == FollowupKind::satisfaction) {
        offer.followup.survey = {{"scale", "csat"}, {"question", text}, {"comment_question", name}};
        offer.followup.score = static_cast<int>(id % 11);
    }
    offer.due_local = text;
    domain::CustomerCard card;
    card.customer.name = name;
    card.customer.phones = {number};
    card.notes = {{1, "note", text, name, ""}};
    card.history = {{call, "", text, "answered", name, reason, text}};
    card.followups = {{id, offer.followup.kind, text, FollowupStatus::open, reason}};
    offer.customer = std::move(card);
    offer.call = domain::HistoryEntry{call, "", text, "answered", name, reason, text};
    check_encoded(protocol::encode_followup_offer(offer));
    // A callback from an unknown number: no customer, no call, no survey.
    offer.followup.survey = nullptr;
    offer.followup.score.reset();
    offer.customer.reset();
    offer.call.reset();
    check_encoded(protocol::encode_followup_offer(offer));
}

}  // namespace callpop::fuzz
