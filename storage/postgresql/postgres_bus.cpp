#include "storage/postgresql/postgres_bus.hpp"

#include <string_view>

#include "storage/postgresql/connection.hpp"

namespace callpop::storage {

namespace {

class PostgresBus final : public StoreBus {
public:
    PostgresBus(const std::string& conninfo, const std::string& daemon_name)
        : db_(conninfo, postgresql::Connection::Access::read_write,
              "callpop " + daemon_name + " bus") {
        // Its commits need not wait for the disk: it writes nothing but notifications, which
        // a server that crashes forgets anyway. A notifying transaction holds a lock that
        // every other one on the server waits for (every daemon's publishes and writers'
        // commits) until it has committed: a wait for the disk there would hold up the
        // whole bus.
        db_.exec("SET synchronous_commit = off");
        // Prepared now: publish() sends it without waiting.
        db_.prepare(publish_sql);
    }

    void listen(std::string_view channel) override { db_.exec("LISTEN " + quoted(channel)); }

    void publish(std::string_view channel, const std::vector<std::string>& payloads) override {
        if (payloads.empty()) return;
        // Messages go several to a notification, a line each: what a notification costs the
        // server (queued, signalled to every listener, read by each) does not grow with its
        // length, and a busy daemon publishes thousands a second.
        std::vector<std::string> notifications;
        for (const auto& payload : payloads) {
            if (payload.size() > max_payload_bytes)
                throw StorageError("a message of " + std::to_string(payload.size()) +
                                   " bytes for the other daemons is longer than " +
                                   std::to_string(max_payload_bytes));
            if (payload.find('\n') != std::string::npos)
                throw StorageError("a message for the other daemons holds a line break");
            if (notifications.empty() ||
                notifications.back().size() + 1 + payload.size() > max_payload_bytes) {
                notifications.push_back(payload);
                continue;
            }
            notifications.back() += '\n';
            notifications.back() += payload;
        }
        db_.send(publish_sql, {channel, postgresql::text_array(notifications)});
        publishing_ = true;
    }

    bool publishing() const override { return publishing_; }

    bool flush() override { return db_.flush(); }

    int socket() const override { return db_.socket(); }

    std::vector<BusMessage> receive() override {
        auto notifications = db_.notifications();
        if (publishing_) {
            publishing_ = !db_.answered();
            // Reading the answer reads the notifications that came with it, which the socket
            // will not tell of again.
            for (auto& notification : db_.parsed_notifications())
                notifications.push_back(std::move(notification));
        }
        std::vector<BusMessage> messages;
        const int own_pid = db_.backend_pid();
        for (auto& notification : notifications) {
            if (notification.sender_pid == own_pid) continue;
            std::string_view lines = notification.payload;
            for (std::size_t end; (end = lines.find('\n')) != std::string_view::npos;
                 lines.remove_prefix(end + 1))
                messages.push_back({notification.channel, std::string(lines.substr(0, end))});
            messages.push_back({std::move(notification.channel), std::string(lines)});
        }
        return messages;
    }

private:
    // pg_notify() row by row: in order, in one round trip.
    static constexpr const char* publish_sql =
        "SELECT pg_notify($1, payload) FROM unnest($2::text[]) WITH ORDINALITY AS "
        "sent(payload, position) ORDER BY position";

    static std::string quoted(std::string_view channel) {
        std::string identifier = "\"";
        for (const char c : channel) identifier += c == '"' ? std::string("\"\"") : std::string(1, c);
        return identifier + "\"";
    }

    postgresql::Connection db_;
    bool publishing_ = false;
};

}  // namespace

std::unique_ptr<StoreBus> open_postgres_bus(const std::string& conninfo,
                                            const std::string& daemon_name) {
    return std::make_unique<PostgresBus>(conninfo, daemon_name);
}

}  // namespace callpop::storage
