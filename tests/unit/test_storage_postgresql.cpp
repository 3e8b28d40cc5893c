// The PostgreSQL backend's connection and migrations, on a real server the test starts
// (tests/support/postgres_cluster.hpp).
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "storage/postgresql/connection.hpp"
#include "storage/postgresql/schema.hpp"
#include "support/ports.hpp"
#include "support/postgres_cluster.hpp"
#include "storage_test_support.hpp"

using callpop::storage::StorageError;
using callpop::storage::postgresql::Connection;
using callpop::storage::postgresql::known_schema_version;
using callpop::storage::postgresql::migrate;
using callpop::storage::postgresql::schema_version;
using callpop::test::PostgresCluster;

namespace postgresql_test {

std::vector<std::string> tables(Connection& db) {
    const auto result = db.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
        "ORDER BY table_name");
    std::vector<std::string> names;
    for (int row = 0; row < result.rows(); ++row) names.emplace_back(result.text(row, 0));
    return names;
}


// A socket option of the connection's TCP socket, as the kernel holds it.
int socket_option(const Connection& db, int level, int option) {
    int value = -1;
    socklen_t size = sizeof value;
    REQUIRE(::getsockopt(db.socket(), level, option, &value, &size) == 0);
    return value;
}

}  // namespace postgresql_test

using namespace postgresql_test;

TEST_CASE("postgresql: a fresh database is migrated to this callpop's schema, once") {
    Connection db(PostgresCluster::shared().fresh_database());
    CHECK(schema_version(db) == 0);
    migrate(db);
    CHECK(schema_version(db) == known_schema_version());
    const std::vector<std::string> expected = {
        "agents",  "assets",          "call_log",  "calls", "customers", "daemon_state",
        "daemons", "followup_attempts", "followups", "notes", "phones", "schema_version",
        "secrets"};
    CHECK(tables(db) == expected);
    // Migrating again finds nothing to do and keeps what is there.
    db.query("INSERT INTO customers (external_id, name) VALUES ($1, $2)", {"CRM-1", "Pat Doe"});
    migrate(db);
    CHECK(schema_version(db) == known_schema_version());
    CHECK(db.query("SELECT count(*) FROM customers").integer(0, 0) == 1);
    CHECK(db.query("SELECT count(*) FROM schema_version").integer(0, 0) == 1);
}

TEST_CASE("postgresql: daemons starting together migrate the database once") {
    const std::string conninfo = PostgresCluster::shared().fresh_database();
    constexpr int daemons = 4;
    std::atomic<int> failures{0};
    std::vector<std::thread> starting;
    for (int daemon = 0; daemon < daemons; ++daemon) {
        starting.emplace_back([&] {
            try {
                Connection db(conninfo);
                migrate(db);
            } catch (const StorageError&) {
                ++failures;
            }
        });
    }
    for (auto& thread : starting) thread.join();
    CHECK(failures == 0);
    Connection db(conninfo);
    CHECK(schema_version(db) == known_schema_version());
    CHECK(db.query("SELECT value FROM daemon_state WHERE name = 'accounts_revision'").integer(0, 0) == 0);
}

TEST_CASE("postgresql: a database from a newer callpop is refused, not changed") {
    Connection db(PostgresCluster::shared().fresh_database());
    migrate(db);
    const std::string newer = std::to_string(known_schema_version() + 1);
    db.query("UPDATE schema_version SET version = $1", {newer});
    const auto error = callpop::test::storage_error_of([&] { migrate(db); });
    CHECK(std::string(error.what()) ==
          "PostgreSQL: the database is at schema version " + newer +
              ", newer than this callpop's " + std::to_string(known_schema_version()) +
              ": upgrade callpop");
    CHECK_FALSE(error.transient());
    CHECK(db.query("SELECT version FROM schema_version").text(0, 0) == newer);
}

TEST_CASE("postgresql: no server at the address is a transient error that names it") {
    const callpop::test::RefusingPort nobody;
    const auto error = callpop::test::storage_error_of([&] {
        Connection db("host=127.0.0.1 port=" + std::to_string(nobody.port()) +
                      " user=callpop dbname=callpop connect_timeout=5");
    });
    INFO(error.what());
    CHECK(std::string(error.what()).starts_with("PostgreSQL: connecting: "));
    CHECK(std::string(error.what()).find("127.0.0.1") != std::string::npos);
    CHECK(std::string(error.what()).find(std::to_string(nobody.port())) != std::string::npos);
    CHECK(std::string(error.what()).find("refused") != std::string::npos);
    CHECK(error.transient());
}

