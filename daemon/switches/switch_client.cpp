#include "daemon/switches/switch_client.hpp"

#include <array>

#include <spdlog/spdlog.h>

#include "daemon/net/coroutine.hpp"

namespace callpop::daemon {

namespace {

constexpr auto never = std::chrono::steady_clock::time_point::max();
constexpr std::size_t read_chunk = 65536;

std::string seconds_text(std::chrono::seconds duration) {
    return std::to_string(duration.count()) + " s";
}

}  // namespace

SwitchClient::SwitchClient(asio::io_context& io, config::SwitchLink link, SwitchEventSink sink)
    : io_(io),
      link_(std::move(link)),
      sink_(std::move(sink)),
      resolver_(io),
      socket_(io),
      retry_timer_(io),
      write_signal_(io),
      keepalive_timer_(io) {
    status_.name = link_.name;
    status_.type = link_.type;
    status_.address = link_.host + ":" + std::to_string(link_.port);
    status_.state = "connecting";
    if (link_.tls) tls_context_.emplace(client_tls_context(link_.ca));
}

void SwitchClient::start() {
    spawn_logged(io_.get_executor(), run(), "switch link", shared_from_this());
}

void SwitchClient::stop() {
    stopping_ = true;
    resolver_.cancel();
    retry_timer_.cancel();
    drop("callpop is stopping");
}

void SwitchClient::send(std::string bytes) {
    if (!connected_) return;
    outbox_.push_back(std::move(bytes));
    write_signal_.cancel();
}

void SwitchClient::drop(std::string reason) {
    if (drop_reason_.empty()) drop_reason_ = std::move(reason);
    close_socket();
}

void SwitchClient::refuse(std::string reason) {
    refused_ = true;
    drop(std::move(reason));
}

void SwitchClient::report(const protocol::SwitchEvent& event) {
    ++status_.events;
    if (sink_(event, link_.name)) ++status_.calls;
}

void SwitchClient::count_message() {
    ++status_.messages;
    status_.last_event_at = std::chrono::system_clock::now();
}

void SwitchClient::count_garbage(std::string_view what) {
    ++status_.garbage;
    spdlog::warn("{}: skipped: {}", describe(), what);
}

void SwitchClient::close_socket() {
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    write_signal_.cancel();
    keepalive_timer_.cancel();
}

awaitable<std::string> SwitchClient::connect_and_serve(std::chrono::seconds& backoff) {
    refused_ = false;
    boost::system::error_code error;
    const auto endpoints = co_await resolver_.async_resolve(
        link_.host, std::to_string(link_.port), asio::redirect_error(use_awaitable, error));
    if (!error && !stopping_) {
        co_await asio::async_connect(socket_, endpoints,
                                     asio::redirect_error(use_awaitable, error));
    }
    if (stopping_ || error) {
        close_socket();
        co_return "cannot connect to " + status_.address + ": " +
            (stopping_ ? std::string("callpop is stopping") : error.message());
    }
    const auto connected_at = std::chrono::steady_clock::now();
    socket_.set_option(tcp::no_delay(true), error);
    // A switch can be quiet all night; TCP keepalive finds one that vanished.
    socket_.set_option(asio::socket_base::keep_alive(true), error);
    drop_reason_.clear();
    if (tls_context_ && !co_await start_tls()) {
        close_socket();
        co_return drop_reason_;
    }
    connected_ = true;
    drop_reason_.clear();
    outbox_.clear();
    last_read_ = connected_at;
    ++status_.connects;
    status_.state = "up";
    status_.up_since = std::chrono::system_clock::now();
    spdlog::info("{}: connected to {}", describe(), status_.address);
    std::string failure;
    try {
        on_connected();
        spawn_logged(io_.get_executor(), write_loop(), "switch link writer", shared_from_this());
        spawn_logged(io_.get_executor(), keepalive_loop(), "switch link keepalive",
                     shared_from_this());
        co_await read_loop();
    } catch (const std::exception& bug) {
        // Whatever the switch sent, the link must come back: log it and reconnect.
        failure = std::string("internal error: ") + bug.what();
        spdlog::error("{}: {}", describe(), failure);
    }
    connected_ = false;
    close_socket();
    on_disconnected();
    status_.up_since.reset();
    // A link that stayed up a while starts its backoff afresh.
    if (std::chrono::steady_clock::now() - connected_at >= link_.reconnect_max)
        backoff = link_.reconnect_min;
    if (!failure.empty()) co_return failure;
    co_return drop_reason_.empty() ? "connection closed" : drop_reason_;
}

awaitable<bool> SwitchClient::start_tls() {
    // A fresh stream per connection: TLS state does not outlive its connection.
    tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, *tls_context_);
    expect_peer_name(*tls_, link_.host);
    boost::system::error_code error;
    co_await tls_->async_handshake(asio::ssl::stream_base::client,
                                   asio::redirect_error(use_awaitable, error));
    if (!error && !stopping_) co_return true;
    const std::string reason = "TLS with " + status_.address + " failed: " + error.message();
    // A certificate that does not check out stays so until someone fixes it: like a wrong
    // secret, it is logged once and retried slowly.
    if (error.category() == asio::error::get_ssl_category())
        refuse(reason + " (check ca and host in callpop.yaml, and the switch's certificate)");
    else
        drop(reason);
    co_return false;
}

