#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "protocol/line_decoder.hpp"
#include "protocol/switch_event.hpp"

using callpop::protocol::LineDecoder;
using callpop::protocol::parse_switch_event;
using callpop::protocol::ProtocolError;
using callpop::protocol::SwitchEvent;
using callpop::protocol::SwitchEventKind;
using nlohmann::json;

namespace {

SwitchEvent event_of(std::string_view line) {
    auto parsed = parse_switch_event(line);
    if (auto* error = std::get_if<ProtocolError>(&parsed)) {
        FAIL_CHECK("unexpected error for " << line << ": " << error->code << ": "
                                           << error->message);
        return {};
    }
    return std::get<SwitchEvent>(parsed);
}

ProtocolError error_of(std::string_view line) {
    auto parsed = parse_switch_event(line);
    if (!std::holds_alternative<ProtocolError>(parsed)) {
        FAIL_CHECK("expected an error for " << line);
        return {};
    }
    return std::get<ProtocolError>(parsed);
}

void check_event_error(std::string_view line, const std::string& code, const std::string& message) {
    INFO("line: " << line);
    const auto error = error_of(line);
    CHECK(error.code == code);
    CHECK(error.message == message);
}

std::string nested_arrays(std::size_t depth) {
    return std::string(depth, '[') + std::string(depth, ']');
}

}  // namespace

TEST_CASE("switch control: a hello (named, with or without a secret) and a ping") {
    using callpop::protocol::parse_switch_control;
    using callpop::protocol::SwitchControl;
    using callpop::protocol::SwitchControlKind;
    const auto control_of = [](std::string_view line) {
        auto parsed = parse_switch_control(line);
        REQUIRE(std::holds_alternative<SwitchControl>(parsed));
        return std::get<SwitchControl>(parsed);
    };
    const auto hello = control_of(R"({"event":"hello","switch":"pbx-east","secret":"s"})");
    CHECK(hello.kind == SwitchControlKind::hello);
    CHECK(hello.switch_name == "pbx-east");
    CHECK(hello.secret == "s");
    const auto bare = control_of(R"({"event":"hello"})");
    CHECK(bare.switch_name.empty());
    CHECK(bare.secret.empty());
    CHECK(control_of(R"({"event":"ping"})").kind == SwitchControlKind::ping);
    auto ring = parse_switch_control(R"({"event":"ring","call":"c-1"})");
    REQUIRE(std::holds_alternative<ProtocolError>(ring));
    CHECK(std::get<ProtocolError>(ring).code == "hello_expected");
    auto bad_name = parse_switch_control(R"({"event":"hello","switch":["a"]})");
    REQUIRE(std::holds_alternative<ProtocolError>(bad_name));
    CHECK(std::get<ProtocolError>(bad_name).message == "hello: field \"switch\" must be a string");
}

TEST_CASE("switch event: ring with every field") {
    const auto event =
        event_of(R"({"event":"ring","call":"c-1","from":"+1 (555) 010-2000","name":"PAT DOE",)"
                 R"("to":"8005551000","ext":"1001","queue":"support","agent":"a-7",)"
                 R"("data":{"service_tag":"7XK2Q1","menu":[1,2]}})");
    CHECK(event.kind == SwitchEventKind::ring);
    CHECK(event.call == "c-1");
    CHECK(event.from == "+1 (555) 010-2000");
    CHECK(event.name == "PAT DOE");
    CHECK(event.to == "8005551000");
    CHECK(event.extensions == std::vector<std::string>{"1001"});
    CHECK(event.queue == "support");
    CHECK(event.agent == "a-7");
    CHECK(event.cause.empty());
    CHECK(event.data == json{{"service_tag", "7XK2Q1"}, {"menu", {1, 2}}});
}

TEST_CASE("switch event: the smallest ring; absent and null fields are empty") {
    const auto event = event_of(R"({"event":"ring","call":"c-1"})");
    CHECK(event.kind == SwitchEventKind::ring);
    CHECK(event.from.empty());
    CHECK(event.name.empty());
    CHECK(event.to.empty());
    CHECK(event.extensions.empty());
    CHECK(event.queue.empty());
    CHECK(event.agent.empty());
    CHECK(event.data == json::object());

    const auto nulls = event_of(
        R"({"event":"ring","call":"c-1","from":null,"ext":null,"data":null,"queue":null})");
    CHECK(nulls.from.empty());
    CHECK(nulls.extensions.empty());
    CHECK(nulls.queue.empty());
    CHECK(nulls.data == json::object());
}