TEST_CASE("postgresql: every connection keeps TCP alive, unless the connection string says "
          "otherwise") {
    const std::string conninfo = PostgresCluster::shared().fresh_database();
    const Connection db(conninfo);
    CHECK(socket_option(db, SOL_SOCKET, SO_KEEPALIVE) == 1);
    CHECK(socket_option(db, IPPROTO_TCP, TCP_KEEPIDLE) == 10);
    CHECK(socket_option(db, IPPROTO_TCP, TCP_KEEPINTVL) == 5);
    CHECK(socket_option(db, IPPROTO_TCP, TCP_KEEPCNT) == 3);
    const Connection tuned(conninfo + " keepalives_idle=42 keepalives_count=7");
    CHECK(socket_option(tuned, IPPROTO_TCP, TCP_KEEPIDLE) == 42);
    CHECK(socket_option(tuned, IPPROTO_TCP, TCP_KEEPINTVL) == 5);
    CHECK(socket_option(tuned, IPPROTO_TCP, TCP_KEEPCNT) == 7);
    const Connection without(conninfo + " keepalives=0");
    CHECK(socket_option(without, SOL_SOCKET, SO_KEEPALIVE) == 0);
}

TEST_CASE("postgresql: a server that answers and refuses is not a transient error") {
    auto conninfo = PostgresCluster::shared().fresh_database();
    conninfo.replace(conninfo.find("dbname="), std::string("dbname=").size(), "dbname=nowhere_");
    const auto error = callpop::test::storage_error_of([&] { Connection db(conninfo); });
    INFO(error.what());
    CHECK(std::string(error.what()).find("\"nowhere_") != std::string::npos);
    CHECK_FALSE(error.transient());
}

TEST_CASE("postgresql: errors name the statement, and only the server's trouble is transient") {
    Connection db(PostgresCluster::shared().fresh_database());
    migrate(db);
    const auto syntax = callpop::test::storage_error_of([&] { db.exec("SELEKT 1"); });
    CHECK(std::string(syntax.what()).starts_with("PostgreSQL: \"SELEKT 1\": ERROR:  syntax error"));
    CHECK_FALSE(syntax.transient());

    db.query("INSERT INTO customers (external_id) VALUES ($1)", {"CRM-1"});
    const auto duplicate =
        callpop::test::storage_error_of([&] { db.query("INSERT INTO customers (external_id) VALUES ($1)", {"CRM-1"}); });
    INFO(duplicate.what());
    CHECK(std::string(duplicate.what()).find("customers_external_id_key") != std::string::npos);
    CHECK_FALSE(duplicate.transient());

    // NULL where the column takes none: a parameter given as nothing is NULL.
    const auto null_text = callpop::test::storage_error_of([&] {
        db.query("INSERT INTO customers (external_id) VALUES ($1)", {std::nullopt});
    });
    CHECK(std::string(null_text.what()).find("null value in column \"external_id\"") !=
          std::string::npos);

    // libpq reads parameters as C strings: one with a NUL byte would be cut short.
    const auto nul = callpop::test::storage_error_of([&] {
        db.query("INSERT INTO customers (external_id) VALUES ($1)",
                 {std::string_view("CRM-\0-2", 7)});
    });
    CHECK(std::string(nul.what()).ends_with(": parameter 1 holds a NUL byte"));
    CHECK_FALSE(nul.transient());
    CHECK(db.query("SELECT count(*) FROM customers").integer(0, 0) == 1);
}

TEST_CASE("postgresql: statements sent together answer in order; one that fails throws, naming "
          "it, and the ones after it do not run") {
    Connection db(PostgresCluster::shared().fresh_database());
    migrate(db);
    const std::string insert = "INSERT INTO customers (external_id) VALUES ($1) RETURNING id";
    const auto results = db.query_pipelined(
        {{insert, {"CRM-1"}}, {"SELECT count(*) FROM customers", {}}, {insert, {"CRM-2"}}});
    REQUIRE(results.size() == 3);
    CHECK(results[1].integer(0, 0) == 1);
    CHECK(results[2].integer(0, 0) > results[0].integer(0, 0));

    // Outside a transaction the statements up to the failing one are one implicit
    // transaction, rolled back with it.
    const auto duplicate = callpop::test::storage_error_of([&] {
        db.query_pipelined({{insert, {"CRM-3"}},
                            {"INSERT INTO customers (external_id) VALUES ($1)", {"CRM-1"}},
                            {insert, {"CRM-4"}}});
    });
    INFO(duplicate.what());
    CHECK(std::string(duplicate.what())
              .starts_with("PostgreSQL: \"INSERT INTO customers (external_id) VALUES ($1)\""));
    CHECK(std::string(duplicate.what()).find("customers_external_id_key") != std::string::npos);
    CHECK_FALSE(duplicate.transient());
    CHECK(db.query("SELECT string_agg(external_id, ',' ORDER BY id) FROM customers").text(0, 0) ==
          "CRM-1,CRM-2");

    // Inside one, the transaction fails as with statements sent one by one.
    db.exec("BEGIN");
    CHECK_THROWS_AS(db.query_pipelined({{insert, {"CRM-5"}}, {"SELEKT 1", {}}}), StorageError);
    CHECK_THROWS_AS(db.query("SELECT 1"), StorageError);
    db.exec("ROLLBACK");
    CHECK(db.query("SELECT count(*) FROM customers").integer(0, 0) == 2);
    CHECK(db.query_pipelined({}).empty());
}

