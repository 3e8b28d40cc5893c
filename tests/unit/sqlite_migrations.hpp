#pragma once
// The SQLite backend's migrations, in order: a test builds an older database from the first
// few and opens it with the store.

namespace callpop::test {

inline constexpr const char* sqlite_migrations[] = {
#include "storage/sqlite/schema.sql.inc"
};

}  // namespace callpop::test
