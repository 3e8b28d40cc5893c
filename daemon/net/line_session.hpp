#pragma once
// A TCP connection that speaks JSON lines: a reader and a writer coroutine, a bounded write
// queue (one write in flight), and a watchdog that closes the connection when the peer is
// silent too long. Switch and agent sessions derive from it.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "daemon/net/asio.hpp"
#include "daemon/net/message_queue.hpp"
#include "daemon/net/shared_message.hpp"
#include "protocol/line_decoder.hpp"

namespace callpop::daemon {

class LineSession : public std::enable_shared_from_this<LineSession> {
public:
    // Until set_idle_timeout() is called the peer has `first_deadline` in all to prove
    // itself (log in, send a valid event): bytes alone do not extend it.
    LineSession(tcp::socket socket, std::size_t queue_max, std::chrono::seconds first_deadline);
    virtual ~LineSession() = default;
    LineSession(const LineSession&) = delete;
    LineSession& operator=(const LineSession&) = delete;

    void start();
    // Queues one message. When the queue is full the peer is not keeping up: it is told
    // why and disconnected. Never calls back into the caller: on_closed() runs later.
    void deliver(SharedMessage message);
    void deliver(std::string message);
    // Sends an error line naming what was wrong with the peer's input.
    void reject(std::string_view code, std::string_view message);
    // Sends a bye line naming the reason, then closes.
    void close_with(std::string_view code, std::string_view message);
    // Closes at once.
    void stop();

    // While paused no further line is handled (and none is read), and the watchdog waits:
    // a login being checked holds back what the client sent after it.
    void pause_reading() { paused_ = true; }
    void resume_reading();

    bool open() const { return !closing_; }
    // Safe to ask from any thread: the connection is gone or going.
    bool finished() const { return finished_.load(); }
    const std::string& peer() const { return peer_; }
    // From now on the connection is closed after `timeout` without a byte from the peer.
    void set_idle_timeout(std::chrono::seconds timeout);

protected:
    virtual void on_line(std::string_view line) = 0;
    virtual void on_closed() = 0;
    // Named in the log: "switch 127.0.0.1:5321", "agent 1001".
    virtual std::string describe() const { return peer_; }

private:
    awaitable<void> reader();
    awaitable<void> writer();
    awaitable<void> watchdog();
    awaitable<void> handle_decoded_lines();
    void handle(const protocol::DecodedLine& line);
    void touch();
    void finish();
    void arm_watchdog(std::chrono::steady_clock::time_point deadline);

    tcp::socket socket_;
    std::string peer_;
    std::size_t queue_max_;
    std::chrono::seconds idle_timeout_;
    MessageQueue queue_;
    std::size_t queued_bytes_ = 0;
    asio::steady_timer write_signal_;
    asio::steady_timer resume_signal_;
    asio::steady_timer watchdog_;
    std::chrono::steady_clock::time_point deadline_;
    protocol::LineDecoder decoder_;
    bool extend_on_read_ = false;
    bool paused_ = false;
    bool input_ended_ = false;    // the peer half-closed: answer what it sent, then close
    bool closing_ = false;        // no more input is handled; the queue drains, then close
    std::atomic<bool> finished_ = false;  // on_closed has been scheduled
};

}  // namespace callpop::daemon
