#pragma once
// What the tests of several daemons on one PostgreSQL database share: a daemon's options on
// the database, and one value read from it.
#include <cstdint>
#include <string>

#include "harness.hpp"
#include "storage/postgresql/connection.hpp"

namespace callpop::test {

inline Daemon::Options on_database(const std::string& conninfo, const std::string& daemon_name) {
    Daemon::Options options;
    options.postgres_conninfo = conninfo;
    options.daemon_name = daemon_name;
    return options;
}

inline std::int64_t count_of(const std::string& conninfo, const std::string& sql) {
    storage::postgresql::Connection db(conninfo);
    return db.query(sql).integer(0, 0);
}

inline std::string text_of(const std::string& conninfo, const std::string& sql) {
    storage::postgresql::Connection db(conninfo);
    return std::string(db.query(sql).text(0, 0));
}

}  // namespace callpop::test
