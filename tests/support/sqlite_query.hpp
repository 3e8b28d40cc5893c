#pragma once
// Reads what the daemon committed, and writes what a test sets up, with SQLite itself rather
// than through our store.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <filesystem>
#include <string>

namespace callpop::test {

// The first column of the first row, as text ("" for none or NULL).
inline std::string query_one(const std::filesystem::path& database, const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(database.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* statement = nullptr;
    REQUIRE_MESSAGE(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK,
                    sqlite3_errmsg(db));
    std::string value;
    if (sqlite3_step(statement) == SQLITE_ROW && sqlite3_column_text(statement, 0) != nullptr)
        value = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return value;
}

// Runs SQL on a database file; "" or SQLite's error.
inline std::string try_sql(const std::filesystem::path& database, const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(database.c_str(), &db) == SQLITE_OK);
    char* error = nullptr;
    const int code = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    std::string message = code == SQLITE_OK ? "" : error != nullptr ? error : sqlite3_errstr(code);
    sqlite3_free(error);
    sqlite3_close(db);
    return message;
}

inline void exec_sql(const std::filesystem::path& database, const std::string& sql) {
    const std::string error = try_sql(database, sql);
    REQUIRE_MESSAGE(error.empty(), error);
}

}  // namespace callpop::test
