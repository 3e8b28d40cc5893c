#include "daemon/switches/ami_client.hpp"

#include <spdlog/spdlog.h>

namespace callpop::daemon {

namespace {

// Call and agent events carry everything callpop maps; this leaves out the dialplan noise
// (VarSet, Newexten: about half of a call's events) at the source.
constexpr std::string_view event_classes = "call,agent";

std::string_view value_of(const protocol::AmiMessage& message, std::string_view key) {
    const std::string* value = message.find(key);
    return value == nullptr ? std::string_view() : std::string_view(*value);
}

// AMI values end at the line: a CR or LF inside a configured secret would start a new field.
std::string single_line(std::string_view text) {
    std::string line(text);
    std::erase_if(line, [](char c) { return c == '\r' || c == '\n'; });
    return line;
}

}  // namespace

AmiClient::AmiClient(asio::io_context& io, const config::SwitchLink& link, SwitchEventSink sink)
    : SwitchClient(io, link, std::move(sink)),
      calls_({link.extension_patterns, link.inbound_contexts}) {}

void AmiClient::on_connected() {
    decoder_ = protocol::AmiDecoder();
    pending_.clear();
    list_action_id_.clear();
    banner_seen_ = false;
    logged_in_ = false;
}

void AmiClient::send_action(Action action, const std::string& fields) {
    const std::string id = "callpop-" + std::to_string(next_action_++);
    pending_[id] = action;
    if (action == Action::list_channels) list_action_id_ = id;
    send(fields + "ActionID: " + id + "\r\n\r\n");
}

void AmiClient::on_data(std::string_view bytes) {
    decoder_.feed(bytes);
    while (auto item = decoder_.next()) {
        if (const auto* banner = std::get_if<protocol::AmiBanner>(&*item)) {
            on_banner(banner->text);
        } else if (const auto* error = std::get_if<protocol::ProtocolError>(&*item)) {
            count_garbage(error->code + ": " + error->message);
        } else {
            const auto& message = std::get<protocol::AmiMessage>(*item);
            count_message();
            if (message.find("Response") != nullptr) {
                on_response(message);
            } else if (message.find("Event") != nullptr) {
                on_event(message);
            } else {
                count_garbage("a message with neither Response nor Event");
            }
        }
    }
}

void AmiClient::on_banner(const std::string& banner) {
    if (banner_seen_) return;
    banner_seen_ = true;
    if (!banner.starts_with("Asterisk Call Manager/")) {
        drop("not an Asterisk manager port: it said \"" + banner.substr(0, 80) + "\"");
        return;
    }
    spdlog::debug("{}: {}", describe(), banner);
    send_action(Action::login, "Action: Login\r\nUsername: " + single_line(link().username) +
                                   "\r\nSecret: " + single_line(link().secret) +
                                   "\r\nEvents: " + std::string(event_classes) + "\r\n");
}

void AmiClient::on_response(const protocol::AmiMessage& message) {
    // Replies to actions we did not send (another client's, in a recording) are not ours.
    auto pending = pending_.find(std::string(value_of(message, "ActionID")));
    if (pending == pending_.end()) return;
    const Action action = pending->second;
    pending_.erase(pending);
    const bool success = value_of(message, "Response") == "Success";
    const std::string reason(value_of(message, "Message"));
    switch (action) {
        case Action::login:
            if (!success) {
                refuse("Asterisk refused the login of user \"" + link().username + "\": " +
                       (reason.empty() ? "no reason given" : reason) +
                       " (check username and secret in callpop.yaml and manager.conf)");
                return;
            }
            logged_in_ = true;
            spdlog::info("{}: logged in as {}; listing live channels", describe(),
                         link().username);
            calls_.begin_resync();
            send_action(Action::list_channels, "Action: CoreShowChannels\r\n");
            return;
        case Action::list_channels:
            if (!success) {
                // Without the list, calls that ended while we were away stay open until
                // calls.max_duration_s closes them: worth a warning, not the link.
                spdlog::warn("{}: CoreShowChannels failed: {}", describe(), reason);
                list_action_id_.clear();
                calls_.abort_resync();
            }
            return;
        case Action::ping:
            return;
    }
}

void AmiClient::on_event(const protocol::AmiMessage& message) {
    if (value_of(message, "Event") == "CoreShowChannelsComplete" &&
        value_of(message, "ActionID") == list_action_id_) {
        list_action_id_.clear();
        pending_.erase(std::string(value_of(message, "ActionID")));
        const auto before = calls_.live_calls();
        auto events = calls_.end_resync();
        spdlog::info("{}: {} live call(s) after the channel list (was {})", describe(),
                     calls_.live_calls(), before);
        pass_on(events);
        return;
    }
    pass_on(calls_.on_event(message));
}

void AmiClient::pass_on(const std::vector<protocol::SwitchEvent>& events) {
    for (const auto& event : events) report(event);
}

void AmiClient::on_quiet(std::chrono::seconds quiet_for) {
    if (quiet_for >= 2 * link().ping_interval) {
        drop("no answer to Ping for " + std::to_string(quiet_for.count()) + " s");
        return;
    }
    if (logged_in_) send_action(Action::ping, "Action: Ping\r\n");
}

void AmiClient::on_disconnected() {
    // The mapper keeps its calls: the channel list after the next login settles them.
    logged_in_ = false;
    pending_.clear();
}

}  // namespace callpop::daemon
