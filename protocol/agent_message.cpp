#include "protocol/agent_message.hpp"

#include "protocol/json_fields.hpp"
#include "protocol/record_writer.hpp"
#include "domain/timestamp.hpp"

#include <array>
#include <charconv>

namespace callpop::protocol {

using nlohmann::json;
using domain::format_utc;
using domain::AttemptResult;
using domain::FollowupStatus;

namespace {

std::string line_of(const json& message) {
    return message.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

Parsed<AgentMessage> finish(FieldReader& fields, AgentMessage message) {
    if (fields.error()) return *fields.error();
    return message;
}

}  // namespace

bool TailFilter::matches(const CallLogRecord& record) const {
    return (queue.empty() || record.queue == queue) && (agent.empty() || record.agent == agent) &&
           (outcome.empty() || record.outcome == outcome);
}

Parsed<AgentMessage> parse_agent_message(std::string_view line) {
    auto parsed = parse_json_object(line);
    if (auto* error = std::get_if<ProtocolError>(&parsed)) return *error;
    const auto& object = std::get<json>(parsed);

    FieldReader type_field(object, "message");
    const std::string type = type_field.required_string("type");
    if (type_field.error()) return *type_field.error();
    FieldReader fields(object, type);

    if (type == "login") {
        Login login;
        login.agent = fields.required_string("agent");
        login.ticket = fields.optional_string("ticket");
        if (login.ticket.empty()) {
            login.token = fields.required_string("token");
        } else if (!fields.optional_string("token").empty()) {
            return ProtocolError{"bad_field", "login: give a token or a ticket, not both"};
        }
        login.extensions = fields.string_list("extensions", false);
        if (auto resume = fields.optional_integer("resume_after")) {
            if (!fields.error() && *resume < 0) return ProtocolError{"bad_field", "login: resume_after must be >= 0"};
            login.resume_after = static_cast<std::uint64_t>(*resume);
        }
        return finish(fields, std::move(login));
    }
    if (type == "ack") {
        const auto seq = fields.required_integer("seq");
        if (!fields.error() && seq < 0) return ProtocolError{"bad_field", "ack: seq must be >= 0"};
        return finish(fields, Ack{static_cast<std::uint64_t>(seq)});
    }
    if (type == "outcome") {
        Outcome outcome;
        outcome.call = fields.required_string("call");
        outcome.code = fields.required_string("code");
        outcome.notes = fields.optional_string("notes");
        outcome.satisfaction_call = fields.optional_bool("satisfaction_call");
        return finish(fields, std::move(outcome));
    }
    if (type == "note") {
        AddNote note;
        note.customer = fields.required_integer("customer");
        note.kind = fields.optional_string("kind");
        if (note.kind.empty()) note.kind = "note";
        note.text = fields.required_string("text");
        note.call = fields.optional_string("call");
        if (!fields.error() && note.kind != "note" && note.kind != "preference")
            return ProtocolError{"bad_field", "note: kind must be \"note\" or \"preference\""};
        return finish(fields, std::move(note));
    }
    if (type == "tail") {
        Tail tail;
        const auto backlog = fields.optional_integer("backlog").value_or(0);
        if (backlog < 0) return ProtocolError{"bad_field", "tail: backlog must be >= 0"};
        tail.backlog = static_cast<std::size_t>(backlog);
        tail.follow = fields.optional_bool("follow").value_or(true);
        const json filter = fields.optional_object("filter");
        FieldReader filter_fields(filter, "tail filter");
        tail.filter.queue = filter_fields.optional_string("queue");
        tail.filter.agent = filter_fields.optional_string("agent");
        tail.filter.outcome = filter_fields.optional_string("outcome");
        if (!fields.error() && filter_fields.error()) return *filter_fields.error();
        if (auto after = fields.optional_integer("after")) {
            if (!fields.error() && *after < 0)
                return ProtocolError{"bad_field", "tail: after must be >= 0"};
            if (!fields.error() && !tail.follow)
                return ProtocolError{"bad_field", "tail: after needs follow"};
            tail.after = *after;
        }
        if (const std::string since = fields.optional_string("since"); !since.empty() && !fields.error()) {
            if (tail.after) return ProtocolError{"bad_field", "tail: give since or after, not both"};
            if (!tail.follow) return ProtocolError{"bad_field", "tail: since needs follow"};
            try {
                // Checked by parsing; written as the store writes times, milliseconds kept.
                const auto seconds = domain::parse_utc(since);
                tail.since = since.size() == 24 ? since : format_utc(seconds);
            } catch (const std::invalid_argument&) {
                return ProtocolError{"bad_field", "tail: since must be a UTC time such as "
                                                  "2026-12-04T05:00:00Z, not \"" + since + "\""};
            }
        }
        return finish(fields, std::move(tail));
    }
    if (type == "ping") return Ping{};
    if (type == "logout") return Logout{};
    if (type == "next_followup") return NextFollowup{};
    if (type == "followup_result") {
        FollowupResult result;
        result.followup = fields.required_integer("followup");
        const std::string result_name = fields.required_string("result");
        if (auto score = fields.optional_integer("score")) {
            if (!fields.error() && (*score < 0 || *score > 10))
                return ProtocolError{"bad_field", "followup_result: score must be from 0 to 10"};
            result.score = static_cast<int>(*score);
        }
        result.comment = fields.optional_string("comment");
        if (fields.error()) return *fields.error();
        const auto parsed = domain::parse<AttemptResult>(result_name);
        if (!parsed)
            return ProtocolError{"bad_field",
                                 "followup_result: result \"" + result_name +
                                     "\" is not one of reached, no_answer, busy, wrong_number, "
                                     "refused"};
        result.result = *parsed;
        if (result.score && result.result != AttemptResult::reached)
            return ProtocolError{"bad_field",
                                 "followup_result: a score is only given when the customer was "
                                 "reached"};
        return result;
    }
    if (type == "followup_close") {
        FollowupClose close;
        close.followup = fields.required_integer("followup");
        const auto status = domain::parse<FollowupStatus>(fields.required_string("status"));
        close.notes = fields.optional_string("notes");
        // Unreachable is for the attempts to decide, not a supervisor.
        if (!fields.error() && status != FollowupStatus::completed &&
            status != FollowupStatus::cancelled)
            return ProtocolError{"bad_field",
                                 "followup_close: status must be \"completed\" or \"cancelled\""};
        if (status) close.status = *status;
        return finish(fields, std::move(close));
    }
    if (type == "status") {
        StatusRequest request;
        request.agents = fields.optional_bool("agents").value_or(false);
        return finish(fields, request);
    }
    if (type == "release_extension") {
        ReleaseExtension release;
        release.extension = fields.required_string("extension");
        if (!fields.error() && release.extension.empty())
            return ProtocolError{"bad_field", "release_extension: extension must not be empty"};
        return finish(fields, std::move(release));
    }
    if (type == "disconnect") {
        Disconnect disconnect;
        disconnect.agent = fields.required_string("agent");  // refuses "" too
        return finish(fields, std::move(disconnect));
    }
    if (type == "reload") return Reload{};
    return ProtocolError{"unknown_type",
                         "unknown message type \"" + type +
                             "\" (expected login, ack, outcome, note, tail, ping, logout, "
                             "next_followup, followup_result, followup_close, status, "
                             "release_extension, disconnect or reload)"};
}

std::string encode_welcome(std::string_view agent, domain::AgentRole role, int heartbeat_s,
                           std::uint64_t last_seq, const std::optional<ResumeTicket>& ticket,
                           const std::vector<OutcomeChoice>& outcomes) {
    json welcome = {{"type", "welcome"},
                    {"agent", agent},
                    {"role", domain::to_string(role)},
                    {"heartbeat_s", heartbeat_s},
                    {"last_seq", last_seq}};
    if (ticket) {
        welcome["ticket"] = ticket->ticket;
        welcome["ticket_expires"] = format_utc(ticket->expires);
    }
    json& choices = welcome["outcomes"] = json::array();
    for (const auto& outcome : outcomes)
        choices.push_back({{"code", outcome.code}, {"label", outcome.label}});
    return line_of(welcome);
}

std::string encode_pop(const Pop& pop) {
    std::string line;
    line.reserve(2048);
    JsonWriter out(line);
    // with_pop_seq() relies on this start.
    out.begin_object()
        .field("type", "pop")
        .key("seq")
        .unsigned_number(pop.seq)
        .field("call", pop.call)
        .key("caller")
        .begin_object()
        .key("number");
    if (pop.caller.withheld) {
        out.null();
    } else {
        out.string(pop.caller.number);
    }
    out.field("raw", pop.caller.raw)
        .field("name", pop.caller.name)
        .key("withheld")
        .boolean(pop.caller.withheld)
        .end_object()
        .field("dialed", pop.dialed)
        .field("line", pop.line)
        .field("queue", pop.queue)
        .key("data")
        .value(pop.data)
        .field("match", pop.match);
    // Assets, history and follow-ups sit at the top level of a pop, as agents read them.
    static const CustomerCard no_card;
    const CustomerCard& card = pop.customer ? *pop.customer : no_card;
    out.key("customer");
    if (pop.customer) {
        out.begin_object();
        write_card_fields(out, card, false);
        out.end_object();
    } else {
        out.null();
    }
    write_assets(out, card);
    write_history(out, card);
    write_followup_summaries(out, card);
    out.key("candidates").begin_array();
    for (const auto& candidate : pop.other_candidates) write_customer(out, candidate);
    out.end_array().end_object();
    line += '\n';
    return line;
}

namespace {
constexpr std::string_view pop_prefix = R"({"type":"pop","seq":)";
}  // namespace

std::string with_pop_seq(std::string pop_line, std::uint64_t seq) {
    if (!pop_line.starts_with(pop_prefix))
        throw std::invalid_argument("with_pop_seq: not a line of encode_pop");
    const auto seq_end = pop_line.find(',', pop_prefix.size());
    if (seq_end == std::string::npos)
        throw std::invalid_argument("with_pop_seq: not a line of encode_pop");
    std::array<char, 20> digits{};
    const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), seq).ptr;
    pop_line.replace(pop_prefix.size(), seq_end - pop_prefix.size(), digits.data(),
                     static_cast<std::size_t>(end - digits.data()));
    return pop_line;
}

