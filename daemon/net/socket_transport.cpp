#include "daemon/net/socket_transport.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>

#include "daemon/net/line_session.hpp"

namespace callpop::daemon {

namespace {

// Reads go through one buffer per thread: each read is handed to the session's decoder (which
// keeps only an incomplete line) before the next read starts, so a connection waiting for
// input holds no buffer of its own; ten thousand idle agents would otherwise hold one each.
constexpr std::size_t read_chunk = std::size_t{64} * 1024;

asio::mutable_buffer read_buffer() {
    thread_local std::vector<char> buffer(read_chunk);
    return asio::buffer(buffer);
}

std::string endpoint_text(const tcp::socket& socket) {
    boost::system::error_code error;
    const auto endpoint = socket.remote_endpoint(error);
    if (error) return "unknown peer";
    return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

// The first byte of a TLS connection: a handshake record. A JSON line never starts so.
constexpr unsigned char tls_handshake_record = 0x16;
// OpenSSL's last error, as an error code whose message names it.
boost::system::error_code tls_error(int ssl_error) {
    if (ssl_error == SSL_ERROR_SYSCALL && errno != 0)
        return {errno, boost::system::system_category()};
    const unsigned long queued = ERR_get_error();
    ERR_clear_error();
    if (queued == 0) return asio::error::eof;  // the peer closed without close_notify
    return {static_cast<int>(queued), asio::error::get_ssl_category()};
}

// OpenSSL straight on the socket, driven by the transport's own waits. Asio's ssl::stream
// would cost ~85 KiB a connection in fixed buffers (its BIO pair and staging buffers); an SSL
// on the socket holds its buffers only while a record is in transit (SSL_MODE_RELEASE_BUFFERS),
// and reads use the per-thread buffer like plain ones, since SSL_read is synchronous.
struct Tls {
    Tls(SSL_CTX* context, int fd) : ssl(SSL_new(context)) {
        if (ssl == nullptr) throw std::runtime_error("cannot make a TLS connection");
        SSL_set_fd(ssl, fd);
        SSL_set_accept_state(ssl);
    }
    ~Tls() { SSL_free(ssl); }
    Tls(const Tls&) = delete;
    Tls& operator=(const Tls&) = delete;

    SSL* ssl;
    bool handshaken = false;
    // A fatal error came up (a reset, a bad record): OpenSSL forbids any further call, and
    // a close_notify would only write to a dead socket.
    bool failed = false;
    // The write in progress: which buffer and how far into it.
    std::size_t buffer = 0;
    std::size_t offset = 0;
};

class SocketTransport final : public SessionTransport {
public:
    SocketTransport(tcp::socket socket, ListenerSecurity* security)
        : socket_(std::move(socket)), security_(security) {
        boost::system::error_code ignored;
        socket_.set_option(tcp::no_delay(true), ignored);
        // Finds peers that vanished without a FIN (a switch quiet all night, a laptop asleep).
        socket_.set_option(asio::socket_base::keep_alive(true), ignored);
        // Reads are tried when the socket is readable, and must not block when it is not.
        socket_.non_blocking(true, ignored);
    }

    std::string peer() const override { return endpoint_text(socket_); }
    asio::any_io_executor executor() override { return socket_.get_executor(); }
    bool is_open() const override { return socket_.is_open(); }

    void open(LineSession& session) override {
        // Without TLS there is nothing to tell apart: no need to wait for the first byte.
        if (security_ != nullptr && security_->tls != nullptr)
            wait_for_first_byte(session);
        else
            begin_plain(session);
    }

    void read(LineSession& session) override {
        // Bytes TLS decrypted already are not in the socket for a wait to see.
        if (tls_ && SSL_pending(tls_->ssl) > 0) {
            asio::post(socket_.get_executor(),
                       [this, self = session.shared_from_this()] { on_readable(*self, {}); });
            return;
        }
        socket_.async_wait(tcp::socket::wait_read,
                           [this, self = session.shared_from_this()](const boost::system::error_code& error) {
                               on_readable(*self, error);
                           });
    }

    void write(LineSession& session, const std::vector<asio::const_buffer>& messages) override {
        if (tls_) {
            write_tls(session, messages, {});
            return;
        }
        asio::async_write(socket_, messages,
                          [self = session.shared_from_this()](const boost::system::error_code& error,
                                                              std::size_t) { self->written(error); });
    }

    void close() override {
        if (tls_ && tls_->handshaken && !tls_->failed && socket_.is_open()) {
            SSL_shutdown(tls_->ssl);  // close_notify, if the socket takes it now; no wait for the reply
            ERR_clear_error();
        }
        boost::system::error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_both, ignored);
        socket_.close(ignored);
    }

private:
    // Calls `next` once the socket is ready for `wait`.
    template <typename Next>
    void when_socket(LineSession& session, tcp::socket::wait_type wait, Next next) {
        socket_.async_wait(wait, [self = session.shared_from_this(),
                                  next = std::move(next)](const boost::system::error_code& error) {
            next(*self, error);
        });
    }

    void wait_for_first_byte(LineSession& session) {
        when_socket(session, tcp::socket::wait_read,
                    [this](LineSession& self, const boost::system::error_code& error) {
                        on_first_byte(self, error);
                    });
    }

    void on_first_byte(LineSession& session, const boost::system::error_code& waited) {
        if (!session.open()) return;
        boost::system::error_code error = waited;
        unsigned char first = 0;
        std::size_t size = 0;
        if (!error) size = socket_.receive(asio::buffer(&first, 1), tcp::socket::message_peek, error);
        if (error == asio::error::would_block || error == asio::error::try_again) {
            wait_for_first_byte(session);
            return;
        }
        if (error || size == 0) {  // gone before it said anything
            session.stop();
            return;
        }
        if (first == tls_handshake_record && security_->tls != nullptr) {
            try {
                tls_ = std::make_unique<Tls>(security_->tls->native_handle(), socket_.native_handle());
            } catch (const std::exception& failed) {
                spdlog::error("{}: {}", session.describe(), failed.what());
                session.stop();
                return;
            }
            continue_handshake(session, {});
            return;
        }
        begin_plain(session);
    }

    void continue_handshake(LineSession& session, const boost::system::error_code& waited) {
        if (!session.open()) return;
        if (waited) {
            handshake_failed(session, waited);
            return;
        }
        ERR_clear_error();
        errno = 0;
        const int done = SSL_do_handshake(tls_->ssl);
        if (done == 1) {
            tls_->handshaken = true;
            session.transport_opened();
            return;
        }
        const int error = SSL_get_error(tls_->ssl, done);
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
            when_socket(session,
                        error == SSL_ERROR_WANT_READ ? tcp::socket::wait_read : tcp::socket::wait_write,
                        [this](LineSession& self, const boost::system::error_code& result) {
                            continue_handshake(self, result);
                        });
            return;
        }
        tls_->failed = true;
        handshake_failed(session, tls_error(error));
    }

