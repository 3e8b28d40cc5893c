#pragma once
// A connection that speaks JSON lines: reads handed to a line decoder, a bounded write queue
// (one write in flight), and a watchdog that closes the connection when the peer is silent
// too long. Switch and agent sessions derive from it; a transport carries the bytes (a TCP
// socket, plain or TLS, or a browser's WebSocket: session_transport.hpp).
//
// Driven by completion handlers rather than coroutines, so that an idle session holds only
// its transport, its state and two pending waits (input, watchdog): no coroutine frames, no
// read buffer (socket reads go through one buffer per thread), no write buffers.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "daemon/net/asio.hpp"
#include "daemon/net/message_queue.hpp"
#include "daemon/net/session_transport.hpp"
#include "daemon/net/shared_message.hpp"
#include "daemon/net/socket_transport.hpp"
#include "protocol/line_decoder.hpp"

namespace callpop::daemon {

class LineSession : public std::enable_shared_from_this<LineSession> {
public:
    // Until set_idle_timeout() is called the peer has `first_deadline` in all to prove
    // itself (log in, send a valid event): bytes alone do not extend it.
    LineSession(std::unique_ptr<SessionTransport> transport, std::size_t queue_max,
                std::chrono::seconds first_deadline);
    virtual ~LineSession();
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
    // Messages queued and not yet handed to the socket.
    std::size_t queued_messages() const { return queue_.size(); }
    std::size_t queued_bytes() const { return queued_bytes_; }
    // Safe to ask from any thread: the connection is gone or going.
    bool finished() const { return finished_.load(); }
    const std::string& peer() const { return peer_; }
    // The peer's address without the port.
    std::string peer_address() const { return peer_.substr(0, peer_.rfind(':')); }
    // From now on the connection is closed after `timeout` without a byte from the peer.
    void set_idle_timeout(std::chrono::seconds timeout);
    // Memory held right now for input not yet handled and output not yet written: none
    // for a session that is idle (tests watch it; a session's fixed size is its object).
    std::size_t buffer_bytes() const;
    // Named in the log: "switch 127.0.0.1:5321", "agent 1001".
    virtual std::string describe() const { return peer_; }

    // For the transport (session_transport.hpp).
    void transport_opened();
    // Says a bye with the reason, then closes.
    void transport_refused(std::string_view code, std::string_view message);
    void received(const boost::system::error_code& error, std::string_view bytes);
    void written(const boost::system::error_code& error);

protected:
    virtual void on_line(std::string_view line) = 0;
    virtual void on_closed() = 0;
    // Everything queued has been handed to the transport: room for more (a tail catching up).
    virtual void on_drained() {}

private:
    // Input: one read at a time, each complete line handed to on_line(); again, unless paused
    // (resume_reading() carries on), closing, or the peer's input ended.
    void wait_for_input();
    void on_received(const boost::system::error_code& error, std::string_view bytes);
    void handle_lines_then_read();
    void handle_decoded_lines();
    void handle(const protocol::DecodedLine& line);
    // Output: one write of up to a batch of queued messages at a time.
    void write_queued();
    void on_written(const boost::system::error_code& error);
    // The watchdog: one wait on `watchdog_`, re-armed after each expiry or cancellation.
    void wait_watchdog();
    void on_watchdog();
    void touch();
    void finish();
    void arm_watchdog(std::chrono::steady_clock::time_point deadline);
    // Runs a completion handler's work; an exception from it is logged and ends the session
    // instead of leaving the event loop.
    template <typename Work>
    void guarded(const char* what, Work&& work);

    std::unique_ptr<SessionTransport> transport_;
    std::string peer_;
    std::size_t queue_max_;
    std::chrono::seconds idle_timeout_;
    MessageQueue queue_;
    std::size_t queued_bytes_ = 0;
    std::vector<SharedMessage> in_flight_;         // being written; empty between writes
    std::vector<asio::const_buffer> write_buffers_;  // their bytes
    asio::steady_timer watchdog_;
    std::chrono::steady_clock::time_point deadline_;
    protocol::LineDecoder decoder_;
    bool extend_on_read_ = false;
    bool transport_ready_ = false;  // opened (past TLS' or WebSocket's handshake): lines may flow
    bool paused_ = false;
    bool waiting_for_input_ = false;  // a wait for input is pending
    bool writing_ = false;            // a write is in flight
    bool input_ended_ = false;    // the peer half-closed: answer what it sent, then close
    bool closing_ = false;        // no more input is handled; the queue drains, then close
    std::atomic<bool> finished_ = false;  // on_closed has been scheduled
};

}  // namespace callpop::daemon
