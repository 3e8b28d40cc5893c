#include "daemon/agents/pop_router.hpp"

#include <algorithm>

#include "daemon/agents/agent_session.hpp"
#include "protocol/agent_message.hpp"

namespace callpop::daemon {

using domain::PoppedCallState;

std::shared_ptr<AgentSession> PopRouter::attach(const std::string& agent,
                                                const std::vector<std::string>& extensions,
                                                const std::shared_ptr<AgentSession>& session) {
    return directory_.attach(agent, extensions, session);
}

void PopRouter::detach(const std::string& agent, const AgentSession* session) {
    directory_.detach(agent, session);
}

void PopRouter::remove(const std::string& agent) { directory_.remove(agent); }

void PopRouter::ack(const std::string& agent, std::uint64_t seq) { directory_.ack(agent, seq); }

std::vector<PendingPop> PopRouter::pending_after(const std::string& agent,
                                                 std::uint64_t seq) const {
    return directory_.pending_after(agent, seq);
}

AgentDirectory::Headcount PopRouter::headcount() const { return directory_.headcount(); }

const std::vector<std::string>& PopRouter::agents_at(const std::string& extension) const {
    return directory_.agents_at(extension);
}

std::string PopRouter::agent_at(const std::string& extension) const {
    const auto& agents = directory_.agents_at(extension);
    return agents.empty() ? std::string() : agents.front();
}

void PopRouter::pop_at(const std::vector<std::string>& extensions, const PendingPop& pop) {
    auto& rung = ringing_extensions_[pop.call];
    for (const auto& extension : extensions) {
        ringing_at_[extension].insert_or_assign(pop.call, pop);
        rung.push_back(extension);
        for (const auto& agent : directory_.agents_at(extension)) pop_for(agent, pop);
    }
}

void PopRouter::ring_at(const std::vector<std::string>& extensions, const PendingPop& pop) {
    stop_ringing(pop.call);
    auto& rung = ringing_extensions_[pop.call];
    for (const auto& extension : extensions) {
        ringing_at_[extension].insert_or_assign(pop.call, pop);
        rung.push_back(extension);
    }
}

std::vector<PendingPop> PopRouter::ringing_for_new_seat(const std::string& agent,
                                                        const std::vector<std::string>& extensions) {
    std::vector<PendingPop> pops;
    for (const auto& extension : extensions) {
        auto ringing = ringing_at_.find(extension);
        if (ringing == ringing_at_.end()) continue;
        for (const auto& [call, pop] : ringing->second) {
            if (!popped_[call].insert(agent).second) continue;
            directory_.add_pending(agent, pop);
            pops.push_back(pop);
        }
    }
    std::sort(pops.begin(), pops.end(),
              [](const PendingPop& a, const PendingPop& b) { return a.seq < b.seq; });
    return pops;
}

void PopRouter::stop_ringing(const std::string& call) {
    auto rung = ringing_extensions_.find(call);
    if (rung == ringing_extensions_.end()) return;
    for (const auto& extension : rung->second) {
        auto ringing = ringing_at_.find(extension);
        if (ringing == ringing_at_.end()) continue;
        ringing->second.erase(call);
        if (ringing->second.empty()) ringing_at_.erase(ringing);
    }
    ringing_extensions_.erase(rung);
}

void PopRouter::pop_for(const std::string& agent, const PendingPop& pop) {
    if (!popped_[pop.call].insert(agent).second) return;
    directory_.add_pending(agent, pop);
    if (auto session = directory_.session(agent)) {
        session->deliver(pop.message);
        ++pops_sent_;
    }
}

void PopRouter::pop_again_for(const std::string& agent, const PendingPop& pop) {
    directory_.drop_call(agent, pop.call);
    popped_[pop.call].erase(agent);
    pop_for(agent, pop);
}

void PopRouter::tell_agent(const std::string& call, const std::string& agent, PoppedCallState state,
                           const std::string& by, const std::string& cause) {
    auto popped = popped_.find(call);
    if (popped == popped_.end() || !popped->second.contains(agent)) return;
    tell(agent, call,
         std::make_shared<const std::string>(protocol::encode_call_state(call, state, by, cause)));
}

void PopRouter::tell_agents(const std::string& call, PoppedCallState state, const std::string& by,
                            const std::string& cause,
                            const std::vector<std::string>& except_agents) {
    stop_ringing(call);  // answered or ended: no longer for whoever sits down
    auto popped = popped_.find(call);
    if (popped == popped_.end()) return;
    // Encoded once for all of them.
    auto message =
        std::make_shared<const std::string>(protocol::encode_call_state(call, state, by, cause));
    for (const auto& agent : popped->second) {
        if (std::find(except_agents.begin(), except_agents.end(), agent) != except_agents.end())
            continue;
        tell(agent, call, message);
    }
}

std::set<std::string> PopRouter::call_ended(const std::string& call, const std::string& cause) {
    stop_ringing(call);
    tell_agents(call, PoppedCallState::ended, "", cause, {});
    auto found = popped_.find(call);
    if (found == popped_.end()) return {};
    auto agents = std::move(found->second);
    popped_.erase(found);
    return agents;
}

bool PopRouter::popped_for(const std::string& call, const std::string& agent) const {
    auto found = popped_.find(call);
    return found != popped_.end() && found->second.contains(agent);
}

void PopRouter::tell(const std::string& agent, const std::string& call,
                     const SharedMessage& message) {
    directory_.drop_call(agent, call);
    if (auto session = directory_.session(agent)) session->deliver(message);
}

}  // namespace callpop::daemon
