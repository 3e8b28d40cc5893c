#pragma once
// Which daemons serve the store, and when each was last seen: every daemon writes its own
// row now and then, and `callpop status` lists them all. On a shared store (PostgreSQL) they
// are several; on SQLite, one.
#include <cstdint>
#include <string>
#include <vector>

namespace callpop::storage {

struct DaemonSeen {
    std::string name;  // storage.daemon_name
    std::string host;
    std::int64_t pid = 0;
    std::string version;
    std::string started_at;  // UTC ISO
    std::string last_seen;   // UTC ISO
};

class DaemonRegistry {
public:
    virtual ~DaemonRegistry() = default;
    // Writes the daemon's row, by name.
    virtual void daemon_seen(const DaemonSeen& daemon) = 0;
    // Every row, by name.
    virtual std::vector<DaemonSeen> daemons() = 0;
};

}  // namespace callpop::storage
