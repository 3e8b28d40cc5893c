#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "protocol/peer_message.hpp"

namespace protocol = callpop::protocol;
using protocol::PeerCallEvent;
using protocol::PeerMessage;
using protocol::PeerResync;
using protocol::PeerSeats;

namespace {

PeerMessage peer_message_of(std::string_view line) {
    auto parsed = protocol::parse_peer_message(line);
    if (auto* error = std::get_if<protocol::ProtocolError>(&parsed)) {
        FAIL_CHECK("unexpected error for " << line << ": " << error->code << ": " << error->message);
        return {};
    }
    return std::get<PeerMessage>(std::move(parsed));
}

protocol::ProtocolError peer_error_of(std::string_view line) {
    auto parsed = protocol::parse_peer_message(line);
    if (!std::holds_alternative<protocol::ProtocolError>(parsed)) {
        FAIL_CHECK("expected an error for " << line);
        return {};
    }
    return std::get<protocol::ProtocolError>(parsed);
}

PeerCallEvent ringing_peer_call() {
    PeerCallEvent said;
    said.switch_name = "pbx \"east\"";
    said.event.kind = protocol::SwitchEventKind::ring;
    said.event.call = "c-1";
    said.event.from = "+15550102000";
    said.event.name = "Zoë \\ \"Pat\"\t";
    said.event.extensions = {"1001", "1002"};
    said.event.data = {{"account", "A-7"}, {"digits", 42}};
    said.card = protocol::PeerCard{"{\"type\":\"pop\",\"seq\":7,\"name\":\"Zoë\\n\"}\n", "+15550102000",
                                   "Support hotline", 17, "Pat Doe"};
    return said;
}

}  // namespace

TEST_CASE("a call event with its card reads back as it was sent") {
    const auto line = protocol::encode_peer_message({"east", ringing_peer_call()});
    CHECK(line.find('\n') == std::string::npos);
    // Every field a well-formed JSON value where docs/peers.md puts it.
    const auto json = nlohmann::json::parse(line);
    CHECK(json["daemon"] == "east");
    CHECK(json["event"].is_string());
    CHECK(json["card"]["customer_id"] == 17);

    const auto read = peer_message_of(line);
    CHECK(read.daemon == "east");
    const auto& said = std::get<PeerCallEvent>(read.said);
    const auto sent = ringing_peer_call();
    CHECK(said.switch_name == sent.switch_name);
    CHECK(said.event.kind == protocol::SwitchEventKind::ring);
    CHECK(said.event.call == "c-1");
    CHECK(said.event.name == sent.event.name);
    CHECK(said.event.extensions == sent.event.extensions);
    CHECK(said.event.data == sent.event.data);
    REQUIRE(said.card);
    CHECK(said.card->pop == sent.card->pop);
    CHECK(said.card->caller_number == "+15550102000");
    CHECK(said.card->line == "Support hotline");
    CHECK(said.card->customer_id == 17);
    CHECK(said.card->customer_name == "Pat Doe");
}

TEST_CASE("a card of no known customer, and an event without a card") {
    auto call = ringing_peer_call();
    call.card->customer_id.reset();
    auto read = peer_message_of(protocol::encode_peer_message({"east", call}));
    REQUIRE(std::get<PeerCallEvent>(read.said).card);
    CHECK_FALSE(std::get<PeerCallEvent>(read.said).card->customer_id);

    call.card.reset();
    call.event.kind = protocol::SwitchEventKind::hangup;
    call.event.cause = "normal";
    read = peer_message_of(protocol::encode_peer_message({"east", call}));
    CHECK_FALSE(std::get<PeerCallEvent>(read.said).card);
    CHECK(std::get<PeerCallEvent>(read.said).event.cause == "normal");
}

