#include "daemon/web/web_port.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <chrono>

#include "daemon/net/tls.hpp"
#include "daemon/web/websocket_transport.hpp"

namespace callpop::daemon {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// A browser opens a connection and speaks at once; one that does not is not a browser.
constexpr std::chrono::seconds first_bytes_within{10};
// A reply, once the answer is ready, must be taken within this.
constexpr std::chrono::seconds reply_within{10};
// After an error reply: how long the rest of a request is read and dropped, so that closing
// with unread input (which resets the connection) does not destroy the reply in flight.
constexpr std::chrono::seconds linger_within{1};
// Also how long an idle keep-alive connection is kept.
constexpr std::chrono::seconds request_within{30};
// What we serve takes no request body; a header of 8 KiB holds any browser's cookies.
constexpr std::uint32_t header_limit = 8 * 1024;
constexpr std::uint64_t body_limit = std::uint64_t{16} * 1024;

std::string peer_of(const tcp::socket& socket) {
    boost::system::error_code error;
    const auto endpoint = socket.remote_endpoint(error);
    return error ? std::string("a client") : endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

}  // namespace

class WebConnection {
public:
    explicit WebConnection(WebPort& port) : port_(port) { port_.opened(this); }
    virtual ~WebConnection() { port_.closed(this); }
    WebConnection(const WebConnection&) = delete;
    WebConnection& operator=(const WebConnection&) = delete;
    virtual void close() = 0;

protected:
    WebPort& port_;
};

namespace {

// One connection's requests, one at a time, over a plain or a TLS stream.
template <typename Stream>
class HttpSession final : public WebConnection, public std::enable_shared_from_this<HttpSession<Stream>> {
public:
    HttpSession(WebPort& port, Stream stream, beast::flat_buffer buffer, std::string peer,
                std::string refusal)
        : WebConnection(port),
          stream_(std::move(stream)),
          buffer_(std::move(buffer)),
          peer_(std::move(peer)),
          refusal_(std::move(refusal)) {}

    void start() {
        if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
            beast::get_lowest_layer(stream_).expires_after(first_bytes_within);
            stream_.async_handshake(
                asio::ssl::stream_base::server, buffer_.data(),
                [self = this->shared_from_this()](boost::system::error_code error, std::size_t used) {
                    if (error) {
                        ++self->port_.tls_failed;
                        spdlog::info("web {}: TLS handshake failed: {}", self->peer_, error.message());
                        return self->close();
                    }
                    self->buffer_.consume(used);
                    self->read();
                });
        } else {
            read();
        }
    }

    void close() override {
        closed_ = true;
        boost::system::error_code ignored;
        auto& socket = beast::get_lowest_layer(stream_).socket();
        socket.shutdown(tcp::socket::shutdown_both, ignored);
        socket.close(ignored);
    }

private:
    // Sends no more, reads what the client still sends until it closes (or linger_within),
    // then closes: the client reads the whole reply.
    void close_after_reply() {
        boost::system::error_code ignored;
        auto& lowest = beast::get_lowest_layer(stream_);
        lowest.socket().shutdown(tcp::socket::shutdown_send, ignored);
        lowest.expires_after(linger_within);
        lowest.async_read_some(asio::buffer(drain_),
                               [self = this->shared_from_this()](boost::system::error_code error, std::size_t) {
                                   if (error) return self->close();
                                   self->drain_more();
                               });
    }
    void drain_more() {
        beast::get_lowest_layer(stream_).async_read_some(
            asio::buffer(drain_), [self = this->shared_from_this()](boost::system::error_code error, std::size_t) {
                if (error) return self->close();
                self->drain_more();
            });
    }

    void read() {
        parser_.emplace();
        parser_->header_limit(header_limit);
        parser_->body_limit(body_limit);
        beast::get_lowest_layer(stream_).expires_after(request_within);
        http::async_read(stream_, buffer_, *parser_,
                         [self = this->shared_from_this()](boost::system::error_code error, std::size_t) {
                             self->on_read(error);
                         });
    }

