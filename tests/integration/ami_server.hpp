#pragma once
// Plays an Asterisk manager port on 127.0.0.1 for the daemon's AMI link: the banner, a
// checked login, the channel list after it, then bytes recorded from a real Asterisk 22.
// Over TLS too, as Asterisk's tlsbindport, with the tests' server certificate.
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace callpop::test {

class AmiServer {
  public:
    // What one connection does, in order.
    struct Session {
        std::string secret = "cti-secret";  // a login with another secret is refused
        std::string channel_list;           // CoreShowChannel events (no ActionID: it is added)
        std::vector<std::string> pieces;    // sent after the list, one write each
        bool close_after = false;           // hang up once the pieces are sent
        bool answer_pings = true;
    };
    using Action = std::map<std::string, std::string>;

    // With `tls`, every connection is TLS (tests/integration/tls/server.pem).
    explicit AmiServer(bool tls = false);
    ~AmiServer();
    AmiServer(const AmiServer&) = delete;
    AmiServer& operator=(const AmiServer&) = delete;

    std::uint16_t port() const { return port_; }
    // Connections take sessions in the order added; later ones get an idle default.
    void add_session(Session session);
    // Sessions send their pieces only once released: the agents log in first.
    void release() { released_ = true; }
    int connections() const { return connections_.load(); }
    // The actions each connection received, in order.
    std::vector<std::vector<Action>> actions() const;
    // The recorded bytes after the banner line, cut at `cuts` random points (0: whole).
    static std::vector<std::string> cut(const std::string& bytes, int cuts, unsigned seed);
    static std::string after_banner(const std::string& recording);

  private:
    void serve();
    void handle(int fd, SSL* tls, Session session);

    SSL_CTX* tls_ = nullptr;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> released_{false};
    std::atomic<int> connections_{0};
    mutable std::mutex mutex_;
    std::deque<Session> sessions_;
    std::vector<std::vector<Action>> actions_;
    std::thread thread_;
};

}  // namespace callpop::test
