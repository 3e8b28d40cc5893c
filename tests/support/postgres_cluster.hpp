#pragma once
// A PostgreSQL server of the tests' own: initdb in a temporary directory, listening on
// 127.0.0.1 at a port the test picks, stopped and removed when the test process ends.
// Debian's postgresql package (scripts/install-deps) provides the programs; as root they run
// as its postgres user, since PostgreSQL refuses to run as root.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "storage/postgresql/connection.hpp"
#include "support/ports.hpp"

namespace callpop::test {

class PostgresCluster {
  public:
    // One server for the whole test process, started on first use.
    static PostgresCluster& shared() {
        static PostgresCluster cluster;
        return cluster;
    }
    // A server of one test's own, for a test that stops and starts it: the shared one may
    // serve other tests of the process meanwhile.
    static std::unique_ptr<PostgresCluster> of_its_own() {
        return std::unique_ptr<PostgresCluster>(new PostgresCluster());
    }
    ~PostgresCluster() {
        stop(dir_);
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }
    PostgresCluster(const PostgresCluster&) = delete;
    PostgresCluster& operator=(const PostgresCluster&) = delete;

    // A database of its own for one test case; its libpq connection string. `icu_locale`:
    // the database's collation, as an admin may choose it (default: the server's, "C").
    std::string fresh_database(const std::string& icu_locale = "") {
        const std::string name = "callpop_test_" + std::to_string(++databases_);
        storage::postgresql::Connection admin(conninfo("postgres"));
        admin.exec("CREATE DATABASE " + name +
                   (icu_locale.empty() ? ""
                                       : " TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE '" +
                                             icu_locale + "'"));
        return conninfo(name);
    }
    std::string conninfo(const std::string& database) const {
        return "host=127.0.0.1 port=" + std::to_string(port_) + " user=callpop dbname=" +
               database + " connect_timeout=5";
    }

    // Stops the server as `systemctl stop` does (a fast shutdown: sessions are ended, what
    // committed stays), and starts it again on the same port and data.
    void stop_server() { run(pg_ctl(dir_) + " stop -m fast -w"); }
    void start_server() { REQUIRE(start_on(port_, true)); }

  private:
    // Each test process's server lives in <tmp>/callpop-postgres/<pid>: one whose process
    // died without stopping it (a crash, a sanitizer's abort, a timeout's kill) is stopped
    // and removed by the next one.
    // The first server of a process lives in <tmp>/callpop-postgres/<pid>, the others in
    // <pid>-2, <pid>-3, ...: remove_abandoned() reads the pid before the dash.
    PostgresCluster()
        : bin_(find_bin()),
          dir_(std::filesystem::temp_directory_path() / "callpop-postgres" / directory_name()) {
        remove_abandoned(dir_.parent_path());
        std::filesystem::create_directories(dir_);
        if (::geteuid() == 0) run("chown -R postgres: " + dir_.string());
        run(as_owner() + bin_ + "/initdb -D " + data(dir_).string() +
            " -U callpop -A trust -E UTF8 --no-locale");
        // The port is picked right before the start; another process may still take it
        // meanwhile, so a start that fails is tried again on another.
        for (int attempt = 1;; ++attempt) {
            port_ = unused_port();
            if (start_on(port_, attempt == 3)) break;
        }
    }

    static std::string directory_name() {
        static int clusters = 0;
        const std::string pid = std::to_string(::getpid());
        return ++clusters == 1 ? pid : pid + "-" + std::to_string(clusters);
    }

    bool start_on(std::uint16_t port, bool required) const {
        // Tests do not test PostgreSQL's own durability: no fsync makes them faster.
        return run(pg_ctl(dir_) + " -l " + (dir_ / "server.log").string() + " -w -t 60 -o \"" +
                       "-c listen_addresses=127.0.0.1 -p " + std::to_string(port) +
                       " -c unix_socket_directories=" + data(dir_).string() +
                       " -c fsync=off -c synchronous_commit=off -c full_page_writes=off\" start",
                   required);
    }

    static std::string find_bin() {
        // The newest major version Debian installed.
        std::filesystem::path newest;
        int newest_version = 0;
        std::error_code ignored;
        for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ignored)) {
            const int version = std::atoi(entry.path().filename().c_str());
            if (version > newest_version && std::filesystem::exists(entry.path() / "bin" / "initdb")) {
                newest_version = version;
                newest = entry.path() / "bin";
            }
        }
        REQUIRE_MESSAGE(newest_version > 0,
                        "these tests start a PostgreSQL server of their own: install Debian's "
                        "postgresql package (scripts/install-deps)");
        return newest.string();
    }

    void remove_abandoned(const std::filesystem::path& base) const {
        std::error_code ignored;
        for (const auto& entry : std::filesystem::directory_iterator(base, ignored)) {
            const pid_t owner = std::atoi(entry.path().filename().c_str());
            if (owner <= 0 || ::kill(owner, 0) == 0 || errno != ESRCH) continue;
            stop(entry.path());
            std::filesystem::remove_all(entry.path(), ignored);
        }
    }

    static std::filesystem::path data(const std::filesystem::path& dir) { return dir / "data"; }
    std::string as_owner() const { return ::geteuid() == 0 ? "runuser -u postgres -- " : ""; }
    std::string pg_ctl(const std::filesystem::path& dir) const {
        return as_owner() + bin_ + "/pg_ctl -D " + data(dir).string();
    }
    void stop(const std::filesystem::path& dir) const {
        if (std::filesystem::exists(data(dir) / "postmaster.pid"))
            run(pg_ctl(dir) + " stop -m fast -w", false);
    }

    // Runs a shell command, its output appended to the cluster's commands.log; when it fails
    // and `required`, the test fails showing that log and the server's.
    bool run(const std::string& command, bool required = true) const {
        const auto log = dir_ / "commands.log";
        const int status = std::system((command + " >>" + log.string() + " 2>&1").c_str());
        if (status == 0 || !required) return status == 0;
        std::stringstream text;
        for (const auto& name : {"commands.log", "server.log"}) {
            std::ifstream in(dir_ / name);
            text << "--- " << name << ":\n" << in.rdbuf();
        }
        FAIL(command << " failed:\n" << text.str());
        return false;
    }

    std::string bin_;
    std::filesystem::path dir_;
    std::uint16_t port_ = 0;
    int databases_ = 0;
};

}  // namespace callpop::test
