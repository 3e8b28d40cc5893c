#include "daemon/writer/spool.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include <spdlog/spdlog.h>

namespace callpop::daemon {

namespace {

// The number in "<stem>-spool-<n>.jsonl", or 0 when the name is not a spool file's.
std::int64_t spool_number(const std::string& name, const std::string& prefix) {
    constexpr std::string_view suffix = ".jsonl";
    if (!name.starts_with(prefix) || !name.ends_with(suffix)) return 0;
    const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return 0;
    return std::stoll(digits);
}

// The end of the last whole line: a crash may have cut the last append short.
std::int64_t whole_lines_end(const std::filesystem::path& path) {
    const auto size = static_cast<std::int64_t>(std::filesystem::file_size(path));
    std::int64_t end = 0;
    for (std::int64_t at = 0; at < size;) {
        const std::string chunk = Spool::read(path, at, size, std::size_t{1} << 20);
        if (chunk.empty()) break;
        at += static_cast<std::int64_t>(chunk.size());
        end = at;
    }
    if (end < size)
        spdlog::warn("spool {}: {} bytes after the last whole line ignored (cut short by a crash)",
                     path.string(), size - end);
    return end;
}

}  // namespace

Spool::Spool(std::filesystem::path stem) : stem_(std::move(stem)) {}

Spool::~Spool() {
    if (fd_ >= 0) ::close(fd_);
}

std::filesystem::path Spool::path_of(std::int64_t number) const {
    return std::filesystem::path(stem_.string() + "-spool-" + std::to_string(number) + ".jsonl");
}

std::vector<Spool::File> Spool::leftovers(storage::SpoolPosition committed) {
    std::vector<File> files;
    const auto directory = stem_.has_parent_path() ? stem_.parent_path() : ".";
    const std::string prefix = stem_.filename().string() + "-spool-";
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
        const std::int64_t number = spool_number(entry.path().filename().string(), prefix);
        if (number == 0) continue;
        number_ = std::max(number_, number + 1);
        File file{number, entry.path(), 0, 0};
        if (number < committed.file) {
            std::filesystem::remove(file.path);  // replayed to its end by an earlier run
            continue;
        }
        if (number == committed.file) file.offset = committed.offset;
        file.end = whole_lines_end(file.path);
        if (file.offset >= file.end) {
            std::filesystem::remove(file.path);
            continue;
        }
        files.push_back(std::move(file));
    }
    number_ = std::max(number_, committed.file + 1);
    std::sort(files.begin(), files.end(),
              [](const File& a, const File& b) { return a.number < b.number; });
    return files;
}

bool Spool::append(std::string_view line) {
    if (fd_ < 0) {
        const auto path = path_of(number_);
        fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
        if (fd_ < 0) {
            spdlog::error("spool {}: cannot open: {}", path.string(), std::strerror(errno));
            return false;
        }
        end_ = 0;
    }
    std::size_t written = 0;
    while (written < line.size()) {
        const ssize_t wrote = ::write(fd_, line.data() + written, line.size() - written);
        if (wrote < 0 && errno == EINTR) continue;
        if (wrote <= 0) {
            spdlog::error("spool {}: cannot append: {}", path_of(number_).string(),
                          std::strerror(errno));
            // A part of a line would be read as garbage: cut it off.
            if (::ftruncate(fd_, end_) != 0)
                spdlog::error("spool {}: cannot cut a partial line: {}", path_of(number_).string(),
                              std::strerror(errno));
            return false;
        }
        written += static_cast<std::size_t>(wrote);
    }
    end_ += static_cast<std::int64_t>(line.size());
    return true;
}

void Spool::finish() {
    if (fd_ < 0) return;
    ::close(fd_);
    fd_ = -1;
    std::error_code error;
    std::filesystem::remove(path_of(number_), error);
    ++number_;
    end_ = 0;
}

bool Spool::hand_over(std::string_view lines, bool replaces_open_file) {
    const bool had_file = fd_ >= 0;
    const std::int64_t old = number_;
    if (had_file) {
        ::close(fd_);
        fd_ = -1;
        ++number_;
    }
    if (!append(lines) || ::fsync(fd_) != 0) {
        spdlog::error("spool {}: cannot hand over: {}", path_of(number_).string(),
                      std::strerror(errno));
        return false;
    }
    // A crash right here leaves both files: the next start replays the old one's rest twice.
    if (had_file && replaces_open_file) {
        std::error_code error;
        std::filesystem::remove(path_of(old), error);
    }
    return true;
}

std::string Spool::read(const std::filesystem::path& path, std::int64_t offset, std::int64_t end,
                        std::size_t max_bytes) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw std::runtime_error("spool " + path.string() + ": cannot open: " + std::strerror(errno));
    std::string bytes(static_cast<std::size_t>(std::min<std::int64_t>(
                          end - offset, static_cast<std::int64_t>(max_bytes))),
                      '\0');
    std::size_t got = 0;
    while (got < bytes.size()) {
        const ssize_t read = ::pread(fd, bytes.data() + got, bytes.size() - got,
                                     offset + static_cast<std::int64_t>(got));
        if (read < 0 && errno == EINTR) continue;
        if (read <= 0) break;
        got += static_cast<std::size_t>(read);
    }
    ::close(fd);
    bytes.resize(got);
    const auto last_newline = bytes.rfind('\n');
    // A line longer than max_bytes: read on to its end.
    if (last_newline == std::string::npos) {
        if (offset + static_cast<std::int64_t>(got) >= end || max_bytes >= (std::size_t{1} << 26))
            return {};
        return read(path, offset, end, max_bytes * 2);
    }
    bytes.resize(last_newline + 1);
    return bytes;
}

}  // namespace callpop::daemon
