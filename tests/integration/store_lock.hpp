#pragma once
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <filesystem>

namespace callpop::test {

// Another process holding the store's write lock (BEGIN EXCLUSIVE) until released.
class StoreLock {
public:
    explicit StoreLock(const std::filesystem::path& database) {
        REQUIRE(sqlite3_open(database.c_str(), &other_) == SQLITE_OK);
        // The daemon writes now and then (sweeps, probes): wait for its commit, not fail.
        sqlite3_busy_timeout(other_, 5000);
        REQUIRE(sqlite3_exec(other_, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK);
    }
    ~StoreLock() { release(); }
    StoreLock(const StoreLock&) = delete;
    StoreLock& operator=(const StoreLock&) = delete;
    void release() {
        if (other_ == nullptr) return;
        CHECK(sqlite3_exec(other_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(other_);
        other_ = nullptr;
    }

private:
    sqlite3* other_ = nullptr;
};

}  // namespace callpop::test
