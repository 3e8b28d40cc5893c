// libFuzzer target for CSV import (docs/csv.md): the RFC 4180 reader (storage/csv_reader)
// and `callpop import`'s row parsing (storage/importer) into a real SQLite store in memory.
// Build and run: tests/fuzz/README.md.
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "fuzz/fuzz_support.hpp"
#include "storage/csv_reader.hpp"
#include "storage/importer.hpp"
#include "storage/open_store.hpp"
#include "storage/phone_number.hpp"

namespace storage = callpop::storage;
using callpop::fuzz::require;

namespace {

std::vector<storage::CsvRecord> read_all(std::string_view data, std::size_t block_size) {
    std::istringstream input{std::string(data)};
    storage::CsvReader reader(input, block_size);
    std::vector<storage::CsvRecord> records;
    storage::CsvRecord record;
    while (reader.next(record)) records.push_back(record);
    return records;
}

bool same(const std::vector<storage::CsvRecord>& a, const std::vector<storage::CsvRecord>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
        return x.line == y.line && x.fields == y.fields && x.error == y.error;
    });
}

// Every field quoted, quotes doubled: what a careful writer makes of the records.
std::string quoted_csv(const std::vector<storage::CsvRecord>& records) {
    std::string text;
    for (const auto& record : records) {
        for (std::size_t i = 0; i < record.fields.size(); ++i) {
            if (i > 0) text += ',';
            text += '"';
            for (const char c : record.fields[i]) text += c == '"' ? std::string("\"\"") : std::string(1, c);
            text += '"';
        }
        text += "\r\n";
    }
    return text;
}

std::vector<storage::CsvRecord> checked_records(std::string_view data, std::size_t block_size) {
    // One block for the whole input, as an import of a file under 256 KiB reads it (a
    // default block of its own each time would cost the fuzzer most of its time in memset).
    const auto records = read_all(data, data.size() + 1);
    // Where the blocks end changes nothing.
    require(same(read_all(data, block_size), records));
    const auto newlines = static_cast<std::size_t>(std::count(data.begin(), data.end(), '\n'));
    std::size_t previous_line = 0;
    for (std::size_t i = 0; i < records.size(); ++i) {
        const auto& record = records[i];
        require(!record.fields.empty());
        require(record.line > previous_line && record.line <= newlines + 1);
        previous_line = record.line;
        // Only an unclosed quote is an error, and it takes the rest of the input.
        require(record.error.empty() || i + 1 == records.size());
    }
    // Written back with every field quoted, the same fields come out.
    const auto again = read_all(quoted_csv(records), block_size);
    require(again.size() == records.size());
    for (std::size_t i = 0; i < records.size(); ++i) {
        require(again[i].fields == records[i].fields);
        require(again[i].error.empty());
    }
    return records;
}

// The importer's own rule for headers ("External ID" is external_id), written again here.
std::string column_key(std::string_view header) {
    const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!header.empty() && blank(header.front())) header.remove_prefix(1);
    while (!header.empty() && blank(header.back())) header.remove_suffix(1);
    std::string key;
    for (const char c : header) {
        const char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        key += lower == ' ' || lower == '-' ? '_' : lower;
    }
    return key;
}

std::string trimmed(std::string_view text) {
    const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!text.empty() && blank(text.front())) text.remove_prefix(1);
    while (!text.empty() && blank(text.back())) text.remove_suffix(1);
    return std::string(text);
}

std::filesystem::path scratch_file(const char* name) {
    return std::filesystem::temp_directory_path() /
           ("callpop-fuzz-csv-" + std::to_string(::getpid()) + "-" + name);
}

void write(const std::filesystem::path& path, std::string_view data) {
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(data.data(),
                                                                   static_cast<std::streamsize>(data.size()));
}

enum class FileKind { customers, assets, notes };

// docs/csv.md: the columns of each file, the required ones first.
struct Columns {
    std::vector<std::string> required, optional;
};

