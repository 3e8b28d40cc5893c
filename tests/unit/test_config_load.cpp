// config::load_config on real files: defaults, a full file, the shipped example, and the exact
// text of the errors an administrator sees (style.md point 5).
#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>

#include "config/config.hpp"

namespace {

using callpop::config::CallingWindow;
using callpop::config::Config;
using callpop::config::ConfigError;
using callpop::config::FollowupPolicy;
using callpop::config::load_config;
using namespace std::chrono_literals;

// A fresh directory under the system's temp dir, removed with everything in it at the end.
class TempDir {
  public:
    TempDir() {
        std::random_device random;
        for (;;) {
            path_ = std::filesystem::temp_directory_path() /
                    ("callpop-config-test-" + std::to_string(random()));
            if (std::filesystem::create_directory(path_)) break;
        }
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }

    std::filesystem::path write(const std::string& name, const std::string& text) const {
        const std::filesystem::path file = path_ / name;
        std::ofstream(file, std::ios::binary) << text;
        return file;
    }

  private:
    std::filesystem::path path_;
};

std::string error_of(const std::function<void()>& action) {
    try {
        action();
    } catch (const ConfigError& error) {
        return error.what();
    }
    return "(no error)";
}

// Each test writes its YAML to <temp dir>/callpop.yaml and loads it from there; `file` is
// that path as errors print it.
struct ConfigFile {
    TempDir dir;
    std::string file = (dir.path() / "callpop.yaml").string();

    Config load(const std::string& yaml) const {
        dir.write("callpop.yaml", yaml);
        return load_config(file);
    }

    std::string load_error(const std::string& yaml) const {
        return error_of([&] { load(yaml); });
    }
};

constexpr const char* one_outcome = "outcomes:\n  - {code: resolved, label: Resolved}\n";

const std::string top_level_keys =
    "site, listen, storage, call_log, calls, sessions, pop, lines, outcomes, followups, switches, "
    "log";

}  // namespace

TEST_CASE_FIXTURE(ConfigFile, "a file with only outcomes gets every default") {
    const Config config = load(one_outcome);
    const Config defaults;

    CHECK(config.source == file);
    CHECK(config.site.name == "callpop");
    CHECK(config.site.region == "US");
    CHECK(config.site.international_prefixes == std::vector<std::string>{"00"});
    CHECK(config.site.timezone == "UTC");
    CHECK(config.listen.switch_port.address == "127.0.0.1");
    CHECK(config.listen.switch_port.port == 7700);
    CHECK(config.listen.agent_port.address == "127.0.0.1");
    CHECK(config.listen.agent_port.port == 7701);
    CHECK(config.storage.backend == "sqlite");
    CHECK(config.storage.path == "var/callpop.db");
    CHECK(config.call_log.jsonl_path == "var/calls.jsonl");
    CHECK(config.call_log.batch_max == defaults.call_log.batch_max);
    CHECK(config.call_log.flush_ms == defaults.call_log.flush_ms);
    CHECK(config.call_log.tail_memory == defaults.call_log.tail_memory);
    CHECK(config.calls.max_duration_s == defaults.calls.max_duration_s);
    CHECK(config.calls.ended_keep_s == defaults.calls.ended_keep_s);
    CHECK(config.sessions.login_timeout_s == defaults.sessions.login_timeout_s);
    CHECK(config.sessions.heartbeat_s == defaults.sessions.heartbeat_s);
    CHECK(config.sessions.queue_max == defaults.sessions.queue_max);
    CHECK(config.sessions.ticket_ttl_s == 43200);
    CHECK(config.sessions.logins_at_once == 32);
    CHECK(config.pop.history == defaults.pop.history);
    CHECK(config.pop.candidates == defaults.pop.candidates);
    CHECK(config.pop.asset_keys == defaults.pop.asset_keys);
    CHECK(config.pop.account_keys == defaults.pop.account_keys);
    CHECK(config.lines.empty());
    CHECK(config.log.level == "info");

    REQUIRE(config.outcomes.size() == 1);
    CHECK(config.outcomes[0].code == "resolved");
    CHECK(config.outcomes[0].label == "Resolved");
    CHECK(config.has_outcome("resolved"));
    CHECK_FALSE(config.has_outcome("sale"));
}

TEST_CASE_FIXTURE(ConfigFile, "sections left empty keep their defaults") {
    const Config config = load("site:\nlisten:\n  switch:\nlog:\n" + std::string(one_outcome));
    CHECK(config.site.name == "callpop");
    CHECK(config.listen.switch_port.port == 7700);
    CHECK(config.log.level == "info");
}

