#pragma once
// `callpop demo-data`: a reproducible demo customer base. The customers, assets, notes and
// preferences are written as CSV files and imported through the real importer; past calls
// go through the call log as the daemon writes them; agent logins are added last.
//
// Fixed records the README walkthrough relies on, whatever the seed:
//   customer C-1000 "Pat Doe", gold tier, phone +1 (555) 010-2000 (+15550102000),
//   asset "LaserJet Pro M404" serial 7XK2Q1 purchased 2025-03-14, preference
//   "tea, not coffee", one past call (demo-1) answered by agent 1001;
//   agents 1001..1020 with token "demo-<id>" (demo-1001), supervisor "super" with token
//   "demo-super".
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "storage/importer.hpp"
#include "storage/phone_number.hpp"
#include "storage/store.hpp"
#include "storage/token_hash.hpp"

namespace callpop::storage {

struct DemoOptions {
    std::size_t customers = 5000;  // including the fixed ones; at least 1
    std::uint64_t seed = 1;
    std::filesystem::path csv_directory;  // where customers.csv, assets.csv, notes.csv go
    // The site's lines and outcome codes, so that past calls look like the site's own;
    // when empty, a support line and a few common outcomes are used.
    std::vector<config::Line> lines;
    std::vector<std::string> outcome_codes;
    // Past calls, notes and warranties are placed relative to this.
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
    int token_iterations = default_token_iterations;  // tests lower it to run fast
};

struct DemoLogin {
    std::string id;
    std::string role;
    std::string token;
};

struct DemoSummary {
    ImportReport customers;
    ImportReport assets;
    ImportReport notes;
    std::size_t calls = 0;  // 0 when the store already had the demo's calls
    std::vector<DemoLogin> logins;
};

struct DemoCsvFiles {
    std::filesystem::path customers;
    std::filesystem::path assets;
    std::filesystem::path notes;
};

// Writes the three CSV files (creating the directory). The same options give the same files.
DemoCsvFiles write_demo_csv(const DemoOptions& options);

// write_demo_csv, imports the files, then adds past calls and the agent logins. Running it
// again updates the same customers and adds no second set of calls.
DemoSummary make_demo_data(Store& store, const PhoneNormalizer& normalizer,
                           const DemoOptions& options);

}  // namespace callpop::storage
