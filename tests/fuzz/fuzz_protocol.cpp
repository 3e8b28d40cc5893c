// libFuzzer target for protocol/: the line decoder, the switch-event parser, the
// agent-message parser, AMI framing and calls, evapi netstrings and events, plus the
// encoders fed with whatever the parsers accepted (pops, outcomes and follow-ups alike).
// Build and run: tests/fuzz/README.md.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/agent_message.hpp"
#include "protocol/ami_calls.hpp"
#include "protocol/ami_frame.hpp"
#include "protocol/evapi_event.hpp"
#include "protocol/line_decoder.hpp"
#include "protocol/netstring.hpp"
#include "protocol/switch_event.hpp"

namespace domain = callpop::domain;
namespace protocol = callpop::protocol;
using callpop::domain::AttemptResult;
using callpop::domain::FollowupKind;
using callpop::domain::FollowupStatus;

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

// An outbound pop made of whatever text the parsers let through, so that bytes that are
// not UTF-8 reach every string of it (the follow-up, the survey, the customer, the call).
void check_followup_offer(const std::string& number, const std::string& name,
                          const std::string& call, const std::string& reason,
                          const std::string& text, std::int64_t id) {
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
    offer.followup.last_result = callpop::domain::parse<AttemptResult>(reason);
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

// What callpop logs for a follow-up event, from parsed text.
void check_followup_log(const char* kind, std::int64_t id, const std::string& agent,
                        const std::string& outcome, const std::string& notes) {
    domain::CallLogRecord record;
    record.kind = kind;
    record.agent = agent;
    record.outcome = outcome;
    record.notes = notes;
    record.followup_id = id;
    check_encoded(protocol::encode_log(record));
    // The JSONL file is read back by `callpop tail` and at start-up.
    const auto back = protocol::call_log_record_from_json(protocol::to_json(record));
    require(back.followup_id == record.followup_id);
}

void parse_line(const std::string& text) {
    auto event = protocol::parse_switch_event(text);
    // simdjson reads lines first and nlohmann decides whatever simdjson refuses: together
    // they must accept what nlohmann alone accepts, with the same values.
    const bool nlohmann_accepts = nlohmann::json::accept(text);
    if (auto* error = std::get_if<protocol::ProtocolError>(&event)) {
        require(!error->code.empty());
        if (!nlohmann_accepts) require(error->code == "bad_json");
        check_encoded(protocol::encode_error(*error));
    } else {
        const auto& parsed = std::get<protocol::SwitchEvent>(event);
        require(nlohmann_accepts);
        const auto reference = nlohmann::json::parse(text, nullptr, false);
        if (reference.is_object() && reference.contains("data") && reference["data"].is_object())
            require(parsed.data == reference["data"]);
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
            protocol::encode_call_state(parsed.call, domain::PoppedCallState::ended, parsed.agent,
                                        parsed.cause));
        // A missed call becomes a callback to the caller.
        check_followup_offer(parsed.from, parsed.name, parsed.call, parsed.cause, parsed.to, 1);
    }

    auto message = protocol::parse_agent_message(text);
    if (auto* error = std::get_if<protocol::ProtocolError>(&message)) {
        require(!error->code.empty());
        check_encoded(protocol::encode_error(*error));
    } else if (auto* login =
                   std::get_if<protocol::Login>(&std::get<protocol::AgentMessage>(message))) {
        check_encoded(
            protocol::encode_welcome(login->agent, domain::AgentRole::agent, 15,
                                     login->resume_after.value_or(0)));
    } else if (auto* outcome =
                   std::get_if<protocol::Outcome>(&std::get<protocol::AgentMessage>(message))) {
        domain::CallLogRecord record;
        record.kind = "outcome";
        record.call = outcome->call;
        record.outcome = outcome->code;
        record.notes = outcome->notes;
        check_encoded(protocol::encode_log(record));
        check_encoded(protocol::encode_outcome_saved(outcome->call, std::nullopt, ""));
        check_encoded(protocol::encode_outcome_saved(outcome->call, std::nullopt, outcome->notes));
        check_encoded(protocol::encode_outcome_saved(
            outcome->call,
            protocol::ScheduledFollowup{static_cast<std::int64_t>(outcome->notes.size()),
                                        outcome->notes.size() % 2 == 0
                                            ? FollowupKind::satisfaction
                                            : FollowupKind::callback,
                                        outcome->notes},
            outcome->notes));
        check_followup_log("followup_created", 1, outcome->call, outcome->code, outcome->notes);
    } else if (std::holds_alternative<protocol::NextFollowup>(
                   std::get<protocol::AgentMessage>(message))) {
        check_encoded(protocol::encode_followup_waiting(text.size()));
    } else if (auto* result = std::get_if<protocol::FollowupResult>(
                   &std::get<protocol::AgentMessage>(message))) {
        // What the parser lets through: a known result, and a score of 0 to 10 only when the
        // customer was reached.
        require(callpop::domain::parse<AttemptResult>(callpop::domain::to_string(result->result)) ==
                result->result);
        require(!result->score || (*result->score >= 0 && *result->score <= 10));
        require(!result->score || result->result == AttemptResult::reached);
        check_encoded(protocol::encode_followup_saved(result->followup, FollowupStatus::open,
                                                      result->comment));
        check_encoded(protocol::encode_followup_saved(
            result->followup,
            result->result == AttemptResult::reached ? FollowupStatus::completed
                                                     : FollowupStatus::unreachable,
            ""));
        // The call log and an offer carry the result by name, as the desk writes it.
        const std::string result_name(callpop::domain::to_string(result->result));
        check_followup_log("followup_attempted", result->followup, result->comment, result_name,
                           result->comment);
        check_followup_offer(result->comment, result->comment, result->comment, result_name,
                             result->comment, result->followup);
    } else if (auto* close = std::get_if<protocol::FollowupClose>(
                   &std::get<protocol::AgentMessage>(message))) {
        require(close->status == FollowupStatus::completed ||
                close->status == FollowupStatus::cancelled);
        check_encoded(protocol::encode_followup_saved(close->followup, close->status, ""));
        check_followup_log(close->status == FollowupStatus::completed ? "followup_completed"
                                                                      : "followup_cancelled",
                           close->followup, close->notes,
                           std::string(domain::to_string(close->status)), close->notes);
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

// Whatever the events say, the call mapper neither crashes nor emits an event without a call,
// and a channel list that follows ends every call it does not name.
void map_ami_events(std::string_view data) {
    protocol::AmiCallMapper mapper({{"PJSIP/{ext}", "Local/{ext}@phones"}, {}});
    protocol::AmiDecoder decoder;
    decoder.feed(data);
    while (auto item = decoder.next()) {
        if (auto* message = std::get_if<protocol::AmiMessage>(&*item)) {
            for (const auto& event : mapper.on_event(*message)) require(!event.call.empty());
        }
    }
    mapper.begin_resync();
    mapper.end_resync();
    require(mapper.live_calls() == 0);
}

// The AMI decoder's items, as text, for comparing two ways of cutting the same bytes.
std::vector<std::string> ami_items(std::string_view data, std::size_t chunk) {
    protocol::AmiDecoder decoder;
    std::vector<std::string> items;
    for (std::size_t at = 0; at < data.size(); at += chunk) {
        decoder.feed(data.substr(at, chunk));
        while (auto item = decoder.next()) {
            if (auto* message = std::get_if<protocol::AmiMessage>(&*item)) {
                std::string text;
                for (const auto& [key, value] : message->fields) text += key + ": " + value + "\n";
                items.push_back(text + message->output);
            } else if (auto* banner = std::get_if<protocol::AmiBanner>(&*item)) {
                items.push_back("banner " + banner->text);
            } else {
                items.push_back("error " + std::get<protocol::ProtocolError>(*item).code);
            }
        }
    }
    return items;
}

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
            if (auto event = calls.on_event(std::get<protocol::EvapiEvent>(parsed))) {
                require(!event->call.empty());
                for (const auto& extension : event->extensions) require(!extension.empty());
            }
            require(calls.open_calls() <= max_open_calls);
        }
        // Drained, the decoder holds at most one unfinished payload.
        require(decoder.pending_bytes() <= max_payload);
    }
    for (const auto& closed : calls.close_open_calls()) {
        require(!closed.call.empty() && closed.cause == "unknown");
    }
    require(calls.open_calls() == 0);
    return items;
}

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

    require(ami_items(data, chunk) == ami_items(data, data.size() + 1));
    map_ami_events(data);

    require(evapi_items(data, chunk, protocol::netstring_max_payload_bytes) ==
            evapi_items(data, data.size() + 1, protocol::netstring_max_payload_bytes));
    require(evapi_items(data, chunk, small_limit) ==
            evapi_items(data, data.size() + 1, small_limit));
    return 0;
}
