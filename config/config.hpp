#pragma once
// callpop.yaml as plain structs (docs/config.md is the exact list of keys).
#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace callpop::config {

struct Endpoint {
    std::string address = "127.0.0.1";
    std::uint16_t port = 0;
    bool operator==(const Endpoint&) const = default;
};

struct Site {
    std::string name = "callpop";
    std::string region = "US";  // default region for phone numbers (ISO 3166 alpha-2)
    // Leading prefixes that mean "international" whatever the region; they become "+".
    std::vector<std::string> international_prefixes{"00"};
    std::string timezone = "UTC";  // IANA zone of the site
    bool operator==(const Site&) const = default;
};

// An address block in CIDR notation (10.0.0.0/8, fd00::/8); IPv4 addresses are kept as
// IPv4-mapped IPv6, so that a listener on :: matches IPv4 peers against IPv4 blocks.
struct AddressRange {
    std::array<unsigned char, 16> bytes{};
    unsigned prefix_bits = 128;
    // Throws std::invalid_argument naming what is wrong.
    static AddressRange parse(const std::string& text);
    // False for text that is not an address.
    bool contains(const std::string& address) const;
    bool operator==(const AddressRange&) const = default;
};

// 127.0.0.0/8 and ::1.
std::vector<AddressRange> loopback_ranges();
// True when one of `ranges` holds `address` (allow lists: switches, plain connections).
bool any_contains(const std::vector<AddressRange>& ranges, const std::string& address);

// A certificate chain and its private key, PEM files.
struct TlsIdentity {
    std::filesystem::path certificate;
    std::filesystem::path key;
    bool operator==(const TlsIdentity&) const = default;
};

// The web port (consoles, wallboard, /metrics, /healthz), with the agent port's TLS rules.
struct WebListener {
    Endpoint endpoint{"127.0.0.1", 7702};
    std::optional<TlsIdentity> tls;
    std::vector<AddressRange> plain_allow = loopback_ranges();
    bool operator==(const WebListener&) const = default;
};

struct Listen {
    Endpoint switch_port{"127.0.0.1", 7700};
    Endpoint agent_port{"127.0.0.1", 7701};
    // Where switches may connect from: others are closed at once.
    std::vector<AddressRange> switch_allow = loopback_ranges();
    // A native switch's first line must be a hello with this secret; empty: no hello.
    std::string switch_secret;
    // TLS on the agent port; without it every connection there is plain.
    std::optional<TlsIdentity> agent_tls;
    // Where agents may connect without TLS (allow_plain: true means everywhere).
    std::vector<AddressRange> agent_plain_allow = loopback_ranges();
    std::optional<WebListener> http;  // absent: no web port
    bool operator==(const Listen&) const = default;
};

struct Storage {
    std::string backend = "sqlite";  // or "postgresql"
    // SQLite: the database file. PostgreSQL: where this daemon keeps its own files (the spool).
    std::string path = "var/callpop.db";
    std::string conninfo;  // PostgreSQL: the libpq connection string
    // This daemon among those sharing a database (the host's name when not given).
    std::string daemon_name;
    bool operator==(const Storage&) const = default;
};

struct CallLog {
    std::string jsonl_path = "var/calls.jsonl";  // empty: no JSONL file
    std::size_t batch_max = 1000;               // records per transaction at most
    std::uint32_t flush_ms = 20;                 // how long a record may wait for its batch
    std::size_t tail_memory = 10000;             // records kept in memory for tail backlogs
    std::size_t queue_max = 100000;  // writes waiting in memory; past it records spill to disk
    bool operator==(const CallLog&) const = default;
};

struct Calls {
    std::uint32_t max_duration_s = 4 * 3600;  // a call not ended by then is closed as "timeout"
    // An ended call stays known this long, to recognise late and duplicate events and
    // fill its outcome record; at most ended_max of them, the oldest forgotten first.
    std::uint32_t ended_keep_s = 600;
    std::uint32_t ended_max = 50000;
    // After a start, how long switches have to tell of calls the store holds open from
    // before it (they resend live calls' events, or list channels); the rest are closed.
    std::uint32_t resync_s = 10;
    bool operator==(const Calls&) const = default;
};

struct Sessions {
    std::uint32_t login_timeout_s = 10;  // a client that says nothing is closed after this
    std::uint32_t heartbeat_s = 15;      // agents are closed after 3 heartbeats of silence
    std::size_t queue_max = 1024;        // messages queued to one client before it is dropped
    // A login hands out a resume ticket good for this long (a reconnect presents it instead
    // of the token); 0: no tickets. At most 30 days.
    std::uint32_t ticket_ttl_s = 12 * 3600;
    // Agent connections logging in at once; more wait in line, accepted, so that a
    // reconnect storm cannot crowd the switch events out of the loop.
    std::size_t logins_at_once = 32;
    // Failed logins from one address within the window before it is refused unchecked
    // until the window has passed.
    std::size_t login_failures_max = 20;
    std::uint32_t login_failures_window_s = 60;
    bool operator==(const Sessions&) const = default;
};

struct Pop {
    std::size_t history = 5;      // last calls shown
    std::size_t candidates = 5;   // customers shown when one number has several
    std::vector<std::string> asset_keys{"serial", "service_tag", "asset"};
    std::vector<std::string> account_keys{"account", "account_number", "customer_id"};
    bool operator==(const Pop&) const = default;
};

