#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "protocol/line_decoder.hpp"

using callpop::protocol::LineDecoder;
using callpop::protocol::max_line_bytes;

// Named, not anonymous: the test executables are unity builds (CMakeLists.txt), and
// the decoders' tests have helpers of the same names.
namespace line_decoder_test {

constexpr const char* too_long_marker = "<too_long>";

// Everything the decoder yields right now; an over-long line shows as too_long_marker.
void drain(LineDecoder& decoder, std::vector<std::string>& lines) {
    while (auto line = decoder.next()) {
        if (line->too_long) {
            CHECK(line->text.empty());
            lines.push_back(too_long_marker);
        } else {
            CHECK_FALSE(line->text.empty());
            lines.push_back(line->text);
        }
    }
}

std::vector<std::string> decode_whole(std::string_view stream,
                                      std::size_t max_line = max_line_bytes) {
    LineDecoder decoder(max_line);
    std::vector<std::string> lines;
    decoder.feed(stream);
    drain(decoder, lines);
    return lines;
}

// Feeds the stream in pieces cut at the given positions, draining after every piece, as a
// session does after every read.
std::vector<std::string> decode_cut(std::string_view stream, const std::vector<std::size_t>& cuts,
                                    std::size_t max_line = max_line_bytes) {
    LineDecoder decoder(max_line);
    std::vector<std::string> lines;
    std::size_t from = 0;
    for (std::size_t cut : cuts) {
        decoder.feed(stream.substr(from, cut - from));
        drain(decoder, lines);
        from = cut;
    }
    decoder.feed(stream.substr(from));
    drain(decoder, lines);
    return lines;
}

std::vector<std::string> decode_in_chunks(std::string_view stream, std::size_t chunk,
                                          std::size_t max_line = max_line_bytes) {
    std::vector<std::size_t> cuts;
    for (std::size_t at = chunk; at < stream.size(); at += chunk) cuts.push_back(at);
    return decode_cut(stream, cuts, max_line);
}


TEST_CASE("line decoder: one line, lines without their newline wait") {
    LineDecoder decoder;
    decoder.feed("{\"event\":\"ring\"}");
    CHECK_FALSE(decoder.next());
    decoder.feed("\n");
    auto line = decoder.next();
    REQUIRE(line);
    CHECK_FALSE(line->too_long);
    CHECK(line->text == "{\"event\":\"ring\"}");
    CHECK_FALSE(decoder.next());
    CHECK(decoder.pending_bytes() == 0);
}

TEST_CASE("line decoder: many lines in one feed all come out, in order") {
    std::string stream;
    std::vector<std::string> expected;
    for (int i = 0; i < 1000; ++i) {
        expected.push_back("{\"event\":\"ring\",\"call\":\"c-" + std::to_string(i) + "\"}");
        stream += expected.back() + "\n";
    }
    CHECK(decode_whole(stream) == expected);
    CHECK(decode_in_chunks(stream, 4096) == expected);
    CHECK(decode_in_chunks(stream, 7) == expected);
}

TEST_CASE("line decoder: CRLF, lone CR and empty lines") {
    CHECK(decode_whole("a\r\nb\r\n") == std::vector<std::string>{"a", "b"});
    CHECK(decode_whole("a\r\nb\n") == std::vector<std::string>{"a", "b"});
    // Only the CR right before the LF belongs to the line ending.
    CHECK(decode_whole("a\rb\n") == std::vector<std::string>{"a\rb"});
    CHECK(decode_whole("a\r\r\n") == std::vector<std::string>{"a\r"});
    // Empty lines, with or without CR, are skipped.
    CHECK(decode_whole("\n\n\r\n\na\n\n\r\nb\n\n").size() == 2);
    CHECK(decode_whole("\n\n\r\n\na\n\n\r\nb\n\n") == std::vector<std::string>{"a", "b"});
    CHECK(decode_whole("\r\n\r\n\n").empty());
    // Whitespace is not empty: the line goes on to the parser (which rejects it).
    CHECK(decode_whole(" \n") == std::vector<std::string>{" "});
}

TEST_CASE("line decoder: input split at every byte position gives the same lines") {
    const std::string stream =
        "{\"event\":\"ring\",\"call\":\"c-1\",\"ext\":\"1001\"}\n"
        "\r\n"
        "{\"event\":\"answer\",\"call\":\"c-1\",\"ext\":\"1001\"}\r\n"
        "\n"
        "x\ry\n"
        "{\"event\":\"hangup\",\"call\":\"c-1\",\"cause\":\"normal\"}\n"
        "half a line";
    const auto expected = decode_whole(stream);
    REQUIRE(expected.size() == 4);
    CHECK(expected[3] == "{\"event\":\"hangup\",\"call\":\"c-1\",\"cause\":\"normal\"}");

    for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
        INFO("cut at byte " << cut);
        CHECK(decode_cut(stream, {cut}) == expected);
    }
    for (std::size_t first = 0; first <= stream.size(); ++first) {
        for (std::size_t second = first; second <= stream.size(); ++second) {
            if (decode_cut(stream, {first, second}) != expected) {
                FAIL("cut at bytes " << first << " and " << second);
            }
        }
    }
    CHECK(decode_in_chunks(stream, 1) == expected);
}

