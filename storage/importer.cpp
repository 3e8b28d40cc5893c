#include "storage/importer.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <span>
#include <string_view>

#include "domain/timestamp.hpp"
#include "storage/csv_reader.hpp"
#include "storage/text.hpp"

namespace callpop::storage {

namespace {

// Big enough that commits and the WAL checkpoints after them cost little next to the rows
// (smaller chunks made a million-row import markedly slower), small enough that the
// daemon's call-log writer waits about a second at most for the write lock.
constexpr std::size_t rows_per_transaction = 100'000;

using RejectReason = std::optional<std::string>;  // why a row was rejected; empty when kept

std::string quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

// --- columns ------------------------------------------------------------------------------

struct Column {
    std::string_view name;
    bool required = false;
};

// "External ID" and "do-not-call", as CRMs label their exports, match external_id and
// do_not_call.
std::string column_key(std::string_view header) {
    std::string key = lowercase(trim(header));
    std::replace(key.begin(), key.end(), ' ', '_');
    std::replace(key.begin(), key.end(), '-', '_');
    return key;
}

// Where each known column is in the file's rows; the columns are numbered by their position
// in the list given to the constructor.
class ColumnIndex {
public:
    ColumnIndex(const CsvRecord& header, std::span<const Column> columns, ImportReport& report)
        : positions_(columns.size()), field_count_(header.fields.size()) {
        for (std::size_t field = 0; field < header.fields.size(); ++field)
            place(header.fields[field], field, columns, report);
        require(columns, report.file);
    }

    std::size_t field_count() const { return field_count_; }
    bool has(std::size_t column) const { return positions_[column].has_value(); }
    bool has_every_column() const {
        return std::all_of(positions_.begin(), positions_.end(),
                           [](const auto& position) { return position.has_value(); });
    }

    // The row's value in `column`, without surrounding blanks; empty when the file does not
    // have the column.
    std::string_view value(const CsvRecord& row, std::size_t column) const {
        const auto position = positions_[column];
        return position ? trim(row.fields[*position]) : std::string_view{};
    }

private:
    void place(std::string_view header, std::size_t field, std::span<const Column> columns,
               ImportReport& report) {
        const std::string key = column_key(header);
        const auto known = std::find_if(columns.begin(), columns.end(),
                                        [&](const Column& column) { return column.name == key; });
        if (known == columns.end()) {
            report.warnings.push_back("unknown column " + quoted(header) + " (field " +
                                      std::to_string(field + 1) + ") ignored");
            return;
        }
        auto& position = positions_[static_cast<std::size_t>(known - columns.begin())];
        if (position)
            throw ImportError(report.file + ": column " + quoted(known->name) +
                              " appears twice in the header");
        position = field;
    }

    void require(std::span<const Column> columns, const std::string& file) const {
        std::string missing;
        std::size_t missing_count = 0;
        for (std::size_t column = 0; column < columns.size(); ++column) {
            if (!columns[column].required || positions_[column]) continue;
            missing += (missing.empty() ? "" : ", ") + quoted(columns[column].name);
            ++missing_count;
        }
        if (missing_count > 0)
            throw ImportError(file + ": missing column" + (missing_count > 1 ? "s " : " ") +
                              missing);
    }

    std::vector<std::optional<std::size_t>> positions_;
    std::size_t field_count_;
};

// One data row, its values looked up by column.
class Row {
public:
    Row(const CsvRecord& record, const ColumnIndex& columns) : record_(record), columns_(columns) {}
    std::string_view operator[](std::size_t column) const {
        return columns_.value(record_, column);
    }
    bool has(std::size_t column) const { return columns_.has(column); }
    bool has_every_column() const { return columns_.has_every_column(); }

private:
    const CsvRecord& record_;
    const ColumnIndex& columns_;
};

// Checks that every required column of the row has a value.
RejectReason require_values(const Row& row, std::span<const Column> columns) {
    for (std::size_t column = 0; column < columns.size(); ++column) {
        if (columns[column].required && row[column].empty())
            return std::string(columns[column].name) + ": required, but empty";
    }
    return std::nullopt;
}

// --- values -------------------------------------------------------------------------------

std::optional<bool> parse_flag(std::string_view text) {
    const std::string value = lowercase(text);
    if (value.empty() || value == "false" || value == "no" || value == "0") return false;
    if (value == "true" || value == "yes" || value == "1") return true;
    return std::nullopt;
}

// Reads fixed-width decimal fields of ISO 8601 dates and times.
class DigitCursor {
public:
    explicit DigitCursor(std::string_view text) : text_(text) {}

