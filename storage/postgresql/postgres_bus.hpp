#pragma once
#include <memory>
#include <string>

#include "storage/store_bus.hpp"

namespace callpop::storage {

// LISTEN/NOTIFY on a connection of its own.
std::unique_ptr<StoreBus> open_postgres_bus(const std::string& conninfo);

}  // namespace callpop::storage
