#pragma once
#include <string>
#include <vector>

#include "daemon/line_session.hpp"
#include "protocol/agent_message.hpp"

namespace callpop::daemon {

class Server;

// An agent terminal or a supervisor (docs/protocol-agent.md).
class AgentSession final : public LineSession {
public:
    AgentSession(tcp::socket socket, Server& server);

    const std::string& agent() const { return agent_; }
    const std::string& role() const { return role_; }
    bool logged_in() const { return !agent_.empty(); }
    // While a login is checked, later lines wait, so a client may send login and its first
    // request in one go.
    void login_started() { pause_reading(); }
    void login_finished() { resume_reading(); }
    void logged_in_as(std::string agent, std::string role);

    const protocol::TailFilter& tail_filter() const { return tail_filter_; }
    void set_tail_filter(protocol::TailFilter filter) { tail_filter_ = std::move(filter); }

protected:
    void on_line(std::string_view line) override;
    void on_closed() override;
    std::string describe() const override;

private:
    std::shared_ptr<AgentSession> self();

    Server& server_;
    std::string agent_;
    std::string role_;
    protocol::TailFilter tail_filter_;
};

}  // namespace callpop::daemon
