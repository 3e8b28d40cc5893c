#include <cstdlib>
#include <functional>
#include <iostream>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "daemon/net/asio.hpp"
#include "cli/command_options.hpp"
#include "cli/daemon_client.hpp"
#include "cli/report.hpp"
#include "protocol/records.hpp"

namespace callpop::cli {

namespace {

constexpr const char* column_layout = "{:<19}  {:<18} {:<14} {:<16} {:<22} {:<10} {:<8} {:<16} {}";

std::string column_header() {
    return fmt::format(fmt::runtime(column_layout), "TIME (UTC)", "KIND", "CALL", "FROM", "CUSTOMER",
                       "QUEUE", "AGENT", "OUTCOME/CAUSE", "NOTES");
}

std::string columns(const domain::CallLogRecord& record) {
    std::string customer = record.customer_name;
    if (customer.empty() && record.customer_id) customer = "#" + std::to_string(*record.customer_id);
    std::string result = record.outcome.empty() ? record.cause : record.outcome;
    return fmt::format(fmt::runtime(column_layout), report::utc_to_the_second(record.at), record.kind,
                       record.call, record.from, customer, record.queue, record.agent, result,
                       record.notes);
}

}  // namespace

int command_tail(const Arguments& arguments) {
    CommandLine command_line(
        "callpop tail [-f] [-n N] [--json] [--queue Q] [--agent A] [--outcome O] "
        "[--user ID --token TOKEN]");
    command_line.options()("follow,f",
                           "keep showing new records as they come; when the connection drops "
                           "(a daemon restart), reconnect and resume after the last one shown")(
        "lines,n", program_options::value<std::size_t>()->default_value(20),
        "how many past records to show first")("json", "print the raw JSON records")(
        "queue", program_options::value<std::string>()->default_value(""), "only this queue")(
        "agent", program_options::value<std::string>()->default_value(""), "only this agent")(
        "outcome", program_options::value<std::string>()->default_value(""),
        "only this outcome code");
    add_daemon_login_options(command_line);
    if (!command_line.parse(arguments)) return 0;
    const config::Config config = command_line.load_config();

    const auto login_as = daemon_login(command_line, config, "tail");
    if (!login_as) return 2;
    const bool follow = command_line.has("follow");
    const bool raw = command_line.has("json");

    // One connection's life: the login, the tail request, then lines until it ends.
    enum class Ended { done, lost, refused };
    std::optional<std::int64_t> resume_after;  // the last record shown, once there is one
    auto follow_over = [&](asio::io_context& io, auto& stream) -> Ended {
        const nlohmann::json login = {{"type", "login"}, {"agent", login_as->user},
                                      {"token", login_as->token}};
        nlohmann::json tail = {{"type", "tail"},
                               {"backlog", command_line.get<std::size_t>("lines")},
                               {"follow", follow},
                               {"filter",
                                {{"queue", command_line.get<std::string>("queue")},
                                 {"agent", command_line.get<std::string>("agent")},
                                 {"outcome", command_line.get<std::string>("outcome")}}}};
        if (resume_after) tail["after"] = *resume_after;
        const std::string requests = login.dump() + "\n" + tail.dump() + "\n";
        boost::system::error_code write_error;
        asio::write(stream, asio::buffer(requests), write_error);

        Ended ended = Ended::lost;
        std::string buffer;
        // While the log is quiet, pings keep the session inside the daemon's heartbeat rule.
        asio::steady_timer ping_timer(io);
        const std::string ping = "{\"type\":\"ping\"}\n";
        std::chrono::seconds ping_every(5);  // until the welcome says the daemon's heartbeat
        std::function<void()> schedule_ping = [&] {
            ping_timer.expires_after(ping_every);
            ping_timer.async_wait([&](const boost::system::error_code& error) {
                if (error) return;
                asio::async_write(stream, asio::buffer(ping), [](auto, auto) {});
                schedule_ping();
            });
        };
        std::function<void()> read_next = [&] {
            asio::async_read_until(
                stream, asio::dynamic_buffer(buffer), '\n',
                [&](const boost::system::error_code& error, std::size_t size) {
                    if (error) {
                        std::cerr << "callpop tail: connection closed: " << error.message()
                                  << "\n";
                        ping_timer.cancel();
                        return;
                    }
                    const std::string line = buffer.substr(0, size - 1);
                    buffer.erase(0, size);
                    const auto message = nlohmann::json::parse(line, nullptr, false);
                    const std::string type =
                        message.is_object() ? message.value("type", "") : std::string();
                    if (type == "error" || type == "bye") {
                        std::cerr << "callpop tail: " << message.value("code", "") << ": "
                                  << message.value("message", "") << "\n";
                        // A refusal stays one; a daemon that stops or drops us, or whose
                        // store is busy, is tried again.
                        if (type == "error" && message.value("code", "") != "storage_error")
                            ended = Ended::refused;
                        ping_timer.cancel();
                        return;
                    }
                    if (type == "welcome") {
                        ping_every =
                            std::chrono::seconds(std::max(1, message.value("heartbeat_s", 5)));
                    } else if (type == "log") {
                        const auto record = protocol::call_log_record_from_json(message);
                        std::cout << (raw ? line : columns(record)) << std::endl;
                        resume_after = record.id;
                    } else if (type == "backlog_end") {
                        if (!resume_after) resume_after = message.value("last", std::int64_t{0});
                        if (!follow) {
                            ended = Ended::done;
                            ping_timer.cancel();
                            return;
                        }
                    }
                    read_next();
                });
        };
        schedule_ping();
        read_next();
        io.run();
        return ended;
    };

    auto follow_once = [&]() -> Ended {
        asio::io_context io;
        try {
            return talk_to_daemon(io, *login_as,
                                  [&](auto& stream) { return follow_over(io, stream); });
        } catch (const DaemonUnreachable& error) {
            std::cerr << "callpop tail: " << error.what() << "\n";
            return Ended::lost;
        } catch (const std::exception& error) {  // TLS refused: trying again will not help
            std::cerr << "callpop tail: " << error.what() << "\n";
            return Ended::refused;
        }
    };

    if (!raw) std::cout << column_header() << std::endl;
    // Followed, the log outlives a daemon restart or a dropped connection: it reconnects,
    // backing off, and resumes after the last record shown, with no duplicate and no hole.
    std::chrono::milliseconds backoff(200);
    constexpr std::chrono::milliseconds backoff_max(5000);
    while (true) {
        const auto before = resume_after;
        const Ended ended = follow_once();
        if (ended == Ended::done) return 0;
        // A daemon never reached (a wrong port, a typo) is an error, not something to wait for.
        if (ended == Ended::refused || !follow || !resume_after) return 1;
        // Records since the last attempt mean the daemon was there: back off from the start.
        if (resume_after != before) backoff = std::chrono::milliseconds(200);
        std::cerr << "callpop tail: reconnecting in " << backoff.count() << " ms\n";
        std::this_thread::sleep_for(backoff);
        backoff = std::min(backoff * 2, backoff_max);
    }
}

}  // namespace callpop::cli
