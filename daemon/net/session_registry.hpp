#pragma once
// Every open session, held until it closes, so that a stop can say goodbye to each (Asio's
// connection_manager). Sessions remove themselves when they close.
#include <cstddef>
#include <memory>
#include <set>
#include <string_view>

#include "daemon/net/line_session.hpp"

namespace callpop::daemon {

class SessionRegistry {
public:
    // Holds the session and starts it.
    void start(const std::shared_ptr<LineSession>& session);
    void remove(LineSession& session);
    // Every session stops reading: what they asked is answered, nothing more is taken.
    void pause_all();
    // Sends every session a bye naming the reason; each closes once its queue drains.
    void close_all(std::string_view code, std::string_view message);
    std::size_t size() const { return sessions_.size(); }

private:
    std::set<std::shared_ptr<LineSession>> sessions_;
};

}  // namespace callpop::daemon
