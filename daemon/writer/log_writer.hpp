#pragma once
// The one thread that writes to the store: the call log, notes and follow-ups. Requests
// queue up, each batch is one transaction, committed call-log records are appended to the
// JSONL file and handed to the loop, and completions are posted back to the event loop.
// The loop never waits for the store. The queue is bounded (call_log.queue_max): past it
// the switches' records spill to the spool and writes someone waits for are refused.
#include <concepts>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "config/config.hpp"
#include "daemon/net/asio.hpp"
#include "daemon/writer/spool.hpp"
#include "storage/store.hpp"

namespace callpop::daemon {

struct WriteResult {
    bool accepted = true;                // false: the store refused it (e.g. unknown call)
    std::optional<std::int64_t> new_id;  // a note's id
    std::string error;                   // not empty: the write failed and was not committed
};
using WriteCompletion = std::function<void(const WriteResult&)>;

struct NoteWrite {
    std::int64_t customer_id = 0;
    storage::Note note;
};

// What a job sees: the store, inside the batch's transaction, and the call log.
class JobContext {
public:
    JobContext(storage::Store& store, std::vector<domain::CallLogRecord>& logged)
        : store(store), logged_(logged) {}
    storage::Store& store;
    // Appends to the call log in this transaction (the store gives the record its id: on a
    // shared store, other daemons number theirs from the same sequence); false when the
    // store refuses it, e.g. an outcome of a call it never saw, or a switch event another
    // daemon connected to the same switch logged first (then what follows from it is that
    // daemon's to do).
    bool log(domain::CallLogRecord record);
    // log() for each, in order, sent to the store together: whether each was logged.
    std::vector<bool> log_all(std::vector<domain::CallLogRecord> records);
    // The record logged last, with its id.
    const domain::CallLogRecord& last_logged() const { return logged_.back(); }

private:
    std::vector<domain::CallLogRecord>& logged_;
};
// Work that must read and write as one unit. It may run more than once (a batch is retried
// after a busy database), so it touches nothing but the context and returns its result.
using Job = std::function<void(JobContext&)>;
template <typename Work>
using JobResult = std::invoke_result_t<Work&, JobContext&>;

template <typename Result>
struct JobOutcome {
    std::string error;  // not empty: the job's writes were not committed
    Result value{};     // what the job returned, when committed
};
// Runs on the loop for every call-log record once it is committed, in commit order.
using CommittedRecord = std::function<void(const domain::CallLogRecord&)>;

// What a call's record asks of the store besides itself: the callback a missed call is
// owed, or cancelling it when the call is answered late.
enum class FollowOn { none, missed_call, late_answer };
// A record no one waits for (a switch's, mostly): it may go through the spool, so it is
// data, not code. `now` is when it happened, in seconds, for the follow-up it schedules.
struct LoggedEvent {
    domain::CallLogRecord record;
    FollowOn follow_on = FollowOn::none;
    std::int64_t now = 0;
};
// Runs on the writer thread, in the transaction that logged `record` (with its id).
using FollowOnHandler =
    std::function<void(JobContext&, const domain::CallLogRecord&, FollowOn, std::int64_t now)>;

struct WriterBacklog {
    std::size_t queued = 0;           // waiting in memory
    std::size_t spooled = 0;          // waiting in the spool (or past the bound in memory)
    std::uint64_t spilled_total = 0;  // records that went the spool's way since start
};

// Whether the store takes the writer's writes. Down from the first attempt it refused for a
// reason that passes (the server gone or restarting, the database locked, a full disk), while
// the writer retries, until an attempt commits; what comes meanwhile waits in the queue and
// the spool (backlog()).
struct StoreState {
    bool up = true;
    std::uint64_t outages = 0;  // times it went down since the writer started
    std::string last_error;     // why it last went down; kept once it is up again
};

class LogWriter {
public:
    // Opens its own store connection and replays what an earlier run left in the spool;
    // completions and `committed` run on `loop`.
    LogWriter(const config::Config& config, asio::any_io_executor loop,
              CommittedRecord committed = {}, FollowOnHandler follow_on = {});
    ~LogWriter();  // drains what is queued, then joins
    LogWriter(const LogWriter&) = delete;
    LogWriter& operator=(const LogWriter&) = delete;

    void write(LoggedEvent event);
    void write(NoteWrite note, WriteCompletion done = {});
    // A job nobody waits for; what it returns is dropped.
    void write(Job job);
    // `done` gets what the job returned in the attempt that committed.
    template <std::invocable<JobContext&> Work>
    void write(Work work, std::function<void(const JobOutcome<JobResult<Work>>&)> done) {
        enqueue(with_outcome(std::move(work), std::move(done), false));
    }
    // A job that only reads what is committed: never refused for a backlog.
    template <std::invocable<JobContext&> Work>
    void read(Work work, std::function<void(const JobOutcome<JobResult<Work>>&)> done) {
        enqueue(with_outcome(std::move(work), std::move(done), true));
    }
    // Stops accepting, writes everything queued and spooled, joins the thread. A store that
    // still takes no writes a few seconds on does not hold the stop: the records left go to
    // a spool file that the next start replays; requests someone waited for are dropped.
    void stop();
    // Requests waiting for the writer thread, not counting the batch it is writing.
    WriterBacklog backlog() const;
    StoreState store_state() const;
    // On a store other daemons write too: `committed` gets every daemon's records, in the
    // store's order, read back from the store after each commit of this writer's and
    // whenever follow_shared_log() says others committed; from after `after_id` on.
    void share_log(std::int64_t after_id);
    void follow_shared_log();
    // The JSONL file is opened again by its name before the next lines go to it: after
    // logrotate moved it away, they go to a new file. A file that cannot be opened is
    // logged, and the lines keep going to the old one.
    void reopen_jsonl();

private:
    using Request = std::variant<LoggedEvent, NoteWrite, Job>;
    struct Pending {
        Request request;
        WriteCompletion done;
        bool reads_only = false;
    };
    template <typename Work>
    static Pending with_outcome(Work work,
                                std::function<void(const JobOutcome<JobResult<Work>>&)> done,
                                bool reads_only);