    void handshake_failed(LineSession& session, const boost::system::error_code& error) {
        ++security_->tls_failed;
        spdlog::info("{}: TLS handshake failed: {}", session.describe(), error.message());
        session.stop();
    }

    // Plain lines from here, if the peer's address may speak plain.
    void begin_plain(LineSession& session) {
        if (security_ != nullptr && !config::any_contains(security_->plain_allow, session.peer_address())) {
            ++security_->plain_refused;
            spdlog::warn("{}: plain connection refused: not in listen.agent.allow_plain",
                         session.describe());
            session.transport_refused(
                "tls_required", security_->tls != nullptr
                                    ? "this port takes plain connections only from the addresses in "
                                      "listen.agent.allow_plain; connect with TLS"
                                    : "this port takes connections only from the addresses in "
                                      "listen.agent.allow_plain");
            return;
        }
        session.transport_opened();
    }

    void on_readable(LineSession& session, const boost::system::error_code& waited) {
        // Stopped meanwhile: the descriptor may already be another connection's.
        if (!session.open() || !socket_.is_open()) {
            session.received(asio::error::operation_aborted, {});
            return;
        }
        boost::system::error_code error = waited;
        std::size_t size = 0;
        const auto buffer = read_buffer();
        if (!error) size = receive(buffer, error);
        if (error == asio::error::would_block || error == asio::error::try_again) {
            read(session);  // readable was a false alarm
            return;
        }
        session.received(error, std::string_view(static_cast<const char*>(buffer.data()), size));
    }

