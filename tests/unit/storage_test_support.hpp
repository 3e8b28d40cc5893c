#pragma once
// Storage tests run on real database files, each test case in a fresh directory.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <chrono>
#include <thread>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "support/postgres_cluster.hpp"
#include "support/temp_dir.hpp"
#include "storage/open_store.hpp"
#include "storage/phone_number.hpp"
#include "storage/store_bus.hpp"

namespace callpop::test {

// The backends the storage suite runs on. A test written against the store's interfaces is a
// TEST_CASE_TEMPLATE over CALLPOP_STORAGE_BACKENDS, so that it runs once per backend and a
// second backend must pass the same tests: add its struct here and its name to the list.
// Each gives the settings of a store kept in a test case's fresh directory.
struct SqliteBackend {
    static config::Storage settings(const TempDir& dir) {
        return {.backend = "sqlite", .path = (dir / "callpop.db").string(), .conninfo = "",
                .daemon_name = "test"};
    }
};
// A database of its own on the tests' PostgreSQL server (support/postgres_cluster.hpp), one
// per directory: the test case's store, however often it is opened.
struct PostgresBackend {
    static config::Storage settings(const TempDir& dir) {
        static std::mutex mutex;
        static std::map<std::filesystem::path, std::string> databases;
        const std::scoped_lock lock(mutex);
        auto& conninfo = databases[dir.path()];
        if (conninfo.empty()) conninfo = PostgresCluster::shared().fresh_database();
        return {.backend = "postgresql", .path = (dir / "callpop.db").string(),
                .conninfo = conninfo, .daemon_name = "test"};
    }
};
#define CALLPOP_STORAGE_BACKENDS callpop::test::SqliteBackend, callpop::test::PostgresBackend

// Opened as the daemon opens it, by open_store(): a fresh store unless `dir` holds one.
template <typename Backend>
std::unique_ptr<storage::Store> open_test_store(const TempDir& dir) {
    return storage::open_store(Backend::settings(dir));
}

// The site of the examples in the design: US numbers, and "00" as well as "011" for abroad.
inline storage::PhoneNormalizer us_normalizer() { return storage::PhoneNormalizer("US", {"00"}); }

// The StorageError `action` throws; a failed check when it throws none.
template <typename Action>
storage::StorageError storage_error_of(Action action) {
    try {
        action();
    } catch (const storage::StorageError& error) {
        return error;
    }
    FAIL("no StorageError thrown");
    return storage::StorageError("");
}

// Publishes on `bus` and waits (5 s at most) for the server's answer, as a daemon's loop
// would; what the bus received meanwhile.
inline std::vector<storage::BusMessage> publish_and_wait(storage::StoreBus& bus,
                                                         std::string_view channel,
                                                         const std::vector<std::string>& payloads) {
    bus.publish(channel, payloads);
    std::vector<storage::BusMessage> received;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    bool flushed = false;
    while (bus.publishing()) {
        REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "a publish unanswered for 5 s");
        flushed = flushed || bus.flush();
        for (auto& message : bus.receive()) received.push_back(std::move(message));
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return received;
}

inline std::filesystem::path write_file(const TempDir& dir, std::string_view name,
                                        std::string_view content) {
    const auto path = dir / name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
}

}  // namespace callpop::test

// Test names end in the backend they ran on: "<sqlite>".
TYPE_TO_STRING_AS("sqlite", callpop::test::SqliteBackend);
TYPE_TO_STRING_AS("postgresql", callpop::test::PostgresBackend);