awaitable<void> SwitchClient::run() {
    std::chrono::seconds backoff = link_.reconnect_min;
    std::string last_refusal;
    while (!stopping_) {
        status_.state = "connecting";
        const std::string reason = co_await connect_and_serve(backoff);
        if (stopping_) break;
        status_.last_error = reason;
        const std::chrono::seconds delay = refused_ ? link_.reconnect_max : backoff;
        if (refused_) {
            status_.state = "login_failed";
            if (reason != last_refusal) {
                spdlog::error("{}: {}; retrying every {} until it is fixed", describe(), reason,
                              seconds_text(delay));
            } else {
                spdlog::debug("{}: {}", describe(), reason);
            }
            last_refusal = reason;
        } else {
            status_.state = "down";
            last_refusal.clear();
            spdlog::warn("{}: {}; reconnecting in {}", describe(), reason, seconds_text(delay));
            backoff = std::min(backoff * 2, link_.reconnect_max);
        }
        boost::system::error_code ignored;
        retry_timer_.expires_after(delay);
        co_await retry_timer_.async_wait(asio::redirect_error(use_awaitable, ignored));
    }
    status_.state = "down";
}

awaitable<void> SwitchClient::read_loop() {
    std::array<char, read_chunk> buffer;
    while (connected_) {
        boost::system::error_code error;
        const std::size_t count =
            tls_ ? co_await tls_->async_read_some(asio::buffer(buffer),
                                                  asio::redirect_error(use_awaitable, error))
                 : co_await socket_.async_read_some(asio::buffer(buffer),
                                                    asio::redirect_error(use_awaitable, error));
        if (error) {
            if (error == asio::error::eof || error == asio::ssl::error::stream_truncated) {
                drop("the switch closed the connection");
            } else {
                drop("read failed: " + error.message());
            }
            co_return;
        }
        last_read_ = std::chrono::steady_clock::now();
        on_data(std::string_view(buffer.data(), count));
    }
}

awaitable<void> SwitchClient::write_loop() {
    const std::uint64_t connection = status_.connects;
    while (connected_ && status_.connects == connection) {
        if (outbox_.empty()) {
            boost::system::error_code ignored;
            write_signal_.expires_at(never);
            co_await write_signal_.async_wait(asio::redirect_error(use_awaitable, ignored));
            continue;
        }
        boost::system::error_code error;
        if (tls_)
            co_await asio::async_write(*tls_, asio::buffer(outbox_.front()),
                                       asio::redirect_error(use_awaitable, error));
        else
            co_await asio::async_write(socket_, asio::buffer(outbox_.front()),
                                       asio::redirect_error(use_awaitable, error));
        if (!connected_ || status_.connects != connection) co_return;
        if (error) {
            drop("write failed: " + error.message());
            co_return;
        }
        outbox_.pop_front();
    }
}

awaitable<void> SwitchClient::keepalive_loop() {
    const std::uint64_t connection = status_.connects;
    // Checks run ping_interval after the last byte read, and at most once per interval.
    auto next_check = std::chrono::steady_clock::now();
    while (connected_ && status_.connects == connection) {
        const auto now = std::chrono::steady_clock::now();
        const auto quiet = now - last_read_;
        if (quiet >= link_.ping_interval && now >= next_check) {
            on_quiet(std::chrono::duration_cast<std::chrono::seconds>(quiet));
            next_check = now + link_.ping_interval;
        }
        boost::system::error_code ignored;
        keepalive_timer_.expires_at(std::max(last_read_ + link_.ping_interval, next_check));
        co_await keepalive_timer_.async_wait(asio::redirect_error(use_awaitable, ignored));
    }
}

}  // namespace callpop::daemon
