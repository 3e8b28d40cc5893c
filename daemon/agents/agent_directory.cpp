#include "daemon/agents/agent_directory.hpp"

#include <algorithm>

namespace callpop::daemon {

std::shared_ptr<AgentSession> AgentDirectory::attach(const std::string& agent,
                                                     const std::vector<std::string>& extensions,
                                                     const std::shared_ptr<AgentSession>& session) {
    Presence& presence = agents_[agent];
    auto previous = presence.session.lock();
    presence.session = session;
    if (!extensions.empty() || presence.extensions.empty()) {
        leave_extensions(agent, presence);
        // One agent per phone: the login was refused if another holds one of them.
        for (const auto& extension : extensions) agents_by_extension_[extension].assign(1, agent);
        presence.extensions = extensions;
    }
    return previous == session ? nullptr : previous;
}

std::optional<AgentDirectory::Seat> AgentDirectory::holder_besides(
    const std::string& agent, const std::vector<std::string>& extensions) const {
    for (const auto& extension : extensions) {
        auto seated = agents_by_extension_.find(extension);
        if (seated == agents_by_extension_.end()) continue;
        for (const auto& other : seated->second)
            if (other != agent) return Seat{extension, other};
    }
    return std::nullopt;
}

std::string AgentDirectory::release(const std::string& extension) {
    auto seated = agents_by_extension_.find(extension);
    if (seated == agents_by_extension_.end()) return {};
    std::string holder;
    for (const auto& agent : seated->second) {
        if (holder.empty()) holder = agent;
        if (auto presence = agents_.find(agent); presence != agents_.end())
            std::erase(presence->second.extensions, extension);
    }
    agents_by_extension_.erase(seated);
    return holder;
}

void AgentDirectory::detach(const std::string& agent, const AgentSession* session) {
    auto found = agents_.find(agent);
    if (found == agents_.end()) return;
    if (found->second.session.lock().get() == session) found->second.session.reset();
}

void AgentDirectory::remove(const std::string& agent) {
    auto found = agents_.find(agent);
    if (found == agents_.end()) return;
    leave_extensions(agent, found->second);
    agents_.erase(found);
}

void AgentDirectory::leave_extensions(const std::string& agent, Presence& presence) {
    for (const auto& extension : presence.extensions) {
        auto seated = agents_by_extension_.find(extension);
        if (seated == agents_by_extension_.end()) continue;
        std::erase(seated->second, agent);
        if (seated->second.empty()) agents_by_extension_.erase(seated);
    }
    presence.extensions.clear();
}

std::shared_ptr<AgentSession> AgentDirectory::session(const std::string& agent) const {
    auto found = agents_.find(agent);
    return found == agents_.end() ? nullptr : found->second.session.lock();
}

const std::vector<std::string>& AgentDirectory::agents_at(const std::string& extension) const {
    static const std::vector<std::string> nobody;
    auto found = agents_by_extension_.find(extension);
    return found == agents_by_extension_.end() ? nobody : found->second;
}

void AgentDirectory::add_pending(const std::string& agent, PendingPop pop) {
    // Only agents that logged in have a replay list; an id a switch names is not enough.
    auto found = agents_.find(agent);
    if (found == agents_.end()) return;
    auto& pending = found->second.pending;
    pending.push_back(std::move(pop));
    // Pops leave when acked or when their call ends; the cap only guards against an agent
    // that never acks while calls never end.
    if (pending.size() > pending_max_)
        pending.erase(pending.begin(),
                      pending.end() - static_cast<std::ptrdiff_t>(pending_max_));
}

void AgentDirectory::ack(const std::string& agent, std::uint64_t seq) {
    auto found = agents_.find(agent);
    if (found == agents_.end()) return;
    auto& pending = found->second.pending;
    std::erase_if(pending, [seq](const PendingPop& pop) { return pop.seq == seq; });
    if (pending.empty()) pending.shrink_to_fit();
}

void AgentDirectory::drop_call(const std::string& agent, const std::string& call) {
    auto found = agents_.find(agent);
    if (found == agents_.end()) return;
    auto& pending = found->second.pending;
    std::erase_if(pending, [&call](const PendingPop& pop) { return pop.call == call; });
    if (pending.empty()) pending.shrink_to_fit();
}

std::vector<PendingPop> AgentDirectory::pending_after(const std::string& agent,
                                                      std::uint64_t seq) const {
    std::vector<PendingPop> result;
    auto found = agents_.find(agent);
    if (found == agents_.end()) return result;
    for (const auto& pop : found->second.pending) {
        if (pop.seq > seq) result.push_back(pop);
    }
    return result;
}

std::vector<AgentDirectory::Seated> AgentDirectory::seated() const {
    std::vector<Seated> seats;
    seats.reserve(agents_.size());
    for (const auto& [agent, presence] : agents_)
        seats.push_back({agent, presence.extensions, presence.session.lock()});
    return seats;
}

AgentDirectory::Headcount AgentDirectory::headcount() const {
    Headcount count;
    for (const auto& [agent, presence] : agents_) {
        if (presence.session.expired()) {
            ++count.away;
        } else {
            ++count.connected;
        }
    }
    return count;
}

}  // namespace callpop::daemon
