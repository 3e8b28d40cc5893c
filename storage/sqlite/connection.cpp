#include "storage/sqlite/connection.hpp"

#include <sqlite3.h>

namespace callpop::storage {

namespace {

bool is_transient(int code) {
    switch (code & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
        case SQLITE_FULL:
        case SQLITE_IOERR:
        case SQLITE_CANTOPEN:
        case SQLITE_PROTOCOL:
        case SQLITE_NOMEM:
            return true;
        default:
            return false;
    }
}

[[noreturn]] void fail(sqlite3* db, int code, std::string_view what) {
    std::string message = std::string(what) + ": " + sqlite3_errstr(code);
    if (db != nullptr && sqlite3_errmsg(db) != nullptr &&
        std::string_view(sqlite3_errmsg(db)) != sqlite3_errstr(code))
        message += " (" + std::string(sqlite3_errmsg(db)) + ")";
    throw StorageError(message, is_transient(code));
}

}  // namespace

void StatementFinalizer::operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }

void DatabaseCloser::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db), sql_(sql) {
    sqlite3_stmt* prepared = nullptr;
    const int code = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                        SQLITE_PREPARE_PERSISTENT, &prepared, nullptr);
    statement_.reset(prepared);
    if (code != SQLITE_OK) fail(db_, code, "preparing \"" + sql_ + "\"");
}

Statement& Statement::bind(int index, std::int64_t value) {
    const int code = sqlite3_bind_int64(statement_.get(), index, value);
    if (code != SQLITE_OK) fail(db_, code, "binding " + std::to_string(index) + " of " + sql_);
    return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
    const int code = sqlite3_bind_text(statement_.get(), index, text.data(),
                                       static_cast<int>(text.size()), SQLITE_TRANSIENT);
    if (code != SQLITE_OK) fail(db_, code, "binding " + std::to_string(index) + " of " + sql_);
    return *this;
}

Statement& Statement::bind_in_place(int index, std::string_view text) {
    const int code = sqlite3_bind_text(statement_.get(), index, text.data(),
                                       static_cast<int>(text.size()), SQLITE_STATIC);
    if (code != SQLITE_OK) fail(db_, code, "binding " + std::to_string(index) + " of " + sql_);
    return *this;
}

Statement& Statement::bind_null(int index) {
    const int code = sqlite3_bind_null(statement_.get(), index);
    if (code != SQLITE_OK) fail(db_, code, "binding " + std::to_string(index) + " of " + sql_);
    return *this;
}

bool Statement::step() {
    const int code = sqlite3_step(statement_.get());
    if (code == SQLITE_ROW) return true;
    if (code == SQLITE_DONE) return false;
    sqlite3_reset(statement_.get());
    fail(db_, code, "running \"" + sql_ + "\"");
}

void Statement::run() {
    while (step()) {
    }
    reset();
}

void Statement::reset() {
    sqlite3_reset(statement_.get());
    sqlite3_clear_bindings(statement_.get());
}

std::int64_t Statement::column_int(int index) const {
    return sqlite3_column_int64(statement_.get(), index);
}

std::string Statement::column_text(int index) const {
    const auto* text = sqlite3_column_text(statement_.get(), index);
    if (text == nullptr) return {};
    return std::string(reinterpret_cast<const char*>(text),
                       static_cast<std::size_t>(sqlite3_column_bytes(statement_.get(), index)));
}

std::string_view Statement::column_view(int index) const {
    const auto* text = sqlite3_column_text(statement_.get(), index);
    if (text == nullptr) return {};
    return {reinterpret_cast<const char*>(text),
            static_cast<std::size_t>(sqlite3_column_bytes(statement_.get(), index))};
}

bool Statement::column_is_null(int index) const {
    return sqlite3_column_type(statement_.get(), index) == SQLITE_NULL;
}

Database::Database(const std::filesystem::path& path, bool read_only) {
    // SQLite counts every allocation under a global mutex unless told not to before its
    // first use; nothing here reads the counts, and an import makes millions of allocations.
    // (When SQLite is already initialized, as in a test that opened a database on its own,
    // this is refused and changes nothing.)
    static const int memory_statistics_off = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    static_cast<void>(memory_statistics_off);
    const int flags = read_only ? SQLITE_OPEN_READONLY
                                : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    sqlite3* opened = nullptr;
    const int code = sqlite3_open_v2(path.c_str(), &opened, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    // SQLite hands out a handle even when opening fails; it must be closed all the same.
    db_.reset(opened);
    if (code != SQLITE_OK)
        throw StorageError("opening " + path.string() + ": " + sqlite3_errstr(code));
    sqlite3_extended_result_codes(db_.get(), 1);
    // A second writer (the import, a second daemon) may hold the lock briefly.
    sqlite3_busy_timeout(db_.get(), 5000);
}

void Database::exec(std::string_view sql) {
    const std::string text(sql);
    char* error = nullptr;
    const int code = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &error);
    if (code != SQLITE_OK) {
        std::string message = "running \"" + text.substr(0, 80) + "\": " + sqlite3_errstr(code);
        if (error != nullptr) message += " (" + std::string(error) + ")";
        sqlite3_free(error);
        throw StorageError(message, is_transient(code));
    }
}

std::int64_t Database::last_insert_id() const { return sqlite3_last_insert_rowid(db_.get()); }

int Database::changes() const { return sqlite3_changes(db_.get()); }

Transaction::Transaction(Database& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
    if (!done_) {
        try {
            db_.exec("ROLLBACK");
        } catch (const StorageError&) {
        }
    }
}

void Transaction::commit() {
    db_.exec("COMMIT");
    done_ = true;
}

}  // namespace callpop::storage
