#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <csignal>

#include "cli/command_options.hpp"
#include "daemon/serve.hpp"
#include "daemon/server.hpp"
#include "daemon/startup_checks.hpp"
#include "storage/open_store.hpp"

namespace callpop::daemon {

namespace {

// Written once both ports listen, so scripts and tests that asked for port 0 learn them.
void write_ready_file(const std::string& path, const Server& server) {
    nlohmann::json ready = {{"pid", ::getpid()},
                            {"switch_port", server.switch_endpoint().port()},
                            {"agent_port", server.agent_endpoint().port()}};
    if (const auto web = server.web_endpoint()) ready["http_port"] = web->port();
    const std::string temporary = path + ".tmp";
    {
        std::ofstream out(temporary, std::ios::trunc);
        out << ready.dump() << "\n";
        if (!out) throw std::runtime_error("cannot write " + temporary);
    }
    std::filesystem::rename(temporary, path);
}

// SIGHUP, as `systemctl reload` and logrotate send it, for as long as the daemon runs.
void reload_on_hangup(asio::signal_set& hangups, Server& server) {
    hangups.async_wait([&hangups, &server](const boost::system::error_code& error, int) {
        if (error || server.stopping()) return;
        spdlog::info("signal SIGHUP: reloading");
        sd_notify(0, "RELOADING=1");
        server.reload();
        sd_notify(0, "READY=1");
        reload_on_hangup(hangups, server);
    });
}

}  // namespace

int command_serve(const std::vector<std::string>& arguments) {
    using cli::CommandLine;
    namespace program_options = cli::program_options;
    CommandLine command_line("callpop serve [--config FILE] [--ready-file FILE]");
    command_line.options()("ready-file", program_options::value<std::string>(),
                           "write {\"pid\",\"switch_port\",\"agent_port\"} here once listening");
    if (!command_line.parse(arguments)) return 0;
    config::Config config = command_line.load_config();
    check_what_serve_needs(config);
    spdlog::set_level(spdlog::level::from_str(config.log.level));
    spdlog::info("callpop starting with {}", config.source.string());

    // A peer gone mid-write must cost its session, not the daemon: OpenSSL writes to agents'
    // TLS sockets with write(2), which raises SIGPIPE (Asio's own writes do not).
    std::signal(SIGPIPE, SIG_IGN);
    // Before anything opens the store: a second daemon must not migrate or write it.
    const auto serve_lock = storage::lock_store_for_serving(config.storage);
    asio::io_context io;
    // Caught from here on, before the start (a spool replay can take a while): a SIGHUP from
    // logrotate then must not end the daemon, and a SIGTERM waits for the start to finish.
    asio::signal_set hangups(io, SIGHUP);
    asio::signal_set stop_signals(io, SIGINT, SIGTERM);
    Server server(io, std::move(config));
    server.start();
    if (command_line.has("ready-file"))
        write_ready_file(command_line.get<std::string>("ready-file"), server);
    // Every port listens now: systemd (Type=notify) starts what comes after callpop.
    sd_notify(0, "READY=1");

    reload_on_hangup(hangups, server);
    stop_signals.async_wait([&](const boost::system::error_code& error, int signal) {
        if (error) return;
        spdlog::info("signal {}: stopping", signal);
        sd_notify(0, "STOPPING=1");
        hangups.cancel();
        server.stop();
    });
    io.run();
    spdlog::info("callpop stopped");
    return 0;
}

}  // namespace callpop::daemon
