#pragma once
// A PostgreSQL server of the tests' own: initdb in a temporary directory, listening on
// 127.0.0.1 at a port the test picks, stopped and removed when the test process ends.
// Debian's postgresql package (scripts/install-deps) provides the programs; as root they run
// as its postgres user, since PostgreSQL refuses to run as root.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "storage/postgresql/connection.hpp"
#include "support/ports.hpp"
#include "support/temp_dir.hpp"

namespace callpop::test {

class PostgresCluster {
  public:
    // One server for the whole test process, started on first use.
    static PostgresCluster& shared() {
        static PostgresCluster cluster;
        return cluster;
    }
    ~PostgresCluster() { run(pg_ctl() + " stop -m fast -w", false); }
    PostgresCluster(const PostgresCluster&) = delete;
    PostgresCluster& operator=(const PostgresCluster&) = delete;

    // A database of its own for one test case; its libpq connection string.
    std::string fresh_database() {
        const std::string name = "callpop_test_" + std::to_string(++databases_);
        storage::postgresql::Connection admin(conninfo("postgres"));
        admin.exec("CREATE DATABASE " + name);
        return conninfo(name);
    }
    std::string conninfo(const std::string& database) const {
        return "host=127.0.0.1 port=" + std::to_string(port_) + " user=callpop dbname=" +
               database + " connect_timeout=5";
    }

  private:
    PostgresCluster() : port_(unused_port()) {
        bin_ = find_bin();
        if (::geteuid() == 0) run("chown -R postgres: " + dir_.path().string());
        run(as_owner() + bin_ + "/initdb -D " + data().string() +
            " -U callpop -A trust -E UTF8 --no-locale");
        // Tests do not test PostgreSQL's own durability: no fsync makes them faster.
        run(pg_ctl() + " -l " + (dir_.path() / "server.log").string() + " -w -t 60 -o \"" +
            "-c listen_addresses=127.0.0.1 -p " + std::to_string(port_) +
            " -c unix_socket_directories=" + data().string() +
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off\" start");
    }

    static std::string find_bin() {
        std::vector<std::filesystem::path> found;
        std::error_code ignored;
        for (const auto& version : std::filesystem::directory_iterator("/usr/lib/postgresql", ignored))
            if (std::filesystem::exists(version.path() / "bin" / "initdb")) found.push_back(version.path() / "bin");
        REQUIRE_MESSAGE(!found.empty(),
                        "these tests start a PostgreSQL server of their own: install Debian's "
                        "postgresql package (scripts/install-deps)");
        return std::max_element(found.begin(), found.end())->string();
    }

    std::filesystem::path data() const { return dir_.path() / "data"; }
    std::string as_owner() const { return ::geteuid() == 0 ? "runuser -u postgres -- " : ""; }
    std::string pg_ctl() const { return as_owner() + bin_ + "/pg_ctl -D " + data().string(); }

    // Runs a shell command; its output goes to the cluster's log, shown when it fails.
    void run(const std::string& command, bool required = true) const {
        const auto log = dir_.path() / "commands.log";
        const int status = std::system((command + " >>" + log.string() + " 2>&1").c_str());
        if (!required) return;
        std::ifstream in(log);
        std::stringstream text;
        text << in.rdbuf();
        REQUIRE_MESSAGE(status == 0, command << " failed:\n" << text.str());
    }

    TempDir dir_{TempDir::Lifetime::test_run};
    std::uint16_t port_;
    std::string bin_;
    int databases_ = 0;
};

}  // namespace callpop::test