TEST_CASE_FIXTURE(ConfigFile, "every key of a full file is read") {
    const Config config = load(R"(site:
  name: Lyon
  region: FR
  international_prefixes: ["00", "011"]
  timezone: Europe/Paris
listen:
  switch: {address: 0.0.0.0, port: 17700}
  agent: {address: "::1", port: 0}
storage:
  backend: sqlite
  path: /var/lib/callpop/callpop.db
call_log:
  jsonl: ""
  batch_max: 1
  flush_ms: 0
  tail_memory: 500
calls:
  max_duration_s: 7200
  ended_keep_s: 600
sessions:
  login_timeout_s: 5
  heartbeat_s: 30
  queue_max: 8
  ticket_ttl_s: 0
  logins_at_once: 500
pop:
  history: 0
  candidates: 3
  asset_keys: [imei]
  account_keys: []
lines:
  - number: "0800123456"
    name: Support
  - {number: 0800654321, name: Ventes}
outcomes:
  - {code: resolu, label: Résolu}
  - code: rappel_2
log:
  level: debug
)");

    CHECK(config.site.name == "Lyon");
    CHECK(config.site.region == "FR");
    CHECK(config.site.international_prefixes == std::vector<std::string>{"00", "011"});
    CHECK(config.site.timezone == "Europe/Paris");
    CHECK(config.listen.switch_port.address == "0.0.0.0");
    CHECK(config.listen.switch_port.port == 17700);
    CHECK(config.listen.agent_port.address == "::1");
    CHECK(config.listen.agent_port.port == 0);
    CHECK(config.storage.backend == "sqlite");
    CHECK(config.storage.path == "/var/lib/callpop/callpop.db");
    CHECK(config.call_log.jsonl_path.empty());
    CHECK(config.call_log.batch_max == 1);
    CHECK(config.call_log.flush_ms == 0);
    CHECK(config.call_log.tail_memory == 500);
    CHECK(config.calls.max_duration_s == 7200);
    CHECK(config.calls.ended_keep_s == 600);
    CHECK(config.sessions.login_timeout_s == 5);
    CHECK(config.sessions.heartbeat_s == 30);
    CHECK(config.sessions.queue_max == 8);
    CHECK(config.sessions.ticket_ttl_s == 0);
    CHECK(config.sessions.logins_at_once == 500);
    CHECK(config.pop.history == 0);
    CHECK(config.pop.candidates == 3);
    CHECK(config.pop.asset_keys == std::vector<std::string>{"imei"});
    CHECK(config.pop.account_keys.empty());
    REQUIRE(config.lines.size() == 2);
    CHECK(config.lines[0].number == "0800123456");
    CHECK(config.lines[0].name == "Support");
    // Unquoted, the number is still kept as written: no leading zero lost to an integer.
    CHECK(config.lines[1].number == "0800654321");
    CHECK(config.lines[1].name == "Ventes");
    REQUIRE(config.outcomes.size() == 2);
    CHECK(config.outcomes[0].code == "resolu");
    CHECK(config.outcomes[0].label == "Résolu");
    CHECK(config.outcomes[1].code == "rappel_2");
    CHECK(config.outcomes[1].label.empty());
    CHECK(config.log.level == "debug");
}

TEST_CASE("the shipped example config/callpop.yaml loads") {
    // ctest names the source tree (__FILE__ is relative under ccache's base dir).
    const char* source_dir = std::getenv("CALLPOP_SOURCE_DIR");
    REQUIRE_MESSAGE(source_dir != nullptr, "CALLPOP_SOURCE_DIR must name the source tree");
    const auto path = std::filesystem::path(source_dir) / "config/callpop.yaml";
    const Config config = load_config(path);

    CHECK(config.source == path);
    CHECK(config.site.region == "US");
    CHECK(config.site.timezone == "America/New_York");
    CHECK(config.listen.switch_port.address == "127.0.0.1");
    CHECK(config.listen.switch_port.port == 7700);
    CHECK(config.listen.agent_port.address == "127.0.0.1");
    CHECK(config.listen.agent_port.port == 7701);
    CHECK(config.storage.backend == "sqlite");
    CHECK(config.storage.path == "var/callpop.db");
    CHECK(config.call_log.jsonl_path == "var/calls.jsonl");

    REQUIRE(config.lines.size() == 5);
    CHECK(config.lines[0].number == "8005551000");
    CHECK(config.lines[0].name == "Support hotline");
    CHECK(config.lines[1].number == "8005552000");
    CHECK(config.lines[1].name == "Sales");
    CHECK(config.lines[2].number == "8005551002");
    CHECK(config.lines[2].name == "Billing");
    CHECK(config.lines[3].number == "8005551003");
    CHECK(config.lines[3].name == "Repairs");
    CHECK(config.lines[4].number == "8005551005");
    CHECK(config.lines[4].name == "Returns");

    for (const char* code : {"resolved", "repaired", "repair_booked", "callback_requested",
                             "complaint", "sale", "no_sale", "wrong_number", "voicemail"}) {
        CAPTURE(code);
        CHECK(config.has_outcome(code));
    }

    const auto& followups = config.followups;
    REQUIRE(followups.by_outcome.count("repaired") == 1);
    const FollowupPolicy& repaired = followups.by_outcome.at("repaired");
    CHECK(repaired.kind == "satisfaction");
    CHECK(repaired.delay == 7 * 24h);
    CHECK_FALSE(repaired.next_morning);
    REQUIRE(followups.by_outcome.count("repair_booked") == 1);
    CHECK(followups.by_outcome.at("repair_booked").kind == "none");
    REQUIRE(followups.by_outcome.count("complaint") == 1);
    CHECK(followups.by_outcome.at("complaint").kind == "callback");
    CHECK(followups.by_outcome.at("complaint").next_morning);
    REQUIRE(followups.by_outcome.count("sale") == 1);
    CHECK(followups.by_outcome.at("sale").survey.scale == "nps");
    CHECK(followups.missed_calls.kind == "callback");
}

TEST_CASE_FIXTURE(ConfigFile, "unknown keys are refused where they are written") {
    SUBCASE("at the top level") {
        CHECK(load_error("sotrage:\n  path: x.db\n") ==
              file + ":1:1: sotrage: unknown key (expected one of: " + top_level_keys + ")");
    }
    SUBCASE("nested") {
        CHECK(load_error("listen:\n  switch:\n    address: 127.0.0.1\n    prot: 7700\n") ==
              file + ":4:5: listen.switch.prot: unknown key (expected one of: address, port, "
                     "allow, secret)");
    }
    SUBCASE("in a list element") {
        CHECK(load_error("outcomes:\n  - {code: sale, lable: Sale}\n") ==
              file + ":2:18: outcomes[0].lable: unknown key (expected one of: code, label)");
    }
    SUBCASE("twice the same key") {
        CHECK(load_error("log:\n  level: info\n  level: debug\n") ==
              file + ":3:3: log.level: duplicate key \"level\" (first given at line 2)");
    }
}