TEST_CASE("switch event: answer and hangup") {
    const auto answer = event_of(R"({"event":"answer","call":"c-1","ext":"1001"})");
    CHECK(answer.kind == SwitchEventKind::answer);
    CHECK(answer.call == "c-1");
    CHECK(answer.extensions == std::vector<std::string>{"1001"});

    const auto hangup = event_of(R"({"event":"hangup","call":"c-1","cause":"normal"})");
    CHECK(hangup.kind == SwitchEventKind::hangup);
    CHECK(hangup.cause == "normal");
    CHECK(hangup.extensions.empty());

    CHECK(callpop::protocol::to_string(SwitchEventKind::ring) == "ring");
    CHECK(callpop::protocol::to_string(SwitchEventKind::answer) == "answer");
    CHECK(callpop::protocol::to_string(SwitchEventKind::hangup) == "hangup");
}

TEST_CASE("switch event: transfer, to one extension or several, with the agent if known") {
    const auto blind = event_of(R"({"event":"transfer","call":"c-1","ext":"1002"})");
    CHECK(blind.kind == SwitchEventKind::transfer);
    CHECK(blind.call == "c-1");
    CHECK(blind.extensions == std::vector<std::string>{"1002"});
    CHECK(blind.agent.empty());

    const auto to_group =
        event_of(R"({"event":"transfer","call":"c-1","ext":["1002","1003"],"agent":2002})");
    CHECK(to_group.extensions == std::vector<std::string>{"1002", "1003"});
    CHECK(to_group.agent == "2002");
    CHECK(callpop::protocol::to_string(SwitchEventKind::transfer) == "transfer");
}

TEST_CASE("switch event: a transfer must say where the call goes") {
    const std::string no_target =
        "transfer event: missing field \"ext\" (the extension the call moves to)";
    check_event_error(R"({"event":"transfer","call":"c-1"})", "missing_field", no_target);
    check_event_error(R"({"event":"transfer","call":"c-1","ext":null})", "missing_field", no_target);
    check_event_error(R"({"event":"transfer","call":"c-1","ext":""})", "missing_field", no_target);
    check_event_error(R"({"event":"transfer","call":"c-1","ext":[]})", "missing_field", no_target);
    // The other fields are read first, in the table's order, as for every event.
    check_event_error(R"({"event":"transfer"})", "missing_field",
                "transfer event: missing field \"call\"");
    check_event_error(R"({"event":"transfer","call":"c-1","ext":[""]})", "bad_field",
                "transfer event: field \"ext\" must be a string or a list of strings");
    check_event_error(R"({"event":"transfer","call":"c-1","agent":true})", "bad_field",
                "transfer event: field \"agent\" must be a string");
}

TEST_CASE("switch event: ext as a string or a list") {
    CHECK(event_of(R"({"event":"ring","call":"c","ext":"1001"})").extensions ==
          std::vector<std::string>{"1001"});
    CHECK(event_of(R"({"event":"ring","call":"c","ext":["1001","1002","1003"]})").extensions ==
          std::vector<std::string>{"1001", "1002", "1003"});
    CHECK(event_of(R"({"event":"ring","call":"c","ext":[]})").extensions.empty());
    // "" is no extension, never an extension named "".
    CHECK(event_of(R"({"event":"ring","call":"c","ext":""})").extensions.empty());

    const std::string message = "ring event: field \"ext\" must be a string or a list of strings";
    check_event_error(R"({"event":"ring","call":"c","ext":1001})", "bad_field", message);
    check_event_error(R"({"event":"ring","call":"c","ext":["1001",1002]})", "bad_field", message);
    check_event_error(R"({"event":"ring","call":"c","ext":["1001",""]})", "bad_field", message);
    check_event_error(R"({"event":"ring","call":"c","ext":{"a":"1001"}})", "bad_field", message);
}

TEST_CASE("switch event: numbers given as JSON integers become strings") {
    const auto event =
        event_of(R"({"event":"ring","call":"c","from":15550102000,"to":8005551000})");
    CHECK(event.from == "15550102000");
    CHECK(event.to == "8005551000");
    CHECK(event_of(R"({"event":"ring","call":"c","from":18446744073709551615})").from ==
          "18446744073709551615");
    CHECK(event_of(R"({"event":"ring","call":"c","from":-1})").from == "-1");
}

TEST_CASE("switch event: unknown fields are ignored; a repeated key keeps its last value") {
    const auto event = event_of(
        R"({"event":"ring","call":"c-1","uniqueid":"1700000000.42","x":{"y":[]},"call":"c-2"})");
    CHECK(event.call == "c-2");
}

