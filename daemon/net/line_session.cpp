#include "daemon/net/line_session.hpp"

#include <array>

#include <spdlog/spdlog.h>

#include "daemon/net/coroutine.hpp"
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
// Small, because ten thousand idle agents each hold one.
constexpr std::size_t read_chunk = 4096;
constexpr std::size_t writes_per_batch = 64;
// Besides the message count, a byte bound: one queued tail backlog can be megabytes.
constexpr std::size_t queued_bytes_max = std::size_t{16} * 1024 * 1024;

std::string endpoint_text(const tcp::socket& socket) {
    boost::system::error_code error;
    const auto endpoint = socket.remote_endpoint(error);
    if (error) return "unknown peer";
    return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

constexpr auto never = std::chrono::steady_clock::time_point::max();

}  // namespace

LineSession::LineSession(tcp::socket socket, std::size_t queue_max,
                         std::chrono::seconds first_deadline)
    : socket_(std::move(socket)),
      peer_(endpoint_text(socket_)),
      queue_max_(queue_max),
      idle_timeout_(first_deadline),
      write_signal_(socket_.get_executor()),
      resume_signal_(socket_.get_executor()),
      watchdog_(socket_.get_executor()) {
    write_signal_.expires_at(never);
    resume_signal_.expires_at(never);
    boost::system::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    // Finds peers that vanished without a FIN (a switch quiet all night, a laptop asleep).
    socket_.set_option(asio::socket_base::keep_alive(true), ignored);
}

void LineSession::start() {
    touch();
    auto self = shared_from_this();
    const auto executor = socket_.get_executor();
    spawn_logged(executor, reader(), "session reader", self);
    spawn_logged(executor, writer(), "session writer", self);
    spawn_logged(executor, watchdog(), "session watchdog", self);
}

void LineSession::set_idle_timeout(std::chrono::seconds timeout) {
    idle_timeout_ = timeout;
    extend_on_read_ = true;
    touch();
}

void LineSession::touch() { deadline_ = std::chrono::steady_clock::now() + idle_timeout_; }

void LineSession::arm_watchdog(std::chrono::steady_clock::time_point deadline) {
    deadline_ = deadline;
    watchdog_.cancel();
}

void LineSession::resume_reading() {
    paused_ = false;
    resume_signal_.cancel();
    watchdog_.cancel();  // re-arms it at the deadline the pause suspended
}

void LineSession::deliver(std::string message) {
    deliver(std::make_shared<const std::string>(std::move(message)));
}

void LineSession::deliver(SharedMessage message) {
    if (closing_) return;
    if (queue_.size() >= queue_max_ || queued_bytes_ + message->size() > queued_bytes_max) {
        spdlog::warn("{}: {} messages ({} bytes) unread, disconnecting", describe(), queue_.size(),
                     queued_bytes_);
        queue_.clear();
        queued_bytes_ = 0;
        close_with("slow_consumer", "you did not read " + std::to_string(queue_max_) +
                                        " queued messages; reconnect with resume_after");
        return;
    }
    queued_bytes_ += message->size();
    queue_.push_back(std::move(message));
    write_signal_.cancel_one();
}

void LineSession::reject(std::string_view code, std::string_view message) {
    spdlog::debug("{}: {}: {}", describe(), code, message);
    deliver(protocol::encode_error({std::string(code), std::string(message)}));
}

void LineSession::close_with(std::string_view code, std::string_view message) {
    if (closing_) return;
    auto bye = std::make_shared<const std::string>(protocol::encode_bye(code, message));
    queued_bytes_ += bye->size();
    queue_.push_back(std::move(bye));
    closing_ = true;
    write_signal_.cancel_one();
    resume_signal_.cancel();
    arm_watchdog(std::chrono::steady_clock::now() + bye_grace);
    finish();
}

void LineSession::stop() {
    closing_ = true;
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    write_signal_.cancel();
    resume_signal_.cancel();
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

awaitable<void> LineSession::handle_decoded_lines() {
    while (!closing_) {
        if (paused_) {
            boost::system::error_code ignored;
            co_await resume_signal_.async_wait(asio::redirect_error(use_awaitable, ignored));
            continue;
        }
        auto line = decoder_.next();
        if (!line) break;
        handle(*line);
    }
}

awaitable<void> LineSession::reader() {
    std::array<char, read_chunk> buffer;
    while (!closing_) {
        boost::system::error_code error;
        const std::size_t size = co_await socket_.async_read_some(
            asio::buffer(buffer), asio::redirect_error(use_awaitable, error));
        if (closing_) break;
        if (error) {
            if (error == asio::error::eof) {
                // Answer what the peer sent before it half-closed, then close.
                input_ended_ = true;
                co_await handle_decoded_lines();
                if (!closing_) arm_watchdog(std::chrono::steady_clock::now() + linger_after_input);
            } else {
                if (error != asio::error::operation_aborted)
                    spdlog::debug("{}: read: {}", describe(), error.message());
                stop();
            }
            break;
        }
        if (extend_on_read_) touch();
        decoder_.feed(std::string_view(buffer.data(), size));
        co_await handle_decoded_lines();
    }
}

awaitable<void> LineSession::writer() {
    std::vector<SharedMessage> in_flight;
    std::vector<asio::const_buffer> buffers;
    while (socket_.is_open()) {
        if (queue_.empty()) {
            if (closing_) break;
            boost::system::error_code ignored;
            co_await write_signal_.async_wait(asio::redirect_error(use_awaitable, ignored));
            continue;
        }
        in_flight.clear();
        buffers.clear();
        while (!queue_.empty() && in_flight.size() < writes_per_batch) {
            queued_bytes_ -= queue_.front()->size();
            in_flight.push_back(queue_.pop_front());
            buffers.push_back(asio::buffer(*in_flight.back()));
        }
        boost::system::error_code error;
        co_await asio::async_write(socket_, buffers, asio::redirect_error(use_awaitable, error));
        if (error) {
            if (error != asio::error::operation_aborted)
                spdlog::debug("{}: write: {}", describe(), error.message());
            break;
        }
    }
    stop();
}

awaitable<void> LineSession::watchdog() {
    while (socket_.is_open()) {
        watchdog_.expires_at(paused_ ? never : deadline_);
        boost::system::error_code ignored;
        co_await watchdog_.async_wait(asio::redirect_error(use_awaitable, ignored));
        if (!socket_.is_open()) break;
        if (paused_ || std::chrono::steady_clock::now() < deadline_) continue;
        if (closing_ || input_ended_) {
            stop();
            break;
        }
        const std::string reason =
            extend_on_read_ ? "nothing received for " : "no login or valid event in ";
        spdlog::info("{}: {}{} s, closing", describe(), reason, idle_timeout_.count());
        close_with("idle_timeout", reason + std::to_string(idle_timeout_.count()) + " s");
    }
}

}  // namespace callpop::daemon
