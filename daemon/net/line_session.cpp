#include "daemon/net/line_session.hpp"

#include <spdlog/spdlog.h>

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
constexpr std::size_t writes_per_batch = 64;
// Besides the message count, a byte bound: one queued tail backlog can be megabytes.
constexpr std::size_t queued_bytes_max = std::size_t{16} * 1024 * 1024;

constexpr auto never = std::chrono::steady_clock::time_point::max();

}  // namespace

LineSession::LineSession(std::unique_ptr<SessionTransport> transport, std::size_t queue_max,
                         std::chrono::seconds first_deadline)
    : transport_(std::move(transport)),
      peer_(transport_->peer()),
      queue_max_(queue_max),
      idle_timeout_(first_deadline),
      watchdog_(transport_->executor()) {}

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
    transport_->open(*this);
}

void LineSession::transport_opened() {
    guarded("session transport", [&] {
        if (closing_) return;
        transport_ready_ = true;
        wait_for_input();
        write_queued();
    });
}

void LineSession::transport_refused(std::string_view code, std::string_view message) {
    guarded("session transport", [&] {
        transport_ready_ = true;  // the refusal is said in the transport's terms
        close_with(code, message);
    });
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
    asio::post(watchdog_.get_executor(), [self = shared_from_this()] {
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
    transport_->close();
    watchdog_.cancel();
    finish();
}

void LineSession::finish() {
    if (finished_.exchange(true)) return;
    // Later, not now: whoever closed us may be iterating over the sessions on_closed()
    // removes us from.
    asio::post(watchdog_.get_executor(), [self = shared_from_this()] { self->on_closed(); });
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
    transport_->read(*this);
}

void LineSession::received(const boost::system::error_code& error, std::string_view bytes) {
    waiting_for_input_ = false;
    guarded("session reader", [&] { on_received(error, bytes); });
}

void LineSession::on_received(const boost::system::error_code& error, std::string_view bytes) {
    if (closing_) return;
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
    decoder_.feed(bytes);
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
    if (writing_ || !transport_ready_) return;
    if (!transport_->is_open()) {  // closed under us (a WebSocket's close handshake)
        stop();
        return;
    }
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
    transport_->write(*this, write_buffers_);
}

void LineSession::written(const boost::system::error_code& error) {
    guarded("session writer", [&] { on_written(error); });
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
    if (!transport_->is_open()) {  // stopped, or closed under us
        stop();
        return;
    }
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
    if (transport_->is_open()) wait_watchdog();
}

}  // namespace callpop::daemon