TEST_CASE("switch event: repeated keys and nulls read the same on every path") {
    // Well-formed lines are read from simdjson's DOM, others by nlohmann: the last of a
    // repeated key decides on both, whatever the earlier ones held.
    CHECK(event_of(R"({"event":"ring","call":7,"call":"c-2"})").call == "c-2");
    CHECK(event_of(R"({"event":7,"event":"hangup","call":"c"})").kind == SwitchEventKind::hangup);
    CHECK(event_of(R"({"event":"ring","call":"c","ext":[""],"ext":["1001"]})").extensions ==
          std::vector<std::string>{"1001"});
    check_event_error(R"({"event":"ring","call":"c-1","call":7})", "bad_field",
                      "ring event: field \"call\" must be a string");
    check_event_error(R"({"event":"ring","call":"c-1","call":null})", "missing_field",
                      "ring event: missing field \"call\"");
    check_event_error(R"({"event":"transfer","call":"c","ext":"1002","ext":null})",
                      "missing_field",
                      "transfer event: missing field \"ext\" (the extension the call moves to)");
    const auto nulls = event_of(
        R"({"event":"ring","call":"c","from":null,"ext":null,"data":null,"queue":"q","queue":null})");
    CHECK(nulls.from.empty());
    CHECK(nulls.extensions.empty());
    CHECK(nulls.data == json::object());
    CHECK(nulls.queue.empty());
    CHECK(event_of(R"({"event":"ring","call":"c","data":{"a":1},"data":null})").data ==
          json::object());
}

TEST_CASE("switch event: the IVR's data reads as json::parse reads it") {
    // simdjson reads the line first; what comes out must be nlohmann's value for the same
    // text: integers >= 0 unsigned, negative ones signed, doubles, nesting, the last of
    // duplicate keys, and \u escapes (those lines are read by nlohmann itself).
    const std::string data =
        R"({"serial":"7XK2Q1","n":42,"neg":-7,"big":18446744073709551615,"pi":3.25,)"
        R"("exp":1e3,"yes":true,"no":null,"list":[1,"two",[3],{"four":4}],"dup":1,"dup":2,)"
        R"("text":"café \"quoted\" \\ tab\t","utf8":"Zoë 東京"})";
    for (const std::string& line :
         {R"({"event":"ring","call":"c-1","data":)" + data + "}",
          R"({"event":"ring","call":"c-1","data":)" + data + R"(,"name":"\u0050at"})"}) {
        INFO("line: " << line);
        const auto event = event_of(line);
        const auto expected = json::parse(line)["data"];
        CHECK(event.data == expected);
        CHECK(event.data["n"].is_number_unsigned());
        CHECK(event.data["neg"].is_number_integer());
        CHECK_FALSE(event.data["neg"].is_number_unsigned());
        CHECK(event.data["big"].get<std::uint64_t>() == 18446744073709551615ULL);
        CHECK(event.data["pi"].is_number_float());
        CHECK(event.data["exp"].is_number_float());
        CHECK(event.data["dup"] == 2);
        CHECK(event.data["text"] == "café \"quoted\" \\ tab\t");
    }
    CHECK(event_of(R"({"event":"ring","call":"c-1","name":"\u0050at"})").name == "Pat");
    // A number past uint64 is a double for nlohmann; simdjson refuses it, nlohmann reads it.
    CHECK(event_of(R"({"event":"ring","call":"c","data":{"huge":18446744073709551616}})")
              .data["huge"]
              .is_number_float());
}

