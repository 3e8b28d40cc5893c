#pragma once
// `callpop demo-data`: a reproducible demo customer base. The customers, assets, notes and
// preferences are written as CSV files and imported through the real importer; past calls
// go through the call log as the daemon writes them; agent logins are added last.
//
// Follow-ups (docs/followups.md) as the daemon would have made them under
// config/callpop.yaml's policies: a satisfaction survey after each past `repaired` (csat, due
// 7 days later) and `sale` (nps, 3 days) call, skipping do-not-call customers and anyone
// surveyed in the 7 days before; those that fell due were called (followup_attempts, closed
// as completed with or without a score, or unreachable), the rest stay open. A few calls in
// the last hours went unanswered, some from unknown numbers (+1 555 010 xxxx), and wait for a
// callback, one per number; two of them are overdue. Their call-log records
// (followup_created, _attempted, _completed, _unreachable, _overdue) are in the log with the
// calls', in time order.
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
    domain::AgentRole role = domain::AgentRole::agent;
    std::string token;
};

struct DemoFollowups {
    std::size_t surveys = 0;    // satisfaction follow-ups
    std::size_t callbacks = 0;  // callbacks, all open
    std::size_t open = 0;       // of both kinds
    std::size_t completed = 0;
    std::size_t scored = 0;     // completed surveys with a score
    std::size_t unreachable = 0;
    std::size_t attempts = 0;   // followup_attempts rows

    std::size_t total() const { return surveys + callbacks; }
};

struct DemoSummary {
    ImportReport customers;
    ImportReport assets;
    ImportReport notes;
    std::size_t calls = 0;  // 0 when the store already had the demo's calls
    DemoFollowups followups;  // added with the calls; all 0 when the calls were there already
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