    std::optional<int> number(std::size_t width) {
        if (text_.size() < width) return std::nullopt;
        int value = 0;
        for (std::size_t i = 0; i < width; ++i) {
            if (!std::isdigit(static_cast<unsigned char>(text_[i]))) return std::nullopt;
            value = value * 10 + (text_[i] - '0');
        }
        text_.remove_prefix(width);
        return value;
    }
    bool skip(char expected) {
        if (text_.empty() || text_.front() != expected) return false;
        text_.remove_prefix(1);
        return true;
    }
    bool skip_any_of(std::string_view expected) {
        if (text_.empty() || expected.find(text_.front()) == std::string_view::npos) return false;
        text_.remove_prefix(1);
        return true;
    }
    void skip_digits() {
        while (!text_.empty() && std::isdigit(static_cast<unsigned char>(text_.front())))
            text_.remove_prefix(1);
    }
    char peek() const { return text_.empty() ? '\0' : text_.front(); }
    bool done() const { return text_.empty(); }

private:
    std::string_view text_;
};

std::optional<std::chrono::sys_days> read_date(DigitCursor& cursor) {
    const auto year = cursor.number(4);
    if (!year || !cursor.skip('-')) return std::nullopt;
    const auto month = cursor.number(2);
    if (!month || !cursor.skip('-')) return std::nullopt;
    const auto day = cursor.number(2);
    if (!day) return std::nullopt;
    const std::chrono::year_month_day date{std::chrono::year{*year},
                                           std::chrono::month{static_cast<unsigned>(*month)},
                                           std::chrono::day{static_cast<unsigned>(*day)}};
    if (!date.ok()) return std::nullopt;
    return std::chrono::sys_days{date};
}

bool is_date(std::string_view text) {
    DigitCursor cursor(text);
    return read_date(cursor) && cursor.done();
}

// "+05:00", "-0800", or "Z"; how far the local time is ahead of UTC.
std::optional<std::chrono::minutes> read_utc_offset(DigitCursor& cursor) {
    if (cursor.skip('Z') || cursor.done()) return std::chrono::minutes{0};
    const int sign = cursor.peek() == '-' ? -1 : 1;
    if (!cursor.skip_any_of("+-")) return std::nullopt;
    const auto hours = cursor.number(2);
    cursor.skip(':');
    const auto minutes = cursor.number(2);
    if (!hours || !minutes || *hours > 23 || *minutes > 59) return std::nullopt;
    return std::chrono::minutes{sign * (*hours * 60 + *minutes)};
}

// The time on system_clock, which counts nanoseconds in 64 bits, from 1677 to 2262: a time
// outside would overflow (found by tests/fuzz/fuzz_csv with the year 2471).
std::optional<std::chrono::system_clock::time_point> on_system_clock(std::chrono::sys_seconds time) {
    using Clock = std::chrono::system_clock;
    constexpr auto earliest =
        std::chrono::time_point_cast<std::chrono::seconds>(Clock::time_point::min());
    constexpr auto latest =
        std::chrono::time_point_cast<std::chrono::seconds>(Clock::time_point::max());
    if (time < earliest || time > latest) return std::nullopt;
    return Clock::time_point{time};
}

// "2024-05-01", "2024-05-01T14:30", "2024-05-01 14:30:00.250+02:00"; UTC when no offset
// is given. Fractions of a second are dropped.

std::optional<std::chrono::system_clock::time_point> parse_iso8601(std::string_view text) {
    DigitCursor cursor(text);
    const auto date = read_date(cursor);
    if (!date) return std::nullopt;
    if (cursor.done()) return on_system_clock(std::chrono::sys_seconds{*date});
    if (!cursor.skip_any_of("T ")) return std::nullopt;
    const auto hours = cursor.number(2);
    if (!hours || *hours > 23 || !cursor.skip(':')) return std::nullopt;
    const auto minutes = cursor.number(2);
    if (!minutes || *minutes > 59) return std::nullopt;
    std::optional<int> seconds = 0;
    if (cursor.skip(':')) {
        seconds = cursor.number(2);
        if (!seconds || *seconds > 60) return std::nullopt;  // 60: a leap second
        if (cursor.skip('.') || cursor.skip(',')) cursor.skip_digits();
    }
    const auto offset = read_utc_offset(cursor);
    if (!offset || !cursor.done()) return std::nullopt;
    const std::chrono::sys_seconds time = std::chrono::sys_seconds{*date} +
                                          std::chrono::hours{*hours} +
                                          std::chrono::minutes{*minutes} +
                                          std::chrono::seconds{*seconds} - *offset;
    return on_system_clock(time);
}

// "212-555-0123; +44 20 7946 0000 | 0049 30 1234567" into E.164 numbers. Text that
// libphonenumber cannot parse is kept as given, to be matched as given, as the switch's
// numbers are; only text without a single digit is refused.
RejectReason read_phones(std::string_view text, const PhoneNormalizer& normalizer,
                         std::vector<std::string>& phones) {
    phones.clear();
    while (!text.empty()) {
        // (Searched by hand: find_first_of runs memchr over ";|" for every character.)
        const auto separator_at = std::find_if(text.begin(), text.end(),
                                               [](char c) { return c == ';' || c == '|'; });
        const auto separator = separator_at == text.end()
                                   ? std::string_view::npos
                                   : static_cast<std::size_t>(separator_at - text.begin());
        const std::string_view part = trim(text.substr(0, separator));
        text.remove_prefix(separator == std::string_view::npos ? text.size() : separator + 1);
        if (part.empty()) continue;
        if (std::none_of(part.begin(), part.end(),
                         [](unsigned char c) { return std::isdigit(c); }))
            return "phones: " + quoted(part) + " is not a phone number";
        std::string number = normalizer.normalize(part);
        if (std::find(phones.begin(), phones.end(), number) == phones.end())
            phones.push_back(std::move(number));
    }
    return std::nullopt;
}

// --- the import loop ----------------------------------------------------------------------

// Commits every rows_per_transaction rows; rolls back the open chunk when destroyed
// uncommitted (a storage failure), keeping the chunks before it.
class ChunkedTransaction {
public:
    explicit ChunkedTransaction(CustomerImport& store) : store_(store) { store_.begin(); }
    ~ChunkedTransaction() {
        if (open_) store_.rollback();
    }
    ChunkedTransaction(const ChunkedTransaction&) = delete;
    ChunkedTransaction& operator=(const ChunkedTransaction&) = delete;

