#pragma once
#include <cstddef>
#include <string_view>

#include "config/config.hpp"
#include "daemon/net/line_session.hpp"
#include "daemon/net/session_registry.hpp"
#include "daemon/switches/switch_client.hpp"
#include "protocol/switch_event.hpp"

namespace callpop::daemon {

// The switch name of calls reported on the native port, in the call log and `callpop status`.
inline constexpr std::string_view native_switch_name = "native";

// The native switch port (listen.switch) as `callpop status` shows it: in the shape of a
// link callpop dials, plus how many switches are connected now. The server owns it; the
// sessions keep its figures.
struct NativeSwitchPort {
    SwitchLinkStatus status;
    std::size_t sessions = 0;
    std::string secret;  // listen.switch.secret: a switch says it in its hello first
    std::uint64_t hellos_refused = 0;
};

// A phone switch speaking callpop's native protocol (docs/protocol-switch.md).
class SwitchSession final : public LineSession {
public:
    // Reports events to `sink` and keeps its figures in `port`; both, and `registry`, outlive
    // every session.
    SwitchSession(tcp::socket socket, NativeSwitchPort& port, SwitchEventSink sink,
                  SessionRegistry& registry, const config::Sessions& settings);

protected:
    void on_line(std::string_view line) override;
    void on_closed() override;
    std::string describe() const override {
        return switch_name_.empty() ? "switch " + peer() : "switch " + switch_name_ + " (" + peer() + ")";
    }

private:
    void check_hello(std::string_view line);
    void on_hello(const protocol::SwitchControl& hello);
    void on_ping();
    void heard();
    NativeSwitchPort& port_;
    SwitchEventSink sink_;
    SessionRegistry& registry_;
    bool heard_from_ = false;
    std::string switch_name_;  // from its hello
    bool greeted_;  // said the port's secret, or the port asks for none
};

}  // namespace callpop::daemon
