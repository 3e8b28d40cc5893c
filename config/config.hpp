#pragma once
// callpop.yaml as plain structs (docs/config.md is the exact list of keys).
#include <cstdint>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace callpop::config {

struct Endpoint {
    std::string address = "127.0.0.1";
    std::uint16_t port = 0;
};

struct Site {
    std::string name = "callpop";
    std::string region = "US";  // default region for phone numbers (ISO 3166 alpha-2)
    // Leading prefixes that mean "international" whatever the region; they become "+".
    std::vector<std::string> international_prefixes{"00"};
    std::string timezone = "UTC";  // IANA zone of the site
};

struct Listen {
    Endpoint switch_port{"127.0.0.1", 7700};
    Endpoint agent_port{"127.0.0.1", 7701};
};

struct Storage {
    std::string backend = "sqlite";
    std::string path = "var/callpop.db";
};

struct CallLog {
    std::string jsonl_path = "var/calls.jsonl";  // empty: no JSONL file
    std::size_t batch_max = 1000;               // records per transaction at most
    std::uint32_t flush_ms = 20;                 // how long a record may wait for its batch
    std::size_t tail_memory = 10000;             // records kept in memory for tail backlogs
};

struct Calls {
    std::uint32_t max_duration_s = 4 * 3600;  // a call not ended by then is closed as "timeout"
    std::uint32_t ended_keep_s = 3600;         // an ended call stays known for outcomes this long
};

struct Sessions {
    std::uint32_t login_timeout_s = 10;  // a client that says nothing is closed after this
    std::uint32_t heartbeat_s = 15;      // agents are closed after 3 heartbeats of silence
    std::size_t queue_max = 1024;        // messages queued to one client before it is dropped
};

struct Pop {
    std::size_t history = 5;      // last calls shown
    std::size_t candidates = 5;   // customers shown when one number has several
    std::vector<std::string> asset_keys{"serial", "service_tag", "asset"};
    std::vector<std::string> account_keys{"account", "account_number", "customer_id"};
};

struct Line {
    std::string number;  // as configured
    std::string name;    // "Support hotline"
};

struct OutcomeCode {
    std::string code;
    std::string label;
};

struct Log {
    std::string level = "info";
};

struct Config {
    std::filesystem::path source;  // the file this was loaded from
    Site site;
    Listen listen;
    Storage storage;
    CallLog call_log;
    Calls calls;
    Sessions sessions;
    Pop pop;
    std::vector<Line> lines;
    std::vector<OutcomeCode> outcomes;
    Log log;

    bool has_outcome(const std::string& code) const;
};

// Thrown for any problem in the file, as "callpop.yaml:12:5: listen.agent.port: expected an
// integer from 0 to 65535".
class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

Config load_config(const std::filesystem::path& path);
Config parse_config(const std::string& yaml_text, const std::string& source_name);

}  // namespace callpop::config
