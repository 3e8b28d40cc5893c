#pragma once
// Turns Asterisk 12+ AMI events into callpop's switch events (docs/protocol-ami.md, "From
// events to calls"): one call per Linkedid, the caller and DID from the call's first channel,
// agents' extensions from channel and queue-interface names. Pure state, no I/O.
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocol/ami_frame.hpp"
#include "protocol/switch_event.hpp"

namespace callpop::protocol {

struct AmiCallRules {
    // "PJSIP/{ext}", "Local/{ext}@from-queue": how a channel names an agent's extension.
    std::vector<std::string> extension_patterns;
    // A call is one whose first channel starts in one of these contexts; empty: every call.
    std::vector<std::string> inbound_contexts;
};

// The extension a channel or queue interface belongs to by the first pattern that matches
// ("PJSIP/1001-0000002a" with "PJSIP/{ext}" gives "1001"), or "" when none does.
std::string extension_of(std::string_view channel, const std::vector<std::string>& patterns);

class AmiCallMapper {
public:
    explicit AmiCallMapper(AmiCallRules rules);

    // One AMI event; returns the switch events it completes, in order (often none).
    std::vector<SwitchEvent> on_event(const AmiMessage& event);

    // After a (re)connect Asterisk lists what is live (CoreShowChannels); CoreShowChannel
    // events go to on_event() in between. end_resync() closes, with cause "unknown", the calls
    // whose channels all vanished while the link was down, and pops those that began then.
    void begin_resync();
    std::vector<SwitchEvent> end_resync();
    // The list never came (CoreShowChannels refused): calls stay as they are.
    void abort_resync();

    std::size_t live_calls() const;               // announced and not ended
    std::size_t tracked_channels() const;         // live channels of every call, for tests

private:
    struct Call {
        std::string id;  // the Linkedid
        bool inbound = false;
        std::string caller, caller_name, dialed, queue;
        std::set<std::string> channels;  // Uniqueids of its live channels
        bool announced = false;          // a ring went out: the call tracker knows it
        std::set<std::string> rung;
        std::string answered_extension;  // who has the call now
        std::string transfer_target;     // moved here, not answered there yet
        bool abandoned = false;          // QueueCallerAbandon
        std::string last_dial_status;    // of the last agent leg that ended unanswered
        // What the resync list showed on agents' channels, applied at its end.
        std::set<std::string> listed_ringing;
        std::string listed_answered;
    };

    Call* call_of(const AmiMessage& event);
    Call& create(const AmiMessage& event, const std::string& linkedid);
    SwitchEvent event_for(const Call& call, SwitchEventKind kind) const;
    void learn_caller(Call& call, const AmiMessage& event);
    void announce(Call& call, std::vector<SwitchEvent>& out);
    void ring(Call& call, const std::string& extension, std::vector<SwitchEvent>& out);
    void answer(Call& call, const std::string& extension, std::vector<SwitchEvent>& out);
    void hangup_channel(const AmiMessage& event, std::vector<SwitchEvent>& out);
    void end(Call& call, const std::string& cause, std::vector<SwitchEvent>& out);
    void on_attended_transfer(const AmiMessage& event, std::vector<SwitchEvent>& out);
    void on_listed_channel(const AmiMessage& event);
    void apply_listed_channel(const AmiMessage& event);
    void add_channel(Call& call, const std::string& uniqueid);
    std::string extension(std::string_view channel) const;

    AmiCallRules rules_;
    std::unordered_map<std::string, Call> calls_;             // by Linkedid
    std::unordered_map<std::string, std::string> channels_;  // Uniqueid → Linkedid
    bool resyncing_ = false;
    static constexpr std::size_t max_listed_channels = 100000;
    std::vector<AmiMessage> listed_;          // the CoreShowChannel events themselves
    std::set<std::string> born_in_resync_;    // channels that began while the list came
};

}  // namespace callpop::protocol