std::string encode_call_state(std::string_view call, domain::PoppedCallState state,
                              std::string_view by, std::string_view cause) {
    // Sent to every agent a call popped for, at every answer and hangup: no DOM.
    std::string line;
    JsonWriter out(line);
    out.begin_object()
        .field("type", "call")
        .field("call", call)
        .field("state", domain::to_string(state))
        .field_if_set("by", by)
        .field_if_set("cause", cause)
        .end_object();
    line += '\n';
    return line;
}

std::string encode_outcome_saved(std::string_view call,
                                 const std::optional<ScheduledFollowup>& followup,
                                 std::string_view no_followup_reason) {
    json message = {{"type", "outcome_saved"}, {"call", call}, {"followup", nullptr}};
    if (followup) {
        message["followup"] = {{"id", followup->id}, {"kind", domain::to_string(followup->kind)},
                               {"due", followup->due}};
    } else if (!no_followup_reason.empty()) {
        message["no_followup"] = no_followup_reason;
    }
    return line_of(message);
}

std::string encode_followup_offer(const FollowupOffer& offer) {
    json followup = to_json(offer.followup);
    followup["due_local"] = offer.due_local;
    json message = {{"type", "followup"}, {"followup", std::move(followup)}};
    message["customer"] = offer.customer ? to_json(*offer.customer) : json(nullptr);
    if (offer.call) {
        const auto& call = *offer.call;
        message["call"] = {{"call", call.call},   {"at", call.at},           {"line", call.line},
                           {"state", call.state}, {"agent", call.agent},     {"outcome", call.outcome},
                           {"notes", call.notes}};
    } else {
        message["call"] = nullptr;
    }
    message["survey"] = offer.followup.survey.is_null() ? json(nullptr) : offer.followup.survey;
    return line_of(message);
}