TEST_CASE_FIXTURE(ConfigFile, "values of the wrong type") {
    SUBCASE("a word for a number") {
        CHECK(load_error("sessions:\n  heartbeat_s: soon\n") ==
              file + ":2:16: sessions.heartbeat_s: expected a positive integer");
    }
    SUBCASE("zero where a positive integer is needed") {
        CHECK(load_error("call_log:\n  batch_max: 0\n") ==
              file + ":2:14: call_log.batch_max: expected a positive integer");
    }
    SUBCASE("a quoted number is a string") {
        CHECK(load_error("calls:\n  ended_keep_s: \"600\"\n") ==
              file + ":2:17: calls.ended_keep_s: expected a positive integer");
    }
    SUBCASE("a number beyond 32 bits") {
        CHECK(load_error("calls:\n  max_duration_s: 99999999999999999999999\n") ==
              file + ":2:19: calls.max_duration_s: too large (at most 4294967295)");
    }
    SUBCASE("a negative count") {
        CHECK(load_error("pop:\n  history: -1\n") ==
              file + ":2:12: pop.history: expected an integer from 0 to 4294967295");
    }
    SUBCASE("a list for a string") {
        CHECK(load_error("site:\n  name: [a, b]\n") == file + ":2:9: site.name: expected a string");
    }
    SUBCASE("a mapping for a list") {
        CHECK(load_error("lines: {number: 1}\n") == file + ":1:8: lines: expected a list");
    }
    SUBCASE("a scalar for a section") {
        CHECK(load_error("listen: 7700\n") == file + ":1:9: listen: expected a mapping");
    }
    SUBCASE("an empty value points at its key, not at the next line") {
        CHECK(load_error("site:\n  name:\n  region: US\n") ==
              file + ":2:3: site.name: expected a string");
    }
    SUBCASE("a document that is not a mapping") {
        CHECK(load_error("- outcomes\n") == file + ":1:1: expected a mapping");
    }
}

TEST_CASE_FIXTURE(ConfigFile, "ports must fit in 16 bits") {
    CHECK(load_error("listen:\n  agent:\n    port: 70000\n") ==
          file + ":3:11: listen.agent.port: expected an integer from 0 to 65535");
    CHECK(load_error("listen:\n  switch: {port: -1}\n") ==
          file + ":2:18: listen.switch.port: expected an integer from 0 to 65535");
}

TEST_CASE_FIXTURE(ConfigFile, "values checked beyond their type") {
    SUBCASE("region") {
        CHECK(load_error("site:\n  region: us\n") ==
              file +
                  ":2:11: site.region: expected two uppercase letters (an ISO 3166 country "
                  "code, like US)");
    }
    SUBCASE("international prefix") {
        CHECK(load_error("site:\n  international_prefixes: [\"00\", \"+\"]\n") ==
              file +
                  ":2:34: site.international_prefixes[1]: expected digits only (like 00 or 011)");
    }
    SUBCASE("listen address") {
        CHECK(load_error("listen:\n  agent: {address: localhost}\n") ==
              file +
                  ":2:20: listen.agent.address: expected an IPv4 or IPv6 address (like "
                  "127.0.0.1, 0.0.0.0 or ::1)");
    }
    SUBCASE("log level") {
        CHECK(load_error("log:\n  level: verbose\n") ==
              file +
                  ":2:10: log.level: expected one of: trace, debug, info, warn, error, "
                  "critical, off");
    }
    SUBCASE("storage backend") {
        CHECK(load_error("storage:\n  backend: postgresql\n") ==
              file +
                  ":2:3: storage.conninfo: missing: the postgresql backend needs a libpq "
                  "connection string");
        CHECK(load_error("storage:\n  backend: mysql\n") ==
              file + ":2:12: storage.backend: expected one of: sqlite, postgresql");
        CHECK(load_error("storage:\n  conninfo: \"\"\n") ==
              file + ":2:13: storage.conninfo: must not be empty");
        CHECK(load_error("storage:\n  daemon_name: \"east\\nwest\"\n") ==
              file + ":2:16: storage.daemon_name: must be one line without control characters");
    }
    SUBCASE("storage path") {
        CHECK(load_error("storage:\n  path: \"\"\n") ==
              file + ":2:9: storage.path: must not be empty");
    }
    SUBCASE("session queue") {
        CHECK(load_error("sessions:\n  queue_max: 7\n") ==
              file + ":2:14: sessions.queue_max: must be at least 8");
    }
    SUBCASE("ticket lifetime") {
        CHECK(load_error("sessions:\n  ticket_ttl_s: 2592001\n") ==
              file + ":2:17: sessions.ticket_ttl_s: at most 2592000 (30 days)");
        CHECK(load_error("sessions:\n  ticket_ttl_s: -1\n") ==
              file + ":2:17: sessions.ticket_ttl_s: expected an integer from 0 to 4294967295");
        CHECK(load_error("sessions:\n  logins_at_once: 0\n") ==
              file + ":2:19: sessions.logins_at_once: expected a positive integer");
    }
}

TEST_CASE_FIXTURE(ConfigFile, "lines") {
    SUBCASE("duplicate number") {
        CHECK(load_error("lines:\n  - {number: \"8005551000\", name: A}\n"
                         "  - {number: \"8005551000\", name: B}\n") ==
              file +
                  ":3:14: lines[1].number: duplicate line number \"8005551000\" (first given at "
                  "line 2)");
    }
    SUBCASE("empty number") {
        CHECK(load_error("lines:\n  - {number: \"\", name: A}\n") ==
              file + ":2:14: lines[0].number: must not be empty");
    }
    SUBCASE("missing number") {
        CHECK(load_error("lines:\n  - number: \"1\"\n  - name: Sales\n") ==
              file + ":3:5: lines[1].number: missing (the number callers dial)");
    }
    SUBCASE("an element that is not a mapping") {
        CHECK(load_error("lines:\n  - \"8005551000\"\n") ==
              file + ":2:5: lines[0]: expected a mapping");
    }
}

