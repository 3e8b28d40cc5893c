#include "daemon/switches/switch_session.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include <array>

#include "protocol/agent_message.hpp"
#include "protocol/switch_event.hpp"

namespace callpop::daemon {

namespace {
// A switch may be quiet all night; dead peers are found by TCP keepalive instead.
constexpr std::chrono::hours switch_quiet_allowed{24};

// Compares digests in constant time: how long a refusal takes says nothing about how much of
// the secret was right, nor its length.
bool same_secret(std::string_view said, std::string_view expected) {
    std::array<unsigned char, SHA256_DIGEST_LENGTH> said_digest{};
    std::array<unsigned char, SHA256_DIGEST_LENGTH> expected_digest{};
    SHA256(reinterpret_cast<const unsigned char*>(said.data()), said.size(), said_digest.data());
    SHA256(reinterpret_cast<const unsigned char*>(expected.data()), expected.size(),
           expected_digest.data());
    return CRYPTO_memcmp(said_digest.data(), expected_digest.data(), said_digest.size()) == 0;
}

}  // namespace

SwitchSession::SwitchSession(tcp::socket socket, NativeSwitchPort& port, SwitchEventSink sink,
                             SessionRegistry& registry, const config::Sessions& settings)
    : LineSession(socket_transport(std::move(socket)), settings.queue_max,
                  std::chrono::seconds(settings.login_timeout_s)),
      port_(port),
      sink_(std::move(sink)),
      registry_(registry),
      greeted_(port_.secret.empty()) {
    ++port_.status.connects;
    if (port_.sessions++ == 0) {
        port_.status.state = "up";
        port_.status.up_since = std::chrono::system_clock::now();
    }
}

void SwitchSession::on_line(std::string_view line) {
    if (!greeted_) {  // a stranger's lines are not the port's messages
        check_hello(line);
        return;
    }
    SwitchLinkStatus& figures = port_.status;
    ++figures.messages;
    auto parsed = protocol::parse_switch_event(line);
    if (auto* error = std::get_if<protocol::ProtocolError>(&parsed)) {
        if (error->code == "unknown_event") {
            auto parsed_control = protocol::parse_switch_control(line);
            if (auto* control = std::get_if<protocol::SwitchControl>(&parsed_control)) {
                if (control->kind == protocol::SwitchControlKind::ping) return on_ping();
                return on_hello(*control);
            }
            // A hello or ping with a bad field: say that, not "unknown event".
            const auto& control_error = std::get<protocol::ProtocolError>(parsed_control);
            if (control_error.code != "hello_expected") *error = control_error;
        }
        spdlog::warn("{}: {}: {}", describe(), error->code, error->message);
        ++figures.garbage;
        // The port has no link to go down: its last error is the last line it refused,
        // which is what whoever integrates a switch needs to see.
        figures.last_error = error->code + ": " + error->message;
        reject(error->code, error->message);
        return;
    }
    heard();
    figures.last_event_at = std::chrono::system_clock::now();
    ++figures.events;
    if (sink_(std::get<protocol::SwitchEvent>(parsed), std::string(native_switch_name)))
        ++figures.calls;
}

void SwitchSession::heard() {
    if (heard_from_) return;
    heard_from_ = true;
    set_idle_timeout(switch_quiet_allowed);
}

// A hello after the first (or on a port without a secret, which ignores any secret in it)
// names the switch anew and, like a ping, meets the first-event deadline.
void SwitchSession::on_hello(const protocol::SwitchControl& hello) {
    // A name for the log: printable, and short, whatever the switch sent.
    std::string name;
    for (const char c : std::string_view(hello.switch_name).substr(0, 64))
        name += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c;
    if (!name.empty() && name != switch_name_) {
        spdlog::info("{}: says it is switch \"{}\"", describe(), name);
        switch_name_ = std::move(name);
    }
    heard();
}

void SwitchSession::on_ping() {
    heard();
    deliver(protocol::encode_pong());
}

void SwitchSession::check_hello(std::string_view line) {
    auto parsed = protocol::parse_switch_control(line);
    const auto* control = std::get_if<protocol::SwitchControl>(&parsed);
    const auto* hello =
        control != nullptr && control->kind == protocol::SwitchControlKind::hello ? control : nullptr;
    if (hello != nullptr && same_secret(hello->secret, port_.secret)) {
        greeted_ = true;
        on_hello(*hello);
        return;
    }
    ++port_.hellos_refused;
    std::string why;
    if (hello != nullptr) {
        why = hello->secret.empty() ? "the hello has no \"secret\""
                                    : "the hello's secret is not listen.switch.secret";
    } else if (control != nullptr) {
        why = "expected {\"event\":\"hello\",\"secret\":...} first, got a \"ping\" event";
    } else {
        why = std::get<protocol::ProtocolError>(parsed).message;
    }
    spdlog::warn("{}: refused: {}", describe(), why);
    port_.status.last_error = "unauthorized: " + why;
    close_with("unauthorized", "this port takes events after a hello with its shared secret: " + why);
}

void SwitchSession::on_closed() {
    spdlog::info("{}: disconnected", describe());
    if (--port_.sessions == 0) {
        port_.status.state = "listening";
        port_.status.up_since.reset();
    }
    registry_.remove(*this);
}

}  // namespace callpop::daemon
