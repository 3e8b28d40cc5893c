#pragma once
// What carries a LineSession's lines: a TCP connection, plain or TLS (socket_transport.hpp), or
// a browser's WebSocket (daemon/web). The session keeps the queue, the watchdog and the line
// decoder; a transport moves bytes and calls the session back, always later, never from
// inside the call that asked.
#include <string>
#include <vector>

#include "daemon/net/asio.hpp"

namespace callpop::daemon {

class LineSession;

class SessionTransport {
public:
    SessionTransport() = default;
    virtual ~SessionTransport() = default;
    SessionTransport(const SessionTransport&) = delete;
    SessionTransport& operator=(const SessionTransport&) = delete;

    // "127.0.0.1:40312", for log lines and the per-address login throttle.
    virtual std::string peer() const = 0;
    virtual asio::any_io_executor executor() = 0;
    // Gets ready to carry lines, then calls session.transport_opened(), or
    // session.transport_refused() (a reason the peer is told), or session.stop().
    virtual void open(LineSession& session) = 0;
    // One read: calls session.received() once with what came (eof: the peer's input ended).
    virtual void read(LineSession& session) = 0;
    // Writes each buffer, one message each, in order, then calls session.written().
    virtual void write(LineSession& session, const std::vector<asio::const_buffer>& messages) = 0;
    // Closes at once: a read or write pending completes with an error.
    virtual void close() = 0;
    virtual bool is_open() const = 0;
};

}  // namespace callpop::daemon
