#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "protocol/evapi_event.hpp"

using callpop::protocol::cause_of_failure;
using callpop::protocol::EvapiCallMapper;
using callpop::protocol::EvapiEvent;
using callpop::protocol::EvapiEventKind;
using callpop::protocol::parse_evapi_event;
using callpop::protocol::ProtocolError;
using callpop::protocol::SwitchEvent;
using callpop::protocol::SwitchEventKind;

namespace {

EvapiEvent parsed(const std::string& payload) {
    auto result = parse_evapi_event(payload);
    if (const auto* error = std::get_if<ProtocolError>(&result))
        FAIL("rejected: " << error->code << ": " << error->message);
    return std::get<EvapiEvent>(result);
}

std::string rejected(const std::string& payload) {
    auto result = parse_evapi_event(payload);
    if (std::holds_alternative<EvapiEvent>(result)) {
        FAIL("accepted: " << payload);
        return {};
    }
    const auto& error = std::get<ProtocolError>(result);
    return error.code + ": " + error.message;
}

// Payloads as examples/kamailio/kamailio.cfg makes Kamailio 5.6.3 write them.
const std::string ring_payload =
    R"({"event":"ring","callid":"1-4242@127.0.0.1","caller":"15550102000","caller_name":"Pat Doe","called":"8005551000","agent":"1001","ts_us":1718000000123456})";
const std::string answer_payload =
    R"({"event":"answer","callid":"1-4242@127.0.0.1","caller":"15550102000","caller_name":"Pat Doe","called":"8005551000","agent":"1001","ts_us":1718000001123456})";
const std::string hangup_payload =
    R"({"event":"hangup","callid":"1-4242@127.0.0.1","caller":"15550102000","caller_name":"Pat Doe","called":"8005551000","agent":"1001","ts_us":1718000009123456,"by":"caller","duration_s":8})";

std::string failed_payload(const std::string& callid, int code) {
    return R"({"event":"failed","callid":")" + callid +
           R"(","caller":"15550104000","called":"8005551000","agent":"9001","code":)" +
           std::to_string(code) + R"(,"reason":"whatever"})";
}

SwitchEvent mapped(EvapiCallMapper& mapper, const std::string& payload) {
    auto event = mapper.on_event(parsed(payload));
    REQUIRE(event.has_value());
    return *event;
}

}  // namespace

TEST_CASE("evapi event: hello carries the server and maps to nothing") {
    const auto hello = parsed(R"({"event":"hello","server":"kamailio"})");
    CHECK(hello.kind == EvapiEventKind::hello);
    CHECK(hello.server == "kamailio");
    EvapiCallMapper mapper;
    CHECK_FALSE(mapper.on_event(hello).has_value());
    CHECK(mapper.calls_started() == 0);
}

