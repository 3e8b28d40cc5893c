#pragma once
// Reads fields of one JSON object, keeping the first problem as a ProtocolError that names
// the field. Internal to protocol/.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <simdjson.h>

#include "protocol/error.hpp"

namespace callpop::protocol {

// Parses a line that must hold one JSON object.
Parsed<nlohmann::json> parse_json_object(std::string_view line);
// The same object as simdjson reads it, for the hot paths that read a few fields without
// building nlohmann's DOM: valid until this thread parses its next line. Nothing when the
// line is not one object simdjson reads exactly as parse_json_object would (errors, "\u"
// escapes, deep nesting): parse_json_object then decides, and names the problem.
std::optional<simdjson::dom::object> read_plain_object(std::string_view line);
// simdjson's value as the nlohmann value json::parse gives for the same text.
nlohmann::json to_nlohmann(simdjson::dom::element element);
nlohmann::json to_nlohmann(simdjson::dom::object object);

class FieldReader {
public:
    FieldReader(const nlohmann::json& object, std::string context)
        : object_(object), context_(std::move(context)) {}

    std::string required_string(const char* key);
    std::string optional_string(const char* key);
    std::optional<std::int64_t> optional_integer(const char* key);
    std::int64_t required_integer(const char* key);
    std::optional<bool> optional_bool(const char* key);
    // A string or an array of strings.
    std::vector<std::string> string_list(const char* key, bool required);
    nlohmann::json optional_object(const char* key);

    const std::optional<ProtocolError>& error() const { return error_; }

private:
    void fail(const char* code, const std::string& message);
    const nlohmann::json* find(const char* key) const;

    const nlohmann::json& object_;
    std::string context_;
    std::optional<ProtocolError> error_;
};

}  // namespace callpop::protocol
