#pragma once
// Kamailio's call events over evapi, as examples/kamailio/kamailio.cfg sends them (one JSON
// object per netstring; docs/protocol-evapi.md), and the per-link state that turns them into
// callpop's switch events. Pure state, no I/O.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocol/error.hpp"
#include "protocol/switch_event.hpp"

namespace callpop::protocol {

enum class EvapiEventKind { hello, ring, answer, hangup, abandoned, failed };

struct EvapiEvent {
    EvapiEventKind kind = EvapiEventKind::hello;
    std::string server;       // hello: who is talking ("kamailio")
    std::string callid;       // the SIP Call-ID; required on call events
    std::string caller;       // From user
    std::string caller_name;  // From display name
    std::string pai;          // P-Asserted-Identity user, when the switch trusts it
    std::string called;       // Request-URI user: the number dialed (DID)
    std::string agent;        // the extension (agent phone's user) the call rings or rang
    std::string queue;
    std::optional<std::int64_t> code;  // failed: the SIP final reply code
    std::string reason;                // failed: the config's word for it (busy, noanswer, ...)
    nlohmann::json data = nlohmann::json::object();  // what the IVR collected
};

// One netstring payload. Errors: bad_json, missing_field, bad_field, unknown_event.
Parsed<EvapiEvent> parse_evapi_event(std::string_view payload);

// The hangup cause of a call that failed with this SIP reply: 486/600 busy, 408/480
// no_answer, anything else (or no code) failed.
std::string cause_of_failure(std::optional<std::int64_t> code);

std::string_view to_string(EvapiEventKind kind);

// One per link. Remembers the calls that began and have not ended, because evapi drops what
// happens while callpop is not connected: those calls must be closed as "unknown".
class EvapiCallMapper {
  public:
    // Past this many open calls the oldest is forgotten (a config that never reports the end
    // of some calls must not grow memory; the call tracker's max_duration still closes it).
    explicit EvapiCallMapper(std::size_t max_open_calls = 100000);

    // The switch event for a call event; nullopt for hello.
    std::optional<SwitchEvent> on_event(const EvapiEvent& event);
    // Hangups with cause "unknown" for every open call, oldest first; forgets them.
    std::vector<SwitchEvent> close_open_calls();

    std::size_t open_calls() const { return open_.size(); }
    std::uint64_t calls_started() const { return calls_started_; }

  private:
    void open(const std::string& callid);
    void close(const std::string& callid);

    std::size_t max_open_calls_;
    std::unordered_map<std::string, std::uint64_t> open_;  // callid → when it began (order)
    std::map<std::uint64_t, std::string> open_by_age_;
    std::uint64_t calls_started_ = 0;
};

}  // namespace callpop::protocol
