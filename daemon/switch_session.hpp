#pragma once
#include "daemon/line_session.hpp"

namespace callpop::daemon {

class Server;

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
