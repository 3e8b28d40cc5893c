#pragma once
// The one place that knows every storage backend: callers ask for a Store by config and
// never name a backend.
#include <memory>

#include "config/config.hpp"
#include "storage/store.hpp"
#include "storage/store_bus.hpp"

namespace callpop::storage {

enum class Access {
    read_write,  // creates and migrates the schema as needed
    read_only,   // for readers beside the writer: the schema must be there already
};

// Opens the backend named by storage.backend.
std::unique_ptr<Store> open_store(const config::Storage& settings,
                                  Access access = Access::read_write);

// Whether several daemons may serve the store at once (PostgreSQL).
bool store_is_shared(const config::Storage& settings);

// The bus between the daemons sharing the store; nullptr when the backend is served by one
// daemon alone (SQLite), which has no one to tell.
std::unique_ptr<StoreBus> open_bus(const config::Storage& settings);

// Held by `callpop serve` for its life: a store the backend lets one daemon serve (SQLite)
// is refused to a second one, with the first one's pid.
std::unique_ptr<ServeLock> lock_store_for_serving(const config::Storage& settings);

}  // namespace callpop::storage
