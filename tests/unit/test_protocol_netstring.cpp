#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "protocol/netstring.hpp"

using callpop::protocol::netstring_max_payload_bytes;
using callpop::protocol::NetstringDecoder;
using callpop::protocol::NetstringItem;
using callpop::protocol::ProtocolError;

// Named, not anonymous: the test executables are unity builds (CMakeLists.txt), and
// the decoders' tests have helpers of the same names.
namespace netstring_test {

std::string netstring(const std::string& payload) {
    return std::to_string(payload.size()) + ":" + payload + ",";
}

// One item as text, so whole decodes compare with ==.
std::string render(const NetstringItem& item) {
    if (const auto* error = std::get_if<ProtocolError>(&item))
        return "error " + error->code + ": " + error->message;
    return "payload " + std::get<std::string>(item);
}

void drain(NetstringDecoder& decoder, std::vector<std::string>& items, std::size_t max_payload) {
    while (auto item = decoder.next()) items.push_back(render(*item));
    // Drained, the decoder holds no more than one unfinished payload.
    CHECK(decoder.pending_bytes() <= max_payload);
}

std::vector<std::string> decode_cut(std::string_view stream, const std::vector<std::size_t>& cuts,
                                    std::size_t max_payload = netstring_max_payload_bytes) {
    NetstringDecoder decoder(max_payload);
    std::vector<std::string> items;
    std::size_t from = 0;
    for (const std::size_t cut : cuts) {
        decoder.feed(stream.substr(from, cut - from));
        drain(decoder, items, max_payload);
        from = cut;
    }
    decoder.feed(stream.substr(from));
    drain(decoder, items, max_payload);
    return items;
}

std::vector<std::string> decode_whole(std::string_view stream,
                                      std::size_t max_payload = netstring_max_payload_bytes) {
    return decode_cut(stream, {}, max_payload);
}

std::vector<std::string> decode_in_chunks(std::string_view stream, std::size_t chunk,
                                          std::size_t max_payload = netstring_max_payload_bytes) {
    std::vector<std::size_t> cuts;
    for (std::size_t at = chunk; at < stream.size(); at += chunk) cuts.push_back(at);
    return decode_cut(stream, cuts, max_payload);
}

// Items one per line, so that a failed comparison shows them.
std::string join(const std::vector<std::string>& items) {
    std::string text;
    for (const auto& item : items) text += item + "\n";
    return text;
}

// The same items whatever the reads: one byte at a time, and cut once at every position.
void check_every_split(std::string_view stream, const std::vector<std::string>& expected,
                       std::size_t max_payload = netstring_max_payload_bytes) {
    const std::string wanted = join(expected);
    REQUIRE(join(decode_whole(stream, max_payload)) == wanted);
    REQUIRE(join(decode_in_chunks(stream, 1, max_payload)) == wanted);
    for (std::size_t cut = 1; cut < stream.size(); ++cut) {
        CAPTURE(cut);
        REQUIRE(join(decode_cut(stream, {cut}, max_payload)) == wanted);
    }
}

// Payloads in the shape Kamailio 5.6.3 writes them with examples/kamailio/kamailio.cfg.
const std::string hello = R"({"event":"hello","server":"kamailio"})";
const std::string ring =
    R"({"event":"ring","callid":"1-4242@127.0.0.1","caller":"15550102000","caller_name":"Pat Doe","called":"8005551000","agent":"1001"})";


TEST_CASE("netstring: one payload; a netstring without its ',' waits") {
    NetstringDecoder decoder;
    decoder.feed(std::to_string(hello.size()) + ":" + hello);
    CHECK_FALSE(decoder.next());
    CHECK(decoder.pending_bytes() == hello.size());
    decoder.feed(",");
    auto item = decoder.next();
    REQUIRE(item);
    CHECK(std::get<std::string>(*item) == hello);
    CHECK_FALSE(decoder.next());
    CHECK(decoder.pending_bytes() == 0);
}

TEST_CASE("netstring: back-to-back netstrings come out in order whatever the reads") {
    const std::string stream = netstring(hello) + netstring(ring) + netstring("{}") + "0:,";
    check_every_split(stream, {"payload " + hello, "payload " + ring, "payload {}", "payload "});
}

TEST_CASE("netstring: a thousand in one read") {
    std::string stream;
    std::vector<std::string> expected;
    for (int i = 0; i < 1000; ++i) {
        const std::string payload = R"({"event":"ring","callid":"c-)" + std::to_string(i) + "\"}";
        stream += netstring(payload);
        expected.push_back("payload " + payload);
    }
    CHECK(join(decode_whole(stream)) == join(expected));
    CHECK(join(decode_in_chunks(stream, 7)) == join(expected));
}

TEST_CASE("netstring: payload bytes are not interpreted") {
    const std::string payload = std::string("a,b:c\0\n\xff", 9) + "9:{x},";
    check_every_split(netstring(payload) + netstring("{}"), {"payload " + payload, "payload {}"});
}

TEST_CASE("netstring: a raw JSON object is a bad length, named as evapi's netstring_format") {
    // evapi with netstring_format 0 sends bare objects: one error, then nothing to resync to.
    const std::string stream = hello + ring + hello;
    check_every_split(stream, {"error bad_length: expected a netstring length at byte 1, got '{' "
                               "(a JSON object without a length: is evapi's netstring_format 0? "
                               "callpop needs 1); looking for the next netstring"});
}

