#pragma once
#include <string>
#include <variant>

namespace callpop::protocol {

// What was wrong with one message; sent back as {"type":"error","code":..,"message":..}.
struct ProtocolError {
    std::string code;
    std::string message;
};

template <typename Message>
using Parsed = std::variant<Message, ProtocolError>;

// One JSON line, newline included.
std::string encode_error(const ProtocolError& error);

}  // namespace callpop::protocol
