#include <iostream>

#include "cli/command_options.hpp"
#include "cli/import_progress.hpp"
#include "storage/demo_data.hpp"
#include "storage/open_store.hpp"

namespace callpop::cli {

namespace {

void print_logins(const std::vector<storage::DemoLogin>& logins) {
    std::cout << "logins (role id / token):\n";
    for (const auto& login : logins)
        std::cout << "  " << domain::to_string(login.role) << " " << login.id << " / "
                  << login.token << "\n";
}

}  // namespace

int command_demo_data(const Arguments& arguments) {
    CommandLine command_line("callpop demo-data [--config FILE] [--customers N] [--seed S]");
    command_line.options()("customers",
                           program_options::value<std::size_t>()->default_value(5000),
                           "how many customers to generate")(
        "seed", program_options::value<std::uint64_t>()->default_value(1),
        "the same seed makes the same customers");
    if (!command_line.parse(arguments)) return 0;

    const config::Config config = command_line.load_config();
    storage::DemoOptions options;
    options.customers = command_line.get<std::size_t>("customers");
    options.seed = command_line.get<std::uint64_t>("seed");
    if (options.customers == 0) {
        std::cerr << "--customers: at least 1\n";
        return exit_usage;
    }
    // Next to the database, where the administrator can look at what was imported.
    options.csv_directory = std::filesystem::path(config.storage.path).parent_path() / "demo-csv";
    options.lines = config.lines;
    for (const auto& outcome : config.outcomes) options.outcome_codes.push_back(outcome.code);

    const auto store = storage::open_store(config.storage);
    const storage::PhoneNormalizer normalizer(config.site.region,
                                              config.site.international_prefixes);
    const auto summary = storage::make_demo_data(*store, normalizer, options);

    // The demo's files are its own, so a rejected row is a bug in the generator.
    bool all_imported = true;
    for (const auto* report : {&summary.customers, &summary.assets, &summary.notes}) {
        print_import_report(*report);
        all_imported = all_imported && report->rejected() == 0;
    }
    if (summary.calls > 0)
        std::cout << summary.calls << " past calls added to " << config.storage.path << "\n";
    else
        std::cout << "past calls: already in " << config.storage.path << ", none added\n";
    if (const auto& followups = summary.followups; followups.total() > 0)
        std::cout << followups.total() << " follow-ups added (" << followups.surveys << " surveys, "
                  << followups.callbacks << " callbacks): " << followups.open << " open, "
                  << followups.completed << " completed (" << followups.scored << " with a score), "
                  << followups.unreachable << " unreachable; " << followups.attempts
                  << " attempts\n";
    print_logins(summary.logins);
    std::cout << "try: Pat Doe (C-1000) calling from +1 (555) 010-2000, LaserJet Pro M404 "
                 "serial 7XK2Q1\n";
    return all_imported ? 0 : exit_rows_rejected;
}

}  // namespace callpop::cli
