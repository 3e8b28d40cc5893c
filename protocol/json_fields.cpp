#include "protocol/json_fields.hpp"

#include <algorithm>
#include <limits>
#include <string_view>

#include <simdjson.h>

namespace callpop::protocol {

using nlohmann::json;

namespace {

// Copying and printing a parsed value recurse once per level, so a line of 32,000 "[" would
// overflow the stack; no message of ours nests anywhere near this deep.
constexpr std::size_t max_json_depth = 64;

// The deepest nesting of objects and arrays, counting brackets outside strings only.
std::size_t nesting_depth(std::string_view text) {
    std::size_t depth = 0;
    std::size_t deepest = 0;
    bool in_string = false;
    bool escaped = false;
    for (const char c : text) {
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            deepest = std::max(deepest, ++depth);
        } else if ((c == '}' || c == ']') && depth > 0) {
            --depth;
        }
    }
    return deepest;
}

}  // namespace

std::string encode_error(const ProtocolError& error) {
    json message = {{"type", "error"}, {"code", error.code}, {"message", error.message}};
    return message.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

json to_nlohmann(simdjson::dom::object object) {
    json value = json::object();
    for (const auto field : object) value[std::string(field.key)] = to_nlohmann(field.value);
    return value;
}

// Non-negative integers unsigned, negative ones signed, the last of duplicate keys.
json to_nlohmann(simdjson::dom::element element) {
    switch (element.type()) {
        case simdjson::dom::element_type::OBJECT:
            return to_nlohmann(simdjson::dom::object(element));
        case simdjson::dom::element_type::ARRAY: {
            json array = json::array();
            for (const auto item : simdjson::dom::array(element)) array.push_back(to_nlohmann(item));
            return array;
        }
        case simdjson::dom::element_type::STRING:
            return std::string(std::string_view(element));
        case simdjson::dom::element_type::INT64: {
            const std::int64_t value = element;
            if (value >= 0) return static_cast<std::uint64_t>(value);
            return value;
        }
        case simdjson::dom::element_type::UINT64:
            return std::uint64_t(element);
        case simdjson::dom::element_type::DOUBLE:
            return double(element);
        case simdjson::dom::element_type::BOOL:
            return bool(element);
        case simdjson::dom::element_type::NULL_VALUE:
            return nullptr;
    }
    return nullptr;
}

namespace {

// nlohmann's own parse: the one that names the byte of an error.
Parsed<json> parse_with_nlohmann(std::string_view line) {
    json value;
    try {
        value = json::parse(line);
    } catch (const json::parse_error& error) {
        return ProtocolError{"bad_json",
                             "not JSON at byte " + std::to_string(error.byte) + " of the line"};
    } catch (const json::out_of_range&) {
        // 5e05555555: valid JSON, but no double holds it (found by the fuzzer).
        return ProtocolError{"bad_json", "a number on the line is out of range"};
    }
    return value;
}

}  // namespace

std::optional<simdjson::dom::object> read_plain_object(std::string_view line) {
    // Every switch event and agent message comes through here: simdjson reads a line in a
    // tenth of the instructions nlohmann's lexer takes. Any "\\u" escape goes to nlohmann,
    // since the two could differ on lone surrogates.
    if (line.find("\\u") != std::string_view::npos || nesting_depth(line) > max_json_depth)
        return std::nullopt;
    thread_local simdjson::dom::parser parser;
    simdjson::dom::object object;
    if (parser.parse(line.data(), line.size(), true).get(object) != simdjson::SUCCESS)
        return std::nullopt;
    return object;
}

Parsed<json> parse_json_object(std::string_view line) {
    if (const auto object = read_plain_object(line)) return json(to_nlohmann(*object));
    if (nesting_depth(line) > max_json_depth)
        return ProtocolError{
            "bad_json", "JSON nested deeper than " + std::to_string(max_json_depth) + " levels"};
    // Whatever simdjson refuses, nlohmann decides exactly as before and names the byte of
    // the error.
    Parsed<json> parsed = parse_with_nlohmann(line);
    if (auto* value = std::get_if<json>(&parsed); value != nullptr && !value->is_object())
        return ProtocolError{"bad_json", "expected a JSON object"};
    return parsed;
}

const json* FieldReader::find(const char* key) const {
    const auto found = object_.find(key);
    if (found == object_.end() || found->is_null()) return nullptr;
    return &*found;
}

void FieldReader::fail(const char* code, const std::string& message) {
    if (!error_) error_ = ProtocolError{code, context_ + ": " + message};
}

std::string FieldReader::required_string(const char* key) {
    const json* value = find(key);
    if (value == nullptr) {
        fail("missing_field", std::string("missing field \"") + key + "\"");
        return {};
    }
    if (!value->is_string()) {
        fail("bad_field", std::string("field \"") + key + "\" must be a string");
        return {};
    }
    auto text = value->get<std::string>();
    if (text.empty()) fail("missing_field", std::string("field \"") + key + "\" is empty");
    return text;
}

std::string FieldReader::optional_string(const char* key) {
    const json* value = find(key);
    if (value == nullptr) return {};
    if (value->is_number_unsigned()) return std::to_string(value->get<std::uint64_t>());
    if (value->is_number_integer()) return std::to_string(value->get<std::int64_t>());
    if (!value->is_string()) {
        fail("bad_field", std::string("field \"") + key + "\" must be a string");
        return {};
    }
    return value->get<std::string>();
}

std::optional<std::int64_t> FieldReader::optional_integer(const char* key) {
    const json* value = find(key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_number_integer()) {
        fail("bad_field", std::string("field \"") + key + "\" must be an integer");
        return std::nullopt;
    }
    if (value->is_number_unsigned() &&
        value->get<std::uint64_t>() >
            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        fail("bad_field", std::string("field \"") + key + "\" is out of range");
        return std::nullopt;
    }
    return value->get<std::int64_t>();
}

std::int64_t FieldReader::required_integer(const char* key) {
    if (find(key) == nullptr) {
        fail("missing_field", std::string("missing field \"") + key + "\"");
        return 0;
    }
    return optional_integer(key).value_or(0);
}

std::optional<bool> FieldReader::optional_bool(const char* key) {
    const json* value = find(key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_boolean()) {
        fail("bad_field", std::string("field \"") + key + "\" must be true or false");
        return std::nullopt;
    }
    return value->get<bool>();
}

std::vector<std::string> FieldReader::string_list(const char* key, bool required) {
    const json* value = find(key);
    if (value == nullptr) {
        if (required) fail("missing_field", std::string("missing field \"") + key + "\"");
        return {};
    }
    // "" means no extension at all, as [] does; never an extension named "".
    if (value->is_string() && value->get_ref<const std::string&>().empty()) {
        if (required) fail("missing_field", std::string("field \"") + key + "\" is empty");
        return {};
    }
    if (value->is_string()) return {value->get<std::string>()};
    std::vector<std::string> items;
    if (value->is_array()) {
        for (const auto& item : *value) {
            if (!item.is_string() || item.get_ref<const std::string&>().empty()) {
                items.clear();
                break;
            }
            items.push_back(item.get<std::string>());
        }
        if (!items.empty() || value->empty()) {
            if (required && items.empty())
                fail("missing_field", std::string("field \"") + key + "\" is empty");
            return items;
        }
    }
    fail("bad_field", std::string("field \"") + key + "\" must be a string or a list of strings");
    return {};
}

json FieldReader::optional_object(const char* key) {
    const json* value = find(key);
    if (value == nullptr) return json::object();
    if (!value->is_object()) {
        fail("bad_field", std::string("field \"") + key + "\" must be an object");
        return json::object();
    }
    return *value;
}

}  // namespace callpop::protocol
