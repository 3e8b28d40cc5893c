#include "storage/open_store.hpp"

#include "storage/postgresql/postgres_store.hpp"
#include "storage/sqlite/sqlite_store.hpp"

namespace callpop::storage {

namespace {

// Several daemons share one PostgreSQL database by design: nothing to hold.
class SharedStore final : public ServeLock {};

}  // namespace

std::unique_ptr<Store> open_store(const config::Storage& settings, Access access) {
    const bool read_only = access == Access::read_only;
    if (settings.backend == "sqlite") return open_sqlite_store(settings.path, read_only);
    if (settings.backend == "postgresql") return open_postgres_store(settings.conninfo, read_only);
    throw StorageError("storage.backend \"" + settings.backend +
                       "\" is not built in (sqlite, postgresql)");
}

std::unique_ptr<ServeLock> lock_store_for_serving(const config::Storage& settings) {
    if (settings.backend == "sqlite") return lock_sqlite_store_for_serving(settings.path);
    if (settings.backend == "postgresql") return std::make_unique<SharedStore>();
    throw StorageError("storage.backend \"" + settings.backend +
                       "\" is not built in (sqlite, postgresql)");
}

}  // namespace callpop::storage
