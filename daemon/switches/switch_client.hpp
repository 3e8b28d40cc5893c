#pragma once
// A phone switch that callpop dials as a client (Asterisk AMI, Kamailio evapi): connects,
// hands the bytes to the protocol, reconnects with backoff, and keeps the figures that
// `callpop status` shows. One link per entry of `switches` in callpop.yaml.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "daemon/net/asio.hpp"
#include "daemon/net/tls.hpp"
#include "protocol/agent_message.hpp"
#include "protocol/switch_event.hpp"

namespace callpop::daemon {

// What `callpop status` shows of a link; kept in the form the status message sends.
using SwitchLinkStatus = protocol::SwitchStatus;

// Takes a link's event and its name; true when the event started a call.
using SwitchEventSink = std::function<bool(const protocol::SwitchEvent&, const std::string&)>;

// Its coroutines hold it (shared_from_this), so a link lives until its last one ends; make
// it with std::make_shared.
class SwitchClient : public std::enable_shared_from_this<SwitchClient> {
public:
    // Throws std::runtime_error when the link's TLS authorities (`ca`) cannot be loaded.
    SwitchClient(asio::io_context& io, config::SwitchLink link, SwitchEventSink sink);
    virtual ~SwitchClient() = default;
    SwitchClient(const SwitchClient&) = delete;
    SwitchClient& operator=(const SwitchClient&) = delete;

    void start();
    void stop();
    const SwitchLinkStatus& status() const { return status_; }
    const config::SwitchLink& link() const { return link_; }

protected:
    // A new connection is up: say hello (log in) if the protocol needs to.
    virtual void on_connected() = 0;
    virtual void on_data(std::string_view bytes) = 0;
    // No byte for `quiet_for` (a multiple of ping_interval): ping, or drop().
    virtual void on_quiet(std::chrono::seconds quiet_for) = 0;
    // The connection is gone, whatever the reason; called once per connection.
    virtual void on_disconnected() = 0;

    void send(std::string bytes);
    // Closes this connection; the link reconnects after the backoff.
    void drop(std::string reason);
    // The switch refused us (a wrong secret): retrying at once cannot help, so the next
    // try waits reconnect_max and the log says so once, not every time.
    void refuse(std::string reason);
    void report(const protocol::SwitchEvent& event);
    void count_message();
    void count_garbage(std::string_view what);
    std::string describe() const { return "switch " + link_.name; }

private:
    awaitable<void> run();
    // One connection, from connect to close; returns why it ended.
    awaitable<std::string> connect_and_serve(std::chrono::seconds& backoff);
    // With tls: the handshake, the switch's certificate checked; false (and dropped or
    // refused, with the reason) when it failed.
    awaitable<bool> start_tls();
    awaitable<void> read_loop();
    awaitable<void> write_loop();
    awaitable<void> keepalive_loop();
    void close_socket();

    asio::io_context& io_;
    config::SwitchLink link_;
    SwitchEventSink sink_;
    SwitchLinkStatus status_;
    tcp::resolver resolver_;
    tcp::socket socket_;
    std::optional<asio::ssl::context> tls_context_;  // link.tls
    std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;  // this connection's, with tls
    asio::steady_timer retry_timer_;
    asio::steady_timer write_signal_;
    asio::steady_timer keepalive_timer_;
    std::deque<std::string> outbox_;
    std::chrono::steady_clock::time_point last_read_;
    std::string drop_reason_;
    bool refused_ = false;
    bool connected_ = false;
    bool stopping_ = false;
};

}  // namespace callpop::daemon
