#pragma once
// Where a call's pop goes: to the agents seated at the extensions it rings, kept pending for
// each until acked (replayed when the agent reconnects), and withdrawn with a `call` line
// when the call is answered, transferred or ends. Remembers whom each call popped for until
// the call ends.
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "daemon/agents/agent_directory.hpp"
#include "domain/states.hpp"

namespace callpop::daemon {

class PopRouter {
public:
    explicit PopRouter(std::size_t pending_max) : directory_(pending_max) {}

    // Sessions and seats, as AgentDirectory keeps them.
    std::shared_ptr<AgentSession> attach(const std::string& agent,
                                         const std::vector<std::string>& extensions,
                                         const std::shared_ptr<AgentSession>& session);
    std::optional<AgentDirectory::Seat> holder_besides(
        const std::string& agent, const std::vector<std::string>& extensions) const {
        return directory_.holder_besides(agent, extensions);
    }
    std::string release(const std::string& extension) { return directory_.release(extension); }
    std::shared_ptr<AgentSession> session(const std::string& agent) const {
        return directory_.session(agent);
    }
    void detach(const std::string& agent, const AgentSession* session);
    void remove(const std::string& agent);
    void ack(const std::string& agent, std::uint64_t seq);
    std::vector<PendingPop> pending_after(const std::string& agent, std::uint64_t seq) const;
    AgentDirectory::Headcount headcount() const;
    std::vector<AgentDirectory::Seated> seated() const { return directory_.seated(); }
    // Pops handed to agents' sessions: as they rang, and those a login's welcome carried.
    std::uint64_t pops_sent() const { return pops_sent_; }
    void count_welcome_pops(std::size_t count) { pops_sent_ += count; }

    const std::vector<std::string>& agents_at(const std::string& extension) const;
    // The agent seated at `extension`, or "" when nobody is.
    std::string agent_at(const std::string& extension) const;

    // Pops the call for every agent seated at `extensions`, and for whoever sits down at
    // one of them while it rings (ringing_for_new_seat).
    void pop_at(const std::vector<std::string>& extensions, const PendingPop& pop);
    // A transfer: the call rings at `extensions` now, and no longer where it rang before,
    // for whoever sits down there while it rings.
    void ring_at(const std::vector<std::string>& extensions, const PendingPop& pop);
    // Calls ringing now at `extensions` that never popped for `agent`, who sat down while the
    // phone rang (or after a restart, when the switch told of them again): pending for it
    // from now on, and returned, oldest first, for its welcome.
    std::vector<PendingPop> ringing_for_new_seat(const std::string& agent,
                                                 const std::vector<std::string>& extensions);
    // Pops the call for `agent`, unless it already popped for it.
    void pop_for(const std::string& agent, const PendingPop& pop);
    // Pops the call for `agent` under the pop's new seq, whether or not it popped for it
    // before: the older pop is no longer pending.
    void pop_again_for(const std::string& agent, const PendingPop& pop);

    // Tells `agent` the call's new state, if the call popped for it; its pop is no longer
    // pending.
    void tell_agent(const std::string& call, const std::string& agent,
                    domain::PoppedCallState state, const std::string& by, const std::string& cause);
    // The same for every agent the call popped for but `except_agents`.
    void tell_agents(const std::string& call, domain::PoppedCallState state, const std::string& by,
                     const std::string& cause, const std::vector<std::string>& except_agents);
    // Tells every agent the call popped for that it ended; returns them, and forgets them.
    std::set<std::string> call_ended(const std::string& call, const std::string& cause);
    // Whether the live call popped for `agent`.
    bool popped_for(const std::string& call, const std::string& agent) const;

private:
    void tell(const std::string& agent, const std::string& call, const SharedMessage& message);

    void stop_ringing(const std::string& call);

    AgentDirectory directory_;
    // Call id to the agents it popped for; an entry lives until the call ends.
    std::unordered_map<std::string, std::set<std::string>> popped_;
    // Calls ringing at each extension, until answered or ended, and the other way round.
    std::unordered_map<std::string, std::unordered_map<std::string, PendingPop>> ringing_at_;
    std::unordered_map<std::string, std::vector<std::string>> ringing_extensions_;
    std::uint64_t pops_sent_ = 0;
};

}  // namespace callpop::daemon
