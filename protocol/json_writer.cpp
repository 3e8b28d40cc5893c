#include "protocol/json_writer.hpp"

#include <algorithm>
#include <array>
#include <charconv>

namespace callpop::protocol {

namespace {

// The length of the UTF-8 sequence at `byte` (lead byte >= 0x80), as nlohmann accepts it: no
// overlong forms, no surrogates, nothing past U+10FFFF; 0 when it is not valid.
std::size_t utf8_sequence(const unsigned char* byte, const unsigned char* end) {
    const unsigned char lead = *byte;
    std::size_t continuation = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        continuation = 1;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        continuation = 2;
        if (lead == 0xE0) low = 0xA0;
        if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        continuation = 3;
        if (lead == 0xF0) low = 0x90;
        if (lead == 0xF4) high = 0x8F;
    } else {
        return 0;
    }
    if (static_cast<std::size_t>(end - byte) <= continuation) return 0;
    if (byte[1] < low || byte[1] > high) return 0;
    for (std::size_t index = 2; index <= continuation; ++index) {
        if (byte[index] < 0x80 || byte[index] > 0xBF) return 0;
    }
    return continuation + 1;
}

// Appends `text` quoted and escaped, checking its UTF-8 on the way (one pass: this runs for
// every string of every pop and record); false, with `out` as it was, when it is not valid.
bool append_escaped(std::string& out, std::string_view text) {
    constexpr std::string_view hex = "0123456789abcdef";
    const std::size_t size_before = out.size();
    out.reserve(size_before + text.size() + 2);
    out += '"';
    const auto* begin = reinterpret_cast<const unsigned char*>(text.data());
    const auto* end = begin + text.size();
    const auto* plain_from = begin;
    const auto* byte = begin;
    while (byte < end) {
        const unsigned char c = *byte;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            ++byte;
            continue;
        }
        if (c >= 0x80) {
            const std::size_t length = utf8_sequence(byte, end);
            if (length == 0) {
                out.resize(size_before);
                return false;
            }
            byte += length;
            continue;
        }
        out.append(reinterpret_cast<const char*>(plain_from), static_cast<std::size_t>(byte - plain_from));
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default: {
                const char escape[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0x0F]};
                out.append(escape, sizeof escape);
            }
        }
        plain_from = ++byte;
    }
    out.append(reinterpret_cast<const char*>(plain_from), static_cast<std::size_t>(end - plain_from));
    out += '"';
    return true;
}

}  // namespace

void JsonWriter::separate() {
    if (after_value_) out_ += ',';
}

JsonWriter& JsonWriter::begin_object() {
    separate();
    out_ += '{';
    after_value_ = false;
    return *this;
}

JsonWriter& JsonWriter::end_object() {
    out_ += '}';
    after_value_ = true;
    return *this;
}

JsonWriter& JsonWriter::begin_array() {
    separate();
    out_ += '[';
    after_value_ = false;
    return *this;
}

JsonWriter& JsonWriter::end_array() {
    out_ += ']';
    after_value_ = true;
    return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
    // `,"name":` in one append: a pop has a hundred keys or more. Our keys are short.
    std::array<char, 64> piece{};
    if (name.size() + 4 > piece.size()) {
        separate();
        out_.append(1, '"').append(name).append("\":");
    } else {
        char* place = piece.data();
        if (after_value_) *place++ = ',';
        *place++ = '"';
        place = std::copy(name.begin(), name.end(), place);
        *place++ = '"';
        *place++ = ':';
        out_.append(piece.data(), static_cast<std::size_t>(place - piece.data()));
    }
    after_value_ = false;
    return *this;
}

JsonWriter& JsonWriter::string(std::string_view text) {
    separate();
    // Invalid UTF-8 (rare: a switch's mangled display name) is replaced as nlohmann does.
    if (!append_escaped(out_, text)) {
        out_ += nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    after_value_ = true;
    return *this;
}

JsonWriter& JsonWriter::text_key(std::string_view name) {
    string(name);
    out_ += ':';
    after_value_ = false;
    return *this;
}

template <typename Integer>
JsonWriter& JsonWriter::integer(Integer value) {
    separate();
    std::array<char, 24> digits{};
    const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), value).ptr;
    out_.append(digits.data(), end);
    after_value_ = true;
    return *this;
}

JsonWriter& JsonWriter::number(std::int64_t value) { return integer(value); }

JsonWriter& JsonWriter::unsigned_number(std::uint64_t value) { return integer(value); }

JsonWriter& JsonWriter::boolean(bool value) {
    separate();
    out_ += value ? "true" : "false";
    after_value_ = true;
    return *this;
}

JsonWriter& JsonWriter::null() {
    separate();
    out_ += "null";
    after_value_ = true;
    return *this;
}

JsonWriter& JsonWriter::value(const nlohmann::json& value) {
    separate();
    out_ += value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    after_value_ = true;
    return *this;
}

}  // namespace callpop::protocol
