#include "protocol/json_writer.hpp"

#include <array>
#include <charconv>

namespace callpop::protocol {

namespace {

// UTF-8 as nlohmann accepts it: no overlong forms, no surrogates, nothing past U+10FFFF.
bool valid_utf8(std::string_view text) {
    const auto* byte = reinterpret_cast<const unsigned char*>(text.data());
    const auto* end = byte + text.size();
    while (byte < end) {
        const unsigned char lead = *byte;
        if (lead < 0x80) {
            ++byte;
            continue;
        }
        int continuation = 0;
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
            return false;
        }
        if (end - byte <= continuation) return false;
        if (byte[1] < low || byte[1] > high) return false;
        for (int index = 2; index <= continuation; ++index) {
            if (byte[index] < 0x80 || byte[index] > 0xBF) return false;
        }
        byte += continuation + 1;
    }
    return true;
}

void append_escaped(std::string& out, std::string_view text) {
    constexpr std::string_view hex = "0123456789abcdef";
    out += '"';
    std::size_t plain_from = 0;
    for (std::size_t index = 0; index < text.size(); ++index) {
        const auto byte = static_cast<unsigned char>(text[index]);
        if (byte >= 0x20 && byte != '"' && byte != '\\') continue;
        out.append(text, plain_from, index - plain_from);
        plain_from = index + 1;
        switch (byte) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                out += "\\u00";
                out += hex[byte >> 4];
                out += hex[byte & 0x0F];
        }
    }
    out.append(text, plain_from);
    out += '"';
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
    separate();
    out_ += '"';
    out_ += name;
    out_ += "\":";
    after_value_ = false;
    return *this;
}

JsonWriter& JsonWriter::string(std::string_view text) {
    separate();
    // Invalid UTF-8 (rare: a switch's mangled display name) is replaced as nlohmann does.
    if (valid_utf8(text)) {
        append_escaped(out_, text);
    } else {
        out_ += nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    after_value_ = true;
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
