#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "daemon/net/line_session.hpp"
#include "domain/states.hpp"
#include "protocol/agent_message.hpp"

namespace callpop::daemon {

class AgentSession;

// What an agent session asks of the daemon (the server answers). Requests for supervisors
// only arrive from supervisors; every other request but login, from a logged-in session.
class AgentRequests {
public:
    virtual void on_login(const std::shared_ptr<AgentSession>& session, protocol::Login login) = 0;
    virtual void on_ack(AgentSession& session, std::uint64_t seq) = 0;
    virtual void on_outcome(const std::shared_ptr<AgentSession>& session,
                            protocol::Outcome outcome) = 0;
    virtual void on_note(const std::shared_ptr<AgentSession>& session, protocol::AddNote note) = 0;
    virtual void on_tail(const std::shared_ptr<AgentSession>& session,
                         const protocol::Tail& tail) = 0;
    virtual void on_next_followup(const std::shared_ptr<AgentSession>& session) = 0;
    virtual void on_followup_result(const std::shared_ptr<AgentSession>& session,
                                    protocol::FollowupResult result) = 0;
    virtual void on_followup_close(const std::shared_ptr<AgentSession>& session,
                                   protocol::FollowupClose request) = 0;
    virtual void on_status(const std::shared_ptr<AgentSession>& session,
                           const protocol::StatusRequest& request) = 0;
    virtual void on_release_extension(AgentSession& session,
                                      const protocol::ReleaseExtension& request) = 0;
    virtual void on_disconnect(AgentSession& session, const protocol::Disconnect& request) = 0;
    virtual void on_reload(AgentSession& session) = 0;
    virtual void on_logout(AgentSession& session) = 0;
    virtual void on_agent_closed(AgentSession& session) = 0;
    virtual void on_agent_drained(AgentSession& session) = 0;

protected:
    ~AgentRequests() = default;
};

// An agent terminal or a supervisor (docs/protocol-agent.md).
class AgentSession final : public LineSession {
public:
    // Over the agent port (socket_transport.hpp) or a browser's WebSocket (daemon/web).
    AgentSession(std::unique_ptr<SessionTransport> transport, AgentRequests& requests,
                 const config::Sessions& settings);

    const std::string& agent() const { return agent_; }
    domain::AgentRole role() const { return role_; }
    bool logged_in() const { return !agent_.empty(); }
    // While a login is checked, later lines wait, so a client may send login and its first
    // request in one go.
    void login_started() { pause_reading(); }
    void login_finished() { resume_reading(); }
    void logged_in_as(std::string agent, domain::AgentRole role);

    std::string describe() const override;
    const protocol::TailFilter& tail_filter() const { return tail_filter_; }
    void set_tail_filter(protocol::TailFilter filter) { tail_filter_ = std::move(filter); }

protected:
    void on_line(std::string_view line) override;
    void on_closed() override;
    void on_drained() override { requests_.on_agent_drained(*this); }

private:
    std::shared_ptr<AgentSession> self();

    AgentRequests& requests_;
    std::chrono::seconds heartbeat_;
    std::string agent_;
    domain::AgentRole role_ = domain::AgentRole::agent;
    protocol::TailFilter tail_filter_;
};

}  // namespace callpop::daemon
