#pragma once
// Ports for servers the tests start (the daemon, PostgreSQL) and for addresses where nothing
// may answer.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <random>

namespace callpop::test {

namespace ports_detail {

// Binds a TCP socket to 127.0.0.1:port (0: the system picks); -1 when the port is taken.
inline int bind_loopback(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// The first port the system hands out for port 0 and outgoing connections.
inline std::uint16_t ephemeral_range_start() {
    std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
    unsigned first = 32768;
    range >> first;
    return static_cast<std::uint16_t>(first);
}

}  // namespace ports_detail

// A free port for a server that must keep its port across restarts, or that is told its port
// before it starts. It lies below the system's ephemeral range, so no port-0 bind and no
// outgoing connection of a test running beside this one can take it meanwhile.
inline std::uint16_t unused_port() {
    // Below the ephemeral range only tests that call this pick ports; a random start keeps
    // two of them running side by side from trying the same ones.
    constexpr std::uint16_t lowest = 10000;
    const std::uint16_t highest = ports_detail::ephemeral_range_start();
    REQUIRE_MESSAGE(highest > lowest + 1000, "the ephemeral port range starts too low for the tests");
    std::random_device random;
    const auto span = static_cast<unsigned>(highest - lowest);
    for (unsigned tries = 0, offset = random() % span; tries < 200;
         ++tries, offset = (offset + 1) % span) {
        const auto port = static_cast<std::uint16_t>(lowest + offset);
        const int fd = ports_detail::bind_loopback(port);
        if (fd < 0) continue;
        ::close(fd);
        return port;
    }
    FAIL("no free port between " << lowest << " and " << highest);
    return 0;
}

// A port where a connection is refused for as long as this lives: it stays bound, never
// listening, so nothing else can bind it and no connection can come back to itself on it.
class RefusingPort {
  public:
    RefusingPort() : fd_(ports_detail::bind_loopback(0)) {
        REQUIRE(fd_ >= 0);
        sockaddr_in address{};
        socklen_t size = sizeof address;
        REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size) == 0);
        port_ = ntohs(address.sin_port);
    }
    ~RefusingPort() { ::close(fd_); }
    RefusingPort(const RefusingPort&) = delete;
    RefusingPort& operator=(const RefusingPort&) = delete;
    std::uint16_t port() const { return port_; }

  private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
};

}  // namespace callpop::test
