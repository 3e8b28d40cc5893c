#pragma once
// The writer's overflow. When the store falls behind, the switches' records are appended to
// <stem>-spool-<n>.jsonl, one entry a line, and replayed in order once it takes writes
// again, or by the next start after a stop or a crash. The store keeps how far replay has
// committed (storage::SpoolPosition), in the transaction of the entries it counts, so each
// entry is written once. Appends and finish() come under the writer's lock; reads need none.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "storage/call_log.hpp"

namespace callpop::daemon {

class Spool {
public:
    // `stem` is the store's path: the files lie beside it.
    explicit Spool(std::filesystem::path stem);
    ~Spool();
    Spool(const Spool&) = delete;
    Spool& operator=(const Spool&) = delete;

    struct File {
        std::int64_t number = 0;
        std::filesystem::path path;
        std::int64_t offset = 0;  // where replay resumes
        std::int64_t end = 0;     // after the last whole line
    };
    // What earlier runs left to replay after `committed`, oldest first. Files replay has
    // finished are removed here; the next file this run opens comes after all of them.
    std::vector<File> leftovers(storage::SpoolPosition committed);

    // Appends one line (newline included). False, with nothing appended, when the file
    // cannot take it (a full disk); the reason is logged.
    bool append(std::string_view line);
    bool active() const { return fd_ >= 0; }
    // The open file: its number, path, and the bytes appended so far.
    File open_file() const { return {number_, path_of(number_), 0, end_}; }
    // Closes and removes the open file, once replay has committed all of it.
    void finish();
    // Writes `lines` to a new file after the open one, flushed to disk, then removes the
    // open one when `lines` holds what it had left to replay (`replaces_open_file`). False
    // when the new file cannot take them (the open one is kept).
    bool hand_over(std::string_view lines, bool replaces_open_file);

    // Whole lines of `file` from `offset`, up to `end`, about `max_bytes` at most.
    static std::string read(const std::filesystem::path& path, std::int64_t offset,
                            std::int64_t end, std::size_t max_bytes);
    std::filesystem::path path_of(std::int64_t number) const;

private:
    std::filesystem::path stem_;
    std::int64_t number_ = 1;  // the file appends go to
    int fd_ = -1;
    std::int64_t end_ = 0;
};

}  // namespace callpop::daemon
