#pragma once
#include <filesystem>
#include <memory>

#include "storage/store.hpp"

namespace callpop::storage {

// The embedded backend: one SQLite file in WAL mode.
std::unique_ptr<Store> open_sqlite_store(const std::filesystem::path& path);

}  // namespace callpop::storage