    void count_row() {
        if (++rows_in_chunk_ < rows_per_transaction) return;
        commit();
        store_.begin();
        open_ = true;
        rows_in_chunk_ = 0;
    }
    void commit() {
        store_.commit();
        open_ = false;
    }

private:
    CustomerImport& store_;
    bool open_ = true;
    std::size_t rows_in_chunk_ = 0;
};

// The store's import settings for the length of one file (CustomerImport::begin_import);
// put back when the file is done, or, without reporting a second error, when it failed.
class ImportSettings {
public:
    explicit ImportSettings(CustomerImport& store) : store_(store) { store_.begin_import(); }
    ~ImportSettings() {
        if (!open_) return;
        try {
            store_.end_import();
        } catch (const std::exception&) {
            // The error that brought us here is the one to report; the store finishes what
            // end_import() could not when it is next opened.
        }
    }
    ImportSettings(const ImportSettings&) = delete;
    ImportSettings& operator=(const ImportSettings&) = delete;

    void end() {
        open_ = false;
        store_.end_import();
    }

private:
    CustomerImport& store_;
    bool open_ = true;
};

std::string describe_io_failure(const std::string& file, std::string_view what) {
    return file + ": " + std::string(what) + " (" + std::strerror(errno) + ")";
}

CsvRecord read_header(CsvReader& reader, const std::string& file) {
    CsvRecord header;
    if (!reader.next(header)) throw ImportError(file + ": empty file, expected a header row");
    if (!header.error.empty())
        throw ImportError(file + ":" + std::to_string(header.line) + ": header: " + header.error);
    return header;
}

RejectReason check_shape(const CsvRecord& record, const ColumnIndex& columns) {
    if (!record.error.empty()) return record.error;
    if (record.fields.size() != columns.field_count())
        return "has " + std::to_string(record.fields.size()) + " fields, the header has " +
               std::to_string(columns.field_count());
    return std::nullopt;
}

// Reads the file, hands each well-formed row to import_row (which returns why it rejected
// the row, if it did), and counts the outcome.
template <typename ImportRow>
ImportReport import_file(CustomerImport& store, const std::filesystem::path& path,
                         std::span<const Column> columns, const ImportProgress& progress,
                         ImportRow&& import_row) {
    ImportReport report;
    report.file = path.string();
    std::ifstream input(path, std::ios::binary);
    if (!input) throw ImportError(describe_io_failure(report.file, "cannot open"));
    CsvReader reader(input);
    const ColumnIndex index(read_header(reader, report.file), columns, report);

    ImportSettings settings(store);
    ChunkedTransaction transaction(store);
    CsvRecord record;
    while (reader.next(record)) {
        ++report.rows;
        RejectReason reason = check_shape(record, index);
        if (!reason) {
            const Row row(record, index);
            reason = require_values(row, columns);
            if (!reason) reason = import_row(row);
        }
        if (reason)
            report.errors.push_back({record.line, std::move(*reason)});
        else
            ++report.inserted_or_updated;
        transaction.count_row();
        if (progress && report.rows % progress_interval == 0) progress(report.rows);
    }
    if (input.bad()) throw ImportError(describe_io_failure(report.file, "read error"));
    transaction.commit();
    settings.end();
    return report;
}

// --- the three files ----------------------------------------------------------------------

namespace customer_column {
enum : std::size_t {
    external_id, name, company, tier, segment, language, timezone, phones, email, address,
    do_not_call
};
constexpr Column all[] = {
    {"external_id", true}, {"name", true}, {"company"},  {"tier"},  {"segment"},
    {"language"},          {"timezone"},   {"phones"},   {"email"}, {"address"},
    {"do_not_call"},
};
}  // namespace customer_column

namespace asset_column {
enum : std::size_t { customer, product, serial, purchased, warranty_end };
constexpr Column all[] = {
    {"customer", true}, {"product", true}, {"serial"}, {"purchased"}, {"warranty_end"},
};
}  // namespace asset_column

namespace note_column {
enum : std::size_t { customer, kind, text, author, created_at };
constexpr Column all[] = {
    {"customer", true}, {"kind"}, {"text", true}, {"author"}, {"created_at"},
};
}  // namespace note_column

RejectReason check_date(std::string_view column, std::string_view value) {
    if (value.empty() || is_date(value)) return std::nullopt;
    return std::string(column) + ": " + quoted(value) + " is not a date (YYYY-MM-DD)";
}

std::string unknown_customer(std::string_view external_id) {
    return "customer " + quoted(external_id) + " is not known";
}

// Fills one Customer per row, reusing its strings across rows.
class CustomerImporter {
public:
    CustomerImporter(CustomerImport& store, const PhoneNormalizer& normalizer)
        : store_(store), normalizer_(normalizer) {}

