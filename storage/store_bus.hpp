#pragma once
// What the daemons sharing a store say to each other, through the store itself (PostgreSQL's
// LISTEN/NOTIFY): a message published on a channel reaches every other daemon listening on
// it, in the order it was published, and never the one that sent it. Nothing is kept for a
// daemon that was not listening.
#include <string>
#include <string_view>
#include <vector>

namespace callpop::storage {

struct BusMessage {
    std::string channel;
    std::string payload;
};

class StoreBus {
public:
    virtual ~StoreBus() = default;
    // Listened to from now on; waits for the server, so at set-up only. Past it nothing waits:
    // an event loop drives the bus on socket().
    virtual void listen(std::string_view channel) = 0;
    // Sends each payload on the channel, in order. A payload holds at most
    // max_payload_bytes and no line break (several go in one notification, a line each).
    // One publish at a time: publishing() until receive() has read the server's answer.
    virtual void publish(std::string_view channel, const std::vector<std::string>& payloads) = 0;
    virtual bool publishing() const = 0;
    // Sends what the socket did not take of a publish; false: wait for socket() to turn
    // writable, and flush again.
    virtual bool flush() = 0;
    // Readable when messages or a publish's answer may have come.
    virtual int socket() const = 0;
    // The messages that came from other daemons, without waiting. A lost connection, or a
    // publish the server refused, is a transient StorageError, and the bus is done with:
    // open another.
    virtual std::vector<BusMessage> receive() = 0;

    static constexpr std::size_t max_payload_bytes = 7900;
};

// Where the store itself says that call-log records were committed (by any daemon): a
// listener reads them with CallLog::log_after().
inline constexpr std::string_view log_channel = "callpop_log";

}  // namespace callpop::storage
