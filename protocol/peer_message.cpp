#include "protocol/peer_message.hpp"

#include <simdjson.h>

#include "protocol/json_writer.hpp"

namespace callpop::protocol {

namespace {

// Read from simdjson's DOM, not nlohmann's: every pop that crosses between daemons comes
// through here, with the pop itself as an escaped string, and nlohmann's lexer was a tenth
// of the receiving daemon's CPU. Of duplicate keys the last counts, as nlohmann reads them.

std::optional<std::string> text_of(simdjson::dom::element value) {
    std::string_view text;
    if (value.get(text) != simdjson::SUCCESS) return std::nullopt;
    return std::string(text);
}

std::optional<PeerCard> read_card(simdjson::dom::element value) {
    simdjson::dom::object object;
    if (value.get(object) != simdjson::SUCCESS) return std::nullopt;
    std::optional<std::string> pop;
    std::optional<std::string> caller_number;
    std::optional<std::string> line;
    std::optional<std::string> customer_name;
    std::optional<std::optional<std::int64_t>> customer_id;
    for (const auto field : object) {
        const std::string_view key = field.key;
        if (key == "pop") pop = text_of(field.value);
        else if (key == "caller_number") caller_number = text_of(field.value);
        else if (key == "line") line = text_of(field.value);
        else if (key == "customer_name") customer_name = text_of(field.value);
        else if (key == "customer_id") {
            std::int64_t id = 0;
            if (field.value.is_null()) customer_id.emplace(std::nullopt);
            else if (field.value.get(id) == simdjson::SUCCESS) customer_id.emplace(id);
            else customer_id.reset();
        }
    }
    if (!pop || !caller_number || !line || !customer_name || !customer_id) return std::nullopt;
    return PeerCard{std::move(*pop), std::move(*caller_number), std::move(*line), *customer_id,
                    std::move(*customer_name)};
}

Parsed<PeerSeats> read_seats(simdjson::dom::element value) {
    const ProtocolError malformed{"bad_message",
                                  "\"seated\" must be {\"call\": text, \"agents\": {extension: agent}}"};
    simdjson::dom::object object;
    if (value.get(object) != simdjson::SUCCESS) return malformed;
    std::optional<std::string> call;
    std::optional<simdjson::dom::object> agents;
    for (const auto field : object) {
        if (field.key == "call") call = text_of(field.value);
        else if (field.key == "agents") {
            simdjson::dom::object found;
            agents.reset();
            if (field.value.get(found) == simdjson::SUCCESS) agents = found;
        }
    }
    if (!call || !agents) return malformed;
    PeerSeats seats{std::move(*call), {}};
    // An extension without an agent is no seat: skipped, not the whole message.
    for (const auto seat : *agents) {
        auto agent = text_of(seat.value);
        if (!agent || seat.key.empty()) continue;
        seats.agents.emplace_back(std::string(seat.key), std::move(*agent));
    }
    return seats;
}

Parsed<PeerResync> read_resync(simdjson::dom::element value) {
    const ProtocolError malformed{"bad_message", "\"resync\" must be {\"since_ms\": an integer}"};
    simdjson::dom::object object;
    if (value.get(object) != simdjson::SUCCESS) return malformed;
    // Not an optional: GCC 12 at -O1 (the TSan build) takes its value for uninitialized.
    bool given = false;
    std::int64_t since_ms = 0;
    for (const auto field : object) {
        if (field.key == "since_ms") given = field.value.get(since_ms) == simdjson::SUCCESS;
    }
    if (!given) return malformed;
    return PeerResync{since_ms};
}

}  // namespace

Parsed<PeerMessage> parse_peer_message(std::string_view line) {
    thread_local simdjson::dom::parser parser;
    simdjson::dom::object object;
    if (parser.parse(line.data(), line.size(), true).get(object) != simdjson::SUCCESS)
        return ProtocolError{"bad_json", "not a JSON object"};
    PeerMessage message;
    std::optional<simdjson::dom::element> event;
    std::optional<simdjson::dom::element> card;
    std::optional<simdjson::dom::element> seated;
    std::optional<simdjson::dom::element> resync;
    std::string switch_name;
    for (const auto field : object) {
        const std::string_view key = field.key;
        if (key == "daemon") message.daemon = text_of(field.value).value_or("");
        else if (key == "switch") switch_name = text_of(field.value).value_or("");
        else if (key == "event") event = field.value;
        else if (key == "card") card = field.value;
        else if (key == "seated") seated = field.value;
        else if (key == "resync") resync = field.value;
    }
    if (seated) {
        auto seats = read_seats(*seated);
        if (auto* error = std::get_if<ProtocolError>(&seats)) return *error;
        message.said = std::move(std::get<PeerSeats>(seats));
        return message;
    }
    if (resync) {
        auto asked = read_resync(*resync);
        if (auto* error = std::get_if<ProtocolError>(&asked)) return *error;
        message.said = std::get<PeerResync>(asked);
        return message;
    }
    std::string_view event_line;
    if (!event || event->get(event_line) != simdjson::SUCCESS)
        return ProtocolError{"bad_message",
                             "expected \"event\" (a switch event's line), \"seated\" or \"resync\""};
    auto parsed = parse_switch_event(event_line);
    if (auto* error = std::get_if<ProtocolError>(&parsed))
        return ProtocolError{error->code, "event: " + error->message};
    PeerCallEvent call_event{std::move(switch_name), std::move(std::get<SwitchEvent>(parsed)),
                             card ? read_card(*card) : std::nullopt};
    message.said = std::move(call_event);
    return message;
}

std::string encode_peer_message(const PeerMessage& message) {
    std::string line;
    JsonWriter json(line);
    json.begin_object().field("daemon", message.daemon);
    if (const auto* call_event = std::get_if<PeerCallEvent>(&message.said)) {
        json.field("switch", call_event->switch_name)
            .field("event", encode_switch_event(call_event->event));
        if (const auto& card = call_event->card) {
            json.key("card")
                .begin_object()
                .field("pop", card->pop)
                .field("caller_number", card->caller_number)
                .field("line", card->line)
                .key("customer_id");
            if (card->customer_id) json.number(*card->customer_id);
            else json.null();
            json.field("customer_name", card->customer_name).end_object();
        }
    } else if (const auto* seats = std::get_if<PeerSeats>(&message.said)) {
        json.key("seated").begin_object().field("call", seats->call).key("agents").begin_object();
        for (const auto& [extension, agent] : seats->agents) json.text_key(extension).string(agent);
        json.end_object().end_object();
    } else {
        json.key("resync")
            .begin_object()
            .field("since_ms", std::get<PeerResync>(message.said).since_ms)
            .end_object();
    }
    json.end_object();
    return line;
}

}  // namespace callpop::protocol
