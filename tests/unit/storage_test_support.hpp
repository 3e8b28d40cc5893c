#pragma once
// Storage tests run on real database files, each test case in a fresh directory.
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

#include "support/temp_dir.hpp"
#include "storage/phone_number.hpp"
#include "storage/sqlite/sqlite_store.hpp"

namespace callpop::test {

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
