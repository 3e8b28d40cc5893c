#pragma once
// A thin RAII layer over the SQLite C API: every return code checked, errors carry
// sqlite3_errstr and the statement.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "storage/storage_error.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace callpop::storage {

// The handles' owners: they finalize and close what SQLite handed out.
struct StatementFinalizer {
    void operator()(sqlite3_stmt* statement) const;
};
struct DatabaseCloser {
    void operator()(sqlite3* db) const;
};

class Statement {
public:
    Statement(sqlite3* db, std::string_view sql);

    // Binds by 1-based index; bind_null() for NULL.
    Statement& bind(int index, std::int64_t value);
    Statement& bind(int index, std::string_view text);
    // Binds text SQLite reads in place instead of copying: it must stay alive and unchanged
    // until the statement is reset (run() resets). For the rows of a bulk import.
    Statement& bind_in_place(int index, std::string_view text);
    Statement& bind_null(int index);

    bool step();  // true while a row is available
    void run();   // step to completion, then reset
    void reset();

    std::int64_t column_int(int index) const;
    std::string column_text(int index) const;  // NULL → ""
    // The text in the row itself, valid until the next step() or reset(); NULL → "".
    std::string_view column_view(int index) const;
    bool column_is_null(int index) const;

private:
    sqlite3* db_;  // owned by the Database, which outlives its statements
    std::unique_ptr<sqlite3_stmt, StatementFinalizer> statement_;
    std::string sql_;
};

class Database {
public:
    explicit Database(const std::filesystem::path& path, bool read_only = false);

    void exec(std::string_view sql);
    std::int64_t last_insert_id() const;
    int changes() const;
    sqlite3* handle() const { return db_.get(); }

private:
    std::unique_ptr<sqlite3, DatabaseCloser> db_;
};

class Transaction {
public:
    explicit Transaction(Database& db);
    ~Transaction();  // rolls back unless committed
    void commit();

private:
    Database& db_;
    bool done_ = false;
};

}  // namespace callpop::storage