    // What the socket has (decrypted, with TLS); would_block when nothing.
    std::size_t receive(asio::mutable_buffer buffer, boost::system::error_code& error) {
        if (!tls_) return socket_.read_some(buffer, error);
        ERR_clear_error();
        errno = 0;
        const int got = SSL_read(tls_->ssl, buffer.data(), static_cast<int>(buffer.size()));
        if (got > 0) return static_cast<std::size_t>(got);
        const int ssl_error = SSL_get_error(tls_->ssl, got);
        if (ssl_error == SSL_ERROR_WANT_READ || ssl_error == SSL_ERROR_WANT_WRITE)
            error = asio::error::would_block;
        else if (ssl_error == SSL_ERROR_ZERO_RETURN)
            error = asio::error::eof;  // close_notify, or a bare FIN (SSL_OP_IGNORE_UNEXPECTED_EOF)
        else {
            tls_->failed = true;
            error = tls_error(ssl_error);
        }
        return 0;
    }

    // Writes `messages` with SSL_write, waiting on the socket as TLS asks. The session keeps
    // `messages` unchanged until written() is called.
    void write_tls(LineSession& session, const std::vector<asio::const_buffer>& messages,
                   const boost::system::error_code& waited) {
        // Completions run later, never inside the session's write: like Asio's, they may call
        // back into whoever delivered.
        auto complete = [this, &session](const boost::system::error_code& error) {
            tls_->buffer = 0;
            tls_->offset = 0;
            asio::post(socket_.get_executor(),
                       [self = session.shared_from_this(), error] { self->written(error); });
        };
        if (waited) {
            complete(waited);
            return;
        }
        while (tls_->buffer < messages.size()) {
            if (!socket_.is_open() || tls_->failed) {  // stopped meanwhile
                complete(asio::error::operation_aborted);
                return;
            }
            const asio::const_buffer& buffer = messages[tls_->buffer];
            const std::size_t left = buffer.size() - tls_->offset;
            ERR_clear_error();
            errno = 0;
            const int wrote = SSL_write(tls_->ssl, static_cast<const char*>(buffer.data()) + tls_->offset,
                                        static_cast<int>(std::min<std::size_t>(left, 1U << 30)));
            if (wrote > 0) {
                tls_->offset += static_cast<std::size_t>(wrote);
                if (tls_->offset == buffer.size()) {
                    ++tls_->buffer;
                    tls_->offset = 0;
                }
                continue;
            }
            const int error = SSL_get_error(tls_->ssl, wrote);
            if (error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ) {
                // The same SSL_write is tried again once the socket is ready.
                when_socket(session,
                            error == SSL_ERROR_WANT_WRITE ? tcp::socket::wait_write : tcp::socket::wait_read,
                            [this, &messages](LineSession& self, const boost::system::error_code& result) {
                                write_tls(self, messages, result);
                            });
                return;
            }
            tls_->failed = true;
            complete(tls_error(error));
            return;
        }
        complete({});
    }

    tcp::socket socket_;
    ListenerSecurity* security_;
    std::unique_ptr<Tls> tls_;  // once the peer began a TLS handshake
};

}  // namespace

std::unique_ptr<SessionTransport> socket_transport(tcp::socket socket, ListenerSecurity* security) {
    return std::make_unique<SocketTransport>(std::move(socket), security);
}

}  // namespace callpop::daemon
