#include "daemon/net/line_session.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>

#include "protocol/agent_message.hpp"
#include "protocol/error.hpp"

namespace callpop::daemon {

namespace {

// How long a closing peer gets to read its bye before the socket is closed regardless. The
// queue is already freed, so waiting costs little and a stalled terminal that wakes up
// still learns why it was dropped.
constexpr std::chrono::seconds bye_grace{10};
// How long a peer that half-closed its side gets for the answers to what it sent.
constexpr std::chrono::seconds linger_after_input{2};
// Reads go through one buffer per thread: each read is handed to the decoder (which keeps
// only an incomplete line) before the next read starts, so a session waiting for input holds
// no buffer of its own; ten thousand idle agents would otherwise hold one each.
constexpr std::size_t read_chunk = std::size_t{64} * 1024;
constexpr std::size_t writes_per_batch = 64;
// Besides the message count, a byte bound: one queued tail backlog can be megabytes.
constexpr std::size_t queued_bytes_max = std::size_t{16} * 1024 * 1024;

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

constexpr auto never = std::chrono::steady_clock::time_point::max();

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

}  // namespace

// OpenSSL straight on the socket, driven by the session's own waits. Asio's ssl::stream
// would cost ~85 KiB a connection in fixed buffers (its BIO pair and staging buffers); an SSL
// on the socket holds its buffers only while a record is in transit (SSL_MODE_RELEASE_BUFFERS),
// and reads use the per-thread buffer like plain ones, since SSL_read is synchronous.
struct LineSession::Tls {
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
    // The write in progress: the buffer of write_buffers_ and how far into it.
    std::size_t buffer = 0;
    std::size_t offset = 0;
};

LineSession::LineSession(tcp::socket socket, std::size_t queue_max,
                         std::chrono::seconds first_deadline, ListenerSecurity* security)
    : socket_(std::move(socket)),
      security_(security),
      peer_(endpoint_text(socket_)),
      queue_max_(queue_max),
      idle_timeout_(first_deadline),
      watchdog_(socket_.get_executor()) {
    boost::system::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    // Finds peers that vanished without a FIN (a switch quiet all night, a laptop asleep).
    socket_.set_option(asio::socket_base::keep_alive(true), ignored);
    // Reads are tried when the socket is readable, and must not block when it is not.
    socket_.non_blocking(true, ignored);
}

LineSession::~LineSession() = default;

template <typename Work>
void LineSession::guarded(const char* what, Work&& work) {
    try {
        work();
    } catch (const std::exception& error) {
        spdlog::error("{}: {} stopped: {}", describe(), what, error.what());
        stop();
    }
}

void LineSession::start() {
    touch();
    wait_watchdog();
    // Without TLS there is nothing to tell apart: no need to wait for the first byte.
    if (security_ != nullptr && security_->tls != nullptr)
        choose_transport();
    else
        begin_plain();
}

void LineSession::choose_transport() {
    socket_.async_wait(tcp::socket::wait_read,
                       [self = shared_from_this()](const boost::system::error_code& error) {
                           self->guarded("session transport",
                                         [&] { self->on_first_byte(error); });
                       });
}

void LineSession::on_first_byte(const boost::system::error_code& waited) {
    if (closing_) return;
    boost::system::error_code error = waited;
    unsigned char first = 0;
    std::size_t size = 0;
    if (!error) size = socket_.receive(asio::buffer(&first, 1), tcp::socket::message_peek, error);
    if (error == asio::error::would_block || error == asio::error::try_again) {
        choose_transport();
        return;
    }
    if (error || size == 0) {  // gone before it said anything
        stop();
        return;
    }
    if (first == tls_handshake_record && security_->tls != nullptr) {
        tls_ = std::make_unique<Tls>(security_->tls->native_handle(), socket_.native_handle());
        continue_handshake();
        return;
    }
    begin_plain();
}

void LineSession::when_socket(tcp::socket::wait_type wait, const char* what,
                              void (LineSession::*next)(const boost::system::error_code&)) {
    socket_.async_wait(wait, [self = shared_from_this(), what,
                              next](const boost::system::error_code& error) {
        self->guarded(what, [&] { ((*self).*next)(error); });
    });
}

void LineSession::continue_handshake(const boost::system::error_code& waited) {
    if (closing_) return;
    if (waited) {
        on_handshake(waited);
        return;
    }
    ERR_clear_error();
    errno = 0;
    const int done = SSL_do_handshake(tls_->ssl);
    if (done == 1) {
        tls_->handshaken = true;
        on_handshake({});
        return;
    }
    const int error = SSL_get_error(tls_->ssl, done);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
        when_socket(error == SSL_ERROR_WANT_READ ? tcp::socket::wait_read : tcp::socket::wait_write,
                    "TLS handshake", &LineSession::continue_handshake);
        return;
    }
    tls_->failed = true;
    on_handshake(tls_error(error));
}

