#include "daemon/agents/call_log_feed.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "daemon/agents/agent_session.hpp"

namespace callpop::daemon {

namespace {

// A catch-up message: at most this many records and about this many bytes (a record is at
// most a line, 64 KiB), so that a follower far behind holds little of the daemon's memory
// and no chunk comes near a session's byte bound.
constexpr std::size_t chunk_records = 512;
constexpr std::size_t chunk_bytes = std::size_t{1024} * 1024;
// A live follower with this much unwritten falls behind, well before the byte bound that
// would drop it.
constexpr std::size_t live_bytes_max = std::size_t{4} * 1024 * 1024;
// Chunks a filtered follower reads from memory at once while none of them matches: it must
// not wait for a write to drain to go on, yet not hold the loop for the whole memory.
constexpr int silent_chunks_at_once = 64;

}  // namespace

CallLogFeed::CallLogFeed(std::size_t memory, std::size_t live_queue_max, ReadAfter read_after)
    : memory_(memory), live_queue_max_(std::max<std::size_t>(1, live_queue_max)),
      read_after_(std::move(read_after)) {}

void CallLogFeed::load(Records recent, std::int64_t last_id) {
    for (auto& record : recent) recent_.push_back(std::move(record));
    while (recent_.size() > memory_) recent_.pop_front();
    newest_id_ = last_id;
}

void CallLogFeed::publish(const protocol::CallLogRecord& record) {
    recent_.push_back(record);
    while (recent_.size() > memory_) recent_.pop_front();
    newest_id_ = std::max(newest_id_, record.id);
    if (followers_.empty()) return;
    SharedMessage message;
    for (auto& [key, follower] : followers_) {
        if (!follower.live) {
            catch_up(follower);
            continue;
        }
        if (record.id <= follower.cursor) continue;  // resumed after a record still to come
        if (follower.session->queued_messages() >= live_queue_max_ ||
            follower.session->queued_bytes() >= live_bytes_max) {
            follower.live = false;  // from now on it catches up from where it stands
            ++fell_behind_;
            spdlog::info("supervisor {}: the tail fell behind at record {}; catching up",
                         follower.session->agent(), follower.cursor);
            continue;
        }
        follower.cursor = record.id;
        if (!follower.session->tail_filter().matches(record)) continue;
        if (!message) message = std::make_shared<const std::string>(protocol::encode_log(record));
        follower.session->deliver(message);
    }
}

void CallLogFeed::tail(const std::shared_ptr<AgentSession>& session,
                       const protocol::Tail& request) {
    session->set_tail_filter(request.filter);
    std::string lines;
    std::size_t sent = 0;
    if (!request.after) {
        std::vector<const protocol::CallLogRecord*> backlog;
        for (auto it = recent_.rbegin(); it != recent_.rend() && backlog.size() < request.backlog;
             ++it) {
            if (request.filter.matches(*it)) backlog.push_back(&*it);
        }
        // One message for the whole backlog: a long backlog must not count against the
        // queue limit that protects the daemon from slow consumers.
        std::for_each(backlog.rbegin(), backlog.rend(),
                      [&](const auto* record) { lines += protocol::encode_log(*record); });
        sent = backlog.size();
    }
    lines += protocol::encode_backlog_end(sent, newest_id_);
    session->deliver(std::move(lines));
    if (!request.follow || !session->open()) {
        followers_.erase(session.get());
        return;
    }
    // A new tail on the same session starts afresh: a store read still out for the old one
    // is recognised by its generation and dropped.
    Follower& follower = followers_[session.get()];
    follower.session = session;
    follower.generation = ++generations_;
    follower.reading = false;
    follower.cursor = request.after.value_or(newest_id_);
    follower.live = follower.cursor >= newest_id_;
    catch_up(follower);
}

void CallLogFeed::forget(const AgentSession* session) { followers_.erase(session); }

void CallLogFeed::drained(const AgentSession* session) {
    auto found = followers_.find(session);
    if (found != followers_.end()) catch_up(found->second);
}

void CallLogFeed::catch_up_all() {
    for (auto& [key, follower] : followers_) catch_up(follower);
}

void CallLogFeed::catch_up(Follower& follower) {
    for (int chunk = 0; chunk < silent_chunks_at_once; ++chunk) {
        if (!next_chunk(follower)) return;
    }
}

bool CallLogFeed::next_chunk(Follower& follower) {
    if (follower.live || follower.reading || !follower.session->open()) return false;
    // One chunk at a time, each once the previous one is written.
    if (follower.session->queued_messages() > 0) return false;
    if (follower.cursor >= newest_id_) {
        follower.live = true;
        return false;
    }
    const auto first_after = std::upper_bound(
        recent_.begin(), recent_.end(), follower.cursor,
        [](std::int64_t id, const protocol::CallLogRecord& record) { return id < record.id; });
    // Memory has the next record unless all it holds is newer than the one after cursor.
    const bool memory_has_next =
        first_after != recent_.end() &&
        (first_after != recent_.begin() || first_after->id == follower.cursor + 1);
    if (memory_has_next) {
        const auto end = first_after + static_cast<std::ptrdiff_t>(std::min<std::size_t>(
                                           chunk_records, recent_.end() - first_after));
        // Nothing sent (no record matched): nothing will drain to bring the next chunk.
        return !send_chunk(follower, Records(first_after, end));
    }
    // Older than memory holds: the store has every record (callpop never deletes any).
    follower.reading = true;
    read_after_(follower.cursor, chunk_records,
                [this, key = follower.session.get(),
                 generation = follower.generation](const Records& records) {
                    auto found = followers_.find(key);
                    if (found == followers_.end() || found->second.generation != generation)
                        return;
                    Follower& reader = found->second;
                    reader.reading = false;
                    if (!records.empty() && !send_chunk(reader, records)) catch_up(reader);
                });
    return false;
}

bool CallLogFeed::send_chunk(Follower& follower, const Records& records) {
    std::string lines;
    for (const auto& record : records) {
        if (record.id <= follower.cursor) continue;
        if (lines.size() >= chunk_bytes) break;  // the rest comes with the next chunk
        if (follower.session->tail_filter().matches(record)) lines += protocol::encode_log(record);
        follower.cursor = record.id;
    }
    if (follower.cursor >= newest_id_) follower.live = true;
    if (lines.empty()) return false;
    follower.session->deliver(std::move(lines));
    return true;
}

}  // namespace callpop::daemon