    void enqueue(Pending pending);
    // Past the bound: true when `pending` went to the spool's side, or was refused.
    bool spill(Pending& pending, std::unique_lock<std::mutex>& lock);
    void run();
    // One batch from the spool's side: the file, then what it could not take. False when a
    // stop gave up on the store and left the rest to the next start.
    bool replay_spilled(std::unique_lock<std::mutex>& lock);
    // Replays a whole file, from `offset`, before the thread starts.
    void replay_file(const Spool::File& file);
    // Entries of a spool chunk, then the job that commits the position after them.
    std::deque<Pending> spooled_batch(const std::string& lines, std::int64_t file,
                                      std::int64_t next_offset);
    // What a stop that gave up on the store left unwritten and unanswered, in order; empty
    // when all of `batch` was written or refused.
    std::deque<Pending> write_batch(std::deque<Pending>& batch);
    // The stop gave up: in the order they would have been written, `first`, the queue, the
    // rest of the spool file from spool_read_, and what waits in memory behind the file go to
    // a new spool file for the next start. Requests someone waited for are dropped unanswered:
    // the sessions were already told goodbye.
    void leave_for_next_start(std::deque<Pending> first, std::unique_lock<std::mutex>& lock);
    bool giving_up() const;
    enum class Attempt { committed, retry_later, refused, gave_up };
    Attempt try_write(std::deque<Pending>& batch, std::size_t first, std::size_t count,
                      std::vector<WriteResult>& results,
                      std::vector<domain::CallLogRecord>& logged);
    // Logs the run of events in batch[first, end) that starts at `first` (up to the first
    // that is not an event, or that has a follow-on) and runs their follow-ons; returns
    // where the run ended.
    std::size_t log_events(std::deque<Pending>& batch, std::size_t first, std::size_t end,
                           std::vector<WriteResult>& results, JobContext& context);
    // What each attempt says of the store: it answered (committed, or refused the data), or
    // it did not take the write for a reason that passes.
    void store_answered();
    void store_failed(const std::string& why);
    mutable std::mutex store_state_mutex_;  // the writer thread sets it, the loop reads it
    StoreState store_state_;

    std::unique_ptr<storage::Store> store_;
    // The JSONL copy, appended after each commit. What a full disk refused waits here and
    // goes first next time: the file gets every line once, whole, in order.
    int jsonl_fd_ = -1;
    std::filesystem::path jsonl_path_;
    std::atomic<bool> jsonl_reopen_asked_{false};
    std::string jsonl_pending_;
    bool jsonl_failing_ = false;
    void append_jsonl(const std::vector<domain::CallLogRecord>& logged);
    // At start: the records the store committed after the file's last line, appended.
    void catch_up_jsonl(const std::filesystem::path& path);
    std::size_t batch_max_;
    std::chrono::milliseconds flush_delay_;
    std::size_t queue_max_;
    asio::any_io_executor loop_;
    CommittedRecord committed_;
    FollowOnHandler follow_on_;
    std::int64_t spool_read_ = 0;   // replay's offset in the open spool file; the thread's alone
    // share_log(): the last record handed to `committed`; the thread's alone.
    std::optional<std::int64_t> shared_log_cursor_;
    bool shared_log_moved_ = false;  // another daemon committed records since the last read
    // Every record committed after shared_log_cursor_, by any daemon; moves the cursor.
    std::vector<domain::CallLogRecord> read_shared_log();

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Pending> queue_;
    // Spilling: every LoggedEvent goes the spool's way until all of it is written, so the
    // log keeps the switches' order. In order: the spool file, then `unspooled_`, what the
    // file could not take (a full disk), kept in memory rather than lost.
    bool spilling_ = false;
    Spool spool_;
    std::deque<Pending> unspooled_;
    std::size_t spooled_waiting_ = 0;
    std::uint64_t spilled_total_ = 0;
    bool stopping_ = false;
    // When a stop stops waiting for the store (steady clock, nanoseconds); set by stop().
    std::atomic<std::int64_t> give_up_at_{std::numeric_limits<std::int64_t>::max()};
    std::thread thread_;
};

template <typename Work>
LogWriter::Pending LogWriter::with_outcome(
    Work work, std::function<void(const JobOutcome<JobResult<Work>>&)> done, bool reads_only) {
    using Result = JobResult<Work>;
    // Each attempt overwrites the slot; the completion, posted after the last one, reads it.
    auto slot = std::make_shared<std::optional<Result>>();
    Job job = [work = std::move(work), slot](JobContext& context) { slot->emplace(work(context)); };
    WriteCompletion complete = [done = std::move(done), slot](const WriteResult& result) {
        if (result.error.empty()) {
            done(JobOutcome<Result>{{}, std::move(**slot)});
        } else {
            done(JobOutcome<Result>{result.error});
        }
    };
    return {std::move(job), std::move(complete), reads_only};
}

}  // namespace callpop::daemon
