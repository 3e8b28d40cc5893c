#include "daemon/writer/log_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "protocol/records.hpp"
#include "storage/open_store.hpp"

namespace callpop::daemon {

namespace {

// A spool chunk: large enough for a batch of records, small enough to read at once.
constexpr std::size_t spool_chunk_bytes = std::size_t{1} << 20;

constexpr const char* follow_on_names[] = {"none", "missed_call", "late_answer"};

// How long a stop waits for a store that takes no writes (locked by another process, a full
// disk) before it leaves the rest to the spool; the server has already waited for it to
// answer the agents.
constexpr std::chrono::seconds stop_patience{3};

std::string spool_line(const LoggedEvent& event) {
    const nlohmann::json entry = {
        {"record", protocol::to_json(event.record)},
        {"follow_on", follow_on_names[static_cast<int>(event.follow_on)]},
        {"now", event.now},
        {"occurrence", event.record.occurrence}};
    return entry.dump() + "\n";
}

LoggedEvent from_spool_line(std::string_view line) {
    const auto entry = nlohmann::json::parse(line);
    LoggedEvent event;
    event.record = protocol::call_log_record_from_json(entry.at("record"));
    const auto follow_on = entry.at("follow_on").get<std::string>();
    for (int index = 0; index < static_cast<int>(std::size(follow_on_names)); ++index) {
        if (follow_on == follow_on_names[index]) event.follow_on = static_cast<FollowOn>(index);
    }
    event.now = entry.at("now").get<std::int64_t>();
    // Not in the record's JSON (the tail's and the file's form); absent in older spools.
    event.record.occurrence = entry.value("occurrence", std::uint32_t{0});
    return event;
}

}  // namespace

bool JobContext::log(domain::CallLogRecord record) {
    std::vector<domain::CallLogRecord> one;
    one.push_back(std::move(record));
    return log_all(std::move(one)).front();
}

std::vector<bool> JobContext::log_all(std::vector<domain::CallLogRecord> records) {
    for (auto& record : records) record.id = 0;
    const auto ids = store.append_logs(records);
    std::vector<bool> logged(records.size(), false);
    for (std::size_t index = 0; index < records.size(); ++index) {
        if (!ids[index]) continue;
        records[index].id = *ids[index];
        logged_.push_back(std::move(records[index]));
        logged[index] = true;
    }
    return logged;
}

LogWriter::LogWriter(const config::Config& config, asio::any_io_executor loop,
                     CommittedRecord committed, FollowOnHandler follow_on)
    : store_(storage::open_store(config.storage)),
      batch_max_(config.call_log.batch_max),
      flush_delay_(config.call_log.flush_ms),
      queue_max_(config.call_log.queue_max),
      loop_(std::move(loop)),
      follow_on_(std::move(follow_on)),
      spool_(config.storage.path) {
    if (!config.call_log.jsonl_path.empty()) {
        const std::filesystem::path path(config.call_log.jsonl_path);
        jsonl_path_ = path;
        if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
        jsonl_fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (jsonl_fd_ < 0)
            throw std::runtime_error("cannot open call_log.jsonl " + path.string() + ": " +
                                     std::strerror(errno));
        // On a shared store the log holds every daemon's records, and the file this one's:
        // the store cannot tell which a crash kept from the file.
        if (!storage::store_is_shared(config.storage)) catch_up_jsonl(path);
    }
    // Before anything new, and before the loop reads the log back: what is replayed here
    // is in the store when it does, so it is not handed to the loop as well.
    for (const auto& file : spool_.leftovers(store_->spool_position())) replay_file(file);
    committed_ = std::move(committed);
    thread_ = std::thread([this] { run(); });
}

void LogWriter::share_log(std::int64_t after_id) {
    write(Job([this, after_id](JobContext&) { shared_log_cursor_ = after_id; }));
}

void LogWriter::follow_shared_log() {
    // The job only marks the log as moved on: it runs inside its batch's transaction, which
    // could read the batch's own records before they commit (and then roll back). The batch
    // reads the log after its commit.
    write(Job([this](JobContext&) { shared_log_moved_ = true; }));
}

std::vector<domain::CallLogRecord> LogWriter::read_shared_log() {
    std::vector<domain::CallLogRecord> records;
    std::int64_t cursor = *shared_log_cursor_;
    for (;;) {
        auto chunk = store_->log_after(cursor, batch_max_);
        if (chunk.empty()) break;
        cursor = chunk.back().id;
        const bool more = chunk.size() == batch_max_;
        records.insert(records.end(), std::make_move_iterator(chunk.begin()),
                       std::make_move_iterator(chunk.end()));
        if (!more) break;
    }
    // Moved only once every chunk was read: a failed read is read again whole next time.
    shared_log_cursor_ = cursor;
    shared_log_moved_ = false;
    return records;
}

LogWriter::~LogWriter() {
    stop();
    if (!jsonl_pending_.empty())
        spdlog::error("call log: {} bytes of the JSONL file could not be written",
                      jsonl_pending_.size());
    if (jsonl_fd_ >= 0) ::close(jsonl_fd_);
}

void LogWriter::catch_up_jsonl(const std::filesystem::path& path) {
    // The file's last whole line, from its tail (a record line is at most a few hundred KiB).
    const auto size = static_cast<std::int64_t>(std::filesystem::file_size(path));
    if (size == 0) return;  // new, or just rotated: nothing to continue
    constexpr std::int64_t tail_max = std::int64_t{1} << 20;
    const std::int64_t from = std::max<std::int64_t>(0, size - tail_max);
    std::string tail(static_cast<std::size_t>(size - from), '\0');
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    const ssize_t got = ::pread(fd, tail.data(), tail.size(), from);
    ::close(fd);
    if (got != static_cast<ssize_t>(tail.size())) return;
    const auto last_newline = tail.rfind('\n');
    if (last_newline == std::string::npos) return;
    if (last_newline + 1 < tail.size()) {
        // A line cut short by a crash: it is written again whole below.
        spdlog::warn("call log: {} bytes after the JSONL file's last whole line dropped",
                     tail.size() - last_newline - 1);
        if (::ftruncate(jsonl_fd_, from + static_cast<std::int64_t>(last_newline) + 1) != 0)
            return;
    }
    const std::string_view lines(tail.data(), last_newline);  // up to the last whole line's end
    const auto previous = lines.rfind('\n');
    const std::string last_line(previous == std::string_view::npos ? lines
                                                                   : lines.substr(previous + 1));
    const auto parsed = nlohmann::json::parse(last_line, nullptr, false);
    if (!parsed.is_object() || !parsed.contains("id") || !parsed["id"].is_number_integer()) {
        spdlog::warn("call log: the JSONL file's last line is not a record; not continuing it");
        return;
    }
    // A crash between a commit and its lines leaves the file behind the store.
    const std::int64_t last_in_file = parsed["id"].get<std::int64_t>();
    const std::int64_t last_in_store = store_->last_log_id();
    if (last_in_file >= last_in_store) return;
    for (std::int64_t after = last_in_file; after < last_in_store;) {
        const auto records = store_->log_after(after, batch_max_);
        if (records.empty()) break;
        append_jsonl(records);
        after = records.back().id;
    }
    spdlog::warn("call log: the JSONL file lacked records {}..{} (the last run ended between a "
                 "commit and its lines); appended from the store",
                 last_in_file + 1, last_in_store);
}

void LogWriter::reopen_jsonl() {
    if (jsonl_path_.empty()) return;
    jsonl_reopen_asked_ = true;
    // A batch, even of nothing, brings the thread to append_jsonl().
    write(Job([](JobContext&) {}));
}

void LogWriter::append_jsonl(const std::vector<domain::CallLogRecord>& logged) {
    if (jsonl_reopen_asked_.exchange(false) && jsonl_fd_ >= 0) {
        const int reopened = ::open(jsonl_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (reopened < 0) {
            spdlog::error("call log: reopening {} failed ({}); lines keep going to the file open before",
                          jsonl_path_.string(), std::strerror(errno));
        } else {
            ::close(jsonl_fd_);
            jsonl_fd_ = reopened;
            spdlog::info("call log: {} reopened", jsonl_path_.string());
        }
    }
    if (jsonl_fd_ < 0) return;
    for (const auto& record : logged) jsonl_pending_ += protocol::json_line(record);
    std::size_t written = 0;
    while (written < jsonl_pending_.size()) {
        const ssize_t wrote =
            ::write(jsonl_fd_, jsonl_pending_.data() + written, jsonl_pending_.size() - written);
        if (wrote < 0 && errno == EINTR) continue;
        if (wrote <= 0) {
            if (!jsonl_failing_)
                spdlog::error("call log: writing the JSONL file failed ({}); its lines wait in "
                              "memory and are written once it takes them",
                              std::strerror(errno));
            jsonl_failing_ = true;
            break;
        }
        written += static_cast<std::size_t>(wrote);
    }
    jsonl_pending_.erase(0, written);
    if (jsonl_failing_ && jsonl_pending_.empty()) {
        spdlog::info("call log: the JSONL file is written again");
        jsonl_failing_ = false;
    }
}

void LogWriter::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    give_up_at_ = std::min(give_up_at_.load(),
                           (std::chrono::steady_clock::now() + stop_patience).time_since_epoch().count());
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
}

void LogWriter::write(LoggedEvent event) { enqueue({std::move(event), {}}); }

void LogWriter::write(NoteWrite note, WriteCompletion done) {
    enqueue({std::move(note), std::move(done)});
}

void LogWriter::write(Job job) { enqueue({std::move(job), {}}); }

WriterBacklog LogWriter::backlog() const {
    std::lock_guard lock(mutex_);
    return {queue_.size(), spooled_waiting_, spilled_total_};
}

StoreState LogWriter::store_state() const {
    const std::scoped_lock lock(store_state_mutex_);
    return store_state_;
}

void LogWriter::store_answered() {
    const std::scoped_lock lock(store_state_mutex_);
    if (store_state_.up) return;
    store_state_.up = true;
    spdlog::info("call log: the store takes writes again");
}

void LogWriter::store_failed(const std::string& why) {
    const std::scoped_lock lock(store_state_mutex_);
    if (!store_state_.up) return;
    store_state_.up = false;
    ++store_state_.outages;
    store_state_.last_error = why;
}

void LogWriter::enqueue(Pending pending) {
    std::unique_lock lock(mutex_);
    if ((spilling_ || queue_.size() >= queue_max_) && spill(pending, lock)) return;
    queue_.push_back(std::move(pending));
    // The thread waits for the first record, then for a full batch or the flush delay:
    // waking it for every record would cost the loop a futex call each.
    const bool wake = queue_.size() == 1 || queue_.size() == batch_max_;
    lock.unlock();
    if (wake) wake_.notify_one();
}

bool LogWriter::spill(Pending& pending, std::unique_lock<std::mutex>& lock) {
    auto* event = std::get_if<LoggedEvent>(&pending.request);
    if (!event) {
        // The daemon's own upkeep (small and periodic) and reads wait their turn.
        if (!pending.done || pending.reads_only) return false;
        // Someone waits for it: say so now rather than hold it past the bound, or
        // acknowledge it before the records ahead of it are written.
        const std::size_t behind = queue_.size() + spooled_waiting_;
        lock.unlock();
        asio::post(loop_, [done = std::move(pending.done), behind] {
            done(WriteResult{false, std::nullopt,
                             "the store is " + std::to_string(behind) +
                                 " writes behind; send it again in a moment"});
        });
        return true;
    }
    const bool started = !spilling_;
    if (started) {
        spdlog::warn("call log: {} writes wait for the store; spilling records to {}",
                     queue_.size(), spool_.path_of(spool_.open_file().number).string());
    }
    spilling_ = true;
    ++spooled_waiting_;
    ++spilled_total_;
    // In order: into the file unless some are already waiting in memory behind it.
    if (!unspooled_.empty() || !spool_.append(spool_line(*event)))
        unspooled_.push_back(std::move(pending));
    lock.unlock();
    if (started) wake_.notify_one();
    return true;
}

void LogWriter::run() {
    std::unique_lock lock(mutex_);
    while (true) {
        wake_.wait(lock, [this] { return stopping_ || !queue_.empty() || spilling_; });
        if (queue_.empty()) {
            if (spilling_) {
                if (!replay_spilled(lock)) return;  // a stop gave up on the store
                continue;
            }
            if (stopping_) return;
        }
        // Let a burst gather so one transaction carries many records.
        if (!stopping_ && !spilling_ && queue_.size() < batch_max_)
            wake_.wait_for(lock, flush_delay_,
                           [this] { return stopping_ || queue_.size() >= batch_max_; });
        std::deque<Pending> batch;
        while (!queue_.empty() && batch.size() < batch_max_) {
            batch.push_back(std::move(queue_.front()));
            queue_.pop_front();
        }
        lock.unlock();
        auto left = write_batch(batch);
        lock.lock();
        if (!left.empty()) {
            leave_for_next_start(std::move(left), lock);
            return;
        }
    }
}

bool LogWriter::giving_up() const {
    return std::chrono::steady_clock::now().time_since_epoch().count() >= give_up_at_.load();
}

void LogWriter::leave_for_next_start(std::deque<Pending> first,
                                     std::unique_lock<std::mutex>& lock) {
    std::string lines;
    std::size_t records = 0;
    std::size_t failed = 0;
    auto take = [&](std::deque<Pending>& requests) {
        for (auto& pending : requests) {
            if (const auto* event = std::get_if<LoggedEvent>(&pending.request)) {
                lines += spool_line(*event);
                ++records;
            } else if (pending.done && !pending.reads_only) {
                ++failed;  // no one waits any more: the sessions were told goodbye
            }
        }
        requests.clear();
    };
    take(first);
    take(queue_);
    const Spool::File file = spool_.open_file();
    bool file_copied = true;
    if (spool_.active() && spool_read_ < file.end) {
        try {
            lines += Spool::read(file.path, spool_read_, file.end,
                                 static_cast<std::size_t>(file.end - spool_read_));
        } catch (const std::exception& error) {
            // Kept, then, for the next start to replay first; what memory held follows it.
            spdlog::error("call log: {}", error.what());
            file_copied = false;
        }
    }
    take(unspooled_);
    lock.unlock();
    if (lines.empty()) return;
    if (spool_.hand_over(lines, file_copied))
        spdlog::error("call log: the store still takes no writes; {} record(s) and the rest of "
                      "the spool are left in {} for the next start to write ({} write(s) an "
                      "agent asked for were not made)",
                      records, spool_.path_of(spool_.open_file().number).string(), failed);
    else
        spdlog::critical("call log: the store takes no writes and the spool cannot take the "
                         "{} record(s) left either: they are lost", records);
}

bool LogWriter::replay_spilled(std::unique_lock<std::mutex>& lock) {
    const Spool::File file = spool_.open_file();
    std::deque<Pending> batch;
    std::int64_t next_offset = spool_read_;
    if (spool_read_ < file.end) {
        lock.unlock();
        std::string lines;
        try {
            lines = Spool::read(file.path, spool_read_, file.end, spool_chunk_bytes);
        } catch (const std::exception& error) {
            spdlog::error("call log: {}; trying again in 1 s", error.what());
        }
        if (lines.empty()) {
            lock.lock();
            if (giving_up()) {
                leave_for_next_start({}, lock);
                lock.lock();
                return false;
            }
            lock.unlock();
            std::this_thread::sleep_for(std::chrono::seconds(1));
            lock.lock();
            return true;
        }
        next_offset = spool_read_ + static_cast<std::int64_t>(lines.size());
        batch = spooled_batch(lines, file.number, next_offset);
    } else {
        while (!unspooled_.empty() && batch.size() < batch_max_) {
            batch.push_back(std::move(unspooled_.front()));
            unspooled_.pop_front();
        }
        lock.unlock();
    }
    const std::size_t entries = batch.size() - (next_offset != spool_read_ ? 1 : 0);
    const bool from_file = next_offset != spool_read_;
    auto left = write_batch(batch);
    lock.lock();
    if (!left.empty()) {
        // What the batch did not write goes first, then the file after the batch: records
        // of the chunk that were written one by one are not written twice.
        if (from_file) spool_read_ = next_offset;
        leave_for_next_start(std::move(left), lock);
        lock.lock();
        return false;
    }
    spool_read_ = next_offset;
    spooled_waiting_ -= std::min(spooled_waiting_, entries);
    if (spool_read_ >= spool_.open_file().end && unspooled_.empty()) {
        spdlog::info("call log: the spool is written; records go straight to the store again");
        spool_.finish();
        spool_read_ = 0;
        spooled_waiting_ = 0;
        spilling_ = false;
    }
    return true;
}

void LogWriter::replay_file(const Spool::File& file) {
    spdlog::warn("call log: replaying {} from byte {} (left by the last run)", file.path.string(),
                 file.offset);
    std::size_t replayed = 0;
    for (std::int64_t offset = file.offset; offset < file.end;) {
        const std::string lines = Spool::read(file.path, offset, file.end, spool_chunk_bytes);
        if (lines.empty()) break;
        offset += static_cast<std::int64_t>(lines.size());
        auto batch = spooled_batch(lines, file.number, offset);
        replayed += batch.size() - 1;
        write_batch(batch);
    }
    std::filesystem::remove(file.path);
    spdlog::warn("call log: {} record(s) replayed from {}", replayed, file.path.string());
}

std::deque<LogWriter::Pending> LogWriter::spooled_batch(const std::string& lines,
                                                        std::int64_t file,
                                                        std::int64_t next_offset) {
    std::deque<Pending> batch;
    for (std::size_t start = 0; start < lines.size();) {
        const std::size_t end = lines.find('\n', start);
        const std::string_view line(lines.data() + start, end - start);
        start = end + 1;
        try {
            batch.push_back({from_spool_line(line), {}});
        } catch (const std::exception& error) {
            spdlog::error("spool file {}: a line that is not a spooled record is skipped ({}): {}",
                          file, error.what(), line.substr(0, 200));
        }
    }
    // Committed with the entries it counts: a crash replays neither less nor more.
    batch.push_back({Job([file, next_offset](JobContext& context) {
                         context.store.set_spool_position({file, next_offset});
                     }),
                     {}});
    return batch;
}

LogWriter::Attempt LogWriter::try_write(std::deque<Pending>& batch, std::size_t first,
                                        std::size_t count, std::vector<WriteResult>& results,
                                        std::vector<domain::CallLogRecord>& logged) {
    const std::size_t logged_before = logged.size();
    // A rolled-back attempt leaves no records behind (its ids may be skipped).
    auto forget_attempt = [&] { logged.resize(logged_before); };
    try {
        storage::StoreTransaction transaction(*store_);
        JobContext context(*store_, logged);
        for (std::size_t index = first; index < first + count;) {
            auto& request = batch[index].request;
            if (std::holds_alternative<LoggedEvent>(request)) {
                index = log_events(batch, index, first + count, results, context);
                continue;
            }
            auto& result = results[index];
            result = WriteResult{};
            if (auto* note = std::get_if<NoteWrite>(&request)) {
                result.new_id = store_->add_note(note->customer_id, note->note);
                result.accepted = result.new_id.has_value();
            } else {
                std::get<Job>(request)(context);
            }
            ++index;
        }
        transaction.commit();
        store_answered();
        return Attempt::committed;
    } catch (const storage::StorageError& error) {
        forget_attempt();
        spdlog::error("call log: writing {} record(s) failed: {}", count, error.what());
        if (error.transient()) {
            store_failed(error.what());
            return Attempt::retry_later;
        }
        store_answered();
        for (std::size_t index = first; index < first + count; ++index)
            results[index] = WriteResult{false, std::nullopt, error.what()};
        return Attempt::refused;
    } catch (const std::exception& error) {
        forget_attempt();
        spdlog::error("call log: writing {} record(s) failed: {}", count, error.what());
        for (std::size_t index = first; index < first + count; ++index)
            results[index] = WriteResult{false, std::nullopt, error.what()};
        return Attempt::refused;
    }
}

std::size_t LogWriter::log_events(std::deque<Pending>& batch, std::size_t first, std::size_t end,
                                  std::vector<WriteResult>& results, JobContext& context) {
    // The run of events from `first` goes to the store together. One with a follow-on ends
    // it: what follows from a record is logged right after it.
    std::vector<domain::CallLogRecord> run;
    std::size_t next = first;
    while (next < end) {
        const auto* event = std::get_if<LoggedEvent>(&batch[next].request);
        if (event == nullptr) break;
        run.push_back(event->record);
        ++next;
        if (event->follow_on != FollowOn::none) break;
    }
    const auto logged = context.log_all(std::move(run));
    for (std::size_t index = first; index < next; ++index) {
        const auto& event = std::get<LoggedEvent>(batch[index].request);
        results[index] = WriteResult{};
        results[index].accepted = logged[index - first];
        if (!results[index].accepted)
            spdlog::debug("call {}: its {} is in the log already (another daemon connected to "
                          "the switch logged it)",
                          event.record.call, event.record.kind);
        else if (event.follow_on != FollowOn::none && follow_on_)
            follow_on_(context, context.last_logged(), event.follow_on, event.now);
    }
    return next;
}

std::deque<LogWriter::Pending> LogWriter::write_batch(std::deque<Pending>& batch) {
    std::vector<WriteResult> results(batch.size());
    std::vector<domain::CallLogRecord> logged;
    // A busy database or a full disk passes: retry until it does, so that nothing the loop
    // handed over is lost (the loop itself never waits for this). A refusal is about the
    // data: write the records one by one, so only the faulty one is refused and reported.
    auto write_until_done = [&](std::size_t first, std::size_t count) {
        for (int attempt = 1;; ++attempt) {
            const Attempt outcome = try_write(batch, first, count, results, logged);
            if (outcome != Attempt::retry_later) return outcome;
            if (giving_up()) return Attempt::gave_up;
            // A stop's patience bounds the wait too.
            const auto backoff = std::chrono::nanoseconds(std::chrono::milliseconds(std::min(100 * attempt, 5000)));
            const auto until_give_up = std::chrono::nanoseconds(
                give_up_at_.load() - std::chrono::steady_clock::now().time_since_epoch().count());
            std::this_thread::sleep_for(std::max(std::chrono::nanoseconds(0), std::min(backoff, until_give_up)));
        }
    };
    std::deque<Pending> left;
    const Attempt whole = write_until_done(0, batch.size());
    if (whole == Attempt::gave_up) {
        left.swap(batch);
        return left;
    }
    std::vector<bool> left_out(batch.size(), false);
    if (whole == Attempt::refused) {
        // Once one waits for the next start, so do all after it: the log keeps their order.
        bool gave_up = false;
        for (std::size_t index = 0; index < batch.size(); ++index) {
            gave_up = gave_up || write_until_done(index, 1) == Attempt::gave_up;
            left_out[index] = gave_up;
        }
    }
    append_jsonl(logged);
    if (committed_ && shared_log_cursor_ && (!logged.empty() || shared_log_moved_)) {
        // Outside any transaction: what every daemon has committed, in id order.
        try {
            logged = read_shared_log();
        } catch (const storage::StorageError& error) {
            // The next batch reads them, with whatever commits meanwhile: marked as moved, so
            // that an empty batch (a word from another daemon, the sweep's upkeep) does too.
            spdlog::warn("call log: reading back the shared log: {}", error.what());
            logged.clear();
            shared_log_moved_ = true;
        }
    }
    if (committed_ && !logged.empty()) {
        asio::post(loop_, [committed = committed_, logged = std::move(logged)] {
            for (const auto& record : logged) committed(record);
        });
    }
    for (std::size_t index = 0; auto& pending : batch) {
        if (left_out[index]) {
            left.push_back(std::move(pending));
            ++index;
            continue;
        }
        const WriteResult& result = results[index++];
        if (!pending.done) continue;
        asio::post(loop_, [done = std::move(pending.done), result] { done(result); });
    }
    return left;
}

}  // namespace callpop::daemon