TEST_CASE_FIXTURE(ConfigFile, "outcomes") {
    SUBCASE("duplicate code") {
        CHECK(load_error("outcomes:\n  - code: resolved\n  - code: sale\n  - code: resolved\n") ==
              file +
                  ":4:11: outcomes[2].code: duplicate outcome code \"resolved\" (first given "
                  "at line 2)");
    }
    SUBCASE("code with capitals") {
        CHECK(load_error("outcomes:\n  - code: Resolved\n") ==
              file +
                  ":2:11: outcomes[0].code: expected lowercase letters, digits and _ only (like "
                  "repair_booked)");
    }
    SUBCASE("missing code") {
        CHECK(load_error("outcomes:\n  - label: Resolved\n") ==
              file + ":2:5: outcomes[0].code: missing (what agents send and the log stores)");
    }
    SUBCASE("missing from the file") {
        CHECK(load_error("site:\n  region: US\n") ==
              file + ":1:1: outcomes: missing (at least one outcome code is required)");
    }
    SUBCASE("an empty file") {
        CHECK(load_error("") ==
              file + ":1:1: outcomes: missing (at least one outcome code is required)");
    }
    SUBCASE("a file of comments only") {
        CHECK(load_error("# nothing yet\n\n") ==
              file + ":1:1: outcomes: missing (at least one outcome code is required)");
    }
    SUBCASE("an empty list") {
        CHECK(load_error("outcomes: []\n") ==
              file + ":1:11: outcomes: must not be empty (at least one outcome code is required)");
    }
}

TEST_CASE_FIXTURE(ConfigFile, "YAML syntax errors keep yaml-cpp's message and position") {
    CHECK(load_error("site:\n  name: a\n region: US\n") ==
          file + ":3:2: YAML syntax error: end of map not found");
    // A [ closed lines later, with a comma missing inside, is not blamed.
    CHECK(load_error(std::string(one_outcome) +
                     "site:\n  international_prefixes: [\n    \"00\"\n    \"011\",\n  ]\n")
              .find("is not closed") == std::string::npos);
    // A { closed on its own line is not blamed for what follows.
    CHECK(load_error("log: {level: info}\nsite:\n  name: a\n region: US\n") ==
          file + ":4:2: YAML syntax error: end of map not found");
}

// yaml-cpp gives up on a missing "}" where the next block begins, lines further down.
TEST_CASE_FIXTURE(ConfigFile, "an unclosed { or [ is reported where it opened, and where the parser gave up") {
    CHECK(load_error("outcomes: [resolved, sale\nlog: {}\n") ==
          file + ":1:11: YAML syntax error: this [ is not closed (the parser gave up at 2:4: end "
                 "of sequence flow not found)");
    const std::string lines = std::string(one_outcome) +
                              "lines:\n"
                              "  - {number: \"8005551000\", name: \"Support {24/7}\" # it's }\n"
                              "  - {number: \"8005552000\", name: Sales}\n";
    CHECK(load_error(lines) == file +
                                   ":4:5: YAML syntax error: this { is not closed (the parser gave "
                                   "up at 5:3: illegal block entry)");
}

TEST_CASE_FIXTURE(ConfigFile, "a second YAML document is refused, not ignored") {
    CHECK(load_error(std::string(one_outcome) + "---\nlog: {level: debug}\n") ==
          file + ":4:1: expected a single YAML document (found a second one)");
}

// Found by tests/fuzz/fuzz_config (corpus/fuzz_config/yaml-cpp-stuck-*): yaml-cpp 0.7's
// LoadAll() loops forever, allocating, on a token its parser does not consume (yaml-cpp
// issue 1040); before the fix these hung until memory ran out.
TEST_CASE_FIXTURE(ConfigFile, "a token yaml-cpp cannot take is a syntax error, not a hang") {
    CHECK(load_error(",\n") == file + ":1:1: YAML syntax error: unexpected character");
    CHECK(load_error("!,isalesf\x8aialesfui\n\n") ==
          file + ":1:2: YAML syntax error: unexpected character");
    CHECK(load_error(std::string(one_outcome) + "---\n!,\n") ==
          file + ":4:1: expected a single YAML document (found a second one)");
}

TEST_CASE_FIXTURE(ConfigFile, "a file that cannot be read") {
    const std::string missing = (dir.path() / "missing.yaml").string();
    CHECK(error_of([&] { load_config(missing); }) ==
          missing + ": cannot read: No such file or directory");
    CHECK(error_of([&] { load_config(dir.path()); }) ==
          dir.path().string() + ": cannot read: Is a directory");
}

// --- followups --------------------------------------------------------------------------------

namespace {

// Monday first, as CallingWindow::days.
constexpr std::array<bool, 7> weekdays{true, true, true, true, true, false, false};
constexpr std::array<bool, 7> every_day{true, true, true, true, true, true, true};

// `outcomes` for the follow-up tests, then `followups` as given.
std::string with_followups(const std::string& followups) {
    return "outcomes:\n  - code: resolved\n  - code: repaired\n  - code: complaint\n"
           "followups:\n" +
           followups;
}

}  // namespace

TEST_CASE_FIXTURE(ConfigFile, "followups: without the section, the built-in policies") {
    const Config config = load(one_outcome);
    const auto& followups = config.followups;
    const FollowupPolicy policy_defaults;

    CHECK(followups.survey_period == 7 * 24h);
    CHECK(followups.lease == 5min);
    CHECK(followups.overdue_after == 30min);
    CHECK(followups.defaults.window.start_minute == 8 * 60);
    CHECK(followups.defaults.window.end_minute == 21 * 60);
    CHECK(followups.defaults.window.days == every_day);
    CHECK(followups.defaults.attempts == 3);
    CHECK(followups.defaults.retry_after == 2h);
    CHECK(followups.defaults.survey.scale == "csat");
    CHECK(followups.defaults.survey.question == policy_defaults.survey.question);
    CHECK(followups.by_outcome.empty());
    CHECK(followups.on_request.kind == "satisfaction");
    CHECK(followups.on_request.delay == 7 * 24h);
    CHECK_FALSE(followups.on_request.next_morning);
    CHECK(followups.on_request.attempts == 3);
    CHECK(followups.missed_calls.kind == "callback");
    CHECK(followups.missed_calls.delay == 0s);
    CHECK_FALSE(followups.missed_calls.next_morning);

    // A default-constructed Config says the same, and so does an empty section.
    const Config defaults;
    CHECK(defaults.followups.on_request.kind == "satisfaction");
    CHECK(defaults.followups.on_request.delay == 7 * 24h);
    CHECK(defaults.followups.missed_calls.kind == "callback");
    const Config empty = load(with_followups(""));
    CHECK(empty.followups.on_request.kind == "satisfaction");
    CHECK(empty.followups.missed_calls.kind == "callback");
    CHECK(empty.followups.lease == 5min);
}

