// callpop status: asks the running daemon, as a supervisor, how it and each switch link are
// doing (the status message, docs/protocol-agent.md), and prints it (docs/status.md).
#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/command_options.hpp"
#include "cli/daemon_client.hpp"
#include "cli/report.hpp"

namespace callpop::cli {

namespace {

using nlohmann::json;

// A UTC time to the second; null → "-".
std::string readable_time(const json& iso) {
    return iso.is_string() ? report::utc_to_the_second(iso.get<std::string>()) : "-";
}

// 45 s, 12 min 5 s, 3 h 04 min, 2 d 5 h: the two units that matter.
std::string readable_duration(std::uint64_t seconds) {
    constexpr std::uint64_t minute = 60, hour = 60 * minute, day = 24 * hour;
    if (seconds < minute) return fmt::format("{} s", seconds);
    if (seconds < hour) return fmt::format("{} min {} s", seconds / minute, seconds % minute);
    if (seconds < day)
        return fmt::format("{} h {:02} min", seconds / hour, seconds % hour / minute);
    return fmt::format("{} d {} h", seconds / day, seconds % day / hour);
}

std::string text_of(const json& value) {
    if (value.is_string()) return value.get<std::string>();
    if (value.is_null()) return "-";
    return value.dump();
}

// "1 outage", "3 outages".
std::string outages(const json& count) {
    return text_of(count) + (count == 1 ? " outage" : " outages");
}

// Whether the store takes the writes; its outages since the start, and why the last one came.
std::string store_line(const json& store) {
    if (!store.is_object()) return "store: -\n";
    const bool up = store.value("up", true);
    std::string line = fmt::format("store: {}, {} since start", up ? "up" : "DOWN, writes wait for it",
                                   outages(store["outages"]));
    if (store["last_error"].is_string())
        line += fmt::format(" (the last: {})", text_of(store["last_error"]));
    return line + "\n";
}

// The link to the other daemons sharing the store; none with a store of the daemon's own.
std::string peer_link_line(const json& link) {
    if (!link.is_object()) return {};
    std::string line = fmt::format("link to the other daemons: {}, {} since start, {} messages dropped",
                                   link.value("connected", false) ? "up" : "DOWN",
                                   outages(link["outages"]), text_of(link["dropped"]));
    if (link["last_error"].is_string())
        line += fmt::format(" (the last: {})", text_of(link["last_error"]));
    return line + "\n";
}

std::string summary(const json& status) {
    std::string text = fmt::format("callpop {} ({}), up {} (since {} UTC; times below are UTC)\n",
                                   text_of(status["daemon"]), text_of(status["version"]),
                                   readable_duration(status.value("uptime_s", std::uint64_t{0})),
                                   readable_time(status["started_at"]));
    text += fmt::format("calls live: {}\n", text_of(status["live_calls"]));
    text += fmt::format("agents: {} logged in, {} away (gone without logging out)\n",
                        text_of(status["agents_logged_in"]), text_of(status["agents_away"]));
    text += fmt::format("follow-ups: {} agents waiting for one, {} offered and not reported\n",
                        text_of(status["followup_waiters"]), text_of(status["followups_held"]));
    text +=
        fmt::format("supervisors following the call log: {}\n", text_of(status["tail_followers"]));
    text += fmt::format("call-log writer queue: {}, spooled: {}\n", text_of(status["writer_queue"]),
                        text_of(status["writer_spooled"]));
    text += store_line(status["store"]);
    text += peer_link_line(status["peer_link"]);
    text += fmt::format("customer lookups: {}\n", text_of(status["lookups"]));
    const json& faults = status["faults"];
    text += fmt::format(
        "faults: {} calls timed out, {} closed at start, {} tail catch-ups, {} logins refused, "
        "{} outcomes refused, {} writes failed, {} records spilled, {} sessions closed for "
        "their account, {} logins throttled, {} switch connections refused, {} switch hellos "
        "refused, {} plain agent connections refused, {} TLS handshakes failed\n",
        text_of(faults["calls_timed_out"]), text_of(faults["calls_closed_at_start"]),
        text_of(faults["tail_fell_behind"]), text_of(faults["logins_refused"]),
        text_of(faults["outcomes_refused"]), text_of(faults["writes_failed"]),
        text_of(faults["writes_spilled"]), text_of(faults["sessions_closed_for_account"]),
        text_of(faults["logins_throttled"]), text_of(faults["switches_refused"]),
        text_of(faults["switch_hellos_refused"]), text_of(faults["plain_refused"]),
        text_of(faults["tls_failed"]));
    return text;
}

std::vector<std::string> switch_row(const json& link) {
    std::string state = text_of(link["state"]);
    // The native port serves any number of switches: say how many are connected.
    const auto sessions = link.value("sessions", std::uint64_t{0});
    if (sessions > 0) state += fmt::format(" ({} connected)", sessions);
    return {text_of(link["name"]),           text_of(link["type"]),
            text_of(link["address"]),        state,
            readable_time(link["up_since"]), readable_time(link["last_event_at"]),
            text_of(link["events"]),         text_of(link["calls"]),
            text_of(link["garbage"]),        text_of(link["last_error"])};
}

std::string switch_table(const json& switches) {
    const std::vector<report::Column> columns = {
        {"NAME"},         {"TYPE"},          {"ADDRESS"}, {"STATE"},          {"SINCE"},
        {"LAST-EVENT"},   {"EVENTS", true},  {"CALLS", true}, {"GARBAGE", true}, {"LAST-ERROR"}};
    std::vector<std::vector<std::string>> rows;
    if (switches.is_array())
        for (const auto& link : switches) rows.push_back(switch_row(link));
    return report::format_table(columns, rows);
}

// Every daemon serving the store (several share a PostgreSQL database), as each last wrote
// its row: one not seen for long has stopped or lost the database.
std::string daemon_table(const json& daemons) {
    const std::vector<report::Column> columns = {{"DAEMON"},  {"HOST"},       {"PID", true},
                                                 {"VERSION"}, {"STARTED"},    {"LAST-SEEN"}};
    std::vector<std::vector<std::string>> rows;
    if (daemons.is_array())
        for (const auto& daemon : daemons)
            rows.push_back({text_of(daemon["name"]), text_of(daemon["host"]),
                            text_of(daemon["pid"]), text_of(daemon["version"]),
                            readable_time(daemon["started_at"]),
                            readable_time(daemon["last_seen"])});
    return report::format_table(columns, rows);
}

}  // namespace

int command_status(const Arguments& arguments) {
    CommandLine command_line(
        "callpop status [--json] [--config FILE] [--user ID --token TOKEN] [--host H] [--port P]");
    command_line.options()("json", "print the daemon's status message as it came (one line)");
    add_daemon_login_options(command_line);
    if (!command_line.parse(arguments)) return 0;
    const config::Config config = command_line.load_config();
    const auto login = daemon_login(command_line, config, "status");
    if (!login) return exit_usage;
    const json status = ask_daemon(*login, {{"type", "status"}});
    if (command_line.has("json")) {
        std::cout << status.dump() << std::endl;
    } else {
        std::cout << summary(status) << "\n"
                  << switch_table(status["switches"]) << "\n"
                  << daemon_table(status["daemons"]) << std::flush;
    }
    return 0;
}

}  // namespace callpop::cli
