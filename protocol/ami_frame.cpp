#include "protocol/ami_frame.hpp"

namespace callpop::protocol {

namespace {

constexpr std::string_view end_command = "--END COMMAND--";

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool same_key(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

}  // namespace

const std::string* AmiMessage::find(std::string_view key) const {
    for (const auto& [k, v] : fields) {
        if (same_key(k, key)) return &v;
    }
    return nullptr;
}

std::vector<std::string_view> AmiMessage::find_all(std::string_view key) const {
    std::vector<std::string_view> values;
    for (const auto& [k, v] : fields) {
        if (same_key(k, key)) values.emplace_back(v);
    }
    return values;
}

void AmiDecoder::feed(std::string_view bytes) { lines_.feed(bytes); }

ProtocolError AmiDecoder::fail(std::string code, std::string message) {
    message_ = AmiMessage{};
    body_ = Body::fields;
    skipping_ = true;
    first_line_ = false;
    return ProtocolError{std::move(code), std::move(message)};
}

std::optional<AmiItem> AmiDecoder::next() {
    while (auto line = lines_.next()) {
        if (line->too_long) return fail("line_too_long", "line longer than 65536 bytes");
        if (auto item = take_line(line->text)) return item;
    }
    return std::nullopt;
}

std::optional<AmiItem> AmiDecoder::take_line(std::string_view line) {
    if (skipping_) {
        if (line.empty()) skipping_ = false;
        return std::nullopt;
    }
    const std::size_t colon = line.find(": ");
    if (first_line_ && !line.empty()) {
        first_line_ = false;
        if (colon == std::string_view::npos) return AmiBanner{std::string(line)};
    }
    if (body_ == Body::follows) {
        // Only the reply's own headers come before the command output.
        const auto key = line.substr(0, colon);
        if (colon == std::string_view::npos ||
            !(same_key(key, "Privilege") || same_key(key, "ActionID"))) {
            body_ = Body::output;
        }
    }
    if (body_ == Body::output) {
        if (line.ends_with(end_command)) {
            message_.output.append(line.substr(0, line.size() - end_command.size()));
            body_ = Body::after_output;
        } else {
            message_.output.append(line);
            message_.output.push_back('\n');
        }
        if (message_.output.size() > ami_max_output_bytes) {
            return fail("output_too_long", "command output longer than 1048576 bytes");
        }
        return std::nullopt;
    }
    if (line.empty()) {
        if (message_.fields.empty() && body_ == Body::fields) return std::nullopt;
        AmiMessage done = std::move(message_);
        message_ = AmiMessage{};
        body_ = Body::fields;
        return done;
    }
    if (colon == std::string_view::npos || colon == 0) {
        return fail("bad_line", "line without \"Key: \" in a message");
    }
    if (message_.fields.size() >= ami_max_fields) {
        return fail("too_many_fields", "message with more than 1000 fields");
    }
    const auto key = line.substr(0, colon);
    const auto value = line.substr(colon + 2);
    message_.fields.emplace_back(std::string(key), std::string(value));
    if (body_ == Body::fields && same_key(key, "Response") && value == "Follows") {
        body_ = Body::follows;
    }
    return std::nullopt;
}

}  // namespace callpop::protocol