TEST_CASE("switch event: errors, with their exact code and message") {
    SUBCASE("not JSON") {
        check_event_error("x", "bad_json", "not JSON at byte 1 of the line");
        check_event_error("{", "bad_json", "not JSON at byte 2 of the line");
        check_event_error(R"({"event":"ring","call":"c-1")", "bad_json",
                    "not JSON at byte 29 of the line");
        check_event_error(R"({"event":"ring","call":"c-1"}{})", "bad_json",
                    "not JSON at byte 30 of the line");
        check_event_error("{'event':'ring'}", "bad_json", "not JSON at byte 2 of the line");
        // Invalid UTF-8 inside a string.
        check_event_error("{\"event\":\"ring\",\"call\":\"\xff\"}", "bad_json",
                    "not JSON at byte 25 of the line");
    }
    SUBCASE("not an object") {
        check_event_error("[1,2]", "bad_json", "expected a JSON object");
        check_event_error(R"("ring")", "bad_json", "expected a JSON object");
        check_event_error("42", "bad_json", "expected a JSON object");
        check_event_error("null", "bad_json", "expected a JSON object");
    }
    SUBCASE("a number no double holds") {
        check_event_error(R"({"event":"ring","call":"c","x":5e05555555})", "bad_json",
                    "a number on the line is out of range");
    }
    SUBCASE("nested too deep") {
        check_event_error(R"({"event":"ring","call":"c","data":{"a":)" + nested_arrays(63) + "}}",
                    "bad_json", "JSON nested deeper than 64 levels");
        check_event_error(nested_arrays(100000), "bad_json", "JSON nested deeper than 64 levels");
        // 64 levels, the outer object included, are fine; brackets inside strings do not count.
        const auto deep = event_of(R"({"event":"ring","call":"c","data":{"a":)" +
                                   nested_arrays(62) + R"(},"name":"[[[[\"[[[["})");
        CHECK(deep.name == "[[[[\"[[[[");
    }
    SUBCASE("missing event") {
        check_event_error(R"({"call":"c-1"})", "missing_field", "event: missing field \"event\"");
        check_event_error(R"({"event":null,"call":"c-1"})", "missing_field",
                    "event: missing field \"event\"");
        check_event_error(R"({"event":"","call":"c-1"})", "missing_field",
                    "event: field \"event\" is empty");
        check_event_error(R"({"event":1,"call":"c-1"})", "bad_field",
                    "event: field \"event\" must be a string");
    }
    SUBCASE("unknown event") {
        check_event_error(R"({"event":"park","call":"c-1"})", "unknown_event",
                    "unknown event \"park\" (expected ring, answer, hangup, transfer, hello or ping)");
        check_event_error(R"({"event":"RING","call":"c-1"})", "unknown_event",
                    "unknown event \"RING\" (expected ring, answer, hangup, transfer, hello or ping)");
    }
    SUBCASE("transfer names where the call goes") {
        check_event_error(R"({"event":"transfer","call":"c-1"})", "missing_field",
                    "transfer event: missing field \"ext\" (the extension the call moves to)");
        check_event_error(R"({"event":"transfer","call":"c-1","ext":[]})", "missing_field",
                    "transfer event: missing field \"ext\" (the extension the call moves to)");
        const auto transfer = event_of(R"({"event":"transfer","call":"c-1","ext":"1002"})");
        CHECK(transfer.kind == SwitchEventKind::transfer);
        CHECK(transfer.extensions == std::vector<std::string>{"1002"});
    }
    SUBCASE("missing call") {
        check_event_error(R"({"event":"ring"})", "missing_field", "ring event: missing field \"call\"");
        check_event_error(R"({"event":"answer","call":null})", "missing_field",
                    "answer event: missing field \"call\"");
        check_event_error(R"({"event":"hangup","call":""})", "missing_field",
                    "hangup event: field \"call\" is empty");
    }
    SUBCASE("wrong types") {
        check_event_error(R"({"event":"ring","call":7})", "bad_field",
                    "ring event: field \"call\" must be a string");
        check_event_error(R"({"event":"ring","call":"c","from":true})", "bad_field",
                    "ring event: field \"from\" must be a string");
        check_event_error(R"({"event":"ring","call":"c","from":5.5})", "bad_field",
                    "ring event: field \"from\" must be a string");
        check_event_error(R"({"event":"ring","call":"c","name":["PAT"]})", "bad_field",
                    "ring event: field \"name\" must be a string");
        check_event_error(R"({"event":"ring","call":"c","to":{}})", "bad_field",
                    "ring event: field \"to\" must be a string");
        check_event_error(R"({"event":"ring","call":"c","queue":false})", "bad_field",
                    "ring event: field \"queue\" must be a string");
        check_event_error(R"({"event":"answer","call":"c","agent":{}})", "bad_field",
                    "answer event: field \"agent\" must be a string");
        check_event_error(R"({"event":"hangup","call":"c","cause":[]})", "bad_field",
                    "hangup event: field \"cause\" must be a string");
        check_event_error(R"({"event":"ring","call":"c","data":[]})", "bad_field",
                    "ring event: field \"data\" must be an object");
        check_event_error(R"({"event":"ring","call":"c","data":"7XK2Q1"})", "bad_field",
                    "ring event: field \"data\" must be an object");
    }
    SUBCASE("the first problem, in field order, is the one reported") {
        check_event_error(R"({"event":"ring","from":true,"data":[]})", "missing_field",
                    "ring event: missing field \"call\"");
        check_event_error(R"({"event":"ring","call":"c","data":[],"from":true})", "bad_field",
                    "ring event: field \"from\" must be a string");
    }
}

TEST_CASE("switch event: a stream of 3 events decodes the same in one read and byte by byte") {
    const std::string stream =
        R"({"event":"ring","call":"c-1","from":"+1 (555) 010-2000","name":"PAT DOE",)"
        R"("to":"8005551000","ext":["1001","1002"],"queue":"support",)"
        R"("data":{"service_tag":"7XK2Q1"}})"
        "\r\n"
        R"({"event":"answer","call":"c-1","ext":"1002"})"
        "\n"
        R"({"event":"hangup","call":"c-1","cause":"normal"})"
        "\n";

    auto decode = [](std::string_view bytes, std::size_t chunk) {
        LineDecoder decoder;
        std::vector<SwitchEvent> events;
        for (std::size_t at = 0; at < bytes.size(); at += chunk) {
            decoder.feed(bytes.substr(at, chunk));
            while (auto line = decoder.next()) {
                REQUIRE_FALSE(line->too_long);
                events.push_back(event_of(line->text));
            }
        }
        CHECK(decoder.pending_bytes() == 0);
        return events;
    };

    for (std::size_t chunk : {stream.size(), std::size_t{1}, std::size_t{2}, std::size_t{13}}) {
        INFO("reads of " << chunk << " bytes");
        const auto events = decode(stream, chunk);
        REQUIRE(events.size() == 3);
        CHECK(events[0].kind == SwitchEventKind::ring);
        CHECK(events[0].call == "c-1");
        CHECK(events[0].from == "+1 (555) 010-2000");
        CHECK(events[0].name == "PAT DOE");
        CHECK(events[0].to == "8005551000");
        CHECK(events[0].extensions == std::vector<std::string>{"1001", "1002"});
        CHECK(events[0].queue == "support");
        CHECK(events[0].data == json{{"service_tag", "7XK2Q1"}});
        CHECK(events[1].kind == SwitchEventKind::answer);
        CHECK(events[1].call == "c-1");
        CHECK(events[1].extensions == std::vector<std::string>{"1002"});
        CHECK(events[2].kind == SwitchEventKind::hangup);
        CHECK(events[2].call == "c-1");
        CHECK(events[2].cause == "normal");
    }
}

TEST_CASE("switch events: an encoded event reads back as the same event") {
    protocol::SwitchEvent ring;
    ring.kind = protocol::SwitchEventKind::ring;
    ring.call = "c-1";
    ring.from = "+1 (555) 010-2000";
    ring.name = "PAT \"DOE\"";
    ring.to = "8005551000";
    ring.extensions = {"1001", "1002"};
    ring.queue = "support";
    ring.data = {{"service_tag", "7XK2Q1"}};
    protocol::SwitchEvent hangup;
    hangup.kind = protocol::SwitchEventKind::hangup;
    hangup.call = "c-1";
    hangup.cause = "normal";
    protocol::SwitchEvent transfer;
    transfer.kind = protocol::SwitchEventKind::transfer;
    transfer.call = "c-1";
    transfer.extensions = {"1003"};
    transfer.agent = "2001";
    for (const auto& event : {ring, hangup, transfer}) {
        const auto parsed = protocol::parse_switch_event(protocol::encode_switch_event(event));
        const auto* read = std::get_if<protocol::SwitchEvent>(&parsed);
        REQUIRE(read);
        CHECK(read->kind == event.kind);
        CHECK(read->call == event.call);
        CHECK(read->from == event.from);
        CHECK(read->name == event.name);
        CHECK(read->to == event.to);
        CHECK(read->extensions == event.extensions);
        CHECK(read->queue == event.queue);
        CHECK(read->agent == event.agent);
        CHECK(read->cause == event.cause);
        CHECK(read->data == event.data);
    }
}

TEST_CASE("switch events: text that is not UTF-8 is encoded with U+FFFD in its place") {
    protocol::SwitchEvent ring;
    ring.call = "c-1";
    ring.name = "JOS\xC9";  // Latin-1, as an AMI CallerIDName may be
    const auto parsed = protocol::parse_switch_event(protocol::encode_switch_event(ring));
    const auto* read = std::get_if<protocol::SwitchEvent>(&parsed);
    REQUIRE(read);
    CHECK(read->name == "JOS\xEF\xBF\xBD");
}
