#pragma once
// Tests run on real files, each test case in a fresh directory that is removed when the test
// case passes and kept, and named, when it fails (as ccache's tests do).
#include <doctest/doctest.h>

#include <stdlib.h>

#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace callpop::test {

// Directories made during the running test case; the listener below decides their fate.
inline std::vector<std::filesystem::path>& temp_dirs_of_current_test() {
    static std::vector<std::filesystem::path> dirs;
    return dirs;
}

class TempDir {
public:
    enum class Lifetime {
        test_case,  // removed when the test case passes, kept and named when it fails
        test_run,   // shared by several test cases, removed at exit
    };
    explicit TempDir(Lifetime lifetime = Lifetime::test_case) : lifetime_(lifetime) {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "callpop-test-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr)
            throw std::runtime_error("cannot create a directory like " + pattern);
        path_ = pattern;
        if (lifetime_ == Lifetime::test_case) temp_dirs_of_current_test().push_back(path_);
    }
    ~TempDir() {
        std::error_code ignored;
        if (lifetime_ == Lifetime::test_run) std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

private:
    Lifetime lifetime_;
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

}  // namespace callpop::test
