#include <doctest/doctest.h>

#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "daemon/writer/log_writer.hpp"
#include "storage/open_store.hpp"
#include "storage_test_support.hpp"

using callpop::daemon::LoggedEvent;
using callpop::daemon::LogWriter;
using callpop::daemon::NoteWrite;
using callpop::daemon::WriteResult;
using callpop::domain::CallLogRecord;

namespace asio = boost::asio;

TEST_CASE("the writer thread commits in batches, appends JSONL, and reports each write") {
    const callpop::test::TempDir dir;
    callpop::config::Config config;
    config.storage.path = (dir / "callpop.db").string();
    config.call_log.jsonl_path = (dir / "calls.jsonl").string();
    config.call_log.batch_max = 64;

    asio::io_context loop;
    std::vector<WriteResult> results;
    {
        LogWriter writer(config, loop.get_executor());
        constexpr int rings = 500;
        for (int index = 1; index <= rings; ++index) {
            CallLogRecord record;
            record.id = index;
            record.at = "2026-11-23T10:00:00.000Z";
            record.kind = "ring";
            record.call = "call-" + std::to_string(index);
            writer.write(LoggedEvent{record});
        }
        CallLogRecord orphan_outcome;
        orphan_outcome.id = rings + 1;
        orphan_outcome.kind = "outcome";
        orphan_outcome.call = "never-rang";
        writer.write(LoggedEvent{orphan_outcome});
        writer.write(NoteWrite{424242, {0, "note", "nobody", "1001", "2026-11-23T10:00:00Z"}},
                     [&](const WriteResult& result) { results.push_back(result); });
        writer.stop();
    }
    // Completions come back on the loop, after the writer is done.
    loop.run_for(std::chrono::seconds(10));
    REQUIRE(results.size() == 1);
    CHECK_FALSE(results[0].accepted);  // note for a customer that does not exist
    CHECK_FALSE(results[0].new_id.has_value());

    auto store = callpop::storage::open_store(config.storage);
    const auto log = store->recent_log(1000);
    REQUIRE(log.size() == 500);  // not the outcome of a call never seen
    CHECK(log.front().call == "call-1");
    CHECK(log.back().call == "call-500");

    std::ifstream jsonl(config.call_log.jsonl_path);
    std::string line;
    int lines = 0;
    while (std::getline(jsonl, line)) ++lines;
    CHECK(lines == 500);
}

TEST_CASE("a typed job's completion gets what the job returned, or the error without it") {
    const callpop::test::TempDir dir;
    callpop::config::Config config;
    config.storage.path = (dir / "callpop.db").string();

    asio::io_context loop;
    std::vector<callpop::daemon::JobOutcome<std::string>> outcomes;
    {
        LogWriter writer(config, loop.get_executor());
        const auto keep = [&](const callpop::daemon::JobOutcome<std::string>& outcome) {
            outcomes.push_back(outcome);
        };
        writer.write([](callpop::daemon::JobContext&) { return std::string("done"); }, keep);
        writer.write(
            [](callpop::daemon::JobContext&) -> std::string { throw std::runtime_error("no"); },
            keep);
        writer.stop();
    }
    loop.run_for(std::chrono::seconds(10));
    REQUIRE(outcomes.size() == 2);
    CHECK(outcomes[0].error.empty());
    CHECK(outcomes[0].value == "done");
    CHECK(outcomes[1].error == "no");
    CHECK(outcomes[1].value.empty());
}

namespace {

CallLogRecord ring_record(const std::string& call) {
    CallLogRecord record;
    record.at = "2026-11-23T10:00:00.000Z";
    record.kind = "ring";
    record.call = call;
    return record;
}

std::vector<std::string> logged_calls(const callpop::config::Config& config) {
    std::vector<std::string> calls;
    for (const auto& record : callpop::storage::open_store(config.storage)->recent_log(100000))
        calls.push_back(record.call);
    return calls;
}

std::vector<std::filesystem::path> spool_files(const callpop::test::TempDir& dir) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
        if (entry.path().filename().string().starts_with("callpop.db-spool-"))
            files.push_back(entry.path());
    return files;
}

}  // namespace

