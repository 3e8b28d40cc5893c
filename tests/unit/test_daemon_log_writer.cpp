#include <doctest/doctest.h>

#include <fstream>

#include "daemon/writer/log_writer.hpp"
#include "storage/open_store.hpp"
#include "storage_test_support.hpp"

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
            writer.write(record, [&](const WriteResult& result) { results.push_back(result); });
        }
        CallLogRecord orphan_outcome;
        orphan_outcome.id = rings + 1;
        orphan_outcome.kind = "outcome";
        orphan_outcome.call = "never-rang";
        writer.write(orphan_outcome, [&](const WriteResult& result) { results.push_back(result); });
        writer.write(NoteWrite{424242, {0, "note", "nobody", "1001", "2026-11-23T10:00:00Z"}},
                     [&](const WriteResult& result) { results.push_back(result); });
        writer.stop();
    }
    // Completions come back on the loop, after the writer is done.
    loop.run_for(std::chrono::seconds(10));
    REQUIRE(results.size() == 502);
    for (std::size_t index = 0; index < 500; ++index) {
        CHECK(results[index].accepted);
        CHECK(results[index].error.empty());
    }
    CHECK_FALSE(results[500].accepted);  // outcome of a call never seen
    CHECK_FALSE(results[501].accepted);  // note for a customer that does not exist
    CHECK_FALSE(results[501].new_id.has_value());

    auto store = callpop::storage::open_store(config.storage);
    const auto log = store->recent_log(1000);
    REQUIRE(log.size() == 500);
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