std::string encode_followup_waiting(std::size_t agents_waiting) {
    return line_of({{"type", "followup_waiting"}, {"agents_waiting", agents_waiting}});
}

std::string encode_followup_saved(std::int64_t id, FollowupStatus status,
                                  std::string_view next_due) {
    json message = {
        {"type", "followup_saved"}, {"followup", id}, {"status", domain::to_string(status)}};
    message["next_due"] = next_due.empty() ? json(nullptr) : json(next_due);
    return line_of(message);
}

std::string encode_note_saved(std::int64_t customer, std::int64_t note_id) {
    return line_of({{"type", "note_saved"}, {"customer", customer}, {"id", note_id}});
}

namespace {

json utc_or_null(const std::optional<std::chrono::system_clock::time_point>& time) {
    return time ? json(format_utc(*time)) : json(nullptr);
}

json switch_json(const SwitchStatus& link) {
    json entry = {{"name", link.name},
                  {"type", link.type},
                  {"address", link.address},
                  {"state", link.state},
                  {"last_error", link.last_error.empty() ? json(nullptr) : json(link.last_error)},
                  {"up_since", utc_or_null(link.up_since)},
                  {"last_event_at", utc_or_null(link.last_event_at)},
                  {"connects", link.connects},
                  {"messages", link.messages},
                  {"events", link.events},
                  {"calls", link.calls},
                  {"garbage", link.garbage}};
    if (link.sessions) entry["sessions"] = *link.sessions;
    return entry;
}

}  // namespace

