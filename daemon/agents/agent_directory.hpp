#pragma once
// Who sits at which extension, which agent session is live, and the pops each agent has
// not acked yet (replayed when it reconnects). An agent stays at its extensions while
// disconnected, so what rings meanwhile waits for it, until it logs out or a supervisor
// releases the extension; no other agent can take it meanwhile.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "daemon/net/shared_message.hpp"

namespace callpop::daemon {

class AgentSession;

struct PendingPop {
    std::uint64_t seq = 0;
    std::string call;
    SharedMessage message;
};

class AgentDirectory {
public:
    explicit AgentDirectory(std::size_t pending_max) : pending_max_(pending_max) {}

    // Makes `session` the agent's live session at `extensions`; returns the session it
    // replaces, if any, for the caller to close.
    std::shared_ptr<AgentSession> attach(const std::string& agent,
                                         const std::vector<std::string>& extensions,
                                         const std::shared_ptr<AgentSession>& session);
    // Another agent seated at one of `extensions` (live or away), if any: an extension is
    // held by one agent at a time.
    struct Seat {
        std::string extension;
        std::string agent;
    };
    std::optional<Seat> holder_besides(const std::string& agent,
                                       const std::vector<std::string>& extensions) const;
    // Unseats whoever holds `extension`; returns who did (empty: nobody).
    std::string release(const std::string& extension);
    // The session went away; the agent keeps its extensions and pending pops.
    void detach(const std::string& agent, const AgentSession* session);
    // Logged out: leaves its extensions and forgets its pending pops.
    void remove(const std::string& agent);

    std::shared_ptr<AgentSession> session(const std::string& agent) const;
    const std::vector<std::string>& agents_at(const std::string& extension) const;

    void add_pending(const std::string& agent, PendingPop pop);
    void ack(const std::string& agent, std::uint64_t seq);
    void drop_call(const std::string& agent, const std::string& call);
    std::vector<PendingPop> pending_after(const std::string& agent, std::uint64_t seq) const;

    // For `callpop status`: agents with a live session, and agents whose session went away
    // without a logout (they keep their extensions; what rings waits for them).
    struct Headcount {
        std::size_t connected = 0;
        std::size_t away = 0;
    };
    Headcount headcount() const;
    // Each agent seated at extensions, with its live session (null: away).
    struct Seated {
        std::string agent;
        std::vector<std::string> extensions;
        std::shared_ptr<AgentSession> session;
    };
    std::vector<Seated> seated() const;

private:
    struct Presence {
        std::weak_ptr<AgentSession> session;
        std::vector<std::string> extensions;
        // Oldest first. A vector, not a deque: it holds nothing while empty, as it mostly
        // is (a deque allocates about 600 bytes per agent up front).
        std::vector<PendingPop> pending;
    };
    void leave_extensions(const std::string& agent, Presence& presence);

    std::size_t pending_max_;
    std::unordered_map<std::string, Presence> agents_;
    std::unordered_map<std::string, std::vector<std::string>> agents_by_extension_;
};

}  // namespace callpop::daemon