TEST_CASE("postgresql: a transaction the server lost with its connection is never half run") {
    const std::string conninfo = PostgresCluster::shared().fresh_database();
    Connection db(conninfo);
    migrate(db);
    db.exec("BEGIN");
    db.query("INSERT INTO customers (external_id) VALUES ($1)", {"CRM-1"});
    Connection admin(conninfo);
    admin.query("SELECT pg_terminate_backend($1)", {std::to_string(db.backend_pid())});
    CHECK(callpop::test::storage_error_of([&] { db.query("INSERT INTO customers (external_id) VALUES ($1)", {"CRM-2"}); })
              .transient());
    // Reconnected, but outside the transaction: the rest of it must not run on its own.
    const auto refused = callpop::test::storage_error_of([&] {
        db.query("INSERT INTO customers (external_id) VALUES ($1)", {"CRM-3"});
    });
    CHECK(std::string(refused.what()).find("the connection was lost inside a transaction") !=
          std::string::npos);
    CHECK(refused.transient());
    CHECK_THROWS_AS(db.exec("COMMIT"), StorageError);
    db.exec("ROLLBACK");
    // Run again whole, it commits once.
    db.exec("BEGIN");
    db.query("INSERT INTO customers (external_id) VALUES ($1)", {"CRM-1"});
    db.query("INSERT INTO customers (external_id) VALUES ($1)", {"CRM-2"});
    db.exec("COMMIT");
    CHECK(db.query("SELECT string_agg(external_id, ',' ORDER BY external_id) FROM customers")
              .text(0, 0) == "CRM-1,CRM-2");
}

TEST_CASE("postgresql: statements sent together on a connection the server ended fail as "
          "transient, and the connection is usable after the rollback") {
    const std::string conninfo = PostgresCluster::shared().fresh_database();
    Connection db(conninfo);
    migrate(db);
    const std::string insert = "INSERT INTO customers (external_id) VALUES ($1)";
    db.exec("BEGIN");
    db.query(insert, {"CRM-1"});
    Connection admin(conninfo);
    admin.query("SELECT pg_terminate_backend($1)", {std::to_string(db.backend_pid())});
    // Whether the send or the first read finds it gone, the caller is told to run it again,
    // and nothing of the transaction runs on its own after it.
    CHECK(callpop::test::storage_error_of([&] {
              db.query_pipelined({{insert, {"CRM-2"}}, {insert, {"CRM-3"}}});
          }).transient());
    CHECK_THROWS_AS(db.query_pipelined({{insert, {"CRM-4"}}}), StorageError);
    db.exec("ROLLBACK");
    db.exec("BEGIN");
    db.query_pipelined({{insert, {"CRM-1"}}, {insert, {"CRM-2"}}});
    db.exec("COMMIT");
    CHECK(db.query("SELECT string_agg(external_id, ',' ORDER BY external_id) FROM customers")
              .text(0, 0) == "CRM-1,CRM-2");
}

TEST_CASE("postgresql: text compares byte by byte, as in SQLite, whatever the locale") {
    Connection db(PostgresCluster::shared().fresh_database("en-US"));
    migrate(db);
    // The database's own order is the locale's ...
    CHECK(db.query("SELECT string_agg(x, ',' ORDER BY x) FROM (VALUES ('b'), ('B'), ('a'), "
                   "('Z'), ('é')) AS v(x)")
              .text(0, 0) == "a,b,B,é,Z");
    // ... but the store's columns keep SQLite's.
    for (const char* id : {"b", "B", "a", "Z", "é"})
        db.query("INSERT INTO customers (external_id) VALUES ($1)", {id});
    CHECK(db.query("SELECT string_agg(external_id, ',' ORDER BY external_id) FROM customers")
              .text(0, 0) == "B,Z,a,b,é");
}

TEST_CASE("postgresql: a connection the server ended is opened again on its next use") {
    const std::string conninfo = PostgresCluster::shared().fresh_database();
    Connection db(conninfo);
    migrate(db);
    db.query("INSERT INTO customers (external_id) VALUES ($1)", {"CRM-1"});  // prepared
    Connection admin(conninfo);
    admin.query("SELECT pg_terminate_backend($1)", {std::to_string(db.backend_pid())});
    // The statement that finds the connection gone fails as transient: the caller retries.
    const auto lost = callpop::test::storage_error_of([&] { db.query("SELECT count(*) FROM customers"); });
    INFO(lost.what());
    CHECK(lost.transient());
    // libpq's message over several lines, the next ones indented: one line, as logs want it.
    CHECK(std::string(lost.what()).find_first_of("\n\t") == std::string::npos);
    // The retry opens it again, and the statements prepared before are prepared again.
    CHECK(db.query("SELECT count(*) FROM customers").integer(0, 0) == 1);
    db.query("INSERT INTO customers (external_id) VALUES ($1)", {"CRM-2"});
    CHECK(db.query("SELECT count(*) FROM customers").integer(0, 0) == 2);
    // The session is in UTC again, whatever the server's default.
    CHECK(db.query("SELECT current_setting('TimeZone')").text(0, 0) == "UTC");
}
