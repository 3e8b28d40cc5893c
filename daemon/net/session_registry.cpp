#include "daemon/net/session_registry.hpp"

namespace callpop::daemon {

void SessionRegistry::start(const std::shared_ptr<LineSession>& session) {
    sessions_.insert(session);
    session->start();
}

void SessionRegistry::remove(LineSession& session) { sessions_.erase(session.shared_from_this()); }

void SessionRegistry::pause_all() {
    for (const auto& session : sessions_) session->pause_reading();
}

void SessionRegistry::close_all(std::string_view code, std::string_view message) {
    auto sessions = sessions_;  // closing a session removes it from sessions_
    for (const auto& session : sessions) session->close_with(code, message);
}

}  // namespace callpop::daemon
