#pragma once
// The web port (listen.http): HTTP/1.1 over TCP, or TLS when listen.http.tls is set, one port
// for both. As on the agent port, the first bytes tell TLS from plain, and plain is taken
// only from listen.http.allow_plain. What a request gets is the server's to say (WebHandler);
// this room reads requests within bounds and writes the replies, and turns a WebSocket
// upgrade at /ws from the page's own origin into a session transport for the server.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>

#include <boost/asio/ssl.hpp>

#include "config/config.hpp"
#include "daemon/net/asio.hpp"
#include "daemon/net/session_transport.hpp"

namespace callpop::daemon {

struct WebReply {
    unsigned status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
};
using WebRespond = std::function<void(WebReply)>;
// Called on the loop for each GET or HEAD request with its target ("/metrics?x=1"); answers
// through `respond`, at once or later, exactly once.
using WebHandler = std::function<void(const std::string& target, WebRespond respond)>;
// Called on the loop with each WebSocket asked for at /ws; the transport answers the upgrade
// once the session it is given to starts.
using WebSocketHandler = std::function<void(std::unique_ptr<SessionTransport> transport)>;

class WebConnection;

class WebPort {
public:
    // Throws when the port cannot be opened, or the certificate cannot be used.
    WebPort(asio::io_context& io, const config::WebListener& listener, WebHandler handler,
            WebSocketHandler websocket_handler);
    ~WebPort();
    WebPort(const WebPort&) = delete;
    WebPort& operator=(const WebPort&) = delete;

    tcp::endpoint endpoint() const;
    void start();
    // A renewed certificate, for the connections to come. Throws TlsFileError.
    void reload_tls(const config::TlsIdentity& identity);
    bool has_tls() const { return tls_.has_value(); }
    static constexpr std::size_t connections_max = 256;
    // Stops accepting and closes every connection: the loop can end.
    void stop();

    // For the connections.
    const WebHandler& handler() const { return handler_; }
    const WebSocketHandler& websocket_handler() const { return websocket_handler_; }
    asio::ssl::context* tls() { return tls_ ? &*tls_ : nullptr; }
    bool plain_allowed(const asio::ip::address& peer) const;
    void opened(WebConnection* connection) { connections_.insert(connection); }
    void closed(WebConnection* connection) { connections_.erase(connection); }
    std::uint64_t plain_refused = 0;
    std::uint64_t tls_failed = 0;

private:
    void accept();

    tcp::acceptor acceptor_;
    asio::steady_timer backoff_;
    std::optional<asio::ssl::context> tls_;
    std::vector<config::AddressRange> plain_allow_;
    WebHandler handler_;
    WebSocketHandler websocket_handler_;
    std::unordered_set<WebConnection*> connections_;
    std::uint64_t refused_full_ = 0;
    bool stopped_ = false;
};

}  // namespace callpop::daemon
