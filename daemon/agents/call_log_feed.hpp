#pragma once
// The live call log for supervisors (`tail`): the newest records in memory, and where each
// follower stands in the log (the id of the last record it was sent). A follower gets new
// records as they are committed while it keeps up; one that falls behind gets no more live
// lines but catches up in chunks, from memory or, past what memory holds, from the store,
// each time its queue has emptied. A burst slows a supervisor down; it never drops one.
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "protocol/agent_message.hpp"
#include "protocol/records.hpp"

namespace callpop::daemon {

class AgentSession;

class CallLogFeed {
public:
    using Records = std::vector<protocol::CallLogRecord>;
    // Reads up to `count` records after `after_id` off the loop; `done` runs on the loop.
    using ReadAfter =
        std::function<void(std::int64_t after_id, std::size_t count, std::function<void(Records)> done)>;

    CallLogFeed(std::size_t memory, std::size_t live_queue_max, ReadAfter read_after);

    // At start: the newest records of the store, oldest first, and the store's last id.
    void load(Records recent, std::int64_t last_id);
    void publish(const protocol::CallLogRecord& record);
    // Sends the backlog (or, with `after`, every matching record after that id), then
    // follows if asked.
    void tail(const std::shared_ptr<AgentSession>& session, const protocol::Tail& request);
    void forget(const AgentSession* session);
    // The session wrote all it had queued: a follower behind gets its next chunk.
    void drained(const AgentSession* session);
    // Followers behind whose queue has emptied get their next chunk (the sweep calls it:
    // a chunk read from the store may come back after the queue drained).
    void catch_up_all();
    std::size_t followers() const { return followers_.size(); }
    // Times a follower stopped getting live lines and caught up from its cursor.
    std::uint64_t fell_behind() const { return fell_behind_; }

private:
    struct Follower {
        std::shared_ptr<AgentSession> session;
        std::int64_t cursor = 0;  // the last record it was sent, or skipped by its filter
        bool live = false;        // caught up: gets each new record as it comes
        bool reading = false;     // a chunk is being read from the store
        std::uint64_t generation = 0;  // which tail request it follows, for late reads
    };
    void catch_up(Follower& follower);
    // Sends (or starts reading) the next chunk; true when it sent nothing and the next one
    // can follow at once.
    bool next_chunk(Follower& follower);
    // True when something was queued to the session.
    bool send_chunk(Follower& follower, const Records& records);

    std::size_t memory_;
    std::size_t live_queue_max_;
    ReadAfter read_after_;
    std::deque<protocol::CallLogRecord> recent_;  // ids ascending
    std::int64_t newest_id_ = 0;
    std::uint64_t fell_behind_ = 0;
    std::uint64_t generations_ = 0;
    std::map<const AgentSession*, Follower> followers_;
};

}  // namespace callpop::daemon
