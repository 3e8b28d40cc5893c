#pragma once
// The one thread that writes to the store: the call log, notes and follow-ups. Requests
// queue up, each batch is one transaction, committed call-log records are appended to the
// JSONL file and handed to the loop, and completions are posted back to the event loop.
// The loop never waits for a disk write.
#include <concepts>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <fstream>
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
    JobContext(storage::Store& store, std::int64_t& next_log_id,
               std::vector<domain::CallLogRecord>& logged)
        : store(store), next_log_id_(next_log_id), logged_(logged) {}
    storage::Store& store;
    // Appends to the call log in this transaction (the record gets its id here); false when
    // the store refuses it, e.g. an outcome of a call it never saw.
    bool log(domain::CallLogRecord record);

private:
    std::int64_t& next_log_id_;
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

class LogWriter {
public:
    // Opens its own store connection; completions and `committed` run on `loop`.
    LogWriter(const config::Config& config, asio::any_io_executor loop,
              CommittedRecord committed = {});
    ~LogWriter();  // drains what is queued, then joins
    LogWriter(const LogWriter&) = delete;
    LogWriter& operator=(const LogWriter&) = delete;

    void write(domain::CallLogRecord record, WriteCompletion done = {});
    void write(NoteWrite note, WriteCompletion done = {});
    // A job nobody waits for; what it returns is dropped.
    void write(Job job);
    // `done` gets what the job returned in the attempt that committed.
    template <std::invocable<JobContext&> Work>
    void write(Work work, std::function<void(const JobOutcome<JobResult<Work>>&)> done);
    // Stops accepting, writes everything queued, joins the thread.
    void stop();
    // Requests waiting for the writer thread, not counting the batch it is writing.
    std::size_t queued() const;

private:
    using Request = std::variant<domain::CallLogRecord, NoteWrite, Job>;
    struct Pending {
        Request request;
        WriteCompletion done;
    };

    void enqueue(Pending pending);
    void run();
    void write_batch(std::deque<Pending>& batch);
    enum class Attempt { committed, retry_later, refused };
    Attempt try_write(std::deque<Pending>& batch, std::size_t first, std::size_t count,
                      std::vector<WriteResult>& results,
                      std::vector<domain::CallLogRecord>& logged);

    std::unique_ptr<storage::Store> store_;
    std::ofstream jsonl_;
    std::size_t batch_max_;
    std::chrono::milliseconds flush_delay_;
    asio::any_io_executor loop_;
    CommittedRecord committed_;
    std::int64_t next_log_id_ = 1;  // the writer thread's alone

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Pending> queue_;
    bool stopping_ = false;
    std::thread thread_;
};

template <std::invocable<JobContext&> Work>
void LogWriter::write(Work work, std::function<void(const JobOutcome<JobResult<Work>>&)> done) {
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
    enqueue({std::move(job), std::move(complete)});
}

}  // namespace callpop::daemon