void LineSession::begin_plain() {
    transport_ready_ = true;
    if (security_ != nullptr) {
        if (!config::any_contains(security_->plain_allow, peer_address())) {
            ++security_->plain_refused;
            spdlog::warn("{}: plain connection refused: not in listen.agent.allow_plain",
                         describe());
            close_with("tls_required", security_->tls != nullptr
                                           ? "this port takes plain connections only from the "
                                             "addresses in listen.agent.allow_plain; connect "
                                             "with TLS"
                                           : "this port takes connections only from the "
                                             "addresses in listen.agent.allow_plain");
            return;
        }
    }
    wait_for_input();
}

void LineSession::on_handshake(const boost::system::error_code& error) {
    if (closing_) return;
    if (error) {
        ++security_->tls_failed;
        spdlog::info("{}: TLS handshake failed: {}", describe(), error.message());
        stop();
        return;
    }
    transport_ready_ = true;
    wait_for_input();
    write_queued();
}

void LineSession::set_idle_timeout(std::chrono::seconds timeout) {
    idle_timeout_ = timeout;
    extend_on_read_ = true;
    touch();
}

std::size_t LineSession::buffer_bytes() const {
    return decoder_.buffer_capacity() + queue_.capacity() * sizeof(SharedMessage) +
           in_flight_.capacity() * sizeof(SharedMessage) +
           write_buffers_.capacity() * sizeof(asio::const_buffer);
}

void LineSession::touch() { deadline_ = std::chrono::steady_clock::now() + idle_timeout_; }

void LineSession::arm_watchdog(std::chrono::steady_clock::time_point deadline) {
    deadline_ = deadline;
    watchdog_.cancel();
}

void LineSession::resume_reading() {
    if (!paused_) return;
    paused_ = false;
    watchdog_.cancel();  // re-arms it at the deadline the pause suspended
    // Later, not now: the caller may be handling one of our lines, or iterating over
    // sessions.
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
        self->guarded("session reader", [&] { self->handle_lines_then_read(); });
    });
}

void LineSession::deliver(std::string message) {
    deliver(std::make_shared<const std::string>(std::move(message)));
}

void LineSession::deliver(SharedMessage message) {
    if (closing_) return;
    const bool too_many = queue_.size() >= queue_max_;
    if (too_many || queued_bytes_ + message->size() > queued_bytes_max) {
        spdlog::warn("{}: {} messages ({} bytes) unread, disconnecting", describe(), queue_.size(),
                     queued_bytes_);
        // Named by the bound that tripped: a few huge messages are not "too many".
        constexpr std::size_t mebibyte = std::size_t{1024} * 1024;
        const std::string unread =
            too_many ? std::to_string(queue_max_) + " queued messages"
                     : std::to_string(queued_bytes_max / mebibyte) + " MiB of queued messages";
        queue_.clear();
        queued_bytes_ = 0;
        close_with("slow_consumer",
                   "you did not read " + unread + "; reconnect with resume_after (a tail: after)");
        return;
    }
    queued_bytes_ += message->size();
    queue_.push_back(std::move(message));
    write_queued();
}

void LineSession::reject(std::string_view code, std::string_view message) {
    spdlog::debug("{}: {}: {}", describe(), code, message);
    deliver(protocol::encode_error({std::string(code), std::string(message)}));
}

void LineSession::close_with(std::string_view code, std::string_view message) {
    if (closing_) return;
    if (!transport_ready_) {  // no protocol agreed yet to say it in
        stop();
        return;
    }
    auto bye = std::make_shared<const std::string>(protocol::encode_bye(code, message));
    queued_bytes_ += bye->size();
    queue_.push_back(std::move(bye));
    closing_ = true;
    write_queued();
    arm_watchdog(std::chrono::steady_clock::now() + bye_grace);
    finish();
}

void LineSession::stop() {
    closing_ = true;
    if (tls_ && tls_->handshaken && !tls_->failed && socket_.is_open()) {
        SSL_shutdown(tls_->ssl);  // close_notify, if the socket takes it now; no wait for the reply
        ERR_clear_error();
    }
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    watchdog_.cancel();
    finish();
}

void LineSession::finish() {
    if (finished_.exchange(true)) return;
    // Later, not now: whoever closed us may be iterating over the sessions on_closed()
    // removes us from.
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->on_closed(); });
}

void LineSession::handle(const protocol::DecodedLine& line) {
    if (line.too_long) {
        reject("line_too_long", "line longer than " + std::to_string(protocol::max_line_bytes) +
                                    " bytes skipped");
        return;
    }
    // One message that trips over a storage failure must not end the session.
    try {
        on_line(line.text);
    } catch (const std::exception& error) {
        spdlog::error("{}: handling a message failed: {}", describe(), error.what());
        reject("internal_error", std::string("the message could not be handled: ") + error.what());
    }
}

void LineSession::wait_for_input() {
    if (waiting_for_input_) return;
    waiting_for_input_ = true;
    // Bytes TLS decrypted already are not in the socket for a wait to see.
    if (tls_ && SSL_pending(tls_->ssl) > 0) {
        asio::post(socket_.get_executor(), [self = shared_from_this()] {
            self->waiting_for_input_ = false;
            self->guarded("session reader", [&] { self->on_readable({}); });
        });
        return;
    }
    socket_.async_wait(tcp::socket::wait_read,
                       [self = shared_from_this()](const boost::system::error_code& error) {
                           self->waiting_for_input_ = false;
                           self->guarded("session reader", [&] { self->on_readable(error); });
                       });
}