TEST_CASE("netstring: after a bad length the next netstring start is found") {
    SUBCASE("a stray newline between netstrings") {
        check_every_split(netstring(hello) + "\n" + netstring(ring),
                          {"payload " + hello,
                           "error bad_length: expected a netstring length at byte 42, got 0x0a; "
                           "looking for the next netstring",
                           "payload " + ring});
    }
    SUBCASE("letters in the length") {
        check_every_split("12x:{ab}," + netstring(ring),
                          {"error bad_length: netstring length at byte 1 is followed by 'x', not "
                           "':'; looking for the next netstring",
                           "payload " + ring});
    }
    SUBCASE("a ':' with no digits before it") {
        check_every_split(":{}," + netstring(ring),
                          {"error bad_length: expected a netstring length at byte 1, got ':'; "
                           "looking for the next netstring",
                           "payload " + ring});
    }
    SUBCASE("more digits than any length has") {
        check_every_split("1234567890:{}," + netstring(ring),
                          {"error bad_length: netstring length at byte 1 has more than 9 digits; "
                           "looking for the next netstring",
                           "payload " + ring});
    }
    SUBCASE("garbage that looks like a start but is not") {
        // "5:a" has no '{'; "99999:{" is over the limit; "12345678901:{" has too many digits.
        check_every_split("x5:abcde,99999:{12345678901:{" + netstring("{abcd}") + netstring(hello),
                          {"error bad_length: expected a netstring length at byte 1, got 'x'; "
                           "looking for the next netstring",
                           "payload {abcd}", "payload " + hello});
    }
}

TEST_CASE("netstring: a length that does not end at a ',' is a bad terminator") {
    // "3:{ab" then '}' where the ',' belongs; the scan resumes there and finds the next one.
    check_every_split("3:{ab}," + netstring(ring),
                      {"error bad_terminator: netstring of 3 bytes at byte 1 ends in '}', not "
                       "','; looking for the next netstring",
                       "payload " + ring});
    // Too long a length swallows the start of the next netstring: that one is lost, the one
    // after it is not.
    check_every_split("9:{}," + netstring(ring) + netstring(hello),
                      {"error bad_terminator: netstring of 9 bytes at byte 1 ends in 'e', not "
                       "','; looking for the next netstring",
                       "payload " + hello});
}

TEST_CASE("netstring: an over-long payload is skipped exactly, the next one is read") {
    constexpr std::size_t limit = 16;
    const std::string big = "{\"x\":\"" + std::string(30, 'y') + "\"}";
    const std::string stream = netstring("{small}") + netstring(big) + netstring("{after}");
    check_every_split(stream,
                      {"payload {small}",
                       "error too_long: netstring of 38 bytes at byte 11 is over the 16-byte "
                       "limit: skipped",
                       "payload {after}"},
                      limit);
    // The skipped payload is not held: a stalled one costs nothing.
    NetstringDecoder decoder(limit);
    decoder.feed("100:" + std::string(90, 'z'));
    CHECK(decoder.next());
    CHECK_FALSE(decoder.next());
    CHECK(decoder.pending_bytes() == 0);

    SUBCASE("a skipped payload must end in ','") {
        check_every_split("20:" + std::string(20, 'q') + "!" + netstring("{after}"),
                          {"error too_long: netstring of 20 bytes at byte 1 is over the 16-byte "
                           "limit: skipped",
                           "error bad_terminator: netstring at byte 1 ends in '!', not ','; "
                           "looking for the next netstring",
                           "payload {after}"},
                          limit);
    }
}

TEST_CASE("netstring: the default limit is 64 KiB") {
    const std::string largest = "{" + std::string(netstring_max_payload_bytes - 2, 'a') + "}";
    const std::string too_big = largest + " ";
    const auto items =
        decode_in_chunks(netstring(largest) + netstring(too_big) + netstring("{}"), 4096);
    REQUIRE(items.size() == 3);
    CHECK(items[0] == "payload " + largest);
    CHECK(items[1].starts_with("error too_long: netstring of 65537 bytes"));
    CHECK(items[2] == "payload {}");
}

TEST_CASE("netstring: a length too big to trust is garbage, not a skip") {
    // Over 16 times the limit: skipping it could swallow a day of events.
    check_every_split("999:" + netstring("{ok}"),
                      {"error bad_length: netstring length 999 at byte 1 is implausible (over "
                       "256 bytes); looking for the next netstring",
                       "payload {ok}"},
                      16);
}

TEST_CASE("netstring: a long run of garbage is reported every limit's worth of bytes") {
    const std::string garbage(40, '#');
    check_every_split(garbage + netstring("{ok}"),
                      {"error bad_length: expected a netstring length at byte 1, got '#'; "
                       "looking for the next netstring",
                       "error no_netstring: skipped 16 more bytes without finding the start of "
                       "a netstring (up to byte 16)",
                       "error no_netstring: skipped 16 more bytes without finding the start of "
                       "a netstring (up to byte 32)",
                       "payload {ok}"},
                      16);
}

TEST_CASE("netstring: random streams decode the same in any reads") {
    std::mt19937 random(20240611);
    const std::vector<std::string> pieces = {netstring(hello),
                                             netstring(ring),
                                             netstring("{}"),
                                             "0:,",
                                             "\n",
                                             "x",
                                             "12",
                                             ":",
                                             "{",
                                             ",",
                                             "3:{ab},",
                                             "99999999:",
                                             "5:{abc",
                                             netstring(std::string(40, 'b'))};
    for (int round = 0; round < 300; ++round) {
        std::string stream;
        const int count = 1 + static_cast<int>(random() % 20);
        for (int i = 0; i < count; ++i) stream += pieces[random() % pieces.size()];
        CAPTURE(stream);
        const auto expected = decode_whole(stream, 32);
        for (std::size_t chunk = 1; chunk <= 17; ++chunk)
            REQUIRE(join(decode_in_chunks(stream, chunk, 32)) == join(expected));
    }
}

}  // namespace netstring_test
