#include "protocol/evapi_event.hpp"

#include "protocol/json_fields.hpp"

namespace callpop::protocol {

namespace {

std::optional<EvapiEventKind> kind_named(std::string_view name) {
    for (const auto kind :
         {EvapiEventKind::hello, EvapiEventKind::ring, EvapiEventKind::answer,
          EvapiEventKind::hangup, EvapiEventKind::abandoned, EvapiEventKind::failed}) {
        if (to_string(kind) == name) return kind;
    }
    return std::nullopt;
}

bool ends_call(EvapiEventKind kind) {
    return kind == EvapiEventKind::hangup || kind == EvapiEventKind::abandoned ||
           kind == EvapiEventKind::failed;
}

// Kamailio's {s.unquote} takes the quotes off a display name but leaves its quoted-pairs:
// in RFC 3261's quoted-string a backslash stands for the character after it (\" and \\).
std::string without_quoted_pairs(std::string name) {
    if (name.find('\\') == std::string::npos) return name;
    std::string plain;
    plain.reserve(name.size());
    for (std::size_t at = 0; at < name.size(); ++at) {
        if (name[at] == '\\' && at + 1 < name.size()) ++at;
        plain += name[at];
    }
    return plain;
}

}  // namespace

std::string_view to_string(EvapiEventKind kind) {
    switch (kind) {
        case EvapiEventKind::hello:
            return "hello";
        case EvapiEventKind::ring:
            return "ring";
        case EvapiEventKind::answer:
            return "answer";
        case EvapiEventKind::hangup:
            return "hangup";
        case EvapiEventKind::abandoned:
            return "abandoned";
        case EvapiEventKind::failed:
            return "failed";
    }
    return "unknown";
}

Parsed<EvapiEvent> parse_evapi_event(std::string_view payload) {
    auto parsed = parse_json_object(payload);
    if (auto* error = std::get_if<ProtocolError>(&parsed)) {
        // The JSON reader speaks of lines; evapi has netstrings.
        constexpr std::string_view line = " of the line";
        if (error->message.ends_with(line))
            error->message.replace(error->message.size() - line.size(), line.size(),
                                   " of the payload");
        return *error;
    }
    const auto& object = std::get<nlohmann::json>(parsed);

    FieldReader event_name(object, "event");
    const std::string name = event_name.required_string("event");
    if (event_name.error()) return *event_name.error();
    const auto kind = kind_named(name);
    if (!kind) {
        return ProtocolError{"unknown_event",
                             "unknown event \"" + name +
                                 "\" (expected hello, ring, answer, hangup, abandoned or failed)"};
    }

    EvapiEvent event;
    event.kind = *kind;
    FieldReader fields(object, name + " event");
    if (event.kind == EvapiEventKind::hello) {
        event.server = fields.optional_string("server");
    } else {
        event.callid = fields.required_string("callid");
        event.caller = fields.optional_string("caller");
        event.caller_name = without_quoted_pairs(fields.optional_string("caller_name"));
        event.pai = fields.optional_string("pai");
        event.called = fields.optional_string("called");
        event.agent = fields.optional_string("agent");
        event.queue = fields.optional_string("queue");
        event.code = fields.optional_integer("code");
        event.reason = fields.optional_string("reason");
        event.data = fields.optional_object("data");
    }
    if (fields.error()) return *fields.error();
    return event;
}

std::string cause_of_failure(std::optional<std::int64_t> code) {
    if (code == 486 || code == 600) return "busy";
    if (code == 408 || code == 480) return "no_answer";
    return "failed";
}

EvapiCallMapper::EvapiCallMapper(std::size_t max_open_calls) : max_open_calls_(max_open_calls) {}

std::optional<SwitchEvent> EvapiCallMapper::on_event(const EvapiEvent& event) {
    if (event.kind == EvapiEventKind::hello) return std::nullopt;

    SwitchEvent out;
    out.call = event.callid;
    // The asserted identity is the network's word for who calls; From is the caller's.
    out.from = event.pai.empty() ? event.caller : event.pai;
    out.name = event.caller_name;
    out.to = event.called;
    out.queue = event.queue;
    out.data = event.data;
    switch (event.kind) {
        case EvapiEventKind::ring:
        case EvapiEventKind::answer:
            out.kind = event.kind == EvapiEventKind::ring ? SwitchEventKind::ring
                                                          : SwitchEventKind::answer;
            if (!event.agent.empty()) out.extensions = {event.agent};
            break;
        case EvapiEventKind::hangup:
            out.kind = SwitchEventKind::hangup;
            out.cause = "normal";
            break;
        case EvapiEventKind::abandoned:
            out.kind = SwitchEventKind::hangup;
            out.cause = "abandoned";
            break;
        case EvapiEventKind::failed:
            out.kind = SwitchEventKind::hangup;
            out.cause = cause_of_failure(event.code);
            break;
        case EvapiEventKind::hello:
            break;
    }
    // A hangup of a call we never saw begin still starts one in the call tracker.
    if (!open_.contains(event.callid)) {
        ++calls_started_;
        if (!ends_call(event.kind)) open(event.callid);
    } else if (ends_call(event.kind)) {
        close(event.callid);
    }
    return out;
}

std::vector<SwitchEvent> EvapiCallMapper::close_open_calls() {
    std::vector<SwitchEvent> closed;
    closed.reserve(open_by_age_.size());
    for (const auto& [age, callid] : open_by_age_) {
        SwitchEvent hangup;
        hangup.kind = SwitchEventKind::hangup;
        hangup.call = callid;
        hangup.cause = "unknown";
        closed.push_back(std::move(hangup));
    }
    open_.clear();
    open_by_age_.clear();
    return closed;
}

void EvapiCallMapper::open(const std::string& callid) {
    if (max_open_calls_ == 0) return;
    if (open_.size() >= max_open_calls_) {
        const std::string oldest = open_by_age_.begin()->second;
        close(oldest);
    }
    const std::uint64_t age = calls_started_;
    open_.emplace(callid, age);
    open_by_age_.emplace(age, callid);
}

void EvapiCallMapper::close(const std::string& callid) {
    const auto found = open_.find(callid);
    if (found == open_.end()) return;
    open_by_age_.erase(found->second);
    open_.erase(found);
}

}  // namespace callpop::protocol
