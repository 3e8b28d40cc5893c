#include "daemon/writer/log_writer.hpp"

#include <filesystem>

#include <spdlog/spdlog.h>

#include "protocol/records.hpp"
#include "storage/open_store.hpp"

namespace callpop::daemon {

bool JobContext::log(domain::CallLogRecord record) {
    record.id = next_log_id_;
    if (!store.append_log(record)) return false;
    ++next_log_id_;
    logged_.push_back(std::move(record));
    return true;
}

LogWriter::LogWriter(const config::Config& config, asio::any_io_executor loop,
                     CommittedRecord committed)
    : store_(storage::open_store(config.storage)),
      batch_max_(config.call_log.batch_max),
      flush_delay_(config.call_log.flush_ms),
      loop_(std::move(loop)),
      committed_(std::move(committed)),
      next_log_id_(store_->last_log_id() + 1) {
    if (!config.call_log.jsonl_path.empty()) {
        const std::filesystem::path path(config.call_log.jsonl_path);
        if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
        jsonl_.open(path, std::ios::app | std::ios::binary);
        if (!jsonl_) throw std::runtime_error("cannot open call_log.jsonl " + path.string());
    }
    thread_ = std::thread([this] { run(); });
}

LogWriter::~LogWriter() { stop(); }

void LogWriter::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
}

void LogWriter::write(domain::CallLogRecord record, WriteCompletion done) {
    enqueue({std::move(record), std::move(done)});
}

void LogWriter::write(NoteWrite note, WriteCompletion done) {
    enqueue({std::move(note), std::move(done)});
}

void LogWriter::write(Job job) { enqueue({std::move(job), {}}); }

std::size_t LogWriter::queued() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
}

void LogWriter::enqueue(Pending pending) {
    bool wake = false;
    {
        std::lock_guard lock(mutex_);
        queue_.push_back(std::move(pending));
        // The thread waits for the first record, then for a full batch or the flush delay:
        // waking it for every record would cost the loop a futex call each.
        wake = queue_.size() == 1 || queue_.size() == batch_max_;
    }
    if (wake) wake_.notify_one();
}

void LogWriter::run() {
    std::unique_lock lock(mutex_);
    while (true) {
        wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty() && stopping_) return;
        // Let a burst gather so one transaction carries many records.
        if (!stopping_ && queue_.size() < batch_max_)
            wake_.wait_for(lock, flush_delay_,
                           [this] { return stopping_ || queue_.size() >= batch_max_; });
        std::deque<Pending> batch;
        while (!queue_.empty() && batch.size() < batch_max_) {
            batch.push_back(std::move(queue_.front()));
            queue_.pop_front();
        }
        lock.unlock();
        write_batch(batch);
        lock.lock();
    }
}

LogWriter::Attempt LogWriter::try_write(std::deque<Pending>& batch, std::size_t first,
                                        std::size_t count, std::vector<WriteResult>& results,
                                        std::vector<domain::CallLogRecord>& logged) {
    const std::int64_t first_log_id = next_log_id_;
    const std::size_t logged_before = logged.size();
    // A rolled-back attempt leaves neither ids nor records behind.
    auto forget_attempt = [&] {
        next_log_id_ = first_log_id;
        logged.resize(logged_before);
    };
    try {
        storage::StoreTransaction transaction(*store_);
        JobContext context(*store_, next_log_id_, logged);
        for (std::size_t index = first; index < first + count; ++index) {
            auto& request = batch[index].request;
            auto& result = results[index];
            result = WriteResult{};
            if (auto* record = std::get_if<domain::CallLogRecord>(&request)) {
                result.accepted = context.log(*record);
            } else if (auto* note = std::get_if<NoteWrite>(&request)) {
                result.new_id = store_->add_note(note->customer_id, note->note);
                result.accepted = result.new_id.has_value();
            } else {
                std::get<Job>(request)(context);
            }
        }
        transaction.commit();
        return Attempt::committed;
    } catch (const storage::StorageError& error) {
        forget_attempt();
        spdlog::error("call log: writing {} record(s) failed: {}", count, error.what());
        if (error.transient()) return Attempt::retry_later;
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

void LogWriter::write_batch(std::deque<Pending>& batch) {
    std::vector<WriteResult> results(batch.size());
    std::vector<domain::CallLogRecord> logged;
    // A busy database or a full disk passes: retry until it does, so that nothing the loop
    // handed over is lost (the loop itself never waits for this). A refusal is about the
    // data: write the records one by one, so only the faulty one is refused and reported.
    auto write_until_done = [&](std::size_t first, std::size_t count) {
        for (int attempt = 1;; ++attempt) {
            const Attempt outcome = try_write(batch, first, count, results, logged);
            if (outcome != Attempt::retry_later) return outcome;
            std::this_thread::sleep_for(std::chrono::milliseconds(std::min(100 * attempt, 5000)));
        }
    };
    if (write_until_done(0, batch.size()) == Attempt::refused) {
        for (std::size_t index = 0; index < batch.size(); ++index) write_until_done(index, 1);
    }
    if (jsonl_.is_open()) {
        for (const auto& record : logged)
            jsonl_ << protocol::json_line(record);
        jsonl_.flush();
        if (!jsonl_) {
            spdlog::error("call log: writing the JSONL file failed");
            jsonl_.clear();
        }
    }
    if (committed_ && !logged.empty()) {
        asio::post(loop_, [committed = committed_, logged = std::move(logged)] {
            for (const auto& record : logged) committed(record);
        });
    }
    for (std::size_t index = 0; auto& pending : batch) {
        const WriteResult& result = results[index++];
        if (!pending.done) continue;
        asio::post(loop_, [done = std::move(pending.done), result] { done(result); });
    }
}

}  // namespace callpop::daemon
