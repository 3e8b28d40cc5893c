#pragma once
#include <deque>
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
    void login_started() { login_pending_ = true; }
    void login_finished();
    void logged_in_as(std::string agent, std::string role);
    void logged_out() { agent_.clear(); role_.clear(); }

    const protocol::TailFilter& tail_filter() const { return tail_filter_; }
    void set_tail_filter(protocol::TailFilter filter) { tail_filter_ = std::move(filter); }

protected:
    void on_line(std::string_view line) override;
    void on_line_too_long() override;
    void on_closed() override;
    std::string describe() const override;

private:
    void send_error(const char* code, const std::string& message);
    std::shared_ptr<AgentSession> self();

    Server& server_;
    std::string agent_;
    std::string role_;
    bool login_pending_ = false;
    std::deque<std::string> held_lines_;
    protocol::TailFilter tail_filter_;
};

}  // namespace callpop::daemon
