#include "storage/open_store.hpp"

#include "storage/postgresql/postgres_bus.hpp"
#include "storage/postgresql/postgres_store.hpp"
#include "storage/sqlite/sqlite_store.hpp"

namespace callpop::storage {

std::unique_ptr<Store> open_store(const config::Storage& settings, Access access) {
    const bool read_only = access == Access::read_only;
    if (settings.backend == "sqlite") return open_sqlite_store(settings.path, read_only);
    if (settings.backend == "postgresql")
        return open_postgres_store(settings.conninfo, settings.daemon_name, read_only);
    throw StorageError("storage.backend \"" + settings.backend +
                       "\" is not built in (sqlite, postgresql)");
}

bool store_is_shared(const config::Storage& settings) { return settings.backend == "postgresql"; }

std::unique_ptr<StoreBus> open_bus(const config::Storage& settings) {
    if (settings.backend == "postgresql")
        return open_postgres_bus(settings.conninfo, settings.daemon_name);
    return nullptr;
}

std::unique_ptr<ServeLock> lock_store_for_serving(const config::Storage& settings) {
    if (settings.backend == "sqlite") return lock_sqlite_store_for_serving(settings.path);
    if (settings.backend == "postgresql")
        return lock_postgres_daemon_name(settings.conninfo, settings.daemon_name);
    throw StorageError("storage.backend \"" + settings.backend +
                       "\" is not built in (sqlite, postgresql)");
}

}  // namespace callpop::storage