TEST_CASE_FIXTURE(ConfigFile, "followups: a full section") {
    const Config config = load(R"(outcomes:
  - code: resolved
  - code: repaired
  - code: complaint
  - code: callback_requested
  - code: repair_booked
followups:
  survey_period: 14d
  lease: 90s
  overdue_after: 1h
  defaults:
    window: {from: "08:30", to: "20:00", days: [mon, tue, wed, thu, fri, sat]}
    attempts: 4
    retry_after: 3h
    survey:
      scale: nps
      question: "Would you recommend us?"
      comment_question: "Why?"
  outcomes:
    repaired: {kind: satisfaction, delay: 7d}
    complaint: {kind: callback, delay: next_morning, window: {from: "09:00", to: "17:00", days: [mon, tue, wed, thu, fri]}}
    callback_requested: {kind: callback, delay: 0s, attempts: 5, retry_after: 30m}
    repair_booked: {kind: none}
  on_request: {kind: satisfaction, delay: 2d}
  missed_calls: {kind: none}
)");
    const auto& followups = config.followups;

    CHECK(followups.survey_period == 14 * 24h);
    CHECK(followups.lease == 90s);
    CHECK(followups.overdue_after == 1h);
    CHECK(followups.defaults.window.start_minute == 8 * 60 + 30);
    CHECK(followups.defaults.window.end_minute == 20 * 60);
    CHECK(followups.defaults.window.days ==
          std::array<bool, 7>{true, true, true, true, true, true, false});
    CHECK(followups.defaults.attempts == 4);
    CHECK(followups.defaults.retry_after == 3h);
    CHECK(followups.defaults.survey.scale == "nps");
    CHECK(followups.defaults.survey.question == "Would you recommend us?");
    CHECK(followups.defaults.survey.comment_question == "Why?");

    REQUIRE(followups.by_outcome.size() == 4);
    const FollowupPolicy& repaired = followups.by_outcome.at("repaired");
    CHECK(repaired.kind == "satisfaction");
    CHECK(repaired.delay == 7 * 24h);
    CHECK_FALSE(repaired.next_morning);

    const FollowupPolicy& complaint = followups.by_outcome.at("complaint");
    CHECK(complaint.kind == "callback");
    CHECK(complaint.next_morning);
    CHECK(complaint.delay == 0s);
    CHECK(complaint.window.start_minute == 9 * 60);
    CHECK(complaint.window.end_minute == 17 * 60);
    CHECK(complaint.window.days == weekdays);

    const FollowupPolicy& callback = followups.by_outcome.at("callback_requested");
    CHECK(callback.kind == "callback");
    CHECK(callback.delay == 0s);
    CHECK(callback.attempts == 5);
    CHECK(callback.retry_after == 30min);

    // Kind none is kept: explicitly nothing for this outcome.
    CHECK(followups.by_outcome.at("repair_booked").kind == "none");
    CHECK(followups.by_outcome.count("resolved") == 0);

    CHECK(followups.on_request.kind == "satisfaction");
    CHECK(followups.on_request.delay == 2 * 24h);
    CHECK(followups.missed_calls.kind == "none");
}

