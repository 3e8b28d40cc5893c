#include "protocol/line_decoder.hpp"

namespace callpop::protocol {

void LineDecoder::feed(std::string_view bytes) {
    // Compact before growing so a long-lived connection does not keep consumed bytes around.
    if (start_ > 0 && start_ * 2 >= buffer_.size()) {
        buffer_.erase(0, start_);
        start_ = 0;
    }
    buffer_.append(bytes);
}

std::optional<DecodedLine> LineDecoder::next() {
    while (true) {
        const std::size_t search_from = start_ + scanned_;
        const std::size_t newline = buffer_.find('\n', search_from);
        if (newline == std::string::npos) {
            scanned_ = buffer_.size() - start_;
            if (discarding_) {
                start_ = buffer_.size();
                scanned_ = 0;
            }
            if (start_ == buffer_.size()) {
                // Every byte is used: hold nothing between reads. An idle connection then
                // costs no buffer, whatever the longest line it once sent.
                std::string().swap(buffer_);
                start_ = 0;
                scanned_ = 0;
                return std::nullopt;
            }
            // A trailing "\r" may be the first half of a CRLF, which does not count: a line
            // exactly at the limit must not depend on where the read split it.
            const bool trailing_cr = scanned_ > 0 && buffer_.back() == '\r';
            if (scanned_ - (trailing_cr ? 1 : 0) > max_line_) {
                discarding_ = true;
                start_ = buffer_.size();
                scanned_ = 0;
                return DecodedLine{{}, true};
            }
            return std::nullopt;
        }
        std::size_t end = newline;
        const std::size_t line_start = start_;
        start_ = newline + 1;
        scanned_ = 0;
        if (discarding_) {
            discarding_ = false;
            continue;
        }
        if (end > line_start && buffer_[end - 1] == '\r') --end;
        if (end - line_start > max_line_) return DecodedLine{{}, true};
        if (end == line_start && !keep_empty_) continue;
        return DecodedLine{buffer_.substr(line_start, end - line_start), false};
    }
}

}  // namespace callpop::protocol
