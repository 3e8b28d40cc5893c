#pragma once
// The one place that knows every storage backend: callers ask for a Store by config and
// never name a backend.
#include <memory>

#include "config/config.hpp"
#include "storage/store.hpp"

namespace callpop::storage {

// Opens the backend named by storage.backend, creating and migrating the schema as needed.
std::unique_ptr<Store> open_store(const config::Storage& settings);

}  // namespace callpop::storage