TEST_CASE_FIXTURE(ConfigFile, "followups: policies start from the file's defaults") {
    // The defaults come after the policies in the file, and still apply to them.
    const Config config = load(with_followups(R"(  outcomes:
    repaired: {kind: satisfaction, delay: 3d, window: {from: "10:00"}, survey: {scale: nps}}
    complaint: {kind: callback, attempts: 1}
  defaults:
    window: {from: "09:00", to: "18:00", days: [mon, wed, fri]}
    attempts: 2
    retry_after: 45m
    survey: {question: "Happy?"}
)"));
    const auto& followups = config.followups;

    const FollowupPolicy& repaired = followups.by_outcome.at("repaired");
    CHECK(repaired.delay == 3 * 24h);
    CHECK(repaired.window.start_minute == 10 * 60);  // given
    CHECK(repaired.window.end_minute == 18 * 60);    // the defaults' to and days
    CHECK(repaired.window.days ==
          std::array<bool, 7>{true, false, true, false, true, false, false});
    CHECK(repaired.attempts == 2);
    CHECK(repaired.retry_after == 45min);
    CHECK(repaired.survey.scale == "nps");        // given
    CHECK(repaired.survey.question == "Happy?");  // the defaults'
    CHECK(repaired.survey.comment_question == FollowupPolicy{}.survey.comment_question);

    const FollowupPolicy& complaint = followups.by_outcome.at("complaint");
    CHECK(complaint.delay == 0s);  // no delay given: at once
    CHECK(complaint.attempts == 1);
    CHECK(complaint.window.start_minute == 9 * 60);
    CHECK(complaint.retry_after == 45min);

    // Policies the file leaves out keep their built-in kind and delay, over the defaults.
    CHECK(followups.on_request.kind == "satisfaction");
    CHECK(followups.on_request.delay == 7 * 24h);
    CHECK(followups.on_request.window.start_minute == 9 * 60);
    CHECK(followups.on_request.attempts == 2);
    CHECK(followups.missed_calls.kind == "callback");
    CHECK(followups.missed_calls.retry_after == 45min);
}

TEST_CASE_FIXTURE(ConfigFile, "followups: durations and times") {
    SUBCASE("plain 0 is a duration") {
        CHECK(load(with_followups("  overdue_after: 0\n")).followups.overdue_after == 0s);
    }
    SUBCASE("a window past midnight") {
        const CallingWindow window =
            load(with_followups("  defaults: {window: {from: \"18:00\", to: \"02:00\"}}\n"))
                .followups.defaults.window;
        CHECK(window.start_minute == 18 * 60);
        CHECK(window.end_minute == 2 * 60);
    }
    SUBCASE("a duration without its unit") {
        CHECK(load_error(with_followups("  survey_period: 7\n")) ==
              file +
                  ":6:18: followups.survey_period: expected a duration such as 30s, 15m, 2h or "
                  "7d");
    }
    SUBCASE("a duration with an unknown unit") {
        CHECK(load_error(with_followups("  defaults: {retry_after: 2w}\n")) ==
              file +
                  ":6:27: followups.defaults.retry_after: expected a duration such as 30s, 15m, "
                  "2h or 7d");
    }
    SUBCASE("a negative duration") {
        CHECK(load_error(with_followups("  overdue_after: -5m\n")) ==
              file +
                  ":6:18: followups.overdue_after: expected a duration such as 30s, 15m, 2h or "
                  "7d");
    }
    SUBCASE("a delay that is neither") {
        CHECK(load_error(with_followups("  on_request: {kind: satisfaction, delay: soon}\n")) ==
              file +
                  ":6:43: followups.on_request.delay: expected a duration such as 30s, 15m, 2h "
                  "or 7d, or next_morning");
    }
    SUBCASE("a lease of 0") {
        CHECK(load_error(with_followups("  lease: 0s\n")) ==
              file +
                  ":6:10: followups.lease: must be longer than 0s (an offer would be withdrawn "
                  "at once)");
    }
    SUBCASE("a time that is not HH:MM") {
        CHECK(load_error(with_followups("  defaults: {window: {from: \"8am\"}}\n")) ==
              file + ":6:29: followups.defaults.window.from: expected a time of day HH:MM");
        CHECK(load_error(with_followups("  defaults: {window: {to: \"9:00\"}}\n")) ==
              file + ":6:27: followups.defaults.window.to: expected a time of day HH:MM");
        CHECK(load_error(with_followups("  defaults: {window: {to: \"12:60\"}}\n")) ==
              file + ":6:27: followups.defaults.window.to: expected a time of day HH:MM");
    }
    SUBCASE("24:00") {
        CHECK(load_error(with_followups("  defaults: {window: {to: \"24:00\"}}\n")) ==
              file + ":6:27: followups.defaults.window.to: expected a time of day HH:MM");
    }
    SUBCASE("an empty window") {
        CHECK(load_error(
                  with_followups("  defaults: {window: {from: \"09:00\", to: \"09:00\"}}\n")) ==
              file +
                  ":6:22: followups.defaults.window: the window is empty: from and to are the "
                  "same");
    }
    SUBCASE("a window made empty by a partial override") {
        CHECK(
            load_error(with_followups(
                "  outcomes:\n    repaired: {kind: satisfaction, window: {from: \"21:00\"}}\n")) ==
            file +
                ":7:44: followups.outcomes.repaired.window: the window is empty: from and to "
                "are the same");
    }
}

TEST_CASE_FIXTURE(ConfigFile, "followups: days") {
    SUBCASE("an unknown day") {
        CHECK(load_error(with_followups("  defaults: {window: {days: [mon, tues]}}\n")) ==
              file +
                  ":6:35: followups.defaults.window.days[1]: expected one of: mon, tue, wed, thu, "
                  "fri, sat, sun");
    }
    SUBCASE("a day given twice") {
        CHECK(load_error(with_followups("  defaults: {window: {days: [mon, tue, mon]}}\n")) ==
              file +
                  ":6:40: followups.defaults.window.days[2]: duplicate day \"mon\" (first given "
                  "at line 6)");
    }
    SUBCASE("no day") {
        CHECK(load_error(with_followups("  defaults: {window: {days: []}}\n")) ==
              file +
                  ":6:29: followups.defaults.window.days: must not be empty (at least one day is "
                  "required)");
    }
}

TEST_CASE_FIXTURE(ConfigFile, "followups: policies") {
    SUBCASE("an outcome code not under outcomes") {
        CHECK(load_error(with_followups("  outcomes:\n    repaird: {kind: satisfaction}\n")) ==
              file +
                  ":7:5: followups.outcomes.repaird: unknown outcome code (expected one of: "
                  "resolved, repaired, complaint)");
    }
    SUBCASE("outcomes given after followups still count") {
        const Config config = load(
            "followups:\n  outcomes:\n    sale: {kind: satisfaction}\noutcomes:\n  - code: sale\n");
        CHECK(config.followups.by_outcome.at("sale").kind == "satisfaction");
    }
    SUBCASE("an unknown key inside a policy") {
        CHECK(load_error(
                  with_followups("  outcomes:\n    repaired: {kind: satisfaction, dealy: 7d}\n")) ==
              file +
                  ":7:36: followups.outcomes.repaired.dealy: unknown key (expected one of: kind, "
                  "delay, window, attempts, retry_after, survey)");
    }
    SUBCASE("kind and delay are not defaults") {
        CHECK(load_error(with_followups("  defaults: {kind: callback}\n")) ==
              file +
                  ":6:14: followups.defaults.kind: unknown key (expected one of: window, "
                  "attempts, retry_after, survey)");
    }
    SUBCASE("a policy without a kind") {
        CHECK(load_error(with_followups("  outcomes:\n    repaired: {delay: 7d}\n")) ==
              file +
                  ":7:15: followups.outcomes.repaired.kind: missing (expected one of: "
                  "satisfaction, callback, none)");
    }
    SUBCASE("an unknown kind") {
        CHECK(load_error(with_followups("  outcomes:\n    repaired: {kind: survey}\n")) ==
              file +
                  ":7:22: followups.outcomes.repaired.kind: expected one of: satisfaction, "
                  "callback, none");
    }
    SUBCASE("missed calls get no survey") {
        CHECK(load_error(with_followups("  missed_calls: {kind: satisfaction}\n")) ==
              file + ":6:24: followups.missed_calls.kind: expected one of: callback, none");
    }
    SUBCASE("no attempt at all") {
        CHECK(load_error(with_followups("  defaults: {attempts: 0}\n")) ==
              file + ":6:24: followups.defaults.attempts: expected a positive integer");
        CHECK(load_error(with_followups("  defaults: {attempts: 21}\n")) ==
              file + ":6:24: followups.defaults.attempts: must be at most 20");
    }
    SUBCASE("an unknown scale") {
        CHECK(load_error(with_followups("  defaults: {survey: {scale: stars}}\n")) ==
              file + ":6:30: followups.defaults.survey.scale: expected one of: csat, nps");
    }
    SUBCASE("an empty question") {
        CHECK(load_error(with_followups("  defaults: {survey: {question: \"\"}}\n")) ==
              file + ":6:33: followups.defaults.survey.question: must not be empty");
    }
    SUBCASE("a key given twice") {
        CHECK(load_error(with_followups("  outcomes:\n    repaired: {kind: satisfaction}\n"
                                        "    repaired: {kind: none}\n")) ==
              file +
                  ":8:5: followups.outcomes.repaired: duplicate key \"repaired\" (first given at "
                  "line 7)");
    }
}

// --- switches --------------------------------------------------------------------------------

namespace {

std::string with_switches(const std::string& switches) {
    return std::string(one_outcome) + "switches:\n" + switches;
}

}  // namespace

TEST_CASE_FIXTURE(ConfigFile, "switches: two links with their defaults") {
    const Config config = load(with_switches(R"(  - name: pbx1
    type: ami
    host: 10.0.0.5
    username: callpop
    secret: "s3cret"
    extension_patterns: ["PJSIP/{ext}", "Local/{ext}@from-queue"]
    inbound_contexts: [from-trunk]
    ping_interval: 10s
  - {name: sip-1, type: evapi, host: kamailio.local, reconnect_min: 2s, reconnect_max: 1m}
)"));
    REQUIRE(config.switches.size() == 2);
    const auto& ami = config.switches[0];
    CHECK(ami.name == "pbx1");
    CHECK(ami.type == "ami");
    CHECK(ami.host == "10.0.0.5");
    CHECK(ami.port == 5038);
    CHECK(ami.username == "callpop");
    CHECK(ami.secret == "s3cret");
    CHECK(ami.extension_patterns ==
          std::vector<std::string>{"PJSIP/{ext}", "Local/{ext}@from-queue"});
    CHECK(ami.inbound_contexts == std::vector<std::string>{"from-trunk"});
    CHECK(ami.ping_interval == 10s);
    CHECK(ami.reconnect_min == 1s);
    CHECK(ami.reconnect_max == 30s);
    const auto& evapi = config.switches[1];
    CHECK(evapi.port == 8448);
    CHECK(evapi.extension_patterns ==
          std::vector<std::string>{"PJSIP/{ext}", "SIP/{ext}", "IAX2/{ext}"});
    CHECK(evapi.reconnect_min == 2s);
    CHECK(evapi.reconnect_max == 60s);
    CHECK(load(one_outcome).switches.empty());
}

TEST_CASE_FIXTURE(ConfigFile, "switches: errors name the entry and the key") {
    const auto error = [&](const std::string& entry) { return load_error(with_switches(entry)); };
    CHECK(error("  - {type: ami, host: h, username: u, secret: s}\n") ==
          file + ":4:5: switches[0].name: missing (it names the switch in the call log)");
    CHECK(error("  - {name: PBX, type: ami}\n") ==
          file + ":4:12: switches[0].name: expected lowercase letters, digits, _ and - only (like "
                 "pbx1)");
    CHECK(error("  - {name: native, type: evapi, host: h}\n") ==
          file + ":4:12: switches[0].name: \"native\" is the name of the switch port's "
                 "connections; pick another");
    CHECK(error("  - {name: a, type: sip, host: h}\n") ==
          file + ":4:21: switches[0].type: expected one of: ami, evapi");
    CHECK(error("  - {name: a, host: h}\n") ==
          file + ":4:5: switches[0].type: missing (expected one of: ami, evapi)");
    CHECK(error("  - {name: a, type: evapi}\n") ==
          file + ":4:5: switches[0].host: missing (the switch's address)");
    CHECK(error("  - {name: a, type: ami, host: h, secret: s}\n") ==
          file + ":4:5: switches[0].username: missing (the AMI user)");
    CHECK(error("  - {name: a, type: ami, host: h, username: u}\n") ==
          file + ":4:5: switches[0].secret: missing (the AMI user's secret)");
    CHECK(error("  - {name: a, type: evapi, host: h, secret: s}\n") ==
          file + ":4:5: switches[0]: username and secret are for type ami only (evapi has no "
                 "login)");
    CHECK(error("  - {name: a, type: evapi, host: h, extension_patterns: [PJSIP/]}\n") ==
          file + ":4:58: switches[0].extension_patterns[0]: expected {ext} exactly once (like "
                 "PJSIP/{ext} or Local/{ext}@from-queue)");
    CHECK(error("  - {name: a, type: evapi, host: h, ping_interval: 0}\n") ==
          file + ":4:52: switches[0].ping_interval: must be more than 0");
    CHECK(error("  - {name: a, type: evapi, host: h, reconnect_min: 1m, reconnect_max: 5s}\n") ==
          file + ":4:5: switches[0]: reconnect_max must not be less than reconnect_min");
    CHECK(error("  - {name: a, type: evapi, host: h, port: 70000}\n") ==
          file + ":4:43: switches[0].port: expected an integer from 0 to 65535");
    CHECK(error("  - {name: a, type: evapi, host: h}\n  - {name: a, type: evapi, host: h}\n") ==
          file + ":5:12: switches[1].name: duplicate switch name \"a\" (first given at line 4)");
    CHECK(error("  - {name: a, type: evapi, host: h, hots: x}\n") ==
          file + ":4:37: switches[0].hots: unknown key (expected one of: name, type, host, port, "
                 "username, secret, tls, ca, extension_patterns, inbound_contexts, ping_interval, "
                 "reconnect_min, reconnect_max)");
}

TEST_CASE_FIXTURE(ConfigFile, "listen.switch.allow: address blocks, checked where written") {
    const auto config = load(std::string(one_outcome) + "listen:\n  switch:\n    allow: [10.1.0.0/16, 192.0.2.7, \"fd00::/8\"]\n");
    const auto& allow = config.listen.switch_allow;
    REQUIRE(allow.size() == 3);
    CHECK(allow[0].contains("10.1.200.3"));
    CHECK_FALSE(allow[0].contains("10.2.0.1"));
    CHECK(allow[0].contains("::ffff:10.1.0.9"));  // an IPv4 peer of a listener on ::
    CHECK(allow[1].contains("192.0.2.7"));
    CHECK_FALSE(allow[1].contains("192.0.2.8"));
    CHECK(allow[2].contains("fd12:3456::1"));
    CHECK_FALSE(allow[2].contains("fe80::1"));
    CHECK_FALSE(allow[2].contains("not an address"));
    const auto defaults = load(one_outcome);
    REQUIRE(defaults.listen.switch_allow.size() == 2);
    CHECK(defaults.listen.switch_allow[0].contains("127.0.0.1"));
    CHECK(defaults.listen.switch_allow[1].contains("::1"));
    CHECK_FALSE(defaults.listen.switch_allow[0].contains("10.0.0.1"));
    CHECK(load(std::string(one_outcome) + "listen:\n  switch:\n    allow: [0.0.0.0/0]\n").listen.switch_allow[0].contains("8.8.8.8"));

    CHECK(load_error(std::string(one_outcome) + "listen:\n  switch:\n    allow: [10.0.0.0/33]\n") ==
          file + ":5:13: listen.switch.allow[0]: \"10.0.0.0/33\": the prefix length must be 0 to 32");
    CHECK(load_error(std::string(one_outcome) + "listen:\n  switch:\n    allow: [pbx.example.com]\n") ==
          file + ":5:13: listen.switch.allow[0]: \"pbx.example.com\" is not an address block (like "
                 "10.0.0.0/8 or fd00::/8)");
}

TEST_CASE_FIXTURE(ConfigFile, "listen.agent.tls and allow_plain: files that exist, checked where written") {
    dir.write("agent.pem", "certificate");
    dir.write("agent.key", "key");
    const std::string files = "{certificate: " + (dir.path() / "agent.pem").string() +
                              ", key: " + (dir.path() / "agent.key").string() + "}";
    const auto config = load(std::string(one_outcome) + "listen:\n  agent:\n    address: 0.0.0.0\n    tls: " + files + "\n");
    REQUIRE(config.listen.agent_tls.has_value());
    CHECK(config.listen.agent_tls->key == dir.path() / "agent.key");
    REQUIRE(config.listen.agent_plain_allow.size() == 2);  // loopback only, by default
    CHECK(config.listen.agent_plain_allow[0].contains("127.0.0.1"));
    CHECK_FALSE(config.listen.agent_plain_allow[0].contains("10.0.0.1"));
    CHECK_FALSE(load(one_outcome).listen.agent_tls.has_value());

    const auto anywhere = load(std::string(one_outcome) + "listen:\n  agent: {address: 0.0.0.0, allow_plain: true}\n");
    REQUIRE(anywhere.listen.agent_plain_allow.size() == 1);
    CHECK(anywhere.listen.agent_plain_allow[0].contains("203.0.113.9"));
    CHECK(anywhere.listen.agent_plain_allow[0].contains("2001:db8::1"));
    const auto vlan = load(std::string(one_outcome) + "listen:\n  agent: {address: 0.0.0.0, allow_plain: [10.20.0.0/16]}\n");
    REQUIRE(vlan.listen.agent_plain_allow.size() == 1);
    CHECK_FALSE(vlan.listen.agent_plain_allow[0].contains("127.0.0.1"));

    CHECK(load_error(std::string(one_outcome) + "listen:\n  agent: {address: 0.0.0.0}\n") ==
          file + ":4:10: listen.agent: listens on 0.0.0.0 without tls, so agents on other hosts "
                 "would be refused: give tls (certificate, key) or allow_plain");
    CHECK(load_error(std::string(one_outcome) + "listen:\n  agent: {allow_plain: yes}\n") ==
          file + ":4:24: listen.agent.allow_plain: expected true, false or a list of address blocks");
    CHECK(load_error(std::string(one_outcome) + "listen:\n  agent: {tls: {certificate: /nonexistent/agent.pem, key: /nonexistent/agent.key}}\n") ==
          file + ":4:30: listen.agent.tls.certificate: /nonexistent/agent.pem: No such file or directory");
    CHECK(load_error(std::string(one_outcome) + "listen:\n  agent: {tls: {certificate: " + (dir.path() / "agent.pem").string() + "}}\n") ==
          file + ":4:16: listen.agent.tls.key: missing (the PEM file of its private key)");
}

TEST_CASE_FIXTURE(ConfigFile, "listen.switch.secret and an AMI link's tls") {
    CHECK(load(std::string(one_outcome) + "listen:\n  switch: {secret: \"pbx shared\"}\n").listen.switch_secret == "pbx shared");
    CHECK(load(one_outcome).listen.switch_secret.empty());
    CHECK(load_error(std::string(one_outcome) + "listen:\n  switch: {secret: \"\"}\n") ==
          file + ":4:20: listen.switch.secret: must not be empty");

    const std::string ami = std::string(one_outcome) + "switches:\n  - {name: a, type: ami, host: h, username: u, secret: s";
    const auto link = load(ami + ", tls: true}\n").switches.at(0);
    CHECK(link.tls);
    CHECK(link.port == 5039);  // Asterisk's tlsbindport
    CHECK(link.ca.empty());
    CHECK(load(ami + "}\n").switches.at(0).port == 5038);
    CHECK(load_error(ami + ", tls: 1}\n") == file + ":4:64: switches[0].tls: expected true or false");
    CHECK(load_error(ami + ", ca: /etc/hostname}\n") == file + ":4:5: switches[0]: ca is for links with tls: true");
    CHECK(load_error(std::string(one_outcome) + "switches:\n  - {name: a, type: evapi, host: h, tls: true}\n") ==
          file + ":4:5: switches[0]: tls is for type ami only (Kamailio's evapi speaks plain TCP)");
}
