#pragma once
#include <cstddef>
#include <string_view>

#include "daemon/line_session.hpp"
#include "daemon/switch_client.hpp"

namespace callpop::daemon {

class Server;

// The switch name of calls reported on the native port, in the call log and `callpop status`.
inline constexpr std::string_view native_switch_name = "native";

// The native switch port (listen.switch) as `callpop status` shows it: in the shape of a
// link callpop dials, plus how many switches are connected now. The server owns it; the
// sessions keep its figures.
struct NativeSwitchPort {
    SwitchLinkStatus status;
    std::size_t sessions = 0;
};

// A phone switch speaking callpop's native protocol (docs/protocol-switch.md).
class SwitchSession final : public LineSession {
public:
    SwitchSession(tcp::socket socket, Server& server);

protected:
    void on_line(std::string_view line) override;
    void on_closed() override;
    std::string describe() const override { return "switch " + peer(); }

private:
    Server& server_;
    bool heard_from_ = false;
};

}  // namespace callpop::daemon
