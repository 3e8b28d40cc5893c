#include "cli/daemon_client.hpp"

#include <cstdlib>
#include <iostream>

#include "daemon/net/asio.hpp"

namespace callpop::cli {

namespace {

std::string environment_or(const char* name, const std::string& fallback) {
    const char* value = std::getenv(name);
    return value != nullptr ? value : fallback;
}

}  // namespace

void add_daemon_address_options(CommandLine& command_line) {
    command_line.options()("host", program_options::value<std::string>(),
                           "daemon address (default: listen.agent.address)")(
        "port", program_options::value<unsigned short>(), "daemon port (default: listen.agent.port)")(
        "tls", "connect with TLS (needed from another host when the daemon has listen.agent.tls)")(
        "ca", program_options::value<std::string>(),
        "with --tls: the PEM file of the authorities that signed the daemon's certificate "
        "(default: the system's); implies --tls");
}

void add_daemon_login_options(CommandLine& command_line) {
    add_daemon_address_options(command_line);
    command_line.options()("user", program_options::value<std::string>(),
                           "supervisor login (default: $CALLPOP_USER)")(
        "token", program_options::value<std::string>(), "its token (default: $CALLPOP_TOKEN)");
}

DaemonLogin daemon_address(const CommandLine& command_line, const config::Config& config) {
    DaemonLogin login;
    login.host = command_line.has("host") ? command_line.get<std::string>("host")
                                          : config.listen.agent_port.address;
    login.port = command_line.has("port") ? command_line.get<unsigned short>("port")
                                          : config.listen.agent_port.port;
    login.ca = command_line.has("ca") ? command_line.get<std::string>("ca") : "";
    login.tls = command_line.has("tls") || !login.ca.empty();
    return login;
}

std::optional<DaemonLogin> daemon_login(const CommandLine& command_line,
                                        const config::Config& config, const char* verb) {
    DaemonLogin login = daemon_address(command_line, config);
    login.user = command_line.has("user") ? command_line.get<std::string>("user")
                                          : environment_or("CALLPOP_USER", "");
    login.token = command_line.has("token") ? command_line.get<std::string>("token")
                                            : environment_or("CALLPOP_TOKEN", "");
    if (login.user.empty() || login.token.empty()) {
        std::cerr << "callpop " << verb
                  << ": give a supervisor login with --user and --token "
                     "(or CALLPOP_USER and CALLPOP_TOKEN)\n";
        return std::nullopt;
    }
    return login;
}

tcp::socket connect_to_daemon(asio::io_context& io, const DaemonLogin& login) {
    tcp::socket socket(io);
    boost::system::error_code error;
    asio::connect(socket, tcp::resolver(io).resolve(login.host, std::to_string(login.port)), error);
    // The usual reason is a daemon that is not running: say so rather than "connect: ...".
    if (error)
        throw DaemonUnreachable("no daemon answers at " + login.host + ":" +
                                std::to_string(login.port) + ": " + error.message() +
                                " (is callpop serve running?)");
    return socket;
}

nlohmann::json ask_daemon(const DaemonLogin& login, const nlohmann::json& request) {
    asio::io_context io;
    const std::string address = login.host + ":" + std::to_string(login.port);
    return talk_to_daemon(io, login, [&](auto& stream) {
        const nlohmann::json hello = {
            {"type", "login"}, {"agent", login.user}, {"token", login.token}};
        const std::string requests = hello.dump() + "\n" + request.dump() + "\n";
        asio::write(stream, asio::buffer(requests));
        std::string buffer;
        boost::system::error_code error;
        while (true) {
            const std::size_t size =
                asio::read_until(stream, asio::dynamic_buffer(buffer), '\n', error);
            if (error)
                throw std::runtime_error("the daemon at " + address +
                                         " closed the connection before answering: " +
                                         error.message());
            auto reply = nlohmann::json::parse(buffer.substr(0, size - 1), nullptr, false);
            buffer.erase(0, size);
            const std::string type =
                reply.is_object() ? reply.value("type", "") : std::string();
            if (type == "welcome") continue;
            if (type == "error" || type == "bye")
                throw std::runtime_error(reply.value("code", "") + ": " +
                                         reply.value("message", ""));
            return reply;
        }
    });
}

}  // namespace callpop::cli