TEST_CASE("past its bound the writer spills records to the spool, refuses acknowledged "
          "writes, and writes it all in order once the store is free") {
    const callpop::test::TempDir dir;
    callpop::config::Config config;
    config.storage.path = (dir / "callpop.db").string();
    config.call_log.jsonl_path = "";
    config.call_log.queue_max = 10;
    config.call_log.flush_ms = 0;
    callpop::storage::open_store(config.storage);  // the schema, before the lock

    sqlite3* other = nullptr;
    REQUIRE(sqlite3_open(config.storage.path.c_str(), &other) == SQLITE_OK);
    REQUIRE(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK);

    asio::io_context loop;
    std::vector<WriteResult> notes;
    constexpr int calls = 300;
    {
        LogWriter writer(config, loop.get_executor());
        for (int call = 0; call < calls; ++call) writer.write(LoggedEvent{ring_record(std::to_string(call))});
        writer.write(NoteWrite{1, {0, "note", "tea", "1001", "2026-11-23T10:00:00Z"}},
                     [&](const WriteResult& result) { notes.push_back(result); });
        const auto backlog = writer.backlog();
        CHECK(backlog.queued <= 10);
        // All but the memory queue and the batch the writer took before the bound was hit
        // (a few records, however far the writer had got).
        CHECK(backlog.spooled + backlog.queued <= calls);
        CHECK(backlog.spooled > calls / 2);
        CHECK(backlog.spilled_total == backlog.spooled);
        REQUIRE(spool_files(dir).size() == 1);
        CHECK(logged_calls(config).empty());
        // Down once the first attempt gave up waiting for the lock (SQLite's busy timeout).
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (writer.store_state().up && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        const auto locked = writer.store_state();
        CHECK_FALSE(locked.up);
        CHECK(locked.outages == 1);
        INFO("last error: " << locked.last_error);
        CHECK(locked.last_error.find("locked") != std::string::npos);

        REQUIRE(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
        writer.stop();
        CHECK(writer.backlog().spooled == 0);
        const auto free = writer.store_state();
        CHECK(free.up);
        CHECK(free.outages == 1);  // counted once, however many attempts it took
        CHECK(free.last_error == locked.last_error);
    }
    sqlite3_close(other);
    loop.run_for(std::chrono::seconds(5));
    REQUIRE(notes.size() == 1);
    CHECK_FALSE(notes[0].accepted);
    CHECK(notes[0].error.find("writes behind") != std::string::npos);

    const auto logged = logged_calls(config);
    REQUIRE(logged.size() == calls);
    for (int call = 0; call < calls; ++call) CHECK(logged[call] == std::to_string(call));
    CHECK(spool_files(dir).empty());
}

TEST_CASE("a spool left by a crash is replayed from the committed position, once") {
    const callpop::test::TempDir dir;
    callpop::config::Config config;
    config.storage.path = (dir / "callpop.db").string();
    config.call_log.jsonl_path = "";
    std::string lines;
    std::int64_t third = 0;
    for (int call = 1; call <= 5; ++call) {
        if (call == 3) third = static_cast<std::int64_t>(lines.size());
        lines += nlohmann::json{{"record", {{"id", 0}, {"at", "2026-11-23T10:00:00.000Z"},
                                            {"kind", "ring"}, {"call", "c-" + std::to_string(call)}}},
                                {"follow_on", "none"},
                                {"now", 1795000000}}
                     .dump() +
                 "\n";
    }
    lines += R"({"record":{"kind":"ri)";  // the append a kill -9 cut short
    std::ofstream(dir / "callpop.db-spool-3.jsonl") << lines;
    std::ofstream(dir / "callpop.db-spool-2.jsonl") << "replayed by an earlier run\n";
    // Entries 1 and 2 were committed before the crash, with the position after them.
    callpop::storage::open_store(config.storage)->set_spool_position({3, third});

    asio::io_context loop;
    {
        LogWriter writer(config, loop.get_executor());
        writer.write(LoggedEvent{ring_record("after-start")});
        writer.stop();
    }
    CHECK(logged_calls(config) == std::vector<std::string>{"c-3", "c-4", "c-5", "after-start"});
    CHECK(spool_files(dir).empty());
    const auto position = callpop::storage::open_store(config.storage)->spool_position();
    CHECK(position.file == 3);
    CHECK(position.offset > third);
}
