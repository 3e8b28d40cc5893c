#pragma once
// Splits a byte stream into newline-terminated lines, incrementally: bytes may arrive split
// anywhere and many lines may arrive in one read. No I/O.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace callpop::protocol {

inline constexpr std::size_t max_line_bytes = std::size_t{64} * 1024;

struct DecodedLine {
    std::string text;       // without the trailing "\n" or "\r\n"
    bool too_long = false;  // the line passed the limit; text is empty and the rest was skipped
};

class LineDecoder {
public:
    // Empty lines mean nothing in JSON lines, but end a message in AMI.
    enum class EmptyLines { skip, keep };
    explicit LineDecoder(std::size_t max_line = max_line_bytes,
                         EmptyLines empty_lines = EmptyLines::skip)
        : max_line_(max_line), keep_empty_(empty_lines == EmptyLines::keep) {}

    void feed(std::string_view bytes);
    // The next complete line, or nullopt when more bytes are needed.
    std::optional<DecodedLine> next();
    // Bytes held for a line not yet complete (a stalled half line).
    std::size_t pending_bytes() const { return buffer_.size() - start_; }
    // Memory allocated for them (beyond the decoder itself): none once next() has handed
    // out every complete line and no partial line is pending.
    std::size_t buffer_capacity() const {
        return buffer_.capacity() > std::string().capacity() ? buffer_.capacity() : 0;
    }

private:
    std::size_t max_line_;
    bool keep_empty_;
    std::string buffer_;
    std::size_t start_ = 0;     // first byte of the current line
    std::size_t scanned_ = 0;   // bytes from start_ already known to hold no newline
    bool discarding_ = false;   // inside an over-long line, skipping to its newline
};

}  // namespace callpop::protocol
