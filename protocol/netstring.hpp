#pragma once
// Splits a byte stream of netstrings ("LEN:payload," back to back, as Kamailio's evapi sends
// them) into payloads, incrementally: bytes may arrive split anywhere. Framing only, no I/O.
// The rules, and how a bad frame is skipped, are in docs/protocol-evapi.md ("Framing").
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "protocol/error.hpp"

namespace callpop::protocol {

inline constexpr std::size_t netstring_max_payload_bytes = std::size_t{64} * 1024;
inline constexpr std::size_t netstring_max_length_digits = 9;

// Error codes: bad_length, too_long, bad_terminator, no_netstring (see the docs).
using NetstringItem = std::variant<std::string, ProtocolError>;

class NetstringDecoder {
  public:
    explicit NetstringDecoder(std::size_t max_payload = netstring_max_payload_bytes);

    void feed(std::string_view bytes);
    // The next payload or error, or nullopt when more bytes are needed.
    std::optional<NetstringItem> next();
    // Bytes held for a netstring not yet complete: at most max_payload once drained.
    std::size_t pending_bytes() const { return buffer_.size() - position_; }

  private:
    enum class State { length, payload, skip_payload, terminator, resync };

    ProtocolError start_resync(std::string code, std::string message);
    void reset_candidate();
    // Resync: true once the bytes consumed so far end in a plausible "DIGITS:" before a "{".
    bool scan_for_start(char byte);

    std::size_t max_payload_;
    // A length this size or under is trusted to find the frame's end: an over-long payload is
    // skipped exactly. A bigger one is taken for garbage, and the decoder resynchronises.
    std::size_t max_skip_;
    std::string buffer_;
    std::size_t position_ = 0;         // first byte of buffer_ not consumed yet
    std::uint64_t stream_offset_ = 0;  // bytes consumed since the start, for messages
    State state_ = State::length;
    std::uint64_t length_ = 0;
    std::size_t digits_ = 0;
    std::uint64_t frame_offset_ = 0;  // where the current netstring's length began (1-based)
    // Resync: the candidate "DIGITS:" seen so far, and how much was skipped.
    std::uint64_t candidate_length_ = 0;
    std::size_t candidate_digits_ = 0;
    bool candidate_colon_ = false;
    bool candidate_too_long_ = false;  // a run of digits longer than any plausible length
    std::uint64_t candidate_offset_ = 0;
    std::uint64_t skipped_ = 0;  // since the last "no_netstring" report
};

}  // namespace callpop::protocol
