#include "cli/import_progress.hpp"

#include <cmath>
#include <filesystem>
#include <iostream>
#include <utility>

#include <fmt/format.h>

namespace callpop::cli {

ImportProgressLine::ImportProgressLine(std::ostream& out, const std::string& file, bool terminal,
                                       Clock clock)
    : out_(out),
      file_(std::filesystem::path(file).filename().string()),
      terminal_(terminal),
      clock_(std::move(clock)),
      start_(clock_()),
      shown_(start_) {}

ImportProgressLine::~ImportProgressLine() { interrupt(); }

void ImportProgressLine::interrupt() {
    if (!open_) return;
    out_ << '\n' << std::flush;
    open_ = false;
}

void ImportProgressLine::update(std::size_t rows) {
    if (!terminal_) return;
    const auto now = clock_();
    if (now - shown_ < period) return;
    show(rows, now);
}

void ImportProgressLine::finish(std::size_t rows) {
    if (!terminal_) return;
    show(rows, clock_());
    interrupt();
}

void ImportProgressLine::show(std::size_t rows, std::chrono::steady_clock::time_point now) {
    const std::chrono::duration<double> elapsed = now - start_;
    const double rate = elapsed.count() > 0 ? static_cast<double>(rows) / elapsed.count() : 0;
    // "\r" back to the start of the line, "\x1b[K" clears what a longer line left after it.
    const auto rows_per_second = static_cast<std::size_t>(std::lround(rate));
    out_ << fmt::format("\r{}: {} rows, {} rows/s, {:.1f} s\x1b[K", file_, with_thousands(rows),
                        with_thousands(rows_per_second), elapsed.count())
         << std::flush;
    shown_ = now;
    open_ = true;
}

std::string with_thousands(std::size_t number) {
    std::string digits = std::to_string(number);
    for (auto at = digits.size(); at > 3; at -= 3) digits.insert(at - 3, 1, ',');
    return digits;
}

void print_import_report(const storage::ImportReport& report) {
    for (const auto& warning : report.warnings) std::cerr << report.file << ": " << warning << "\n";
    for (const auto& error : report.errors) std::cerr << report.describe(error) << "\n";
    std::cout << report.summary() << std::endl;
}

}  // namespace callpop::cli
