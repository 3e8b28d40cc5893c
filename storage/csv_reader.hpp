#pragma once
// An RFC 4180 CSV reader: quoted fields, doubled quotes, commas and line breaks inside
// quotes, CRLF or LF line ends, a leading UTF-8 byte order mark skipped. It reads in large
// blocks and reuses the caller's record, so a big import does not allocate per row.
#include <cstddef>
#include <istream>
#include <string>
#include <vector>

namespace callpop::storage {

struct CsvRecord {
    std::size_t line = 0;             // 1-based line on which the record starts
    std::vector<std::string> fields;  // at least one
    std::string error;                // empty unless the record is malformed
};

class CsvReader {
public:
    static constexpr std::size_t default_block_size = std::size_t{256} * 1024;
    // Reads `block_size` bytes at a time (at least 4, so that a byte order mark is in the
    // first block); a small block lets tests and the fuzz target cross block ends often.
    explicit CsvReader(std::istream& input, std::size_t block_size = default_block_size);

    // Reads the next record into `record`, reusing its strings. False at the end of the
    // input. Empty lines between records are skipped. A quote that is never closed takes
    // the rest of the input into its field and sets record.error.
    // Leniency where RFC 4180 is strict, as spreadsheets are: a quote inside an unquoted
    // field, and text after a closing quote, are kept as literal text.
    bool next(CsvRecord& record);

private:
    enum class FieldEnd { comma, record_end, input_end, unterminated_quote };

    FieldEnd read_field(std::string& field);
    FieldEnd read_quoted_field(std::string& field);
    FieldEnd read_unquoted_rest(std::string& field);
    bool skip_empty_lines();  // false at the end of the input
    void skip_byte_order_mark();

    int peek();  // the next byte, or end_of_input
    int get();
    bool refill();

    static constexpr int end_of_input = -1;

    std::istream& input_;
    std::vector<char> buffer_;
    std::size_t position_ = 0;
    std::size_t size_ = 0;
    std::size_t line_ = 1;
    bool started_ = false;
};

}  // namespace callpop::storage