    RejectReason operator()(const Row& row) {
        using namespace customer_column;
        const auto flag = parse_flag(row[do_not_call]);
        if (!flag)
            return "do_not_call: " + quoted(row[do_not_call]) +
                   " is not true, false, yes, no, 1 or 0";
        if (auto reason = read_phones(row[phones], normalizer_, phones_)) return reason;
        keep_stored_values_of_missing_columns(row);
        assign(customer_.external_id, row, external_id);
        assign(customer_.name, row, name);
        assign(customer_.company, row, company);
        assign(customer_.tier, row, tier);
        assign(customer_.segment, row, segment);
        assign(customer_.language, row, language);
        assign(customer_.timezone, row, timezone);
        assign(customer_.email, row, email);
        assign(customer_.address, row, address);
        if (row.has(phones)) customer_.phones.swap(phones_);
        if (row.has(do_not_call)) customer_.do_not_call = *flag;
        // A row of every column reads nothing back, so it may wait for the chunk's commit.
        if (row.has_every_column())
            store_.queue_customer(customer_);
        else
            store_.upsert_customer(customer_);
        return std::nullopt;
    }

private:
    // A file without some of the columns updates only the columns it has: a file of names
    // and tiers must not wipe everyone's phone numbers. (With every column, each row sets
    // every field, so the reused customer_ carries nothing over from the row before.)
    void keep_stored_values_of_missing_columns(const Row& row) {
        if (row.has_every_column()) return;
        auto stored = store_.customer_by_external_id(row[customer_column::external_id]);
        customer_ = stored ? std::move(*stored) : Customer{};
    }