TEST_CASE("evapi event: a display name's quoted-pairs are undone, as RFC 3261 reads them") {
    auto name_of = [](const std::string& json_value) {
        return parsed(R"({"event":"ring","callid":"q-1","caller":"15550102000","caller_name":)" +
                      json_value + "}")
            .caller_name;
    };
    CHECK(name_of(R"("Pat \\\"The Boss\\\" Doe")") == R"(Pat "The Boss" Doe)");
    CHECK(name_of(R"("C:\\\\dir")") == R"(C:\dir)");
    CHECK(name_of(R"("\\x\\y")") == "xy");
    CHECK(name_of(R"("Jos\u00e9 M\u00fcller")") == "Jos\xc3\xa9 M\xc3\xbcller");
    CHECK(name_of(R"("trailing \\")") == "trailing \\");  // nothing after it to stand for
    CHECK(name_of("42") == "42");
}

TEST_CASE("evapi event: ring, answer, hangup become the native events") {
    EvapiCallMapper mapper;
    const auto ring = mapped(mapper, ring_payload);
    CHECK(ring.kind == SwitchEventKind::ring);
    CHECK(ring.call == "1-4242@127.0.0.1");
    CHECK(ring.from == "15550102000");
    CHECK(ring.name == "Pat Doe");
    CHECK(ring.to == "8005551000");
    CHECK(ring.extensions == std::vector<std::string>{"1001"});
    CHECK(ring.agent.empty());  // the extension's logged-in agent answers for it
    CHECK(ring.cause.empty());
    CHECK(mapper.calls_started() == 1);
    CHECK(mapper.open_calls() == 1);

    const auto answer = mapped(mapper, answer_payload);
    CHECK(answer.kind == SwitchEventKind::answer);
    CHECK(answer.extensions == std::vector<std::string>{"1001"});
    CHECK(mapper.calls_started() == 1);

    const auto hangup = mapped(mapper, hangup_payload);
    CHECK(hangup.kind == SwitchEventKind::hangup);
    CHECK(hangup.cause == "normal");
    CHECK(hangup.extensions.empty());
    CHECK(mapper.open_calls() == 0);
    CHECK(mapper.close_open_calls().empty());
}

TEST_CASE("evapi event: abandoned and failed end the call with their cause") {
    EvapiCallMapper mapper;
    mapped(mapper, R"({"event":"ring","callid":"a-1","agent":"8001"})");
    const auto abandoned = mapped(
        mapper,
        R"({"event":"abandoned","callid":"a-1","agent":"8001","code":487,"reason":"caller_cancel"})");
    CHECK(abandoned.kind == SwitchEventKind::hangup);
    CHECK(abandoned.cause == "abandoned");

    CHECK(mapped(mapper, failed_payload("f-486", 486)).cause == "busy");
    CHECK(mapped(mapper, failed_payload("f-600", 600)).cause == "busy");
    CHECK(mapped(mapper, failed_payload("f-408", 408)).cause == "no_answer");
    CHECK(mapped(mapper, failed_payload("f-480", 480)).cause == "no_answer");
    CHECK(mapped(mapper, failed_payload("f-503", 503)).cause == "failed");
    CHECK(mapped(mapper, failed_payload("f-404", 404)).cause == "failed");
    CHECK(mapped(mapper, R"({"event":"failed","callid":"f-none"})").cause == "failed");
    CHECK(cause_of_failure(std::nullopt) == "failed");
    CHECK(mapper.open_calls() == 0);
}

TEST_CASE("evapi event: the asserted identity wins over From, IVR data and queue pass on") {
    EvapiCallMapper mapper;
    const auto ring = mapped(
        mapper,
        R"({"event":"ring","callid":"p-1","caller":"anonymous","caller_name":"Anonymous","pai":"+15550102000","called":"8005551000","agent":"1002","queue":"support","data":{"service_tag":"7XK2Q1"}})");
    CHECK(ring.from == "+15550102000");
    CHECK(ring.name == "Anonymous");
    CHECK(ring.queue == "support");
    CHECK(ring.data == nlohmann::json{{"service_tag", "7XK2Q1"}});
    // Integers are read as their decimal text, as in the native protocol.
    const auto numeric = mapped(mapper, R"({"event":"ring","callid":"p-2","caller":15550102000})");
    CHECK(numeric.from == "15550102000");
    CHECK(numeric.extensions.empty());
}

TEST_CASE("evapi event: calls left open when the link drops are closed as unknown") {
    EvapiCallMapper mapper;
    mapped(mapper, R"({"event":"ring","callid":"old","agent":"1001"})");
    mapped(mapper, R"({"event":"ring","callid":"done","agent":"1002"})");
    mapped(mapper, R"({"event":"hangup","callid":"done"})");
    // A call first seen at its answer (its ring was sent while callpop was away) is open too.
    mapped(mapper, R"({"event":"answer","callid":"talking","agent":"1003"})");
    // A repeated ring does not start a second call.
    mapped(mapper, R"({"event":"ring","callid":"old","agent":"1001"})");
    // A hangup of a call never seen starts and ends one.
    mapped(mapper, R"({"event":"hangup","callid":"stranger"})");
    CHECK(mapper.calls_started() == 4);
    CHECK(mapper.open_calls() == 2);

    const auto closed = mapper.close_open_calls();
    REQUIRE(closed.size() == 2);
    CHECK(closed[0].call == "old");  // oldest first
    CHECK(closed[1].call == "talking");
    for (const auto& event : closed) {
        CHECK(event.kind == SwitchEventKind::hangup);
        CHECK(event.cause == "unknown");
    }
    CHECK(mapper.open_calls() == 0);
    CHECK(mapper.close_open_calls().empty());
}

TEST_CASE("evapi event: open calls are bounded, the oldest is forgotten") {
    EvapiCallMapper mapper(3);
    for (int i = 1; i <= 5; ++i)
        mapped(mapper, R"({"event":"ring","callid":"c-)" + std::to_string(i) + R"("})");
    CHECK(mapper.open_calls() == 3);
    CHECK(mapper.calls_started() == 5);
    const auto closed = mapper.close_open_calls();
    REQUIRE(closed.size() == 3);
    CHECK(closed[0].call == "c-3");
    CHECK(closed[2].call == "c-5");
}

TEST_CASE("evapi event: bad payloads are named, never mapped") {
    CHECK(rejected("") == "bad_json: not JSON at byte 1 of the payload");
    CHECK(rejected("ring") == "bad_json: not JSON at byte 1 of the payload");
    CHECK(rejected(R"({"event":"ring",)") == "bad_json: not JSON at byte 17 of the payload");
    CHECK(rejected(R"(["ring"])") == "bad_json: expected a JSON object");
    CHECK(rejected("{\"event\":\"ring\",\"caller_name\":\"\xff\"}").starts_with("bad_json:"));
    CHECK(rejected(std::string(100, '[') + std::string(100, ']')) ==
          "bad_json: JSON nested deeper than 64 levels");
    CHECK(rejected(R"({"callid":"c-1"})") == "missing_field: event: missing field \"event\"");
    CHECK(rejected(R"({"event":7})") == "bad_field: event: field \"event\" must be a string");
    CHECK(rejected(R"({"event":"transfer","callid":"c-1"})") ==
          "unknown_event: unknown event \"transfer\" (expected hello, ring, answer, hangup, "
          "abandoned or failed)");
    CHECK(rejected(R"({"event":"RING","callid":"c-1"})").starts_with("unknown_event:"));
    CHECK(rejected(R"({"event":"ring"})") == "missing_field: ring event: missing field \"callid\"");
    CHECK(rejected(R"({"event":"hangup","callid":""})") ==
          "missing_field: hangup event: field \"callid\" is empty");
    CHECK(rejected(R"({"event":"answer","callid":42})") ==
          "bad_field: answer event: field \"callid\" must be a string");
    CHECK(rejected(R"({"event":"ring","callid":"c-1","caller":["1"]})") ==
          "bad_field: ring event: field \"caller\" must be a string");
    CHECK(rejected(R"({"event":"failed","callid":"c-1","code":"486"})") ==
          "bad_field: failed event: field \"code\" must be an integer");
    CHECK(rejected(R"({"event":"ring","callid":"c-1","data":"7XK2Q1"})") ==
          "bad_field: ring event: field \"data\" must be an object");
    // null counts as absent; unknown fields are ignored.
    const auto event =
        parsed(R"({"event":"ring","callid":"c-1","caller":null,"by":"caller","new":{"x":1}})");
    CHECK(event.caller.empty());
}
