#include "storage/postgresql/schema.hpp"

#include <array>
#include <string>

namespace callpop::storage::postgresql {

namespace {

constexpr std::array migrations = {
#include "schema.sql.inc"
};

// A key of our own, the same for every daemon: they queue on it to migrate. Two numbers
// (callpop's port, then "migrate") rather than one, to stay clear of other programs' keys.
constexpr const char* migration_lock = "SELECT pg_advisory_xact_lock(7700, 1)";

}  // namespace

int known_schema_version() { return static_cast<int>(migrations.size()); }

int schema_version(Connection& db) {
    const Result exists = db.query("SELECT to_regclass('schema_version') IS NOT NULL");
    if (exists.text(0, 0) != "t") return 0;
    const Result version = db.query("SELECT version FROM schema_version");
    return version.rows() == 0 ? 0 : static_cast<int>(version.integer(0, 0));
}

void migrate(Connection& db) {
    // Read committed whatever the server's default: a daemon that waited for the lock must
    // see what the one before it committed.
    db.exec("BEGIN ISOLATION LEVEL READ COMMITTED");
    try {
        db.exec(migration_lock);
        db.exec("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)");
        const int version = schema_version(db);
        if (version > known_schema_version())
            throw StorageError("PostgreSQL: the database is at schema version " +
                               std::to_string(version) + ", newer than this callpop's " +
                               std::to_string(known_schema_version()) + ": upgrade callpop");
        if (version == 0 && db.query("SELECT count(*) FROM schema_version").integer(0, 0) == 0)
            db.exec("INSERT INTO schema_version (version) VALUES (0)");
        for (int next = version; next < known_schema_version(); ++next) {
            db.exec(migrations[static_cast<std::size_t>(next)]);
            db.query("UPDATE schema_version SET version = $1",
                     {std::to_string(next + 1)});
        }
        db.exec("COMMIT");
    } catch (...) {
        try {
            db.exec("ROLLBACK");
        } catch (const StorageError&) {
            // Not even a new connection: the migration's error is the one to report.
        }
        throw;
    }
}

}  // namespace callpop::storage::postgresql
