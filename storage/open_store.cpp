#include "storage/open_store.hpp"

#include "storage/sqlite/sqlite_store.hpp"

namespace callpop::storage {

std::unique_ptr<Store> open_store(const config::Storage& settings, Access access) {
    if (settings.backend == "sqlite")
        return open_sqlite_store(settings.path, access == Access::read_only);
    throw StorageError("storage.backend \"" + settings.backend + "\" is not built in (sqlite)");
}

std::unique_ptr<ServeLock> lock_store_for_serving(const config::Storage& settings) {
    if (settings.backend == "sqlite") return lock_sqlite_store_for_serving(settings.path);
    throw StorageError("storage.backend \"" + settings.backend + "\" is not built in (sqlite)");
}

}  // namespace callpop::storage
