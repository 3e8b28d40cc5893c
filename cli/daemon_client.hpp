#pragma once
// The CLI verbs that talk to a running daemon (tail, followups complete|cancel) log in on
// its agent port as a supervisor; this is how they find it and who they say they are.
#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/command_options.hpp"
#include "daemon/net/asio.hpp"
#include "daemon/net/tls.hpp"

namespace callpop::cli {

struct DaemonLogin {
    std::string host;
    unsigned short port = 0;
    std::string user;
    std::string token;
    bool tls = false;
    std::string ca;  // with tls: the authorities trusted for the daemon's certificate
};

// Nothing answers at the daemon's address (it may be restarting); other failures, a TLS
// handshake refused say, are std::runtime_error.
class DaemonUnreachable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Adds --host, --port, --tls and --ca: where the daemon is.
void add_daemon_address_options(CommandLine& command_line);
// Adds those, --user and --token.
void add_daemon_login_options(CommandLine& command_line);
// Where the daemon is, from the options, else listen.agent in the config; no user yet.
DaemonLogin daemon_address(const CommandLine& command_line, const config::Config& config);
// From the options, else listen.agent in the config and $CALLPOP_USER / $CALLPOP_TOKEN.
// Prints what is missing and returns nullopt when there is no login.
std::optional<DaemonLogin> daemon_login(const CommandLine& command_line,
                                        const config::Config& config, const char* verb);
// Logs in, sends one request and returns the first reply that is not the welcome: the
// answer, or an error or bye (throws std::runtime_error naming it).
nlohmann::json ask_daemon(const DaemonLogin& login, const nlohmann::json& request);

// A TCP connection to the daemon's agent port; throws DaemonUnreachable.
tcp::socket connect_to_daemon(asio::io_context& io, const DaemonLogin& login);

// Connects, and past the TLS handshake when the login asks for TLS, returns
// talk(stream) with the plain socket or the TLS stream.
template <typename Talk>
auto talk_to_daemon(asio::io_context& io, const DaemonLogin& login, Talk&& talk) {
    tcp::socket socket = connect_to_daemon(io, login);
    if (!login.tls) return talk(socket);
    auto context = client_tls_context(login.ca);
    asio::ssl::stream<tcp::socket&> stream(socket, context);
    expect_peer_name(stream, login.host);
    boost::system::error_code error;
    stream.handshake(asio::ssl::stream_base::client, error);
    if (error)
        throw std::runtime_error("TLS with " + login.host + ":" + std::to_string(login.port) +
                                 ": " + error.message());
    return talk(stream);
}

}  // namespace callpop::cli
