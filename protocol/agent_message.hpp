#pragma once
// Messages between callpop and agents or supervisors (port 7701): docs/protocol-agent.md.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "domain/states.hpp"
#include "protocol/error.hpp"
#include "protocol/records.hpp"

namespace callpop::protocol {

// Client → callpop.
struct Login {
    std::string agent;
    std::string token;   // the agent's token, or
    std::string ticket;  // a resume ticket from an earlier welcome (exactly one is given)
    std::vector<std::string> extensions;
    std::optional<std::uint64_t> resume_after;
};
struct Ack {
    std::uint64_t seq = 0;
};
struct Outcome {
    std::string call;
    std::string code;
    std::string notes;
    std::optional<bool> satisfaction_call;
};
struct AddNote {
    std::int64_t customer = 0;
    std::string kind;  // note or preference
    std::string text;
    std::string call;
};
struct TailFilter {
    std::string queue;
    std::string agent;
    std::string outcome;
    bool matches(const CallLogRecord& record) const;
};
struct Tail {
    std::size_t backlog = 0;
    bool follow = true;
    TailFilter filter;
    // Resume: every matching record after this id instead of a backlog.
    std::optional<std::int64_t> after;
    // Every matching record from this time on (UTC, as format_utc writes it) instead of a
    // backlog: "today" for a wallboard opened at noon.
    std::optional<std::string> since;
};
struct Ping {};
struct Logout {};
// Follow-up work: the agent asks for the next due follow-up, and reports each attempt.
struct NextFollowup {};
struct FollowupResult {
    std::int64_t followup = 0;
    domain::AttemptResult result{};
    std::optional<int> score;
    std::string comment;
};
// Supervisors: close a follow-up by hand (`callpop followups complete|cancel`).
struct FollowupClose {
    std::int64_t followup = 0;
    domain::FollowupStatus status = domain::FollowupStatus::completed;  // or cancelled
    std::string notes;
};

// Supervisors: how the daemon and its switch links are doing (`callpop status`).
struct StatusRequest {
    bool agents = false;  // list each agent seated at an extension (a wallboard's table)
};
// Supervisors: free an extension that an agent holds (one who left without logging out),
// so that another agent may log in there.
struct ReleaseExtension {
    std::string extension;
};

// Admins: close every session of an agent (a terminal left logged in, a stolen one). The
// agent may log in again: to keep it out, `callpop agent remove` or `reset-token`.
struct Disconnect {
    std::string agent;
};
// Admins: read the config file again, as SIGHUP does (`callpop reload`).
struct Reload {};

using AgentMessage = std::variant<Login, Ack, Outcome, AddNote, Tail, Ping, Logout, NextFollowup,
                                  FollowupResult, FollowupClose, StatusRequest, ReleaseExtension,
                                  Disconnect, Reload>;

Parsed<AgentMessage> parse_agent_message(std::string_view line);

// callpop → client. Each returns one JSON line, newline included.
struct Caller {
    std::string number;  // E.164 where parseable, else as sent; empty when withheld
    std::string raw;
    std::string name;
    bool withheld = false;
};
struct Pop {
    std::uint64_t seq = 0;
    std::string call;
    Caller caller;
    std::string dialed;
    std::string line;
    std::string queue;
    nlohmann::json data = nlohmann::json::object();
    std::string match;  // asset, account, number, none, withheld
    std::optional<CustomerCard> customer;
    std::vector<Customer> other_candidates;  // further customers on the number, best first
};

// A resume ticket for the welcome: what a reconnect may present instead of the token.
struct ResumeTicket {
    std::string ticket;
    std::chrono::system_clock::time_point expires;
};
// An outcome code an agent may record (the config's `outcomes`), for the console's form.
struct OutcomeChoice {
    std::string code;
    std::string label;
};
std::string encode_welcome(std::string_view agent, domain::AgentRole role, int heartbeat_s,
                           std::uint64_t last_seq,
                           const std::optional<ResumeTicket>& ticket = std::nullopt,
                           const std::vector<OutcomeChoice>& outcomes = {});
std::string encode_pop(const Pop& pop);
// A line encode_pop() wrote, under another seq: the pop is encoded where the caller is
// looked up, and numbered where it is sent. The line is renumbered in place: moved in,
// it costs no allocation.
std::string with_pop_seq(std::string pop_line, std::uint64_t seq);
std::string encode_call_state(std::string_view call, domain::PoppedCallState state,
                              std::string_view by, std::string_view cause);
// A follow-up the outcome scheduled, or why none was (declined, do not call, ...).
struct ScheduledFollowup {
    std::int64_t id = 0;
    domain::FollowupKind kind = domain::FollowupKind::satisfaction;
    std::string due;  // on the customer's clock, with its offset
};
std::string encode_outcome_saved(std::string_view call,
                                 const std::optional<ScheduledFollowup>& followup,
                                 std::string_view no_followup_reason);
// The outbound pop: what the agent needs to place a follow-up call.
struct FollowupOffer {
    Followup followup;
    std::string due_local;
    std::optional<CustomerCard> customer;
    std::optional<HistoryEntry> call;  // the call that created it, with its outcome and notes
};
std::string encode_followup_offer(const FollowupOffer& offer);
std::string encode_followup_waiting(std::size_t agents_waiting);
std::string encode_followup_saved(std::int64_t id, domain::FollowupStatus status,
                                  std::string_view next_due);
std::string encode_note_saved(std::int64_t customer, std::int64_t note_id);
// The answer to `status`. One entry per switch: each link of `switches` in the config, and
// the native switch port, whose `sessions` counts the switches connected to it.
struct SwitchStatus {
    std::string name;
    std::string type;     // ami, evapi, native
    std::string address;  // host:port
    std::string state;    // connecting, up, down, login_failed; native: up, listening
    std::string last_error;  // "" is sent as null
    std::optional<std::chrono::system_clock::time_point> up_since;
    std::optional<std::chrono::system_clock::time_point> last_event_at;
    std::uint64_t connects = 0;
    std::uint64_t messages = 0;
    std::uint64_t events = 0;
    std::uint64_t calls = 0;
    std::uint64_t garbage = 0;
    std::optional<std::size_t> sessions;  // the native port only
};
// How often each failure mode came up since the daemon started; each also has a log line.
struct FaultCounts {
    std::uint64_t calls_timed_out = 0;        // no hangup within calls.max_duration_s
    std::uint64_t calls_closed_at_start = 0;  // left open when callpop last stopped or died
    std::uint64_t tail_fell_behind = 0;       // a tail follower caught up from its cursor
    std::uint64_t logins_refused = 0;         // bad token or ticket, or extension taken
    std::uint64_t outcomes_refused = 0;       // not the agent's call
    std::uint64_t writes_failed = 0;          // a write the store refused (storage_error)
    std::uint64_t writes_spilled = 0;         // records that waited in the spool
    std::uint64_t sessions_closed_for_account = 0;  // the account was removed or changed
    std::uint64_t logins_throttled = 0;  // refused unchecked: too many failures from the address
    std::uint64_t switches_refused = 0;  // a switch connection from outside listen.switch.allow
    std::uint64_t switch_hellos_refused = 0;  // a native switch without the right secret
    std::uint64_t plain_refused = 0;  // a plain agent connection from outside allow_plain
    std::uint64_t tls_failed = 0;     // an agent connection's TLS handshake failed
};
// Each fault's name on the wire (status, /metrics) with its count, in the order above.
std::vector<std::pair<std::string_view, std::uint64_t>> named_faults(const FaultCounts& faults);
// An agent seated at extensions, as `status` with `agents` lists it.
struct AgentPresence {
    std::string agent;
    std::vector<std::string> extensions;
    bool connected = false;            // false: away, its calls wait for it
    bool waiting_for_followup = false;  // asked next_followup, none offered yet
    std::optional<std::int64_t> followup;  // the follow-up it holds
};
// A daemon serving the same store, as it last wrote its row (every few seconds).
struct DaemonPeer {
    std::string name;
    std::string host;
    std::int64_t pid = 0;
    std::string version;
    std::string started_at;  // UTC ISO
    std::string last_seen;   // UTC ISO
};

// Whether the store takes the daemon's writes (its call-log writer's view).
struct StoreHealth {
    bool up = true;  // false while the writer retries a write the store did not take
    std::uint64_t outages = 0;
    std::string last_error;  // why it last went down; empty: never
};
// The link to the other daemons sharing a PostgreSQL store (docs/peers.md).
struct PeerLinkHealth {
    bool connected = false;
    std::uint64_t outages = 0;
    std::uint64_t dropped = 0;  // messages for the others not sent
    std::string last_error;     // why it was last lost; empty: never
};

struct DaemonStatus {
    std::string name;  // storage.daemon_name
    std::string version;
    std::chrono::system_clock::time_point started_at;
    std::chrono::system_clock::time_point at;  // when the daemon answered
    std::uint64_t uptime_s = 0;
    std::size_t live_calls = 0;
    std::size_t ended_calls = 0;  // kept after their end for late events (calls.ended_keep_s)
    std::size_t agents_logged_in = 0;  // taking calls, with a live session
    std::size_t agents_away = 0;       // disconnected without logging out: calls wait for them
    std::size_t tail_followers = 0;
    std::size_t followup_waiters = 0;
    std::size_t followups_held = 0;
    std::size_t writer_queue = 0;
    std::size_t writer_spooled = 0;  // records in the spool, waiting for the store
    StoreHealth store;
    std::optional<PeerLinkHealth> peer_link;  // only on a store daemons share
    std::uint64_t lookups = 0;  // customer lookups started since the daemon started
    FaultCounts faults;
    std::vector<SwitchStatus> switches;
    std::vector<DaemonPeer> daemons;  // every daemon on the store, this one included
    std::optional<std::vector<AgentPresence>> agents;  // when asked for
};
std::string encode_status(const DaemonStatus& status);
std::string encode_log(const CallLogRecord& record);
std::string encode_backlog_end(std::size_t count, std::int64_t last_id);
std::string encode_pong();
std::string encode_bye(std::string_view code, std::string_view message);
// The answer to disconnect: how many sessions of `agent` were closed.
std::string encode_disconnected(std::string_view agent, std::size_t sessions);
// The answer to a reload whose file passed: `restart_needed` when it changed more than a
// running daemon applies.
std::string encode_reloaded(std::string_view config, bool restart_needed);
// To the supervisor who released it, and to the agent who held it.
std::string encode_extension_released(std::string_view extension, std::string_view agent,
                                      std::string_view by);

}  // namespace callpop::protocol