    static void assign(std::string& field, const Row& row, std::size_t column) {
        if (row.has(column)) field.assign(row[column]);
    }

    CustomerImport& store_;
    const PhoneNormalizer& normalizer_;
    Customer customer_;
    std::vector<std::string> phones_;  // the row's numbers, before they replace the stored ones
};

class AssetImporter {
public:
    explicit AssetImporter(CustomerImport& store) : store_(store) {}

    RejectReason operator()(const Row& row) {
        using namespace asset_column;
        if (auto reason = check_date("purchased", row[purchased])) return reason;
        if (auto reason = check_date("warranty_end", row[warranty_end])) return reason;
        asset_.product.assign(row[product]);
        asset_.serial.assign(row[serial]);
        asset_.purchased.assign(row[purchased]);
        asset_.warranty_end.assign(row[warranty_end]);
        if (!store_.upsert_asset(row[customer], asset_)) return unknown_customer(row[customer]);
        return std::nullopt;
    }

private:
    CustomerImport& store_;
    Asset asset_;
};

class NoteImporter {
public:
    explicit NoteImporter(CustomerImport& store)
        : store_(store), import_time_(domain::utc_now()) {}

    RejectReason operator()(const Row& row) {
        using namespace note_column;
        note_.kind = row[kind].empty() ? "note" : lowercase(row[kind]);
        if (note_.kind != "note" && note_.kind != "preference")
            return "kind: " + quoted(row[kind]) + " is not note or preference";
        if (row[created_at].empty()) {
            note_.created_at = import_time_;
        } else if (const auto time = parse_iso8601(row[created_at])) {
            // Stored as UTC in one format, so that notes sort by time.
            note_.created_at = domain::format_utc(*time);
        } else {
            return "created_at: " + quoted(row[created_at]) +
                   " is not an ISO 8601 time (2024-05-01T14:30:00Z)";
        }
        note_.text.assign(row[text]);
        note_.author.assign(row[author]);
        if (!store_.upsert_note(row[customer], note_)) return unknown_customer(row[customer]);
        return std::nullopt;
    }

private:
    CustomerImport& store_;
    std::string import_time_;  // the default created_at: one time for the whole file
    Note note_;
};

}  // namespace

std::string ImportReport::describe(const RowError& error) const {
    return file + ":" + std::to_string(error.line) + ": " + error.reason;
}

std::string ImportReport::summary() const {
    return file + ": " + std::to_string(rows) + " rows, " + std::to_string(inserted_or_updated) +
           " imported, " + std::to_string(rejected()) + " rejected";
}

ImportReport import_customers(CustomerImport& store, const std::filesystem::path& path,
                              const PhoneNormalizer& normalizer, const ImportProgress& progress) {
    return import_file(store, path, customer_column::all, progress,
                       CustomerImporter(store, normalizer));
}

ImportReport import_assets(CustomerImport& store, const std::filesystem::path& path,
                           const ImportProgress& progress) {
    return import_file(store, path, asset_column::all, progress, AssetImporter(store));
}

ImportReport import_notes(CustomerImport& store, const std::filesystem::path& path,
                          const ImportProgress& progress) {
    return import_file(store, path, note_column::all, progress, NoteImporter(store));
}

}  // namespace callpop::storage