std::size_t LineSession::receive(asio::mutable_buffer buffer, boost::system::error_code& error) {
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

void LineSession::on_readable(const boost::system::error_code& waited) {
    if (closing_) return;
    boost::system::error_code error = waited;
    std::size_t size = 0;
    const auto buffer = read_buffer();
    if (!error) size = receive(buffer, error);
    if (error == asio::error::would_block || error == asio::error::try_again) {
        wait_for_input();  // readable was a false alarm
        return;
    }

    if (error == asio::error::eof) {
        // Answer what the peer sent before it half-closed, then close.
        input_ended_ = true;
        handle_lines_then_read();
        return;
    }
    if (error) {
        if (error != asio::error::operation_aborted)
            spdlog::debug("{}: read: {}", describe(), error.message());
        stop();
        return;
    }
    if (extend_on_read_) touch();
    decoder_.feed(std::string_view(static_cast<const char*>(buffer.data()), size));
    handle_lines_then_read();
}

void LineSession::handle_lines_then_read() {
    handle_decoded_lines();
    if (closing_ || paused_) return;
    if (input_ended_) {
        arm_watchdog(std::chrono::steady_clock::now() + linger_after_input);
        return;
    }
    wait_for_input();
}

void LineSession::handle_decoded_lines() {
    while (!closing_ && !paused_) {
        auto line = decoder_.next();
        if (!line) break;
        handle(*line);
    }
}

void LineSession::write_queued() {
    if (writing_ || !transport_ready_ || !socket_.is_open()) return;
    if (queue_.empty()) {
        if (closing_) stop();  // the bye is out: done
        return;
    }
    writing_ = true;
    while (!queue_.empty() && in_flight_.size() < writes_per_batch) {
        queued_bytes_ -= queue_.front()->size();
        in_flight_.push_back(queue_.pop_front());
        write_buffers_.push_back(asio::buffer(*in_flight_.back()));
    }
    if (tls_) {
        write_tls({});
        return;
    }
    asio::async_write(socket_, write_buffers_,
                      [self = shared_from_this()](const boost::system::error_code& error,
                                                  std::size_t) {
                          self->guarded("session writer", [&] { self->on_written(error); });
                      });
}

void LineSession::write_tls(const boost::system::error_code& waited) {
    // Completions run later, never inside deliver(): like Asio's, they may call back into
    // whoever delivered.
    auto complete = [this](const boost::system::error_code& error) {
        tls_->buffer = 0;
        tls_->offset = 0;
        asio::post(socket_.get_executor(), [self = shared_from_this(), error] {
            self->guarded("session writer", [&] { self->on_written(error); });
        });
    };
    if (waited) {
        complete(waited);
        return;
    }
    while (tls_->buffer < write_buffers_.size()) {
        if (!socket_.is_open() || tls_->failed) {  // stopped meanwhile
            complete(asio::error::operation_aborted);
            return;
        }
        const asio::const_buffer& buffer = write_buffers_[tls_->buffer];
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
            when_socket(error == SSL_ERROR_WANT_WRITE ? tcp::socket::wait_write
                                                      : tcp::socket::wait_read,
                        "session writer", &LineSession::write_tls);
            return;
        }
        tls_->failed = true;
        complete(tls_error(error));
        return;
    }
    complete({});
}

void LineSession::on_written(const boost::system::error_code& error) {
    writing_ = false;
    in_flight_.clear();
    write_buffers_.clear();
    if (error) {
        if (error != asio::error::operation_aborted)
            spdlog::debug("{}: write: {}", describe(), error.message());
        stop();
        return;
    }
    if (queue_.empty()) {
        // Idle again: hold no memory for writes until the next one.
        std::vector<SharedMessage>().swap(in_flight_);
        std::vector<asio::const_buffer>().swap(write_buffers_);
        if (!closing_) on_drained();
    }
    write_queued();
}

void LineSession::wait_watchdog() {
    watchdog_.expires_at(paused_ ? never : deadline_);
    watchdog_.async_wait([self = shared_from_this()](const boost::system::error_code&) {
        self->guarded("session watchdog", [&] { self->on_watchdog(); });
    });
}

void LineSession::on_watchdog() {
    if (!socket_.is_open()) return;
    if (paused_ || std::chrono::steady_clock::now() < deadline_) {
        wait_watchdog();  // cancelled to be re-armed, or touched since it was armed
        return;
    }
    if (closing_ || input_ended_ || !transport_ready_) {
        stop();
        return;
    }
    const std::string reason =
        extend_on_read_ ? "nothing received for " : "no login or valid event in ";
    spdlog::info("{}: {}{} s, closing", describe(), reason, idle_timeout_.count());
    close_with("idle_timeout", reason + std::to_string(idle_timeout_.count()) + " s");
    if (socket_.is_open()) wait_watchdog();
}

}  // namespace callpop::daemon