    void on_read(boost::system::error_code error) {
        if (error == http::error::end_of_stream || error == asio::error::operation_aborted ||
            error == beast::error::timeout || error == asio::error::eof ||
            error == asio::error::connection_reset || error == asio::error::broken_pipe ||
            error == asio::error::bad_descriptor || error == asio::ssl::error::stream_truncated)
            return close();
        if (closed_) return;  // the port stopped while the request came in
        if (error) {
            // Said in HTTP, so that whoever wrote the request sees what was wrong with it.
            unsigned status = 400;
            if (error == http::error::header_limit) status = 431;
            if (error == http::error::body_limit) status = 413;
            spdlog::info("web {}: bad request: {}", peer_, error.message());
            return reply({status, "text/plain; charset=utf-8", "bad request: " + error.message() + "\n"},
                         false, false);
        }
        const auto& request = parser_->get();
        const bool keep_alive = request.keep_alive();
        const bool head = request.method() == http::verb::head;
        if (!refusal_.empty()) {
            return reply({403, "text/plain; charset=utf-8", refusal_ + "\n"}, false, head);
        }
        if (beast::websocket::is_upgrade(request)) return upgrade();
        if (request.method() != http::verb::get && !head) {
            return reply({405, "text/plain; charset=utf-8",
                          "method " + std::string(request.method_string()) + " not allowed: GET or HEAD\n"},
                         keep_alive, false);
        }
        version_ = request.version();
        auto answered = std::make_shared<bool>(false);
        port_.handler()(std::string(request.target()),
                        [self = this->shared_from_this(), keep_alive, head, answered](WebReply answer) {
                            if (*answered || self->closed_) return;  // once, and not after a stop
                            *answered = true;
                            self->reply(std::move(answer), keep_alive, head);
                        });
    }

    static constexpr bool over_tls = std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>;

    // A browser sends Origin with every WebSocket, cross-site ones too: only pages this port
    // served may open one. Clients that are not browsers send none.
    std::string foreign_origin(const http::request<http::string_body>& request) const {
        const auto origin = request[http::field::origin];
        if (origin.empty()) return "";
        const std::string own = std::string(over_tls ? "https://" : "http://") +
                                std::string(request[http::field::host]);
        return origin == own ? "" : std::string(origin);
    }

    // A page of another site whose name is made to resolve to this port (DNS rebinding)
    // has an Origin that matches its Host. Over TLS its certificate check fails; over plain
    // HTTP a browser's WebSocket is taken only where the page was opened by address or as
    // localhost, names no other site can hold.
    static bool host_is_address(beast::string_view host) {
        if (host.starts_with('[')) return true;  // an IPv6 literal
        host = host.substr(0, host.find(':'));
        boost::system::error_code not_an_address;
        asio::ip::make_address(std::string(host.data(), host.size()), not_an_address);
        return !not_an_address || host == "localhost";
    }

    void upgrade() {
        auto request = parser_->release();
        const std::string path(request.target().substr(0, request.target().find('?')));
        if (path != "/ws")
            return reply({404, "text/plain; charset=utf-8", "no WebSocket at " + path + ": use /ws\n"},
                         false, false);
        if (const auto origin = foreign_origin(request); !origin.empty()) {
            spdlog::warn("web {}: WebSocket from a page of {} refused", peer_, origin);
            return reply({403, "text/plain; charset=utf-8",
                          "WebSocket refused: the page came from " + origin + ", not from this port\n"},
                         false, false);
        }
        if (!over_tls && !request[http::field::origin].empty() &&
            !host_is_address(request[http::field::host])) {
            spdlog::warn("web {}: plain WebSocket for host {} refused", peer_,
                         std::string(request[http::field::host]));
            return reply({403, "text/plain; charset=utf-8",
                          "WebSocket refused: over plain HTTP open the page by address (or localhost), "
                          "or use HTTPS\n"},
                         false, false);
        }
        closed_ = true;  // the stream is the session's from now on
        port_.websocket_handler()(websocket_transport(std::move(stream_), std::move(request), peer_));
    }

    void reply(WebReply answer, bool keep_alive, bool head) {
        response_ = {};
        response_.version(version_);
        response_.result(answer.status);
        response_.set(http::field::server, "callpop");
        response_.set(http::field::content_type, answer.content_type);
        response_.set(http::field::cache_control, "no-store");
        // The pages load only what this port serves and talk only to it.
        response_.set("Content-Security-Policy",
                      "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
        response_.set("X-Content-Type-Options", "nosniff");
        response_.keep_alive(keep_alive);
        const std::size_t length = answer.body.size();
        if (!head) response_.body() = std::move(answer.body);
        response_.content_length(length);
        // Reads and writes share the stream's deadline: a slow answer must not have used it up.
        beast::get_lowest_layer(stream_).expires_after(reply_within);
        http::async_write(stream_, response_,
                          [self = this->shared_from_this(), keep_alive](boost::system::error_code error,
                                                                         std::size_t) {
                              if (error) return self->close();
                              if (!keep_alive) return self->close_after_reply();
                              self->read();
                          });
    }

    Stream stream_;
    beast::flat_buffer buffer_;
    std::string peer_;
    std::string refusal_;  // non-empty: every request gets 403 with it
    std::optional<http::request_parser<http::string_body>> parser_;
    http::response<http::string_body> response_;
    unsigned version_ = 11;  // the request's: an HTTP/1.0 client gets a 1.0 reply
    std::array<char, 512> drain_{};
    bool closed_ = false;
};

// Tells TLS from plain by the first bytes, then hands the connection on.
class Detector final : public WebConnection, public std::enable_shared_from_this<Detector> {
public:
    Detector(WebPort& port, tcp::socket socket)
        : WebConnection(port), peer_(peer_of(socket)), stream_(std::move(socket)) {}

