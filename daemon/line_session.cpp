#include "daemon/line_session.hpp"

#include <array>

#include <spdlog/spdlog.h>

#include "daemon/coroutine.hpp"
#include "protocol/agent_message.hpp"

namespace callpop::daemon {

namespace {

// How long a closing peer gets to read its bye before the socket is closed regardless. The
// queue is already freed, so waiting costs little and a stalled terminal that wakes up
// still learns why it was dropped.
constexpr std::chrono::seconds bye_grace{10};
// Small, because ten thousand idle agents each hold one.
constexpr std::size_t read_chunk = 4096;
constexpr std::size_t writes_per_batch = 64;

std::string endpoint_text(const tcp::socket& socket) {
    boost::system::error_code error;
    const auto endpoint = socket.remote_endpoint(error);
    if (error) return "unknown peer";
    return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

}  // namespace

LineSession::LineSession(tcp::socket socket, std::size_t queue_max,
                         std::chrono::seconds first_deadline)
    : socket_(std::move(socket)),
      peer_(endpoint_text(socket_)),
      queue_max_(queue_max),
      idle_timeout_(first_deadline),
      write_signal_(socket_.get_executor()),
      watchdog_(socket_.get_executor()) {
    write_signal_.expires_at(std::chrono::steady_clock::time_point::max());
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

void LineSession::deliver(std::string message) {
    deliver(std::make_shared<const std::string>(std::move(message)));
}

void LineSession::deliver(SharedMessage message) {
    if (closing_) return;
    if (queue_.size() >= queue_max_) {
        spdlog::warn("{}: {} messages unread, disconnecting", describe(), queue_.size());
        queue_.clear();
        close_with("slow_consumer", "you did not read " + std::to_string(queue_max_) +
                                        " queued messages; reconnect with resume_after");
        return;
    }
    queue_.push_back(std::move(message));
    write_signal_.cancel_one();
}

void LineSession::close_with(std::string_view code, std::string_view message) {
    if (closing_) return;
    queue_.push_back(std::make_shared<const std::string>(protocol::encode_bye(code, message)));
    closing_ = true;
    write_signal_.cancel_one();
    // The watchdog now only waits for the bye to drain.
    deadline_ = std::chrono::steady_clock::now() + bye_grace;
    watchdog_.cancel();
    finish();
}

void LineSession::stop() {
    closing_ = true;
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    write_signal_.cancel();
    watchdog_.cancel();
    finish();
}

void LineSession::finish() {
    if (finished_) return;
    finished_ = true;
    on_closed();
}

awaitable<void> LineSession::reader() {
    std::array<char, read_chunk> buffer;
    try {
        while (!closing_) {
            const std::size_t size =
                co_await socket_.async_read_some(asio::buffer(buffer), use_awaitable);
            if (closing_) break;
            if (extend_on_read_) touch();
            decoder_.feed(std::string_view(buffer.data(), size));
            while (!closing_) {
                auto line = decoder_.next();
                if (!line) break;
                if (line->too_long) {
                    on_line_too_long();
                } else {
                    on_line(line->text);
                }
            }
        }
    } catch (const boost::system::system_error& error) {
        if (error.code() != asio::error::eof && error.code() != asio::error::operation_aborted)
            spdlog::debug("{}: read: {}", describe(), error.code().message());
    }
    if (!closing_) stop();
}

awaitable<void> LineSession::writer() {
    std::vector<SharedMessage> in_flight;
    std::vector<asio::const_buffer> buffers;
    try {
        while (socket_.is_open()) {
            if (queue_.empty()) {
                if (closing_) break;
                boost::system::error_code ignored;
                co_await write_signal_.async_wait(
                    asio::redirect_error(use_awaitable, ignored));
                continue;
            }
            in_flight.clear();
            buffers.clear();
            while (!queue_.empty() && in_flight.size() < writes_per_batch) {
                in_flight.push_back(std::move(queue_.front()));
                queue_.pop_front();
                buffers.push_back(asio::buffer(*in_flight.back()));
            }
            co_await asio::async_write(socket_, buffers, use_awaitable);
        }
    } catch (const boost::system::system_error& error) {
        if (error.code() != asio::error::operation_aborted)
            spdlog::debug("{}: write: {}", describe(), error.code().message());
    }
    stop();
}

awaitable<void> LineSession::watchdog() {
    while (socket_.is_open()) {
        watchdog_.expires_at(deadline_);
        boost::system::error_code ignored;
        co_await watchdog_.async_wait(asio::redirect_error(use_awaitable, ignored));
        if (!socket_.is_open()) break;
        if (std::chrono::steady_clock::now() < deadline_) continue;
        if (closing_) {
            stop();
            break;
        }
        const auto reason = extend_on_read_ ? "nothing received for " : "no login or valid event in ";
        spdlog::info("{}: {}{} s, closing", describe(), reason, idle_timeout_.count());
        close_with("idle_timeout", reason + std::to_string(idle_timeout_.count()) + " s");
    }
}

}  // namespace callpop::daemon
