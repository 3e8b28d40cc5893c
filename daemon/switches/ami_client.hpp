#pragma once
// Asterisk's Manager Interface as a switch link: logs in with an event filter, pings,
// rebuilds what is live after every login, and passes call events on (docs/protocol-ami.md).
#include <map>
#include <string>

#include "daemon/switches/switch_client.hpp"
#include "protocol/ami_calls.hpp"
#include "protocol/ami_frame.hpp"

namespace callpop::daemon {

class AmiClient final : public SwitchClient {
public:
    AmiClient(asio::io_context& io, const config::SwitchLink& link, SwitchEventSink sink);

protected:
    void on_connected() override;
    void on_data(std::string_view bytes) override;
    void on_quiet(std::chrono::seconds quiet_for) override;
    void on_disconnected() override;

private:
    enum class Action { login, ping, list_channels };

    void send_action(Action action, const std::string& fields);
    void on_banner(const std::string& banner);
    void on_response(const protocol::AmiMessage& message);
    void on_event(const protocol::AmiMessage& message);
    void pass_on(const std::vector<protocol::SwitchEvent>& events);

    protocol::AmiDecoder decoder_;
    protocol::AmiCallMapper calls_;
    std::map<std::string, Action> pending_;  // by ActionID
    std::string list_action_id_;            // the CoreShowChannels in progress
    std::uint64_t next_action_ = 1;
    bool banner_seen_ = false;
    bool logged_in_ = false;
};

}  // namespace callpop::daemon
