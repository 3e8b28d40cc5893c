#include "ami_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <random>
#include <stdexcept>

#include "harness.hpp"

namespace callpop::test {

namespace {

constexpr const char* banner = "Asterisk Call Manager/11.0.0\r\n";

// The daemon's end of one connection: a blocking socket, with TLS over it or not.
struct Peer {
    int fd = -1;
    SSL* tls = nullptr;
};

bool send_all(Peer& peer, const std::string& bytes) {
    if (peer.tls != nullptr)
        return SSL_write(peer.tls, bytes.data(), static_cast<int>(bytes.size())) > 0;
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        const ssize_t count =
            ::send(peer.fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (count <= 0) return false;
        sent += static_cast<std::size_t>(count);
    }
    return true;
}

// Reads one action (lines up to a blank line); nullopt on timeout or a closed peer (then
// `closed` is set).
std::optional<AmiServer::Action> read_action(Peer& peer, std::string& buffer,
                                             std::chrono::milliseconds timeout,
                                             bool* closed = nullptr) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto end = buffer.find("\r\n\r\n");
        if (end != std::string::npos) {
            AmiServer::Action action;
            std::size_t at = 0;
            while (at < end) {
                const auto line_end = buffer.find("\r\n", at);
                const std::string line = buffer.substr(at, line_end - at);
                const auto colon = line.find(": ");
                if (colon != std::string::npos) action[line.substr(0, colon)] = line.substr(colon + 2);
                at = line_end + 2;
            }
            buffer.erase(0, end + 4);
            return action;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::nullopt;
        pollfd poll_fd{peer.fd, POLLIN, 0};
        const bool decrypted = peer.tls != nullptr && SSL_pending(peer.tls) > 0;
        if (!decrypted && ::poll(&poll_fd, 1, static_cast<int>(left.count())) <= 0) continue;
        char chunk[4096];
        const ssize_t count = peer.tls != nullptr
                                  ? SSL_read(peer.tls, chunk, sizeof chunk)
                                  : ::recv(peer.fd, chunk, sizeof chunk, 0);
        if (count <= 0) {
            if (closed != nullptr) *closed = true;
            return std::nullopt;
        }
        buffer.append(chunk, static_cast<std::size_t>(count));
    }
}

std::string reply(const std::string& response, const AmiServer::Action& action,
                  const std::string& rest) {
    auto id = action.find("ActionID");
    return "Response: " + response + "\r\n" +
           (id == action.end() ? std::string() : "ActionID: " + id->second + "\r\n") + rest +
           "\r\n";
}

}  // namespace

AmiServer::AmiServer(bool tls) {
    if (tls) {
        tls_ = SSL_CTX_new(TLS_server_method());
        if (tls_ == nullptr ||
            SSL_CTX_use_certificate_chain_file(tls_, tls_file("server.pem").c_str()) != 1 ||
            SSL_CTX_use_PrivateKey_file(tls_, tls_file("server.key").c_str(), SSL_FILETYPE_PEM) != 1)
            throw std::runtime_error("cannot load the tests' TLS certificate");
    }
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw std::runtime_error("socket failed");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listen_fd_, 8) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0)
        throw std::runtime_error("cannot listen on 127.0.0.1");
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
}

AmiServer::~AmiServer() {
    stopping_ = true;
    thread_.join();
    ::close(listen_fd_);
    if (tls_ != nullptr) SSL_CTX_free(tls_);
}

void AmiServer::add_session(Session session) {
    std::lock_guard lock(mutex_);
    sessions_.push_back(std::move(session));
}

std::vector<std::vector<AmiServer::Action>> AmiServer::actions() const {
    std::lock_guard lock(mutex_);
    return actions_;
}

std::string AmiServer::after_banner(const std::string& recording) {
    return recording.substr(recording.find("\r\n") + 2);
}

