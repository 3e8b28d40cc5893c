#pragma once
#include <filesystem>
#include <memory>

#include "storage/store.hpp"

namespace callpop::storage {

// The embedded backend: one SQLite file in WAL mode. A read-only connection expects the
// schema in place and at this callpop's version.
std::unique_ptr<Store> open_sqlite_store(const std::filesystem::path& path,
                                         bool read_only = false);

}  // namespace callpop::storage
