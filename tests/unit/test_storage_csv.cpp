#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "storage/csv_reader.hpp"

using callpop::storage::CsvReader;
using callpop::storage::CsvRecord;

namespace {

using Fields = std::vector<std::string>;

std::vector<CsvRecord> read_all(const std::string& text) {
    std::istringstream input(text);
    CsvReader reader(input);
    std::vector<CsvRecord> records;
    CsvRecord record;
    while (reader.next(record)) records.push_back(record);
    return records;
}

}  // namespace

TEST_CASE("csv: plain records with LF, CRLF, and no line end at the end") {
    for (const std::string text : {"a,b,c\n1,2,3\n", "a,b,c\r\n1,2,3\r\n", "a,b,c\n1,2,3"}) {
        CAPTURE(text);
        const auto records = read_all(text);
        REQUIRE(records.size() == 2);
        CHECK(records[0].fields == Fields{"a", "b", "c"});
        CHECK(records[1].fields == Fields{"1", "2", "3"});
        CHECK(records[0].line == 1);
        CHECK(records[1].line == 2);
        CHECK(records[1].error.empty());
    }
}

TEST_CASE("csv: quoted fields hold commas, doubled quotes and line breaks") {
    const auto records = read_all(
        "id,text\n"
        "1,\"Main St, Springfield\"\n"
        "2,\"says \"\"the blue one\"\"\"\n"
        "3,\"two\nlines\"\n"
        "4,\"crlf\r\ninside\"\r\n"
        "5,\"\"\n");
    REQUIRE(records.size() == 6);
    CHECK(records[1].fields == Fields{"1", "Main St, Springfield"});
    CHECK(records[2].fields == Fields{"2", "says \"the blue one\""});
    CHECK(records[3].fields == Fields{"3", "two\nlines"});
    CHECK(records[4].fields == Fields{"4", "crlf\r\ninside"});
    CHECK(records[5].fields == Fields{"5", ""});
    // Each record starts on the line after the line breaks inside the one before it.
    CHECK(records[3].line == 4);
    CHECK(records[4].line == 6);
    CHECK(records[5].line == 8);
}

TEST_CASE("csv: empty fields and empty lines") {
    const auto records = read_all(",,\n\n\r\nx\n\n");
    REQUIRE(records.size() == 2);
    CHECK(records[0].fields == Fields{"", "", ""});
    CHECK(records[1].fields == Fields{"x"});
    CHECK(records[1].line == 4);
    CHECK(read_all("").empty());
    CHECK(read_all("\n\r\n").empty());
}

TEST_CASE("csv: a UTF-8 byte order mark is skipped, other UTF-8 is kept") {
    const auto records = read_all("\xEF\xBB\xBFname,city\nZo\xC3\xAB,K\xC3\xB6ln\n");
    REQUIRE(records.size() == 2);
    CHECK(records[0].fields == Fields{"name", "city"});
    CHECK(records[1].fields == Fields{"Zo\xC3\xAB", "K\xC3\xB6ln"});
}

TEST_CASE("csv: an unterminated quote is an error of the record where it starts") {
    const auto records = read_all("a,b\n1,2\n3,\"never closed\n4,5\n");
    REQUIRE(records.size() == 3);
    CHECK(records[1].error.empty());
    CHECK(records[2].line == 3);
    CHECK(records[2].error == "field 2: quote never closed");
    CHECK(records[2].fields == Fields{"3", "never closed\n4,5\n"});
}

TEST_CASE("csv: stray quotes are kept as text, as spreadsheets do") {
    const auto records = read_all("5\" disk,\"quoted\"tail,x\n");
    REQUIRE(records.size() == 1);
    CHECK(records[0].fields == Fields{"5\" disk", "quotedtail", "x"});
    CHECK(records[0].error.empty());
}

TEST_CASE("csv: a lone carriage return is data") {
    const auto records = read_all("a\rb,c\n");
    REQUIRE(records.size() == 1);
    CHECK(records[0].fields == Fields{"a\rb", "c"});
}

TEST_CASE("csv: a reused record takes the shape of each new row") {
    std::istringstream input("a,b,c\nd\ne,f\n");
    CsvReader reader(input);
    CsvRecord record;
    REQUIRE(reader.next(record));
    CHECK(record.fields == Fields{"a", "b", "c"});
    REQUIRE(reader.next(record));
    CHECK(record.fields == Fields{"d"});
    REQUIRE(reader.next(record));
    CHECK(record.fields == Fields{"e", "f"});
    CHECK_FALSE(reader.next(record));
}

TEST_CASE("csv: fields and records across the reader's block boundaries") {
    // Longer than a block, and many rows whose quotes and line ends fall on every offset.
    const std::string long_field(600 * 1024, 'x');
    std::string text = "\"" + long_field + "\",end\n";
    constexpr int rows = 50'000;
    for (int row = 0; row < rows; ++row)
        text += std::to_string(row) + ",\"a \"\"q\"\"\r\nb\",plain\r\n";

    std::istringstream input(text);
    CsvReader reader(input);
    CsvRecord record;
    REQUIRE(reader.next(record));
    CHECK(record.fields == Fields{long_field, "end"});
    int seen = 0;
    while (reader.next(record)) {
        REQUIRE(record.fields == Fields{std::to_string(seen), "a \"q\"\r\nb", "plain"});
        REQUIRE(record.line == static_cast<std::size_t>(2 + 2 * seen));
        ++seen;
    }
    CHECK(seen == rows);
}

TEST_CASE("csv: small blocks read the same records as one block") {
    // A block ends after every byte offset: in the byte order mark, between a doubled quote,
    // between CR and LF, in the middle of a field. (1 to 3 are read as 4: the mark must fit
    // in the first block.)
    const std::string text =
        "\xEF\xBB\xBF" "id,\"a \"\"b\"\"\r\nc\",x\r\n\r\n2,\"\",lone\rcr\n3,q\"in,\"tail\"after\n4,\"open";
    std::istringstream whole_input(text);
    CsvReader whole(whole_input, text.size() + 1);
    std::vector<CsvRecord> expected;
    for (CsvRecord record; whole.next(record);) expected.push_back(record);
    REQUIRE(expected.size() == 4);
    CHECK(expected[0].fields == Fields{"id", "a \"b\"\r\nc", "x"});
    CHECK(expected[3].error == "field 2: quote never closed");
    for (std::size_t block = 1; block <= 16; ++block) {
        CAPTURE(block);
        std::istringstream input(text);
        CsvReader reader(input, block);
        std::size_t index = 0;
        for (CsvRecord record; reader.next(record); ++index) {
            REQUIRE(index < expected.size());
            CHECK(record.line == expected[index].line);
            CHECK(record.fields == expected[index].fields);
            CHECK(record.error == expected[index].error);
        }
        CHECK(index == expected.size());
    }
}