std::vector<std::pair<std::string_view, std::uint64_t>> named_faults(const FaultCounts& faults) {
    return {{"calls_timed_out", faults.calls_timed_out},
            {"calls_closed_at_start", faults.calls_closed_at_start},
            {"tail_fell_behind", faults.tail_fell_behind},
            {"logins_refused", faults.logins_refused},
            {"outcomes_refused", faults.outcomes_refused},
            {"writes_failed", faults.writes_failed},
            {"writes_spilled", faults.writes_spilled},
            {"sessions_closed_for_account", faults.sessions_closed_for_account},
            {"logins_throttled", faults.logins_throttled},
            {"switches_refused", faults.switches_refused},
            {"switch_hellos_refused", faults.switch_hellos_refused},
            {"plain_refused", faults.plain_refused},
            {"tls_failed", faults.tls_failed}};
}

std::string encode_status(const DaemonStatus& status) {
    json switches = json::array();
    for (const auto& link : status.switches) switches.push_back(switch_json(link));
    json faults = json::object();
    for (const auto& [name, count] : named_faults(status.faults)) faults[std::string(name)] = count;
    json daemons = json::array();
    for (const auto& peer : status.daemons)
        daemons.push_back({{"name", peer.name},
                           {"host", peer.host},
                           {"pid", peer.pid},
                           {"version", peer.version},
                           {"started_at", peer.started_at},
                           {"last_seen", peer.last_seen}});
    const auto error_or_null = [](const std::string& error) {
        return error.empty() ? json(nullptr) : json(error);
    };
    json store = {{"up", status.store.up},
                  {"outages", status.store.outages},
                  {"last_error", error_or_null(status.store.last_error)}};
    json peer_link = nullptr;
    if (status.peer_link)
        peer_link = {{"connected", status.peer_link->connected},
                     {"outages", status.peer_link->outages},
                     {"dropped", status.peer_link->dropped},
                     {"last_error", error_or_null(status.peer_link->last_error)}};
    json answer = {{"type", "status"},
                    {"daemon", status.name},
                    {"version", status.version},
                    {"started_at", format_utc(status.started_at)},
                    {"at", format_utc(status.at)},
                    {"uptime_s", status.uptime_s},
                    {"live_calls", status.live_calls},
                    {"ended_calls", status.ended_calls},
                    {"agents_logged_in", status.agents_logged_in},
                    {"agents_away", status.agents_away},
                    {"tail_followers", status.tail_followers},
                    {"followup_waiters", status.followup_waiters},
                    {"followups_held", status.followups_held},
                    {"writer_queue", status.writer_queue},
                    {"writer_spooled", status.writer_spooled},
                    {"store", std::move(store)},
                    {"peer_link", std::move(peer_link)},
                    {"lookups", status.lookups},
                    {"faults", std::move(faults)},
                    {"switches", std::move(switches)},
                    {"daemons", std::move(daemons)}};
    if (status.agents) {
        json& agents = answer["agents"] = json::array();
        for (const auto& presence : *status.agents) {
            agents.push_back({{"agent", presence.agent},
                              {"extensions", presence.extensions},
                              {"state", presence.connected ? "connected" : "away"},
                              {"waiting_for_followup", presence.waiting_for_followup},
                              {"followup", presence.followup ? json(*presence.followup) : json(nullptr)}});
        }
    }
    return line_of(answer);
}

std::string encode_log(const CallLogRecord& record) {
    std::string line;
    JsonWriter out(line);
    out.begin_object().field("type", "log");
    write_record_fields(out, record);
    out.end_object();
    line += '\n';
    return line;
}

std::string encode_backlog_end(std::size_t count, std::int64_t last_id) {
    return line_of({{"type", "backlog_end"}, {"count", count}, {"last", last_id}});
}

std::string encode_pong() { return line_of({{"type", "pong"}}); }

std::string encode_bye(std::string_view code, std::string_view message) {
    return line_of({{"type", "bye"}, {"code", code}, {"message", message}});
}

std::string encode_reloaded(std::string_view config, bool restart_needed) {
    return line_of({{"type", "reloaded"}, {"config", config}, {"restart_needed", restart_needed}});
}

std::string encode_disconnected(std::string_view agent, std::size_t sessions) {
    return line_of({{"type", "disconnected"}, {"agent", agent}, {"sessions", sessions}});
}

std::string encode_extension_released(std::string_view extension, std::string_view agent,
                                      std::string_view by) {
    return line_of({{"type", "extension_released"},
                    {"extension", extension},
                    {"agent", agent},
                    {"by", by}});
}

}  // namespace callpop::protocol