std::vector<std::string> AmiServer::cut(const std::string& bytes, int cuts, unsigned seed) {
    std::mt19937 random(seed);
    std::uniform_int_distribution<std::size_t> at(1, bytes.size() - 1);
    std::vector<std::size_t> points(static_cast<std::size_t>(cuts));
    for (auto& point : points) point = at(random);
    std::sort(points.begin(), points.end());
    std::vector<std::string> pieces;
    std::size_t from = 0;
    for (std::size_t point : points) {
        pieces.push_back(bytes.substr(from, point - from));
        from = point;
    }
    pieces.push_back(bytes.substr(from));
    return pieces;
}

void AmiServer::serve() {
    while (!stopping_) {
        pollfd poll_fd{listen_fd_, POLLIN, 0};
        if (::poll(&poll_fd, 1, 50) <= 0) continue;
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        ++connections_;
        Session session;
        {
            std::lock_guard lock(mutex_);
            actions_.emplace_back();
            if (!sessions_.empty()) {
                session = std::move(sessions_.front());
                sessions_.pop_front();
            }
        }
        SSL* tls = nullptr;
        if (tls_ != nullptr) {
            tls = SSL_new(tls_);
            SSL_set_fd(tls, fd);
            // A daemon that refuses our certificate ends here, as with a real Asterisk.
            timeval limit{5, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
            if (SSL_accept(tls) != 1) {
                ERR_clear_error();
                SSL_free(tls);
                ::close(fd);
                continue;
            }
        }
        handle(fd, tls, std::move(session));
        if (tls != nullptr) SSL_free(tls);
        ::close(fd);
    }
}

void AmiServer::handle(int fd, SSL* tls, Session session) {
    Peer peer{fd, tls};
    std::string buffer;
    const auto record = [&](const Action& action) {
        std::lock_guard lock(mutex_);
        actions_.back().push_back(action);
    };
    if (!send_all(peer, banner)) return;
    auto login = read_action(peer, buffer, std::chrono::seconds(5));
    if (!login) return;
    record(*login);
    if ((*login)["Action"] != "Login" || (*login)["Secret"] != session.secret) {
        send_all(peer, reply("Error", *login, "Message: Authentication failed\r\n"));
        return;  // Asterisk hangs up on a failed login
    }
    if (!send_all(peer, reply("Success", *login, "Message: Authentication accepted\r\n"))) return;
    auto list = read_action(peer, buffer, std::chrono::seconds(5));
    if (!list) return;
    record(*list);
    if ((*list)["Action"] == "CoreShowChannels") {
        const std::string id = (*list)["ActionID"];
        std::string events = session.channel_list;
        std::size_t count = 0;
        for (std::size_t at = events.find("Event: CoreShowChannel\r\n"); at != std::string::npos;
             at = events.find("Event: CoreShowChannel\r\n", at + 1)) {
            ++count;
        }
        // Each listed channel carries the action's id, as Asterisk's do.
        std::string listed;
        for (std::size_t at = 0; at < events.size();) {
            const auto end = events.find("\r\n\r\n", at);
            listed += events.substr(at, end - at) + "\r\nActionID: " + id + "\r\n\r\n";
            at = end + 4;
        }
        send_all(peer, reply("Success", *list,
                           "EventList: start\r\nMessage: Channels will follow\r\n") +
                         listed + "Event: CoreShowChannelsComplete\r\nActionID: " + id +
                         "\r\nEventList: Complete\r\nListItems: " + std::to_string(count) +
                         "\r\n\r\n");
    }
    while (!released_ && !stopping_) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    for (const auto& piece : session.pieces) {
        if (!send_all(peer, piece)) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (session.close_after) return;
    while (!stopping_) {
        bool closed = false;
        auto action = read_action(peer, buffer, std::chrono::milliseconds(100), &closed);
        if (!action) {
            if (closed) return;  // by the daemon
            continue;
        }
        record(*action);
        if ((*action)["Action"] == "Ping" && session.answer_pings)
            send_all(peer, reply("Success", *action, "Ping: Pong\r\nTimestamp: 1795385697.000000\r\n"));
    }
}

}  // namespace callpop::test
