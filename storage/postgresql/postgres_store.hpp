#pragma once
#include <memory>
#include <string>

#include "storage/store.hpp"

namespace callpop::storage {

// The shared backend: one PostgreSQL database for several daemons, by libpq connection
// string. A read-write connection migrates the schema as needed; a read-only one expects it
// in place and at this callpop's version, and reads each transaction as one snapshot.
std::unique_ptr<Store> open_postgres_store(const std::string& conninfo, bool read_only = false);

}  // namespace callpop::storage
