#pragma once
#include <memory>
#include <string>

#include "storage/store.hpp"

namespace callpop::storage {

// The shared backend: one PostgreSQL database for several daemons, by libpq connection
// string; `daemon_name` is this daemon among them (storage.daemon_name), and its sessions
// are shown as "callpop <daemon_name>". A read-write
// connection migrates the schema as needed; a read-only one expects it in place and at this
// callpop's version, and reads each transaction as one snapshot.
std::unique_ptr<Store> open_postgres_store(const std::string& conninfo,
                                          const std::string& daemon_name,
                                          bool read_only = false);

// A daemon name is served by one daemon at a time: an advisory lock, held by a connection of
// its own for the daemon's life.
std::unique_ptr<ServeLock> lock_postgres_daemon_name(const std::string& conninfo,
                                                     const std::string& daemon_name);

}  // namespace callpop::storage
