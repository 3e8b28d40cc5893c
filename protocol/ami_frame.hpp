#pragma once
// Splits an Asterisk Manager Interface (AMI) byte stream into the banner line and messages,
// incrementally: bytes may arrive split anywhere. Framing only: no I/O, no call mapping.
// The exact rules are in docs/protocol-ami.md.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "protocol/error.hpp"
#include "protocol/line_decoder.hpp"

namespace callpop::protocol {

inline constexpr std::size_t ami_max_line_bytes = max_line_bytes;
inline constexpr std::size_t ami_max_fields = 1000;
inline constexpr std::size_t ami_max_output_bytes = std::size_t{1024} * 1024;

struct AmiBanner {
    std::string text;  // e.g. "Asterisk Call Manager/11.0.0"
};

struct AmiMessage {
    std::vector<std::pair<std::string, std::string>> fields;  // in order, duplicates kept
    std::string output;  // body of a "Response: Follows" command reply, LF line ends

    // Keys compare case-insensitively. find: the first value, or nullptr.
    const std::string* find(std::string_view key) const;
    std::vector<std::string_view> find_all(std::string_view key) const;
};

// Error codes: line_too_long, too_many_fields, output_too_long, bad_line.
using AmiItem = std::variant<AmiBanner, AmiMessage, ProtocolError>;

class AmiDecoder {
public:
    void feed(std::string_view bytes);
    // The next complete item, or nullopt when more bytes are needed.
    std::optional<AmiItem> next();
    std::size_t pending_bytes() const { return lines_.pending_bytes(); }

private:
    enum class Body { fields, follows, output, after_output };
    std::optional<AmiItem> take_line(std::string_view line);
    ProtocolError fail(std::string code, std::string message);

    LineDecoder lines_{ami_max_line_bytes, LineDecoder::EmptyLines::keep};
    bool skipping_ = false;       // after an error, skipping to the next empty line
    bool first_line_ = true;
    Body body_ = Body::fields;
    AmiMessage message_;
};

}  // namespace callpop::protocol
