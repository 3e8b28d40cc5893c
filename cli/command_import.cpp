#include <unistd.h>

#include <functional>
#include <iostream>

#include "cli/command_options.hpp"
#include "cli/import_progress.hpp"
#include "storage/importer.hpp"
#include "storage/open_store.hpp"

namespace callpop::cli {

namespace {

constexpr int exit_file_error = 1;

using storage::ImportProgress;
using storage::ImportReport;

struct ImportStep {
    const char* option;  // also the order: customers before the assets and notes that name them
    std::function<ImportReport(const std::string& path, const ImportProgress& progress)> run;
};

}  // namespace

int command_import(const Arguments& arguments) {
    CommandLine command_line(
        "callpop import [--config FILE] [--customers FILE] [--assets FILE] [--notes FILE]");
    command_line.options()("customers", program_options::value<std::string>(),
                           "customers CSV file (docs/csv.md)")(
        "assets", program_options::value<std::string>(), "assets CSV file")(
        "notes", program_options::value<std::string>(), "notes and preferences CSV file");
    if (!command_line.parse(arguments)) return 0;
    if (!command_line.has("customers") && !command_line.has("assets") &&
        !command_line.has("notes")) {
        std::cerr << "give at least one of --customers, --assets, --notes\n";
        return exit_usage;
    }

    const config::Config config = command_line.load_config();
    const auto store = storage::open_store(config.storage);
    const storage::PhoneNormalizer normalizer(config.site.region,
                                              config.site.international_prefixes);
    const ImportStep steps[] = {
        {"customers",
         [&](const std::string& path, const ImportProgress& progress) {
             return storage::import_customers(*store, path, normalizer, progress);
         }},
        {"assets",
         [&](const std::string& path, const ImportProgress& progress) {
             return storage::import_assets(*store, path, progress);
         }},
        {"notes",
         [&](const std::string& path, const ImportProgress& progress) {
             return storage::import_notes(*store, path, progress);
         }},
    };

    // A progress line on a terminal; nothing more in a log or a pipe.
    const bool stderr_is_terminal = isatty(STDERR_FILENO) == 1;
    bool rows_rejected = false;
    for (const auto& step : steps) {
        if (!command_line.has(step.option)) continue;
        const auto path = command_line.get<std::string>(step.option);
        ImportProgressLine progress(std::cerr, path, stderr_is_terminal);
        try {
            const ImportReport report =
                step.run(path, [&](std::size_t rows) { progress.update(rows); });
            progress.finish(report.rows);
            print_import_report(report);
            rows_rejected = rows_rejected || report.rejected() > 0;
        } catch (const storage::ImportError& error) {
            // The files after this one may name customers this one would have added.
            progress.interrupt();
            std::cerr << error.what() << "\n";
            return exit_file_error;
        }
    }
    return rows_rejected ? exit_rows_rejected : 0;
}

}  // namespace callpop::cli
