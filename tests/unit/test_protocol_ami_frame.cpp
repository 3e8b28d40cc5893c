#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "protocol/ami_frame.hpp"
#include "support/ami_fixtures.hpp"

using callpop::protocol::AmiBanner;
using callpop::protocol::AmiDecoder;
using callpop::protocol::AmiItem;
using callpop::protocol::AmiMessage;
using callpop::protocol::ami_max_fields;
using callpop::protocol::ami_max_line_bytes;
using callpop::protocol::ProtocolError;
using callpop::test::ami_fixture_names;
using callpop::test::read_ami_fixture;

// Named, not anonymous: the test executables are unity builds (CMakeLists.txt), and
// the decoders' tests have helpers of the same names.
namespace ami_frame_test {

// One item as text, so whole decodes can be compared with ==.
std::string render(const AmiItem& item) {
    if (const auto* banner = std::get_if<AmiBanner>(&item)) return "banner " + banner->text;
    if (const auto* error = std::get_if<ProtocolError>(&item)) {
        return "error " + error->code + " " + error->message;
    }
    const auto& message = std::get<AmiMessage>(item);
    std::string text = "message";
    for (const auto& [key, value] : message.fields) text += "\n" + key + "=" + value;
    if (!message.output.empty()) text += "\noutput=" + message.output;
    return text;
}

void drain(AmiDecoder& decoder, std::vector<std::string>& items) {
    while (auto item = decoder.next()) items.push_back(render(*item));
}

std::vector<AmiItem> decode_items(std::string_view stream) {
    AmiDecoder decoder;
    decoder.feed(stream);
    std::vector<AmiItem> items;
    while (auto item = decoder.next()) items.push_back(std::move(*item));
    return items;
}

std::vector<std::string> decode_whole(std::string_view stream) {
    std::vector<std::string> items;
    for (const auto& item : decode_items(stream)) items.push_back(render(item));
    return items;
}

// Feeds the stream in pieces cut at the given (sorted) positions, draining after each.
std::vector<std::string> decode_cut(std::string_view stream, const std::vector<std::size_t>& cuts) {
    AmiDecoder decoder;
    std::vector<std::string> items;
    std::size_t from = 0;
    for (std::size_t cut : cuts) {
        decoder.feed(stream.substr(from, cut - from));
        drain(decoder, items);
        from = cut;
    }
    decoder.feed(stream.substr(from));
    drain(decoder, items);
    return items;
}

std::vector<std::string> decode_in_chunks(std::string_view stream, std::size_t chunk) {
    std::vector<std::size_t> cuts;
    for (std::size_t at = chunk; at < stream.size(); at += chunk) cuts.push_back(at);
    return decode_cut(stream, cuts);
}

std::string to_lf(std::string text) {
    std::string out;
    for (char c : text) {
        if (c != '\r') out.push_back(c);
    }
    return out;
}


TEST_CASE("ami: each real fixture decodes whole into the banner and clean messages") {
    for (const auto& name : ami_fixture_names) {
        INFO("fixture " << name);
        const std::string stream = read_ami_fixture(name + ".ami");
        const auto summary =
            nlohmann::json::parse(read_ami_fixture(name + ".ami.summary.json"));
        const auto items = decode_items(stream);
        REQUIRE(items.size() > 10);

        REQUIRE(std::holds_alternative<AmiBanner>(items[0]));
        CHECK(std::get<AmiBanner>(items[0]).text == summary.at("banner").get<std::string>());

        // The summary counts the events of the call: after the Originate was accepted (the
        // first reply that is not to the Login), up to the Shutdown event.
        std::size_t event_messages = 0;
        std::size_t call_events = 0;
        std::map<std::string, double> call_events_by_type;
        bool call_started = false;
        bool shut_down = false;
        for (std::size_t i = 1; i < items.size(); ++i) {
            REQUIRE_MESSAGE(std::holds_alternative<AmiMessage>(items[i]), render(items[i]));
            const auto& message = std::get<AmiMessage>(items[i]);
            CHECK_FALSE(message.fields.empty());
            CHECK(message.output.empty());
            const std::string* event = message.find("Event");
            if (event == nullptr) {
                const std::string* action_id = message.find("actionid");
                REQUIRE(action_id != nullptr);
                CHECK(message.find("RESPONSE") != nullptr);
                if (*action_id != "login") call_started = true;
                continue;
            }
            ++event_messages;
            CHECK(message.fields.front().first == "Event");
            if (*event == "Shutdown") shut_down = true;
            if (call_started && !shut_down) {
                ++call_events;
                call_events_by_type[*event] += 1;
            }
        }
        CHECK(shut_down);
        CHECK(event_messages > call_events);
        CHECK(call_events == summary.at("events_total").get<std::size_t>());
        const double calls = summary.at("calls_originated").get<double>();
        std::map<std::string, double> expected_by_type;
        for (const auto& [type, per_call] : summary.at("events_per_call_by_type").items()) {
            expected_by_type[type] = per_call.get<double>() * calls;
        }
        CHECK(call_events_by_type == expected_by_type);
    }
}

TEST_CASE("ami: field lookup ignores the key's case and keeps every duplicate") {
    const std::string stream = read_ami_fixture("queue.ami");
    bool seen_agent_connect = false;
    for (const auto& item : decode_items(stream)) {
        const auto* message = std::get_if<AmiMessage>(&item);
        if (message == nullptr || message->find("event") == nullptr) continue;
        if (*message->find("EVENT") != "AgentConnect") continue;
        seen_agent_connect = true;
        REQUIRE(message->find("Queue") != nullptr);
        CHECK(*message->find("queue") == "support");
        CHECK(message->find_all("Linkedid").size() == 1);
        CHECK(message->find("NoSuchField") == nullptr);
    }
    CHECK(seen_agent_connect);

    const auto message = std::get<AmiMessage>(decode_items(
        "Event: VarSet\r\nChanVariable: A=1\r\nchanvariable: B=2\r\nValue: \r\n"
        "CHANVARIABLE: C=3: x\r\n\r\n")[0]);
    CHECK(message.find_all("ChanVariable") ==
          std::vector<std::string_view>{"A=1", "B=2", "C=3: x"});
    CHECK(*message.find("chanVARIABLE") == "A=1");
    REQUIRE(message.find("Value") != nullptr);
    CHECK(message.find("Value")->empty());
    CHECK(message.fields.size() == 5);
}

TEST_CASE("ami: a fixture split at every byte gives the same items") {
    const std::string stream = read_ami_fixture("busy.ami");
    const auto expected = decode_whole(stream);
    REQUIRE(expected.size() > 60);
    CHECK(decode_in_chunks(stream, 1) == expected);
    // One cut at each position of the first 4 KiB (the banner, the replies and whole
    // events, every kind of boundary): all of the file would cost minutes under ASan for
    // nothing that feeding it a byte at a time above does not already cover.
    const std::size_t last_cut = std::min<std::size_t>(stream.size(), 4096);
    for (std::size_t cut = 0; cut <= last_cut; ++cut) {
        if (decode_cut(stream, {cut}) != expected) FAIL("cut at byte " << cut);
    }
}

TEST_CASE("ami: the fixtures split at random points give the same items") {
    std::mt19937 random(20261123);
    for (const auto& name : ami_fixture_names) {
        INFO("fixture " << name);
        const std::string stream = read_ami_fixture(name + ".ami");
        const auto expected = decode_whole(stream);
        for (int trial = 0; trial < 100; ++trial) {
            std::uniform_int_distribution<std::size_t> count(1, 40);
            std::uniform_int_distribution<std::size_t> at(0, stream.size());
            std::vector<std::size_t> cuts(count(random));
            for (auto& cut : cuts) cut = at(random);
            std::sort(cuts.begin(), cuts.end());
            if (decode_cut(stream, cuts) != expected) FAIL("trial " << trial);
        }
        CHECK(decode_in_chunks(stream, 4096) == expected);
        CHECK(decode_in_chunks(stream, 7) == expected);
    }
}

TEST_CASE("ami: LF-only input gives the same items as CRLF") {
    for (const auto& name : ami_fixture_names) {
        INFO("fixture " << name);
        const std::string stream = read_ami_fixture(name + ".ami");
        const std::string lf = to_lf(stream);
        REQUIRE(lf.size() < stream.size());
        const auto expected = decode_whole(stream);
        CHECK(decode_whole(lf) == expected);
        CHECK(decode_in_chunks(lf, 13) == expected);
    }
    // Mixed line ends in one message; only the CR right before the LF is a line end.
    CHECK(decode_whole("Event: A\nKey: x\r\n\nEvent: B\r\nKey: y\rz\n\r\n") ==
          std::vector<std::string>{"message\nEvent=A\nKey=x", "message\nEvent=B\nKey=y\rz"});
}

TEST_CASE("ami: the banner is only the first line, and only when it is not a field") {
    CHECK(decode_whole("Asterisk Call Manager/11.0.0\r\nResponse: Success\r\n\r\n") ==
          std::vector<std::string>{"banner Asterisk Call Manager/11.0.0",
                                   "message\nResponse=Success"});
    CHECK(decode_whole("\r\nEvent: A\r\n\r\n") == std::vector<std::string>{"message\nEvent=A"});
    // Extra empty lines between messages are ignored; a message waits for its empty line.
    CHECK(decode_whole("Event: A\r\n\r\n\r\n\r\nEvent: B\r\n") ==
          std::vector<std::string>{"message\nEvent=A"});
}

TEST_CASE("ami: an over-long line is an error; decoding resumes after the next empty line") {
    // The fixture without its banner line: here it follows other messages.
    std::string fixture = read_ami_fixture("queue.ami");
    fixture.erase(0, fixture.find("\r\n") + 2);
    const std::string big(ami_max_line_bytes + 1, 'x');
    const std::string at_limit(ami_max_line_bytes - std::string_view("Key: ").size(), 'y');
    const std::string stream = "Event: Before\r\n\r\n"
                               "Event: Big\r\nValue: " + big + "\r\nMore: lost\r\n\r\n"
                               "Event: AtLimit\r\nKey: " + at_limit + "\r\n\r\n" +
                               big + "\r\nStill: lost\r\n\r\n" + fixture;
    std::vector<std::string> expected = {
        "message\nEvent=Before",
        "error line_too_long line longer than 65536 bytes",
        "message\nEvent=AtLimit\nKey=" + at_limit,
        "error line_too_long line longer than 65536 bytes",
    };
    const auto rest = decode_whole(fixture);
    REQUIRE(rest.size() > 90);
    expected.insert(expected.end(), rest.begin(), rest.end());
    const auto got = decode_whole(stream);
    REQUIRE(got.size() == expected.size());
    CHECK(got == expected);
    CHECK(decode_in_chunks(stream, 1000) == expected);
    CHECK(decode_in_chunks(stream, 4096) == expected);
    std::mt19937 random(7);
    std::uniform_int_distribution<std::size_t> at(0, stream.size());
    for (int trial = 0; trial < 20; ++trial) {
        std::vector<std::size_t> cuts(10);
        for (auto& cut : cuts) cut = at(random);
        std::sort(cuts.begin(), cuts.end());
        if (decode_cut(stream, cuts) != expected) FAIL("trial " << trial);
    }
    // A long half line is not held in memory while it waits for its newline.
    AmiDecoder decoder;
    decoder.feed("Event: X\r\nValue: ");
    for (int i = 0; i < 64; ++i) {
        decoder.feed(std::string(4096, 'z'));
        while (decoder.next()) {
        }
    }
    CHECK(decoder.pending_bytes() < 8192);
    decoder.feed("\r\n\r\nEvent: After\r\n\r\n");
    auto item = decoder.next();
    REQUIRE(item);
    CHECK(render(*item) == "message\nEvent=After");
}

TEST_CASE("ami: more than 1000 fields is an error; the next message is kept") {
    std::string fields;
    for (std::size_t i = 1; i < ami_max_fields; ++i) fields += "F: " + std::to_string(i) + "\r\n";
    const std::string stream = "Event: Full\r\n" + fields + "\r\n" +
                               "Event: Over\r\n" + fields + "Extra: 1\r\nExtra: 2\r\n\r\n" +
                               "Event: After\r\n\r\n";
    const auto items = decode_items(stream);
    REQUIRE(items.size() == 3);
    REQUIRE(std::holds_alternative<AmiMessage>(items[0]));
    CHECK(std::get<AmiMessage>(items[0]).fields.size() == ami_max_fields);
    REQUIRE(std::holds_alternative<ProtocolError>(items[1]));
    CHECK(std::get<ProtocolError>(items[1]).code == "too_many_fields");
    CHECK(render(items[2]) == "message\nEvent=After");
}

TEST_CASE("ami: a line without \": \" is an error; the message is skipped") {
    const auto items = decode_whole(
        "Asterisk Call Manager/11.0.0\r\n"
        "Event: A\r\nBroken line\r\nAfter: lost\r\n\r\n"
        "Event: B\r\nKey:value\r\n\r\n"
        "Event: C\r\n: no key\r\n\r\n"
        "Event: D\r\n\r\n");
    CHECK(items == std::vector<std::string>{
                       "banner Asterisk Call Manager/11.0.0",
                       "error bad_line line without \"Key: \" in a message",
                       "error bad_line line without \"Key: \" in a message",
                       "error bad_line line without \"Key: \" in a message",
                       "message\nEvent=D",
                   });
}

TEST_CASE("ami: command output runs to --END COMMAND-- and is kept as text") {
    const std::string stream =
        "Asterisk Call Manager/1.1\r\n"
        "Response: Follows\r\nPrivilege: Command\r\nActionID: cmd-1\r\n"
        "Channel              Location\r\n"
        "Name: not a field\r\n"
        "\r\n"
        "no colon here\r\n"
        "--END COMMAND--\r\n\r\n"
        "Response: Follows\r\nActionID: cmd-2\r\n"
        "last line without newline--END COMMAND--\r\n\r\n"
        "Response: Follows\r\nPrivilege: Command\r\n--END COMMAND--\r\n\r\n"
        "Event: After\r\n\r\n";
    const auto items = decode_items(stream);
    REQUIRE(items.size() == 5);
    CHECK(render(items[0]) == "banner Asterisk Call Manager/1.1");
    const auto& first = std::get<AmiMessage>(items[1]);
    CHECK(first.fields.size() == 3);
    CHECK(*first.find("actionid") == "cmd-1");
    CHECK(first.find("Name") == nullptr);
    CHECK(first.output == "Channel              Location\nName: not a field\n\nno colon here\n");
    const auto& second = std::get<AmiMessage>(items[2]);
    CHECK(second.fields.size() == 2);
    CHECK(second.output == "last line without newline");
    const auto& third = std::get<AmiMessage>(items[3]);
    CHECK(third.fields.size() == 2);
    CHECK(third.output.empty());
    CHECK(render(items[4]) == "message\nEvent=After");

    std::vector<std::string> expected;
    for (const auto& item : items) expected.push_back(render(item));
    CHECK(decode_whole(to_lf(stream)) == expected);
    for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
        if (decode_cut(stream, {cut}) != expected) FAIL("cut at byte " << cut);
    }
    // "Follows" starts a command body only as the value of Response.
    CHECK(decode_whole("Event: X\r\nStatus: Follows\r\nA: b\r\n\r\n") ==
          std::vector<std::string>{"message\nEvent=X\nStatus=Follows\nA=b"});
}

}  // namespace ami_frame_test
