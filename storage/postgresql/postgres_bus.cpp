#include "storage/postgresql/postgres_bus.hpp"

#include <set>

#include "storage/postgresql/connection.hpp"

namespace callpop::storage {

namespace {

class PostgresBus final : public StoreBus {
public:
    explicit PostgresBus(const std::string& conninfo) : db_(conninfo) {}

    void listen(std::string_view channel) override {
        channels_.emplace(channel);
        listen_again_if_reconnected();
        db_.exec("LISTEN " + quoted(channel));
    }

    void publish(std::string_view channel, const std::vector<std::string>& payloads) override {
        if (payloads.empty()) return;
        for (const auto& payload : payloads) {
            if (payload.size() > max_payload_bytes)
                throw StorageError("a message of " + std::to_string(payload.size()) +
                                   " bytes for the other daemons is longer than " +
                                   std::to_string(max_payload_bytes));
        }
        // pg_notify() row by row: in order, in one round trip.
        db_.query("SELECT pg_notify($1, payload) FROM unnest($2::text[]) WITH ORDINALITY AS "
                  "sent(payload, position) ORDER BY position",
                  {channel, postgresql::text_array(payloads)});
        listen_again_if_reconnected();
    }

    int socket() const override { return db_.socket(); }

    std::vector<BusMessage> receive() override {
        auto notifications = db_.notifications();
        listen_again_if_reconnected();
        std::vector<BusMessage> messages;
        const int own_pid = db_.backend_pid();
        for (auto& notification : notifications) {
            if (notification.sender_pid == own_pid) continue;
            messages.push_back({std::move(notification.channel), std::move(notification.payload)});
        }
        return messages;
    }

private:
    static std::string quoted(std::string_view channel) {
        std::string identifier = "\"";
        for (const char c : channel) identifier += c == '"' ? std::string("\"\"") : std::string(1, c);
        return identifier + "\"";
    }

    // A new session listens to nothing: every channel again.
    void listen_again_if_reconnected() {
        if (db_.sessions() == listening_session_) return;
        listening_session_ = db_.sessions();
        for (const auto& channel : channels_) db_.exec("LISTEN " + quoted(channel));
    }

    postgresql::Connection db_;
    std::set<std::string, std::less<>> channels_;
    std::uint64_t listening_session_ = 1;
};

}  // namespace

std::unique_ptr<StoreBus> open_postgres_bus(const std::string& conninfo) {
    return std::make_unique<PostgresBus>(conninfo);
}

}  // namespace callpop::storage