    void start() {
        stream_.expires_after(first_bytes_within);
        beast::async_detect_ssl(stream_, buffer_,
                                [self = shared_from_this()](boost::system::error_code error, bool tls) {
                                    self->on_detected(error, tls);
                                });
    }

    void close() override {
        boost::system::error_code ignored;
        stream_.socket().close(ignored);
    }

private:
    void on_detected(boost::system::error_code error, bool tls) {
        if (error) return close();
        if (tls) {
            if (port_.tls() == nullptr) {
                spdlog::info("web {}: TLS, but listen.http has no tls: closed", peer_);
                return close();
            }
            using TlsStream = beast::ssl_stream<beast::tcp_stream>;
            std::make_shared<HttpSession<TlsStream>>(port_, TlsStream(std::move(stream_), *port_.tls()),
                                                     std::move(buffer_), peer_, "")
                ->start();
            return;
        }
        boost::system::error_code gone;
        const auto address = stream_.socket().remote_endpoint(gone).address();
        if (gone) return close();
        std::string refusal;
        if (!port_.plain_allowed(address)) {
            ++port_.plain_refused;
            spdlog::warn("web {}: plain connection refused: not in listen.http.allow_plain", peer_);
            refusal = port_.tls() != nullptr
                          ? "this port takes HTTPS; plain HTTP only from listen.http.allow_plain"
                          : "plain HTTP only from listen.http.allow_plain";
        }
        std::make_shared<HttpSession<beast::tcp_stream>>(port_, std::move(stream_), std::move(buffer_),
                                                         peer_, std::move(refusal))
            ->start();
    }

    std::string peer_;
    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
};

}  // namespace

WebPort::WebPort(asio::io_context& io, const config::WebListener& listener, WebHandler handler,
                 WebSocketHandler websocket_handler)
    : acceptor_(io),
      backoff_(io),
      plain_allow_(listener.plain_allow),
      handler_(std::move(handler)),
      websocket_handler_(std::move(websocket_handler)) {
    if (listener.tls) tls_.emplace(server_tls_context(*listener.tls));
    const tcp::endpoint endpoint(asio::ip::make_address(listener.endpoint.address), listener.endpoint.port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    boost::system::error_code error;
    acceptor_.bind(endpoint, error);
    if (error)
        throw std::runtime_error("cannot listen for browsers on " + listener.endpoint.address + ":" +
                                 std::to_string(listener.endpoint.port) + ": " + error.message());
    acceptor_.listen(asio::socket_base::max_listen_connections);
}

WebPort::~WebPort() = default;

tcp::endpoint WebPort::endpoint() const { return acceptor_.local_endpoint(); }

bool WebPort::plain_allowed(const asio::ip::address& peer) const {
    return config::any_contains(plain_allow_, peer.to_string());
}

void WebPort::start() { accept(); }

void WebPort::reload_tls(const config::TlsIdentity& identity) {
    // Connections made from now on; those open keep the context they began with.
    tls_.emplace(server_tls_context(identity));
}

void WebPort::accept() {
    acceptor_.async_accept([this](boost::system::error_code error, tcp::socket socket) {
        if (stopped_ || error == asio::error::operation_aborted) return;
        if (!error) {
            // A client that opens connections in a loop must not take the descriptors the
            // agents' and switches' ports need.
            if (connections_.size() >= connections_max) {
                if (refused_full_++ % 100 == 0)
                    spdlog::warn("web port: {} connections open, the most it keeps: closing new ones "
                                 "({} so far)",
                                 connections_.size(), refused_full_);
                boost::system::error_code ignored;
                socket.close(ignored);
            } else {
                std::make_shared<Detector>(*this, std::move(socket))->start();
            }
            return accept();
        }
        // Out of file descriptors, say: retrying at once would spin the loop.
        spdlog::warn("accepting a web connection: {}", error.message());
        backoff_.expires_after(std::chrono::milliseconds(100));
        backoff_.async_wait([this](boost::system::error_code waited) {
            if (!waited && !stopped_) accept();
        });
    });
}

void WebPort::stop() {
    stopped_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    backoff_.cancel();
    // close() may end a connection at once: walk a copy.
    const std::vector<WebConnection*> open(connections_.begin(), connections_.end());
    for (auto* connection : open) connection->close();
}

}  // namespace callpop::daemon
