#include "daemon/web/websocket_transport.hpp"

#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <spdlog/spdlog.h>

#include "daemon/net/line_session.hpp"
#include "protocol/line_decoder.hpp"

namespace callpop::daemon {

namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;

// How long the browser gets to answer our close frame before the socket is closed anyway.
constexpr std::chrono::seconds close_within{2};

template <typename Stream>
class WebSocketTransport final : public SessionTransport {
public:
    WebSocketTransport(Stream stream, UpgradeRequest upgrade, std::string peer)
        : socket_(std::move(stream)), upgrade_(std::move(upgrade)), peer_(std::move(peer)) {}

    std::string peer() const override { return peer_; }
    asio::any_io_executor executor() override { return socket_.get_executor(); }
    bool is_open() const override {
        return !closed_ && beast::get_lowest_layer(socket_).socket().is_open();
    }

    void open(LineSession& session) override {
        session_ = &session;
        // The session's watchdog judges silence; the HTTP request's deadline no longer applies.
        beast::get_lowest_layer(socket_).expires_never();
        socket_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
        socket_.set_option(websocket::stream_base::decorator([](websocket::response_type& response) {
            response.set(beast::http::field::server, "callpop");
        }));
        // A frame is a line: one longer than a line may be is refused by closing.
        socket_.read_message_max(protocol::max_line_bytes);
        socket_.async_accept(upgrade_, [this, self = session.shared_from_this()](
                                           boost::system::error_code error) {
            UpgradeRequest().swap(upgrade_);
            if (error) {
                spdlog::info("{}: WebSocket handshake failed: {}", self->describe(), error.message());
                return self->stop();
            }
            accepted_ = true;
            self->transport_opened();
        });
    }

    void read(LineSession& session) override {
        socket_.async_read(input_, [this, self = session.shared_from_this()](
                                       boost::system::error_code error, std::size_t) {
            if (error == websocket::error::closed) error = asio::error::eof;
            if (error) return self->received(error, {});
            // A message is a line; the buffer is emptied first, since the session may read
            // again before received() returns.
            std::string line = beast::buffers_to_string(input_.data());
            input_.consume(input_.size());
            input_.shrink_to_fit();
            line += '\n';
            self->received({}, line);
        });
    }

    void write(LineSession& session, const std::vector<asio::const_buffer>& messages) override {
        socket_.text(true);
        writing_ = true;
        write_from(session.shared_from_this(), messages, 0);
    }

    void close() override {
        if (closed_) return;
        closed_ = true;
        // A close frame, and the browser's answer, before the socket goes: closing at once
        // with the browser's last frames unread would reset the connection, and the bye
        // written just before could be lost with it.
        auto owner = session_ != nullptr ? session_->weak_from_this().lock() : nullptr;
        if (accepted_ && !writing_ && owner) {
            beast::get_lowest_layer(socket_).expires_after(close_within);
            socket_.async_close(websocket::close_code::going_away,
                                [this, owner](boost::system::error_code) { shut(); });
            return;
        }
        shut();
    }

private:
    void shut() {
        boost::system::error_code ignored;
        auto& socket = beast::get_lowest_layer(socket_).socket();
        socket.shutdown(tcp::socket::shutdown_both, ignored);
        socket.close(ignored);
    }

    // Each line of each message is a frame (a tail's backlog comes as many lines in one
    // message). The session keeps `messages` unchanged until written() is called.
    void write_from(std::shared_ptr<LineSession> session,
                    const std::vector<asio::const_buffer>& messages, std::size_t next,
                    std::size_t offset = 0) {
        if (next == messages.size()) {
            writing_ = false;
            return session->written({});
        }
        const std::string_view message(static_cast<const char*>(messages[next].data()),
                                       messages[next].size());
        if (offset >= message.size()) return write_from(std::move(session), messages, next + 1);
        const auto end = std::min(message.find('\n', offset), message.size());
        socket_.async_write(asio::buffer(message.substr(offset, end - offset)),
                            [this, session, &messages, next, end](boost::system::error_code error,
                                                                  std::size_t) {
                                if (error) {
                                    writing_ = false;
                                    return session->written(error);
                                }
                                write_from(session, messages, next, end + 1);
                            });
    }

    websocket::stream<Stream> socket_;
    UpgradeRequest upgrade_;  // until answered
    beast::flat_buffer input_;
    std::string peer_;
    LineSession* session_ = nullptr;  // the owner, from open()
    bool accepted_ = false;
    bool writing_ = false;
    bool closed_ = false;
};

}  // namespace

std::unique_ptr<SessionTransport> websocket_transport(beast::tcp_stream stream, UpgradeRequest upgrade,
                                                      std::string peer) {
    return std::make_unique<WebSocketTransport<beast::tcp_stream>>(std::move(stream), std::move(upgrade),
                                                                   std::move(peer));
}

std::unique_ptr<SessionTransport> websocket_transport(beast::ssl_stream<beast::tcp_stream> stream,
                                                      UpgradeRequest upgrade, std::string peer) {
    return std::make_unique<WebSocketTransport<beast::ssl_stream<beast::tcp_stream>>>(
        std::move(stream), std::move(upgrade), std::move(peer));
}

}  // namespace callpop::daemon
