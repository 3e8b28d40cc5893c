#include "storage/csv_reader.hpp"

#include <algorithm>
#include <string_view>

namespace callpop::storage {

namespace {

constexpr std::string_view utf8_byte_order_mark = "\xEF\xBB\xBF";

}  // namespace

CsvReader::CsvReader(std::istream& input, std::size_t block_size)
    : input_(input), buffer_(std::max(block_size, utf8_byte_order_mark.size() + 1)) {}

bool CsvReader::refill() {
    input_.read(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
    size_ = static_cast<std::size_t>(input_.gcount());
    position_ = 0;
    return size_ > 0;
}

int CsvReader::peek() {
    if (position_ == size_ && !refill()) return end_of_input;
    return static_cast<unsigned char>(buffer_[position_]);
}

int CsvReader::get() {
    const int c = peek();
    if (c != end_of_input) ++position_;
    return c;
}

void CsvReader::skip_byte_order_mark() {
    // istream::read fills the whole block unless the input ends, so the mark, when there
    // is one, is entirely in the first block.
    if (peek() == end_of_input) return;
    const std::string_view start(buffer_.data() + position_, size_ - position_);
    if (start.starts_with(utf8_byte_order_mark)) position_ += utf8_byte_order_mark.size();
}

bool CsvReader::skip_empty_lines() {
    for (;;) {
        const int c = peek();
        if (c == '\n') {
            ++line_;
        } else if (c != '\r') {
            return c != end_of_input;
        }
        get();
    }
}

bool CsvReader::next(CsvRecord& record) {
    if (!started_) {
        skip_byte_order_mark();
        started_ = true;
    }
    if (!skip_empty_lines()) return false;
    record.line = line_;
    record.error.clear();
    std::size_t count = 0;
    FieldEnd end = FieldEnd::comma;
    while (end == FieldEnd::comma) {
        // Clearing keeps each string's capacity for the next record of the same shape.
        if (count == record.fields.size())
            record.fields.emplace_back();
        else
            record.fields[count].clear();
        end = read_field(record.fields[count++]);
    }
    record.fields.resize(count);
    if (end == FieldEnd::unterminated_quote)
        record.error = "field " + std::to_string(count) + ": quote never closed";
    return true;
}

CsvReader::FieldEnd CsvReader::read_field(std::string& field) {
    if (peek() == '"') {
        get();
        return read_quoted_field(field);
    }
    return read_unquoted_rest(field);
}

CsvReader::FieldEnd CsvReader::read_quoted_field(std::string& field) {
    for (;;) {
        // Append the run up to the next quote or line break at once: quoted fields (addresses,
        // notes) are the long ones.
        const char* const start = buffer_.data() + position_;
        const char* const limit = buffer_.data() + size_;
        const char* stop = start;
        while (stop != limit && *stop != '"' && *stop != '\n') ++stop;
        field.append(start, static_cast<std::size_t>(stop - start));
        position_ += static_cast<std::size_t>(stop - start);

        const int c = get();  // a quote, a line break, or where the buffer ran out mid-field
        if (c == end_of_input) return FieldEnd::unterminated_quote;
        if (c == '"') {
            if (peek() != '"') return read_unquoted_rest(field);
            get();
        } else if (c == '\n') {
            ++line_;
        }
        field += static_cast<char>(c);
    }
}

CsvReader::FieldEnd CsvReader::read_unquoted_rest(std::string& field) {
    for (;;) {
        // Append the run of ordinary bytes in the buffer at once: most fields are short
        // and unquoted, and this is the loop a million-row import spends its time in.
        const char* const start = buffer_.data() + position_;
        const char* stop = start;
        const char* const limit = buffer_.data() + size_;
        while (stop != limit && *stop != ',' && *stop != '\n' && *stop != '\r') ++stop;
        field.append(start, static_cast<std::size_t>(stop - start));
        position_ += static_cast<std::size_t>(stop - start);

        const int c = get();
        switch (c) {
            case end_of_input:
                return FieldEnd::input_end;
            case ',':
                return FieldEnd::comma;
            case '\n':
                ++line_;
                return FieldEnd::record_end;
            case '\r':
                if (peek() == '\n') {
                    get();
                    ++line_;
                    return FieldEnd::record_end;
                }
                [[fallthrough]];  // a lone carriage return is data
            default:
                // Also where the buffer ran out mid-field and get() refilled it.
                field += static_cast<char>(c);
        }
    }
}

}  // namespace callpop::storage
