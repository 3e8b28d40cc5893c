#pragma once
#include <memory>
#include <string>

#include "storage/store_bus.hpp"

namespace callpop::storage {

// LISTEN/NOTIFY on a connection of its own, shown as "callpop <daemon_name> bus".
std::unique_ptr<StoreBus> open_postgres_bus(const std::string& conninfo,
                                            const std::string& daemon_name);

}  // namespace callpop::storage
