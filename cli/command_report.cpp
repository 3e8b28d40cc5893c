// callpop report csat|feedback: satisfaction scores and what customers said, from the store
// (docs/reports.md). Reads the database directly; the daemon may be running meanwhile (WAL).
#include <iostream>
#include <stdexcept>

#include "cli/command_options.hpp"
#include "cli/report.hpp"
#include "storage/open_store.hpp"
#include "storage/store.hpp"

namespace callpop::cli {

namespace {

struct Range {
    std::string since;  // UTC ISO, inclusive; "" for open
    std::string until;  // UTC ISO, exclusive; "" for open
};

void add_range_options(CommandLine& command_line) {
    command_line.options()("since", program_options::value<std::string>(),
                           "from this UTC day on (YYYY-MM-DD)")(
        "until", program_options::value<std::string>(), "up to and including this UTC day")(
        "csv", "CSV with a header row instead of the table");
}

// --since and --until as [start of since, start of the day after until).
Range range_from(const CommandLine& command_line) {
    Range range;
    const auto day = [&](const char* option, int plus_days) -> std::string {
        if (!command_line.has(option)) return {};
        const auto text = command_line.get<std::string>(option);
        const auto start = report::day_start_utc(text, plus_days);
        if (!start)
            throw UsageError(std::string("--") + option + ": \"" + text +
                             "\" is not a date (YYYY-MM-DD)");
        return *start;
    };
    range.since = day("since", 0);
    range.until = day("until", 1);
    if (!range.since.empty() && !range.until.empty() && range.since >= range.until)
        throw UsageError("--since " + command_line.get<std::string>("since") +
                         " is after --until " + command_line.get<std::string>("until"));
    return range;
}

report::Period period_from(const CommandLine& command_line, bool day_allowed) {
    const auto name = command_line.get<std::string>("period");
    const auto period = report::period_from_name(name);
    if (!period || (!day_allowed && *period == report::Period::day))
        throw UsageError("--period: \"" + name + "\" is not " +
                         (day_allowed ? "day, week or month" : "week or month"));
    return *period;
}

int report_csat(const Arguments& arguments) {
    CommandLine command_line(
        "callpop report csat [--config FILE] [--by agent|outcome|line|period] "
        "[--period day|week|month] [--since YYYY-MM-DD] [--until YYYY-MM-DD] [--csv]");
    command_line.options()("by", program_options::value<std::string>()->default_value("agent"),
                           "group by agent, outcome, line or period (of completion, UTC)")(
        "period", program_options::value<std::string>()->default_value("month"),
        "with --by period: day, week or month");
    add_range_options(command_line);
    if (!command_line.parse(arguments)) return 0;
    const auto by_name = command_line.get<std::string>("by");
    const auto by = report::group_by_from_name(by_name);
    if (!by)
        throw UsageError("--by: \"" + by_name + "\" is not agent, outcome, line or period");
    const auto period = period_from(command_line, true);
    if (!command_line.values()["period"].defaulted() && *by != report::GroupBy::period)
        throw UsageError("--period: only with --by period");
    const Range range = range_from(command_line);

    const config::Config config = command_line.load_config();
    const auto store = storage::open_store(config.storage);
    const auto rows = report::score_rows(store->survey_results(range.since, range.until), *by,
                                         period);
    std::cout << (command_line.has("csv") ? report::score_csv(rows, *by)
                                          : report::score_table(rows, *by))
              << std::flush;
    return 0;
}

int report_feedback(const Arguments& arguments) {
    CommandLine command_line(
        "callpop report feedback [--config FILE] [--period week|month] [--since YYYY-MM-DD] "
        "[--until YYYY-MM-DD] [--outcomes complaint,...] [--csv]");
    command_line.options()("period",
                           program_options::value<std::string>()->default_value("month"),
                           "week or month (UTC)")(
        "outcomes", program_options::value<std::string>()->default_value("complaint"),
        "outcome codes whose notes count as feedback, comma-separated");
    add_range_options(command_line);
    if (!command_line.parse(arguments)) return 0;
    const auto period = period_from(command_line, false);
    const auto outcomes_text = command_line.get<std::string>("outcomes");
    const auto outcomes = report::split_list(outcomes_text);
    if (outcomes.empty())
        throw UsageError("--outcomes: \"" + outcomes_text + "\" names no outcome code");
    const Range range = range_from(command_line);

    const config::Config config = command_line.load_config();
    for (const auto& code : outcomes) {
        if (!config.has_outcome(code))
            std::cerr << "callpop report feedback: warning: --outcomes: \"" << code
                      << "\" is not an outcome code in " << command_line.config_path() << "\n";
    }
    const auto store = storage::open_store(config.storage);
    const auto groups =
        report::feedback_groups(store->feedback(range.since, range.until, outcomes), period);
    std::cout << (command_line.has("csv") ? report::feedback_csv(groups)
                                          : report::feedback_text(groups))
              << std::flush;
    return 0;
}

constexpr std::string_view report_usage =
    "usage: callpop report csat [options]       satisfaction scores by agent, outcome, line or "
    "period\n"
    "       callpop report feedback [options]   what customers said, by product and period\n"
    "(callpop report csat --help shows the options)\n";

constexpr Action reports[] = {{"csat", report_csat}, {"feedback", report_feedback}};

}  // namespace

int command_report(const Arguments& arguments) {
    return run_action("report", arguments, reports, report_usage);
}

}  // namespace callpop::cli
