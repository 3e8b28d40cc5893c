#pragma once
// A LineSession over a TCP connection: plain, or TLS told apart by its first byte.
#include <memory>
#include <vector>

#include "config/config.hpp"
#include "daemon/net/asio.hpp"
#include "daemon/net/session_transport.hpp"
#include "daemon/net/tls.hpp"

namespace callpop::daemon {

// How a listener's connections may speak: TLS (told apart by its first byte, a handshake
// record), and plain only from some addresses. The listener owns it and its counts.
struct ListenerSecurity {
    asio::ssl::context* tls = nullptr;  // null: plain only
    std::vector<config::AddressRange> plain_allow;
    std::size_t plain_refused = 0;
    std::size_t tls_failed = 0;  // handshakes that failed
};

// Without `security` the connection is plain, from wherever the listener let it in;
// `security` outlives the transport.
std::unique_ptr<SessionTransport> socket_transport(tcp::socket socket,
                                                   ListenerSecurity* security = nullptr);

}  // namespace callpop::daemon
