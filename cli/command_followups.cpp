// callpop followups list|export: the follow-up calls in the store, for people and for an
// external dialer (docs/reports.md, docs/csv.md). They read the database directly; the daemon
// may be running meanwhile (WAL). callpop followups complete|cancel: a supervisor closes one
// through the running daemon (the followup_close message, docs/protocol-agent.md).
#include <iostream>
#include <limits>
#include <map>
#include <stdexcept>

#include "cli/command_options.hpp"
#include "cli/daemon_client.hpp"
#include "cli/report.hpp"
#include "domain/states.hpp"
#include "domain/timestamp.hpp"
#include "protocol/records.hpp"
#include "storage/open_store.hpp"
#include "storage/store.hpp"

namespace callpop::cli {

namespace {

void add_filter_options(CommandLine& command_line) {
    command_line.options()(
        "status", program_options::value<std::string>()->default_value("open"),
        "open, completed, unreachable, cancelled (several: comma-separated) or all")(
        "kind", program_options::value<std::string>()->default_value(""),
        "satisfaction or callback (default: both)")(
        "agent", program_options::value<std::string>()->default_value(""),
        "only those whose call this agent took, or that the agent holds or closed")(
        "outcome", program_options::value<std::string>()->default_value(""),
        "only those created for this reason: an outcome code, abandoned, missed or requested")(
        "due", "only those due now or earlier")("overdue", "only callbacks flagged overdue");
}

storage::FollowupQuery query_from(const CommandLine& command_line) {
    storage::FollowupQuery query;
    const auto status = command_line.get<std::string>("status");
    query.statuses.clear();
    for (const auto& item : report::split_list(status)) {
        if (item == "all") {
            query.statuses.clear();
            break;
        }
        const auto parsed = domain::parse<domain::FollowupStatus>(item);
        if (!parsed)
            throw UsageError("--status: \"" + item +
                             "\" is not open, completed, unreachable, cancelled or all");
        query.statuses.push_back(*parsed);
    }
    if (report::split_list(status).empty())
        throw UsageError("--status: \"" + status +
                         "\" is not open, completed, unreachable, cancelled or all");
    if (const auto kind = command_line.get<std::string>("kind"); !kind.empty()) {
        query.kind = domain::parse<domain::FollowupKind>(kind);
        if (!query.kind)
            throw UsageError("--kind: \"" + kind + "\" is not satisfaction or callback");
    }
    query.agent = command_line.get<std::string>("agent");
    query.reason = command_line.get<std::string>("outcome");
    if (command_line.has("due")) query.due_by = domain::utc_now();
    if (command_line.has("overdue")) query.overdue = "yes";
    return query;
}

std::map<std::int64_t, std::string> external_ids_of(storage::CustomerDirectory& directory,
                                                    const std::vector<domain::Followup>& list) {
    std::map<std::int64_t, std::string> external_ids;
    for (const auto& followup : list) {
        if (!followup.customer_id || external_ids.count(*followup.customer_id) > 0) continue;
        const auto customer = directory.customer_by_id(*followup.customer_id);
        external_ids[*followup.customer_id] = customer ? customer->external_id : "";
    }
    return external_ids;
}

int followups_list(const Arguments& arguments) {
    CommandLine command_line(
        "callpop followups list [--config FILE] [--status open|completed|unreachable|cancelled|all] "
        "[--kind K] [--agent A] [--outcome CODE] [--due] [--overdue] [--json] [--limit N]");
    add_filter_options(command_line);
    command_line.options()("json", "one JSON object per line instead of the table")(
        "limit", program_options::value<std::size_t>()->default_value(1000),
        "show at most this many, earliest due first (0: all)");
    if (!command_line.parse(arguments)) return 0;
    auto query = query_from(command_line);
    const auto limit = command_line.get<std::size_t>("limit");
    query.limit = limit == 0 ? std::numeric_limits<std::size_t>::max() : limit;

    const config::Config config = command_line.load_config();
    const auto store = storage::open_store(config.storage);
    const auto followups = store->list_followups(query);
    if (command_line.has("json")) {
        std::string text;
        for (const auto& followup : followups) text += protocol::to_json(followup).dump() + "\n";
        std::cout << text << std::flush;
    } else {
        std::cout << report::followups_table(followups, domain::utc_now()) << std::flush;
    }
    if (limit != 0 && followups.size() == limit)
        std::cerr << "callpop followups list: the first " << limit
                  << " shown; --limit 0 shows all\n";
    return 0;
}

int followups_export(const Arguments& arguments) {
    CommandLine command_line(
        "callpop followups export --format csv|json [--config FILE] [--status S] [--kind K] "
        "[--agent A] [--outcome CODE] [--due] [--overdue]");
    add_filter_options(command_line);
    command_line.options()("format", program_options::value<std::string>()->required(),
                           "csv (docs/csv.md) or json (one object per line)");
    if (!command_line.parse(arguments)) return 0;
    const auto format = command_line.get<std::string>("format");
    if (format != "csv" && format != "json")
        throw UsageError("--format: \"" + format + "\" is not csv or json");
    auto query = query_from(command_line);
    query.limit = std::numeric_limits<std::size_t>::max();

    const config::Config config = command_line.load_config();
    const auto store = storage::open_store(config.storage);
    const auto followups = store->list_followups(query);
    const auto external_ids = external_ids_of(*store, followups);
    std::cout << (format == "csv" ? report::followups_csv(followups, external_ids)
                                  : report::followups_json_lines(followups, external_ids))
              << std::flush;
    return 0;
}

// complete or cancel: through the daemon, which tells the agent holding it and logs it.
int followups_close(const std::string& action, const Arguments& arguments) {
    CommandLine command_line("callpop followups " + action +
                             " ID [--config FILE] [--notes TEXT] [--user ID --token TOKEN] "
                             "[--host H] [--port P]");
    command_line.options()("id", program_options::value<std::int64_t>()->required(),
                           "the follow-up's id (callpop followups list shows them)")(
        "notes", program_options::value<std::string>()->default_value(""),
        "why: goes into the call log");
    add_daemon_login_options(command_line);
    command_line.positional("id", 1);
    if (!command_line.parse(arguments)) return 0;
    const config::Config config = command_line.load_config();
    const std::string verb = "followups " + action;
    const auto login = daemon_login(command_line, config, verb.c_str());
    if (!login) return exit_usage;
    const auto id = command_line.get<std::int64_t>("id");
    const auto status = action == "complete" ? domain::FollowupStatus::completed
                                             : domain::FollowupStatus::cancelled;
    nlohmann::json request = {
        {"type", "followup_close"}, {"followup", id}, {"status", domain::to_string(status)}};
    if (const auto notes = command_line.get<std::string>("notes"); !notes.empty())
        request["notes"] = notes;
    const auto reply = ask_daemon(*login, request);
    std::cout << "follow-up " << id << " " << reply.value("status", "closed") << std::endl;
    return 0;
}

constexpr std::string_view followups_usage =
    "usage: callpop followups list [options]     the follow-up calls, as a table or JSON\n"
    "       callpop followups export --format csv|json [options]   for an external dialer\n"
    "       callpop followups complete|cancel ID [--notes TEXT] [--user ID --token TOKEN]\n"
    "                                            close one by hand (supervisors)\n"
    "(callpop followups list --help shows the options)\n";

int followups_complete(const Arguments& arguments) { return followups_close("complete", arguments); }
int followups_cancel(const Arguments& arguments) { return followups_close("cancel", arguments); }

constexpr Action followup_actions[] = {{"list", followups_list},
                                       {"export", followups_export},
                                       {"complete", followups_complete},
                                       {"cancel", followups_cancel}};

}  // namespace

int command_followups(const Arguments& arguments) {
    return run_action("followups", arguments, followup_actions, followups_usage);
}

}  // namespace callpop::cli