TEST_CASE("a card that is not of its form is left out; the event still counts") {
    const std::string event = R"("event":"{\"event\":\"ring\",\"call\":\"c-2\"}")";
    for (const std::string card :
         {R"("card":"a text")", R"("card":{"pop":"p\n","caller_number":"1","line":"l","customer_name":"n"})",
          R"("card":{"pop":7,"caller_number":"1","line":"l","customer_id":null,"customer_name":"n"})",
          R"("card":{"pop":"p\n","caller_number":"1","line":"l","customer_id":"12","customer_name":"n"})"}) {
        INFO(card);
        const auto read = peer_message_of("{\"daemon\":\"east\"," + event + "," + card + "}");
        CHECK(std::get<PeerCallEvent>(read.said).event.call == "c-2");
        CHECK_FALSE(std::get<PeerCallEvent>(read.said).card);
    }
    // Of keys given twice the last counts, as everywhere else callpop reads JSON.
    const auto read = peer_message_of(
        "{" + event + R"(,"card":{"pop":"p\n","caller_number":"1","line":"l","customer_id":3,)"
                      R"("customer_id":4,"customer_name":"n"}})");
    CHECK(std::get<PeerCallEvent>(read.said).card->customer_id == 4);
}

TEST_CASE("escapes as our daemons write them, and text that was not UTF-8") {
    auto call = ringing_peer_call();
    call.event.name = std::string("bell\x07 and a bad byte \xff");
    call.card->customer_name = "tab\there";
    const auto line = protocol::encode_peer_message({"east", call});
    CHECK(line.find("\\\\u0007") != std::string::npos);  // inside the event's escaped line
    const auto read = peer_message_of(line);
    const auto& said = std::get<PeerCallEvent>(read.said);
    CHECK(said.event.name == "bell\x07 and a bad byte \xEF\xBF\xBD");
    CHECK(said.card->customer_name == "tab\there");
    CHECK(peer_message_of(R"({"daemon":"\u00e9ast","resync":{"since_ms":5}})").daemon == "\xC3\xA9" "ast");
}

TEST_CASE("seats, with extensions that need escaping, and a request to tell again") {
    PeerSeats seats{"c-1", {{"1001", "alice"}, {"ext \"2\"", "bob"}}};
    auto read = peer_message_of(protocol::encode_peer_message({"west", seats}));
    CHECK(read.daemon == "west");
    CHECK(std::get<PeerSeats>(read.said).call == "c-1");
    CHECK(std::get<PeerSeats>(read.said).agents == seats.agents);

    // An extension without an agent is no seat.
    read = peer_message_of(R"({"seated":{"call":"c-1","agents":{"1001":7,"":"x","1002":"carol"}}})");
    const std::vector<std::pair<std::string, std::string>> carol{{"1002", "carol"}};
    CHECK(std::get<PeerSeats>(read.said).agents == carol);

    read = peer_message_of(protocol::encode_peer_message({"west", PeerResync{1764930000000}}));
    CHECK(std::get<PeerResync>(read.said).since_ms == 1764930000000);
    read = peer_message_of(R"({"resync":{"since_ms":1,"since_ms":2}})");
    CHECK(std::get<PeerResync>(read.said).since_ms == 2);
}

TEST_CASE("what is not a message of the daemons is an error that names what is wrong") {
    CHECK(peer_error_of("not json").code == "bad_json");
    CHECK(peer_error_of("[1,2]").code == "bad_json");
    CHECK(peer_error_of(R"({"daemon":"east"})").message ==
          "expected \"event\" (a switch event's line), \"seated\" or \"resync\"");
    CHECK(peer_error_of(R"({"event":{"event":"ring"}})").code == "bad_message");
    CHECK(peer_error_of(R"({"seated":{"call":"c-1"}})").message ==
          "\"seated\" must be {\"call\": text, \"agents\": {extension: agent}}");
    CHECK(peer_error_of(R"({"resync":{"since_ms":"yesterday"}})").message ==
          "\"resync\" must be {\"since_ms\": an integer}");
    // The event's own problem, as the switch port names it.
    const auto bad_event = peer_error_of(R"({"event":"{\"event\":\"ring\"}"})");
    CHECK(bad_event.code == "missing_field");
    CHECK(bad_event.message.starts_with("event: "));
    // Not UTF-8.
    CHECK(peer_error_of("{\"event\":\"\xff\"}").code == "bad_json");
}
