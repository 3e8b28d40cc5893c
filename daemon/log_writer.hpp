#pragma once
// The one thread that writes the call log: requests queue up, each batch is one
// transaction, committed records are appended to the JSONL file, and completions are
// posted back to the event loop. The loop never waits for a disk write.
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
#include <variant>
#include <vector>

#include "config/config.hpp"
#include "daemon/asio.hpp"
#include "storage/store.hpp"

namespace callpop::daemon {

struct WriteResult {
    bool accepted = true;                 // false: the store refused it (e.g. unknown call)
    std::optional<std::int64_t> new_id;   // a note's id
    std::string error;                    // not empty: the write failed and was not committed
};
using WriteCompletion = std::function<void(const WriteResult&)>;

struct NoteWrite {
    std::int64_t customer_id = 0;
    storage::Note note;
};

class LogWriter {
public:
    // Opens its own store connection; completions run on `loop`.
    LogWriter(const config::Config& config, asio::any_io_executor loop);
    ~LogWriter();  // drains what is queued, then joins
    LogWriter(const LogWriter&) = delete;
    LogWriter& operator=(const LogWriter&) = delete;

    void write(protocol::CallLogRecord record, WriteCompletion done = {});
    void write(NoteWrite note, WriteCompletion done = {});
    // Stops accepting, writes everything queued, joins the thread.
    void stop();

private:
    using Request = std::variant<protocol::CallLogRecord, NoteWrite>;
    struct Pending {
        Request request;
        WriteCompletion done;
    };

    void enqueue(Pending pending);
    void run();
    void write_batch(std::deque<Pending>& batch);
    enum class Attempt { committed, retry_later, refused };
    Attempt try_write(std::deque<Pending>& batch, std::size_t first, std::size_t count,
                      std::vector<WriteResult>& results);

    std::unique_ptr<storage::Store> store_;
    std::ofstream jsonl_;
    std::size_t batch_max_;
    std::chrono::milliseconds flush_delay_;
    asio::any_io_executor loop_;

    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Pending> queue_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace callpop::daemon
