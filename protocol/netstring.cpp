#include "protocol/netstring.hpp"

#include <algorithm>

namespace callpop::protocol {

namespace {

bool is_digit(char byte) { return byte >= '0' && byte <= '9'; }

// A byte as a message can show it: 'x', or 0x0a for what would not print.
std::string describe(char byte) {
    const auto value = static_cast<unsigned char>(byte);
    if (value >= 0x20 && value < 0x7f) return std::string("'") + byte + "'";
    constexpr char hex[] = "0123456789abcdef";
    return std::string("0x") + hex[value >> 4] + hex[value & 0xf];
}

// How many payloads' worth of bytes a trusted length may ask to skip.
constexpr std::size_t skip_factor = 16;

}  // namespace

NetstringDecoder::NetstringDecoder(std::size_t max_payload)
    : max_payload_(max_payload), max_skip_(max_payload * skip_factor) {}

void NetstringDecoder::feed(std::string_view bytes) {
    if (position_ == buffer_.size()) {
        buffer_.clear();
        position_ = 0;
    } else if (position_ > buffer_.size() / 2) {
        buffer_.erase(0, position_);
        position_ = 0;
    }
    buffer_.append(bytes);
}

ProtocolError NetstringDecoder::start_resync(std::string code, std::string message) {
    state_ = State::resync;
    length_ = 0;
    digits_ = 0;
    skipped_ = 0;
    reset_candidate();
    return ProtocolError{std::move(code), std::move(message) + "; looking for the next netstring"};
}

void NetstringDecoder::reset_candidate() {
    candidate_length_ = 0;
    candidate_digits_ = 0;
    candidate_colon_ = false;
    candidate_too_long_ = false;
}

std::optional<NetstringItem> NetstringDecoder::next() {
    while (position_ < buffer_.size()) {
        const char byte = buffer_[position_];
        switch (state_) {
            case State::length: {
                if (digits_ == 0) frame_offset_ = stream_offset_ + 1;
                const auto where = [this] { return "at byte " + std::to_string(frame_offset_); };
                if (is_digit(byte)) {
                    ++position_;
                    ++stream_offset_;
                    if (++digits_ > netstring_max_length_digits) {
                        return start_resync("bad_length",
                                            "netstring length " + where() + " has more than " +
                                                std::to_string(netstring_max_length_digits) +
                                                " digits");
                    }
                    length_ = length_ * 10 + static_cast<std::uint64_t>(byte - '0');
                    continue;
                }
                // The offending byte is left for the resync scan: it may begin the next
                // netstring.
                if (digits_ == 0) {
                    return start_resync(
                        "bad_length",
                        "expected a netstring length " + where() + ", got " + describe(byte) +
                            (byte == '{' ? " (a JSON object without a length: is evapi's "
                                           "netstring_format 0? callpop needs 1)"
                                         : ""));
                }
                if (byte != ':') {
                    return start_resync("bad_length", "netstring length " + where() +
                                                          " is followed by " + describe(byte) +
                                                          ", not ':'");
                }
                ++position_;
                ++stream_offset_;
                if (length_ > max_skip_) {
                    return start_resync("bad_length", "netstring length " +
                                                          std::to_string(length_) + " " + where() +
                                                          " is implausible (over " +
                                                          std::to_string(max_skip_) + " bytes)");
                }
                if (length_ > max_payload_) {
                    state_ = State::skip_payload;
                    return ProtocolError{"too_long", "netstring of " + std::to_string(length_) +
                                                         " bytes " + where() + " is over the " +
                                                         std::to_string(max_payload_) +
                                                         "-byte limit: skipped"};
                }
                state_ = State::payload;
                continue;
            }
            case State::payload: {
                // The payload and its ',' arrive together or the decoder waits: a stalled
                // half netstring holds at most max_payload bytes.
                if (pending_bytes() <= length_) return std::nullopt;
                const auto size = static_cast<std::size_t>(length_);
                const char terminator = buffer_[position_ + size];
                if (terminator != ',') {
                    position_ += size;
                    stream_offset_ += size;
                    return start_resync("bad_terminator",
                                        "netstring of " + std::to_string(size) + " bytes at byte " +
                                            std::to_string(frame_offset_) + " ends in " +
                                            describe(terminator) + ", not ','");
                }
                std::string payload = buffer_.substr(position_, size);
                position_ += size + 1;
                stream_offset_ += size + 1;
                state_ = State::length;
                length_ = 0;
                digits_ = 0;
                return payload;
            }
            case State::skip_payload: {
                const auto count =
                    static_cast<std::size_t>(std::min<std::uint64_t>(length_, pending_bytes()));
                position_ += count;
                stream_offset_ += count;
                length_ -= count;
                if (length_ == 0) state_ = State::terminator;
                continue;
            }
            case State::terminator: {
                if (byte != ',') {
                    return start_resync("bad_terminator",
                                        "netstring at byte " + std::to_string(frame_offset_) +
                                            " ends in " + describe(byte) + ", not ','");
                }
                ++position_;
                ++stream_offset_;
                state_ = State::length;
                digits_ = 0;
                continue;
            }
            case State::resync: {
                if (scan_for_start(byte)) {
                    // The '{' stays: it is the payload's first byte.
                    state_ = State::payload;
                    length_ = candidate_length_;
                    digits_ = 0;
                    frame_offset_ = candidate_offset_;
                    reset_candidate();
                    continue;
                }
                ++position_;
                ++stream_offset_;
                if (++skipped_ >= max_payload_ && max_payload_ > 0) {
                    skipped_ = 0;
                    return ProtocolError{"no_netstring",
                                         "skipped " + std::to_string(max_payload_) +
                                             " more bytes without finding the start of a "
                                             "netstring (up to byte " +
                                             std::to_string(stream_offset_) + ")"};
                }
                continue;
            }
        }
    }
    return std::nullopt;
}

// A frame start, while resynchronising, is 1 to 9 digits, ':' and '{' (evapi's payloads are
// JSON objects), with a length within the limit. Anything else is skipped.
bool NetstringDecoder::scan_for_start(char byte) {
    if (candidate_colon_) {
        if (byte == '{' && candidate_length_ >= 1 && candidate_length_ <= max_payload_) return true;
        reset_candidate();
    }
    if (is_digit(byte)) {
        if (candidate_digits_ == 0) candidate_offset_ = stream_offset_ + 1;
        if (++candidate_digits_ > netstring_max_length_digits) {
            candidate_too_long_ = true;
        } else {
            candidate_length_ = candidate_length_ * 10 + static_cast<std::uint64_t>(byte - '0');
        }
    } else if (byte == ':' && candidate_digits_ > 0 && !candidate_too_long_) {
        candidate_colon_ = true;
    } else {
        reset_candidate();
    }
    return false;
}

}  // namespace callpop::protocol