Columns columns_of(FileKind kind) {
    switch (kind) {
        case FileKind::customers:
            return {{"external_id", "name"},
                    {"company", "tier", "segment", "language", "timezone", "phones", "email",
                     "address", "do_not_call"}};
        case FileKind::assets: return {{"customer", "product"}, {"serial", "purchased", "warranty_end"}};
        case FileKind::notes: return {{"customer", "text"}, {"kind", "author", "created_at"}};
    }
    return {};
}

// A file is refused whole only when it has no header, the header's quote is never closed, a
// known column appears twice or a required one is missing.
bool header_is_good(FileKind kind, const std::vector<storage::CsvRecord>& records) {
    if (records.empty() || !records.front().error.empty()) return false;
    const auto columns = columns_of(kind);
    std::multiset<std::string> keys;
    for (const auto& field : records.front().fields) keys.insert(column_key(field));
    for (const auto& name : columns.required) {
        if (keys.count(name) != 1) return false;
    }
    for (const auto& name : columns.optional) {
        if (keys.count(name) > 1) return false;
    }
    return true;
}

void check_import(FileKind kind, std::string_view data,
                  const std::vector<storage::CsvRecord>& records) {
    static const storage::PhoneNormalizer normalizer("US", {"00"});
    auto store = storage::open_store({.backend = "sqlite", .path = ":memory:", .conninfo = "", .daemon_name = "fuzz"});
    // Assets and notes belong to customers: two that rows can name.
    if (kind != FileKind::customers) {
        const auto known = scratch_file("known.csv");
        write(known, "external_id,name,phones\nC-1,Pat Doe,+1 555 010 2000\nC-2,Sam Roe,\n");
        require(storage::import_customers(*store, known, normalizer).inserted_or_updated == 2);
    }
    const auto path = scratch_file("input.csv");
    write(path, data);
    storage::ImportReport report;
    try {
        switch (kind) {
            case FileKind::customers: report = storage::import_customers(*store, path, normalizer); break;
            case FileKind::assets: report = storage::import_assets(*store, path); break;
            case FileKind::notes: report = storage::import_notes(*store, path); break;
        }
    } catch (const storage::ImportError& error) {
        // The whole file is refused for its header alone, and the message names the file.
        require(!header_is_good(kind, records));
        require(std::string_view(error.what()).starts_with(path.string() + ":"));
        return;
    }
    require(header_is_good(kind, records));
    require(report.rows == records.size() - 1);
    require(report.inserted_or_updated + report.rejected() == report.rows);
    std::set<std::size_t> rejected_lines;
    std::size_t previous = records.front().line;
    for (const auto& error : report.errors) {
        require(error.line > previous && !error.reason.empty());
        previous = error.line;
        rejected_lines.insert(error.line);
        require(report.describe(error).starts_with(path.string() + ":" + std::to_string(error.line) + ": "));
    }
    for (const auto& record : records) {
        if (!record.error.empty() && record.line != records.front().line)
            require(rejected_lines.contains(record.line));
    }
    if (kind != FileKind::customers) return;

    // Each customer a kept row names is in the store, with the last kept row's name.
    std::optional<std::size_t> id_field, name_field;
    const auto& header = records.front().fields;
    for (std::size_t field = 0; field < header.size(); ++field) {
        const auto key = column_key(header[field]);
        if (key == "external_id") id_field = field;
        if (key == "name") name_field = field;
    }
    require(id_field && name_field);
    std::map<std::string, std::string> names;
    for (std::size_t i = 1; i < records.size(); ++i) {
        if (rejected_lines.contains(records[i].line)) continue;
        names[trimmed(records[i].fields.at(*id_field))] = trimmed(records[i].fields.at(*name_field));
    }
    for (const auto& [external_id, name] : names) {
        const auto customer = store->customer_by_external_id(external_id);
        require(customer.has_value() && customer->name == name);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    if (size == 0) return 0;
    // The first byte picks the file (customers, assets, notes) and a block size from 4 to 16.
    const auto kind = static_cast<FileKind>(bytes[0] % 3);
    const std::size_t block_size = 4 + (bytes[0] / 3u) % 13;
    const std::string_view data(reinterpret_cast<const char*>(bytes) + 1, size - 1);
    const auto records = checked_records(data, block_size);
    check_import(kind, data, records);
    return 0;
}
