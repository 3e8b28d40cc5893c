#pragma once
// `callpop import`'s progress on a terminal: one line on stderr, rewritten in place a few
// times a second while a file is read, left with the final figures when it is done:
//
//     customers.csv: 412,000 rows, 205,830 rows/s, 2.0 s
//
// When stderr is not a terminal (a log, a pipe) it shows nothing: the summary on stdout is
// what such a reader gets.
#include <chrono>
#include <cstddef>
#include <functional>
#include <ostream>
#include <string>

#include "storage/importer.hpp"

namespace callpop::cli {

class ImportProgressLine {
public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;
    static constexpr std::chrono::milliseconds period{250};

    // `file` is named as given, without its directories. The clock starts now.
    ImportProgressLine(std::ostream& out, const std::string& file, bool terminal,
                       Clock clock = std::chrono::steady_clock::now);
    ~ImportProgressLine();  // interrupt()
    ImportProgressLine(const ImportProgressLine&) = delete;
    ImportProgressLine& operator=(const ImportProgressLine&) = delete;

    // Rows read so far; shown when a period has passed since the line was last shown.
    void update(std::size_t rows);
    // The file is done: the final figures, and the line ended.
    void finish(std::size_t rows);
    // Ends a line left open, as it is, so that an error printed next starts on its own.
    void interrupt();

private:
    void show(std::size_t rows, std::chrono::steady_clock::time_point now);

    std::ostream& out_;
    std::string file_;
    bool terminal_;
    Clock clock_;
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point shown_;
    bool open_ = false;  // a line is shown and not ended
};

// A file's import as its reader wants it: each warning and rejected row on stderr, the summary
// on stdout.
void print_import_report(const storage::ImportReport& report);

// 1234567 -> "1,234,567"
std::string with_thousands(std::size_t number);

}  // namespace callpop::cli
