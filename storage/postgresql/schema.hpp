#pragma once
// The PostgreSQL schema, in numbered migrations of its own (the SQLite backend numbers its
// own the same way). Daemons starting together migrate once: the first takes an advisory
// lock, the others wait for it and find the work done.
#include "storage/postgresql/connection.hpp"

namespace callpop::storage::postgresql {

// How many migrations this callpop knows.
int known_schema_version();
// How many have run on the database (0: none yet).
int schema_version(Connection& db);
// Runs the missing migrations, each in the same transaction as the version it records. A
// database migrated by a newer callpop is refused.
void migrate(Connection& db);

}  // namespace callpop::storage::postgresql