struct Line {
    std::string number;  // as configured
    std::string name;    // "Support hotline"
    bool operator==(const Line&) const = default;
};

struct OutcomeCode {
    std::string code;
    std::string label;
    bool operator==(const OutcomeCode&) const = default;
};

// When a follow-up call may be placed, on the customer's local clock.
struct CallingWindow {
    int start_minute = 8 * 60;  // minutes after local midnight: 08:00
    int end_minute = 21 * 60;   // 21:00; end < start: the window runs past midnight (the
                                // loader refuses end == start)
    // Days the window opens on, Monday first. A window past midnight belongs to the day it
    // opened on: a Friday 18:00–02:00 window includes Saturday 01:00.
    std::array<bool, 7> days{true, true, true, true, true, true, true};
    bool operator==(const CallingWindow&) const = default;
};

struct Survey {
    std::string scale = "csat";  // csat: satisfaction 1–5; nps: would recommend 0–10
    std::string question = "How satisfied are you with how we handled your call?";
    std::string comment_question = "Is there anything we could have done better?";
    bool operator==(const Survey&) const = default;
};

struct FollowupPolicy {
    std::string kind = "none";  // satisfaction, callback or none
    std::chrono::seconds delay{0};
    // Instead of a delay: the window's start on the first window day after the call's day.
    bool next_morning = false;
    CallingWindow window;
    std::uint32_t attempts = 3;                      // calls at most, then "unreachable"
    std::chrono::seconds retry_after{2 * 3600};      // between failed attempts
    Survey survey;                                   // used by satisfaction follow-ups
    bool operator==(const FollowupPolicy&) const = default;
};

struct Followups {
    // Policies start from these defaults (followups.defaults in the file).
    FollowupPolicy defaults;
    // Outcome code → policy. Kind none is kept too, so that "this outcome schedules nothing"
    // is explicit (checked, listed) rather than an outcome someone forgot.
    std::map<std::string, FollowupPolicy> by_outcome;
    // What an agent's "satisfaction_call": true asks for when the outcome's policy schedules
    // nothing (not listed in by_outcome, or kind none).
    // Built in (no followups.on_request in the file): satisfaction after 7 days.
    FollowupPolicy on_request{.kind = "satisfaction",
                              .delay = std::chrono::seconds{7 * 86400},
                              .window = {},
                              .survey = {}};
    // Abandoned and unanswered calls: callback or none (none turns them off). Built in:
    // callback at once.
    FollowupPolicy missed_calls{.kind = "callback", .window = {}, .survey = {}};
    std::chrono::seconds survey_period{7 * 86400};  // one survey per customer per period at most
    std::chrono::seconds lease{300};                // an offered follow-up is held this long
    std::chrono::seconds overdue_after{1800};       // a callback this late is flagged overdue
    bool operator==(const Followups&) const = default;
};

// A phone switch callpop connects to as a client (docs/config.md, `switches`).
struct SwitchLink {
    std::string name;        // in the call log's `switch` field and in `callpop status`
    std::string type;        // ami or evapi
    std::string host;        // address or host name
    std::uint16_t port = 0;  // 0 in the file: the type's usual port (ami 5038, evapi 8448)
    std::string username;    // ami
    std::string secret;      // ami
    bool tls = false;        // ami: TLS to the switch (Asterisk's tlsbindport)
    // ami with tls: the PEM file of the certificate authorities trusted for the switch's
    // certificate; empty: the system's.
    std::filesystem::path ca;
    // How a channel or queue interface names an agent's extension; `{ext}` is the extension.
    std::vector<std::string> extension_patterns{"PJSIP/{ext}", "SIP/{ext}", "IAX2/{ext}"};
    // ami: a call is one whose first channel starts in one of these contexts (empty: every
    // call, internal ones too).
    std::vector<std::string> inbound_contexts;
    std::chrono::seconds ping_interval{20};  // a link silent this long is pinged, then dropped
    std::chrono::seconds reconnect_min{1};   // first retry; doubles up to reconnect_max
    std::chrono::seconds reconnect_max{30};
    bool operator==(const SwitchLink&) const = default;
};

struct Log {
    std::string level = "info";
    bool operator==(const Log&) const = default;
};

struct Config {
    std::filesystem::path source;  // the file this was loaded from
    // Where each key was written ("site.timezone" → "3:13"), for checks that need more than
    // the file (a zone in the tz database, a certificate that loads) to point at it too.
    std::map<std::string, std::string, std::less<>> places;
    Site site;
    Listen listen;
    Storage storage;
    CallLog call_log;
    Calls calls;
    Sessions sessions;
    Pop pop;
    std::vector<Line> lines;
    std::vector<OutcomeCode> outcomes;
    Followups followups;
    std::vector<SwitchLink> switches;
    Log log;

    bool has_outcome(const std::string& code) const;
    // Throws ConfigError as loading does: "<file>:<line>:<col>: <path>: <message>" (no
    // line and column for a key left to its default).
    [[noreturn]] void fail(std::string_view path, std::string_view message) const;
    bool operator==(const Config&) const = default;
};

// Thrown for any problem in the file, as "callpop.yaml:12:5: listen.agent.port: expected an
// integer from 0 to 65535".
class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The machine's name (gethostname): storage.daemon_name when none is given.
std::string host_name();

Config load_config(const std::filesystem::path& path);
Config parse_config(const std::string& yaml_text, const std::string& source_name);

}  // namespace callpop::config
