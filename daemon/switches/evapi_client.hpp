#pragma once
// Kamailio's evapi as a switch link: reads netstrings of JSON call events, passes them on as
// switch events, and closes as "unknown" the calls that were open when the link dropped
// (evapi does not replay what it sent while nobody listened). docs/protocol-evapi.md.
#include "daemon/switches/switch_client.hpp"
#include "protocol/evapi_event.hpp"
#include "protocol/netstring.hpp"

namespace callpop::daemon {

class EvapiClient final : public SwitchClient {
  public:
    EvapiClient(asio::io_context& io, config::SwitchLink link, SwitchEventSink sink);

  protected:
    void on_connected() override;
    void on_data(std::string_view bytes) override;
    void on_quiet(std::chrono::seconds quiet_for) override;
    void on_disconnected() override;

  private:
    void on_payload(const std::string& payload);

    protocol::NetstringDecoder decoder_;
    protocol::EvapiCallMapper calls_;
};

}  // namespace callpop::daemon
