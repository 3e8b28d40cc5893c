#pragma once
// Storage tests run on real database files, each test case in a fresh directory that is
// removed when the test case passes and kept, and named, when it fails (as ccache's tests do).
#include <doctest/doctest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "storage/phone_number.hpp"
#include "storage/sqlite_store.hpp"

namespace callpop::test {

// Directories made during the running test case; the listener below decides their fate.
inline std::vector<std::filesystem::path>& temp_dirs_of_current_test() {
    static std::vector<std::filesystem::path> dirs;
    return dirs;
}

class TempDir {
public:
    TempDir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "callpop-test-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr)
            throw std::runtime_error("cannot create a directory like " + pattern);
        path_ = pattern;
        temp_dirs_of_current_test().push_back(path_);
    }
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

// Runs after each test case, once its outcome is known (a TempDir's destructor runs too
// early to know it).
class TempDirCleanup : public doctest::IReporter {
public:
    explicit TempDirCleanup(const doctest::ContextOptions&) {}

    void test_case_end(const doctest::CurrentTestCaseStats& stats) override {
        for (const auto& dir : temp_dirs_of_current_test()) {
            if (stats.testCaseSuccess)
                std::filesystem::remove_all(dir);
            else
                std::cerr << "test files kept in " << dir.string() << "\n";
        }
        temp_dirs_of_current_test().clear();
    }

    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats&) override {}
    void test_case_start(const doctest::TestCaseData&) override {}
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}
};

// Registered from each file that includes this header; doctest keeps one per name.
REGISTER_LISTENER("callpop_temp_dirs", 1, TempDirCleanup);

inline std::unique_ptr<storage::Store> open_test_store(const TempDir& dir) {
    return storage::open_sqlite_store(dir / "callpop.db");
}

// The site of the examples in the design: US numbers, and "00" as well as "011" for abroad.
inline storage::PhoneNormalizer us_normalizer() { return storage::PhoneNormalizer("US", {"00"}); }

inline std::filesystem::path write_file(const TempDir& dir, std::string_view name,
                                        std::string_view content) {
    const auto path = dir / name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
}

}  // namespace callpop::test
