#pragma once
// Writes JSON straight into a string, for the messages sent on every call (pops, call-log
// records): building an nlohmann DOM only to dump it cost more than the rest of a pop.
// The bytes are the ones nlohmann's dump(-1, ' ', false, replace) writes for the same
// values. Internal to protocol/.
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace callpop::protocol {

class JsonWriter {
public:
    explicit JsonWriter(std::string& out) : out_(out) {}

    JsonWriter& begin_object();
    JsonWriter& end_object();
    JsonWriter& begin_array();
    JsonWriter& end_array();
    // An object's key: ours, plain ASCII, never escaped.
    JsonWriter& key(std::string_view name);
    // A key that came from outside (an extension), escaped as a string is.
    JsonWriter& text_key(std::string_view name);

    JsonWriter& string(std::string_view text);
    JsonWriter& number(std::int64_t value);
    JsonWriter& unsigned_number(std::uint64_t value);
    JsonWriter& boolean(bool value);
    JsonWriter& null();
    JsonWriter& value(const nlohmann::json& value);  // what the switch sent, e.g. IVR data

    JsonWriter& field(std::string_view name, std::string_view text) { return key(name).string(text); }
    JsonWriter& field(std::string_view name, const char* text) { return key(name).string(text); }
    JsonWriter& field(std::string_view name, std::int64_t value) { return key(name).number(value); }
    // Written only when not empty, as optional fields are.
    JsonWriter& field_if_set(std::string_view name, std::string_view text) {
        return text.empty() ? *this : field(name, text);
    }

private:
    void separate();
    template <typename Integer>
    JsonWriter& integer(Integer value);

    std::string& out_;
    bool after_value_ = false;
};

}  // namespace callpop::protocol
