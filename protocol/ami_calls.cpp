#include "protocol/ami_calls.hpp"

#include <algorithm>

namespace callpop::protocol {

namespace {

std::string_view field(const AmiMessage& message, std::string_view key) {
    const std::string* value = message.find(key);
    return value == nullptr ? std::string_view() : std::string_view(*value);
}

// Asterisk writes "<unknown>" where a channel has no caller id yet.
bool known(std::string_view value) { return !value.empty() && value != "<unknown>"; }

bool is_extension_char(char c) { return c != '-' && c != '@' && c != '/' && c != ';'; }

std::string cause_of_unanswered(const std::string& dial_status, bool abandoned) {
    if (abandoned || dial_status == "CANCEL") return "abandoned";
    if (dial_status == "BUSY") return "busy";
    if (dial_status == "NOANSWER") return "no_answer";
    if (dial_status == "CHANUNAVAIL" || dial_status == "CONGESTION") return "failed";
    // The caller left before any agent's phone gave up: they hung up waiting.
    return "abandoned";
}

}  // namespace

std::string extension_of(std::string_view channel, const std::vector<std::string>& patterns) {
    for (const auto& pattern : patterns) {
        const auto placeholder = pattern.find("{ext}");
        if (placeholder == std::string::npos) continue;
        const std::string_view prefix = std::string_view(pattern).substr(0, placeholder);
        const std::string_view suffix = std::string_view(pattern).substr(placeholder + 5);
        if (!channel.starts_with(prefix)) continue;
        const std::string_view rest = channel.substr(prefix.size());
        std::size_t length = 0;
        while (length < rest.size() && is_extension_char(rest[length]) &&
               (suffix.empty() || rest[length] != suffix.front()))
            ++length;
        if (length == 0 || !rest.substr(length).starts_with(suffix)) continue;
        return std::string(rest.substr(0, length));
    }
    return {};
}

AmiCallMapper::AmiCallMapper(AmiCallRules rules) : rules_(std::move(rules)) {}

std::string AmiCallMapper::extension(std::string_view channel) const {
    return extension_of(channel, rules_.extension_patterns);
}

AmiCallMapper::Call* AmiCallMapper::call_of(const AmiMessage& event) {
    // A channel belongs to the call it began in, whatever Linkedid a bridge later copies
    // onto it: events after a transfer may name it under the customer's Linkedid.
    const std::string_view uniqueid = field(event, "Uniqueid");
    auto owner = uniqueid.empty() ? channels_.end() : channels_.find(std::string(uniqueid));
    const std::string linkedid =
        owner != channels_.end() ? owner->second : std::string(field(event, "Linkedid"));
    if (linkedid.empty()) return nullptr;
    auto found = calls_.find(linkedid);
    return found == calls_.end() ? nullptr : &found->second;
}

void AmiCallMapper::add_channel(Call& call, const std::string& uniqueid) {
    if (uniqueid.empty() || channels_.contains(uniqueid)) return;
    call.channels.insert(uniqueid);
    channels_[uniqueid] = call.id;
    if (resyncing_) born_in_resync_.insert(uniqueid);
}

AmiCallMapper::Call& AmiCallMapper::create(const AmiMessage& event, const std::string& linkedid) {
    Call& call = calls_[linkedid];
    call.id = linkedid;
    const std::string_view context = field(event, "Context");
    call.inbound = rules_.inbound_contexts.empty() ||
                   std::find(rules_.inbound_contexts.begin(), rules_.inbound_contexts.end(),
                             context) != rules_.inbound_contexts.end();
    // The first channel of an inbound call is the trunk's: its Exten is the number dialed.
    call.dialed = std::string(field(event, "Exten"));
    return call;
}

SwitchEvent AmiCallMapper::event_for(const Call& call, SwitchEventKind kind) const {
    SwitchEvent event;
    event.kind = kind;
    event.call = call.id;
    event.from = call.caller;
    event.name = call.caller_name;
    event.to = call.dialed;
    event.queue = call.queue;
    return event;
}

// Only the calling side's caller id is the customer: on a Dial()ed extension's leg
// CallerIDNum is the DID and the caller is in ConnectedLineNum.
void AmiCallMapper::learn_caller(Call& call, const AmiMessage& event) {
    const std::string_view number = field(event, "CallerIDNum");
    const std::string_view name = field(event, "CallerIDName");
    if (known(number)) call.caller = std::string(number);
    if (known(name)) call.caller_name = std::string(name);
}

void AmiCallMapper::announce(Call& call, std::vector<SwitchEvent>& out) {
    if (call.announced || !call.inbound) return;
    call.announced = true;
    out.push_back(event_for(call, SwitchEventKind::ring));
}

void AmiCallMapper::ring(Call& call, const std::string& extension,
                         std::vector<SwitchEvent>& out) {
    if (!call.inbound || extension.empty()) return;
    if (!call.answered_extension.empty()) {
        // Ringing someone else once answered: the call is being handed on (a blind
        // transfer dials from the caller's channel).
        if (extension == call.answered_extension || extension == call.transfer_target) return;
        call.transfer_target = extension;
        SwitchEvent transfer = event_for(call, SwitchEventKind::transfer);
        transfer.extensions = {extension};
        out.push_back(std::move(transfer));
        return;
    }
    if (!call.rung.insert(extension).second) return;
    call.announced = true;
    SwitchEvent event = event_for(call, SwitchEventKind::ring);
    event.extensions = {extension};
    out.push_back(std::move(event));
}

void AmiCallMapper::answer(Call& call, const std::string& extension,
                           std::vector<SwitchEvent>& out) {
    if (!call.inbound || extension.empty() || extension == call.answered_extension) return;
    // A first answer rings the extension if it had not rung; a later one is a transfer we
    // had not seen ringing, unless it is the target we saw.
    if (call.answered_extension.empty() || extension != call.transfer_target)
        ring(call, extension, out);
    call.answered_extension = extension;
    call.transfer_target.clear();
    SwitchEvent event = event_for(call, SwitchEventKind::answer);
    event.extensions = {extension};
    out.push_back(std::move(event));
}

void AmiCallMapper::end(Call& call, const std::string& cause, std::vector<SwitchEvent>& out) {
    if (call.announced) {
        SwitchEvent event = event_for(call, SwitchEventKind::hangup);
        event.cause = cause;
        out.push_back(std::move(event));
    }
    for (const auto& channel : call.channels) channels_.erase(channel);
    const std::string id = call.id;  // erase() must not read the key it is destroying
    calls_.erase(id);
}

// A call ends when its last channel hangs up: the caller's own channel can go first, and
// what happened in the queue (QueueCallerAbandon) still comes after it.
void AmiCallMapper::hangup_channel(const AmiMessage& event, std::vector<SwitchEvent>& out) {
    const std::string uniqueid(field(event, "Uniqueid"));
    auto owner = channels_.find(uniqueid);
    if (owner == channels_.end()) return;
    auto found = calls_.find(owner->second);
    channels_.erase(owner);
    if (found == calls_.end()) return;
    Call& call = found->second;
    call.channels.erase(uniqueid);
    if (!call.channels.empty()) return;
    const std::string cause = call.answered_extension.empty()
                                  ? cause_of_unanswered(call.last_dial_status, call.abandoned)
                                  : "normal";
    end(call, cause, out);
}

void AmiCallMapper::on_attended_transfer(const AmiMessage& event,
                                         std::vector<SwitchEvent>& out) {
    if (field(event, "Result") != "Success") return;
    // Which bridge held the customer's call depends on the order the two calls were made.
    Call* call = nullptr;
    for (const char* key : {"TransfereeLinkedid", "OrigTransfererLinkedid",
                            "SecondTransfererLinkedid", "TransferTargetLinkedid"}) {
        auto found = calls_.find(std::string(field(event, key)));
        if (found != calls_.end() && found->second.announced) {
            call = &found->second;
            break;
        }
    }
    if (call == nullptr) return;
    for (const auto& [channel, uniqueid] : {std::pair{"TransferTargetChannel", "TransferTargetUniqueid"},
                                            std::pair{"TransfereeChannel", "TransfereeUniqueid"}}) {
        // The customer's own channel (a trunk named like a phone) is never the target.
        if (field(event, uniqueid) == call->id) continue;
        const std::string target = extension(field(event, channel));
        if (!target.empty() && target != call->answered_extension) {
            // The target talked to the transferer already: the call is theirs at once.
            answer(*call, target, out);
            return;
        }
    }
}

void AmiCallMapper::on_listed_channel(const AmiMessage& event) {
    const std::string uniqueid(field(event, "Uniqueid"));
    const std::string linkedid(field(event, "Linkedid"));
    if (uniqueid.empty() || linkedid.empty()) return;
    // Asterisk lists channels in no particular order; a call's first channel says whether
    // it is inbound, so the list is applied once it is complete.
    if (listed_.size() < max_listed_channels) listed_.push_back(event);
}

void AmiCallMapper::apply_listed_channel(const AmiMessage& event) {
    const std::string uniqueid(field(event, "Uniqueid"));
    const std::string linkedid(field(event, "Linkedid"));
    auto found = calls_.find(linkedid);
    if (found == calls_.end()) {
        if (uniqueid != linkedid) return;  // its call's first channel is gone: not a call
        create(event, linkedid);
        found = calls_.find(linkedid);
    }
    Call& call = found->second;
    if (!channels_.contains(uniqueid)) {
        call.channels.insert(uniqueid);
        channels_[uniqueid] = linkedid;
    }
    // The caller's own channel is never an agent's, whatever its name (PJSIP/trunk-…).
    if (uniqueid == linkedid) {
        learn_caller(call, event);
        return;
    }
    const std::string agent = extension(field(event, "Channel"));
    if (agent.empty()) return;
    const std::string_view state = field(event, "ChannelStateDesc");
    if (state == "Up" && !field(event, "BridgeId").empty()) {
        call.listed_answered = agent;
    } else if (state == "Ringing" || state == "Ring") {
        call.listed_ringing.insert(agent);
    }
}

std::vector<SwitchEvent> AmiCallMapper::on_event(const AmiMessage& event) {
    std::vector<SwitchEvent> out;
    const std::string_view name = field(event, "Event");
    if (name == "Newchannel") {
        const std::string linkedid(field(event, "Linkedid"));
        const std::string uniqueid(field(event, "Uniqueid"));
        if (linkedid.empty() || uniqueid.empty()) return out;
        if (uniqueid == linkedid && !calls_.contains(linkedid)) {
            learn_caller(create(event, linkedid), event);
        }
        // Only Newchannel (and the channel list after a login) makes a channel live: an
        // event that trails its Hangup must not bring it back.
        auto call = calls_.find(linkedid);
        if (call != calls_.end()) add_channel(call->second, uniqueid);
        return out;
    }
    if (name == "CoreShowChannel") {
        if (resyncing_) on_listed_channel(event);
        return out;
    }
    if (name == "Hangup") {
        hangup_channel(event, out);
        return out;
    }
    if (name == "AttendedTransfer") {
        on_attended_transfer(event, out);
        return out;
    }
    Call* call = call_of(event);
    if (call == nullptr) return out;
    const bool on_first_channel = field(event, "Uniqueid") == call->id;
    if (name == "NewCallerid") {
        if (on_first_channel) learn_caller(*call, event);
    } else if (name == "QueueCallerJoin") {
        call->queue = std::string(field(event, "Queue"));
        if (call->caller.empty()) learn_caller(*call, event);
        announce(*call, out);
    } else if (name == "AgentCalled") {
        if (call->queue.empty()) call->queue = std::string(field(event, "Queue"));
        if (call->caller.empty()) learn_caller(*call, event);
        std::string agent = extension(field(event, "Interface"));
        if (agent.empty()) agent = extension(field(event, "DestChannel"));
        ring(*call, agent, out);
    } else if (name == "DialBegin") {
        if (field(event, "Channel").empty()) return out;  // an Originate: no calling side
        if (call->caller.empty()) learn_caller(*call, event);
        ring(*call, extension(field(event, "DestChannel")), out);
    } else if (name == "DialEnd") {
        if (field(event, "Channel").empty()) return out;
        const std::string agent = extension(field(event, "DestChannel"));
        if (agent.empty()) return out;
        const std::string status(field(event, "DialStatus"));
        if (status == "ANSWER") {
            answer(*call, agent, out);
        } else if (call->answered_extension.empty()) {
            call->last_dial_status = status;
        }
    } else if (name == "AgentConnect") {
        answer(*call, extension(field(event, "Interface")), out);
    } else if (name == "BridgeEnter") {
        // The caller's own channel is never an agent's, whatever its name (PJSIP/trunk-…).
        if (!on_first_channel) answer(*call, extension(field(event, "Channel")), out);
    } else if (name == "QueueCallerAbandon") {
        call->abandoned = true;
    }
    return out;
}

void AmiCallMapper::begin_resync() {
    abort_resync();
    resyncing_ = true;
}

void AmiCallMapper::abort_resync() {
    resyncing_ = false;
    listed_.clear();
    born_in_resync_.clear();
}

std::vector<SwitchEvent> AmiCallMapper::end_resync() {
    std::vector<SwitchEvent> out;
    if (!resyncing_) return out;
    resyncing_ = false;
    std::set<std::string_view> listed_channels;
    for (const auto& listed : listed_) listed_channels.insert(field(listed, "Uniqueid"));
    // First channels first: they create the calls the others belong to.
    for (const auto& listed : listed_)
        if (field(listed, "Uniqueid") == field(listed, "Linkedid")) apply_listed_channel(listed);
    for (const auto& listed : listed_)
        if (field(listed, "Uniqueid") != field(listed, "Linkedid")) apply_listed_channel(listed);
    std::vector<std::string> ids;
    ids.reserve(calls_.size());
    for (const auto& [id, call] : calls_) ids.push_back(id);
    std::sort(ids.begin(), ids.end());  // the same list gives the same events, in one order
    for (const auto& id : ids) {
        Call& call = calls_.at(id);
        for (auto channel = call.channels.begin(); channel != call.channels.end();) {
            if (listed_channels.contains(*channel) || born_in_resync_.contains(*channel)) {
                ++channel;
            } else {
                channels_.erase(*channel);
                channel = call.channels.erase(channel);
            }
        }
        if (call.channels.empty()) {
            // It ended while we could not see: how is not known.
            end(call, "unknown", out);
            continue;
        }
        for (const auto& agent : call.listed_ringing) ring(call, agent, out);
        if (!call.listed_answered.empty()) answer(call, call.listed_answered, out);
        call.listed_ringing.clear();
        call.listed_answered.clear();
    }
    listed_.clear();
    born_in_resync_.clear();
    return out;
}

std::size_t AmiCallMapper::tracked_channels() const { return channels_.size(); }

std::size_t AmiCallMapper::live_calls() const {
    return static_cast<std::size_t>(std::count_if(
        calls_.begin(), calls_.end(), [](const auto& entry) { return entry.second.announced; }));
}

}  // namespace callpop::protocol
