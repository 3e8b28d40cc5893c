#pragma once
#include <filesystem>
#include <memory>

#include "storage/store.hpp"

namespace callpop::storage {

// The embedded backend: one SQLite file in WAL mode. A read-only connection expects the
// schema in place and at this callpop's version.
std::unique_ptr<Store> open_sqlite_store(const std::filesystem::path& path,
                                         bool read_only = false);

// One daemon per SQLite file: an flock on "<path>-serve.lock", which holds its pid.
std::unique_ptr<ServeLock> lock_sqlite_store_for_serving(const std::filesystem::path& path);

}  // namespace callpop::storage
