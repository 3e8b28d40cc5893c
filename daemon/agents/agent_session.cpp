#include "daemon/agents/agent_session.hpp"

#include <spdlog/spdlog.h>


namespace callpop::daemon {

AgentSession::AgentSession(std::unique_ptr<SessionTransport> transport, AgentRequests& requests,
                           const config::Sessions& settings)
    : LineSession(std::move(transport), settings.queue_max,
                  std::chrono::seconds(settings.login_timeout_s)),
      requests_(requests),
      heartbeat_(settings.heartbeat_s) {}

std::shared_ptr<AgentSession> AgentSession::self() {
    return std::static_pointer_cast<AgentSession>(shared_from_this());
}

std::string AgentSession::describe() const {
    return logged_in() ? fmt::format("{} {} ({})", domain::to_string(role_), agent_, peer())
                       : "client " + peer();
}

void AgentSession::logged_in_as(std::string agent, domain::AgentRole role) {
    agent_ = std::move(agent);
    role_ = role;
    // After login, silence means a dead terminal: three missed heartbeats.
    set_idle_timeout(3 * heartbeat_);
}

void AgentSession::on_line(std::string_view line) {
    auto parsed = protocol::parse_agent_message(line);
    if (auto* error = std::get_if<protocol::ProtocolError>(&parsed)) {
        reject(error->code, error->message);
        return;
    }
    auto& message = std::get<protocol::AgentMessage>(parsed);
    if (auto* login = std::get_if<protocol::Login>(&message)) {
        if (logged_in()) return reject("bad_login", "already logged in as " + agent_);
        requests_.on_login(self(), std::move(*login));
        return;
    }
    if (std::holds_alternative<protocol::Ping>(message)) {
        deliver(protocol::encode_pong());
        return;
    }
    if (!logged_in()) return reject("not_logged_in", "log in first");
    std::visit(
        [this](auto& body) {
            using Body = std::decay_t<decltype(body)>;
            if constexpr (std::is_same_v<Body, protocol::Ack>) {
                requests_.on_ack(*this, body.seq);
            } else if constexpr (std::is_same_v<Body, protocol::Outcome>) {
                requests_.on_outcome(self(), std::move(body));
            } else if constexpr (std::is_same_v<Body, protocol::AddNote>) {
                requests_.on_note(self(), std::move(body));
            } else if constexpr (std::is_same_v<Body, protocol::Tail>) {
                if (!domain::supervises(role_))
                    return reject("forbidden", "tail is for supervisors");
                requests_.on_tail(self(), body);
            } else if constexpr (std::is_same_v<Body, protocol::Logout>) {
                requests_.on_logout(*this);
            } else if constexpr (std::is_same_v<Body, protocol::NextFollowup>) {
                requests_.on_next_followup(self());
            } else if constexpr (std::is_same_v<Body, protocol::FollowupResult>) {
                requests_.on_followup_result(self(), std::move(body));
            } else if constexpr (std::is_same_v<Body, protocol::FollowupClose>) {
                if (!domain::supervises(role_))
                    return reject("forbidden", "closing follow-ups is for supervisors");
                requests_.on_followup_close(self(), std::move(body));
            } else if constexpr (std::is_same_v<Body, protocol::StatusRequest>) {
                if (!domain::supervises(role_))
                    return reject("forbidden", "status is for supervisors");
                requests_.on_status(self(), body);
            } else if constexpr (std::is_same_v<Body, protocol::ReleaseExtension>) {
                if (!domain::supervises(role_))
                    return reject("forbidden", "releasing extensions is for supervisors");
                requests_.on_release_extension(*this, body);
            } else if constexpr (std::is_same_v<Body, protocol::Disconnect>) {
                if (role_ != domain::AgentRole::admin)
                    return reject("forbidden", "disconnecting agents is for admins");
                requests_.on_disconnect(*this, body);
            } else if constexpr (std::is_same_v<Body, protocol::Reload>) {
                if (role_ != domain::AgentRole::admin)
                    return reject("forbidden", "reloading the configuration is for admins");
                requests_.on_reload(*this);
            }
        },
        message);
}

void AgentSession::on_closed() {
    spdlog::info("{}: disconnected", describe());
    requests_.on_agent_closed(*this);
}

}  // namespace callpop::daemon