TEST_CASE("line decoder: limits are the same wherever the input is split") {
    // A small limit so that every split of lines around it can be tried.
    constexpr std::size_t limit = 8;
    const std::string stream =
        "1234567\n"           // under the limit
        "12345678\n"          // exactly at the limit
        "12345678\r\n"        // at the limit, with CRLF
        "123456789\n"         // one over
        "12345678\r\r\n"      // one over: only one CR is the line ending
        "1234567812345678\n"  // far over
        "ok\n"
        "123456789";  // over, with no newline yet: reported now, rest skipped
    const std::vector<std::string> expected{
        "1234567",       "12345678",      "12345678", too_long_marker,
        too_long_marker, too_long_marker, "ok",       too_long_marker};
    CHECK(decode_whole(stream, limit) == expected);
    for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
        INFO("cut at byte " << cut);
        CHECK(decode_cut(stream, {cut}, limit) == expected);
    }
    for (std::size_t first = 0; first <= stream.size(); ++first) {
        for (std::size_t second = first; second <= stream.size(); ++second) {
            if (decode_cut(stream, {first, second}, limit) != expected) {
                FAIL("cut at bytes " << first << " and " << second);
            }
        }
    }
    for (std::size_t chunk = 1; chunk <= 5; ++chunk) {
        INFO("chunks of " << chunk);
        CHECK(decode_in_chunks(stream, chunk, limit) == expected);
    }
}

TEST_CASE("line decoder: a line over 64 KiB yields exactly one too_long, then decoding goes on") {
    CHECK(max_line_bytes == 64 * 1024);
    const std::string long_line(max_line_bytes + 1, 'x');
    const std::string stream = long_line + "\n{\"event\":\"ring\",\"call\":\"c-2\"}\n";
    const std::vector<std::string> expected{too_long_marker,
                                            "{\"event\":\"ring\",\"call\":\"c-2\"}"};

    SUBCASE("in one feed") { CHECK(decode_whole(stream) == expected); }
    SUBCASE("in 1 KiB feeds") { CHECK(decode_in_chunks(stream, 1024) == expected); }
    SUBCASE("in feeds of 7 bytes") { CHECK(decode_in_chunks(stream, 7) == expected); }
    SUBCASE("byte by byte") { CHECK(decode_in_chunks(stream, 1) == expected); }
    SUBCASE("much longer, in 4 KiB feeds, with CRLF") {
        const std::string huge = std::string(1024 * 1024, 'y') + "\r\n{\"a\":1}\r\n";
        CHECK(decode_in_chunks(huge, 4096) ==
              std::vector<std::string>{too_long_marker, "{\"a\":1}"});
    }
}

TEST_CASE("line decoder: a line exactly at the limit is accepted") {
    const std::string line(max_line_bytes, 'z');
    for (const std::string& ending : {std::string("\n"), std::string("\r\n")}) {
        const std::string stream = line + ending + "next\n";
        const std::vector<std::string> expected{line, "next"};
        INFO("ending of " << ending.size() << " bytes");
        CHECK(decode_whole(stream) == expected);
        CHECK(decode_in_chunks(stream, 1) == expected);
        CHECK(decode_in_chunks(stream, 1000) == expected);
        // The read ends between the CR and the LF.
        CHECK(decode_cut(stream, {max_line_bytes + 1}) == expected);
    }
    const std::string over = line + "z\r\nnext\n";
    CHECK(decode_cut(over, {max_line_bytes + 1}) ==
          std::vector<std::string>{too_long_marker, "next"});
}

TEST_CASE("line decoder: pending_bytes") {
    LineDecoder decoder;
    CHECK(decoder.pending_bytes() == 0);
    decoder.feed("abc");
    CHECK_FALSE(decoder.next());
    CHECK(decoder.pending_bytes() == 3);
    decoder.feed("\nde");
    auto line = decoder.next();
    REQUIRE(line);
    CHECK(line->text == "abc");
    CHECK(decoder.pending_bytes() == 2);
    CHECK_FALSE(decoder.next());
    CHECK(decoder.pending_bytes() == 2);
    decoder.feed("f\n");
    line = decoder.next();
    REQUIRE(line);
    CHECK(line->text == "def");
    CHECK(decoder.pending_bytes() == 0);

    SUBCASE("an over-long line holds no bytes while it is skipped") {
        const std::string chunk(4096, 'x');
        bool reported = false;
        for (int i = 0; i < 64; ++i) {  // 256 KiB without a newline
            decoder.feed(chunk);
            while (auto skipped = decoder.next()) {
                CHECK(skipped->too_long);
                CHECK_FALSE(reported);
                reported = true;
            }
            CHECK(decoder.pending_bytes() <= max_line_bytes + 1);
        }
        CHECK(reported);
        CHECK(decoder.pending_bytes() == 0);
        decoder.feed("tail of the long line\nok\n");
        line = decoder.next();
        REQUIRE(line);
        CHECK_FALSE(line->too_long);
        CHECK(line->text == "ok");
    }
}

TEST_CASE("line decoder: nothing is held once every line is handed out") {
    LineDecoder decoder;
    CHECK(decoder.buffer_capacity() == 0);
    // A long line, then a short one: the memory of the long one is not kept.
    decoder.feed(std::string(60 * 1024, 'x') + "\n{\"type\":\"ping\"}\n");
    REQUIRE(decoder.next());
    REQUIRE(decoder.next());
    CHECK_FALSE(decoder.next());
    CHECK(decoder.buffer_capacity() == 0);
    // A partial line is held until it completes.
    decoder.feed("{\"type\":");
    CHECK_FALSE(decoder.next());
    CHECK(decoder.pending_bytes() == 8);
    decoder.feed("\"ping\"}\n");
    const auto line = decoder.next();
    REQUIRE(line);
    CHECK(line->text == "{\"type\":\"ping\"}");
    CHECK_FALSE(decoder.next());
    CHECK(decoder.buffer_capacity() == 0);
    // So is nothing of a line skipped for being too long.
    for (int i = 0; i < 20; ++i) decoder.feed(std::string(4096, 'y'));
    while (decoder.next()) {
    }
    CHECK(decoder.buffer_capacity() == 0);
}

}  // namespace line_decoder_test
