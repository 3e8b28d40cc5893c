// Faults a daemon lives through in months of service: killed mid-burst, a store that takes
// no writes. Each names what it saw, for the step's closing note.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "store_lock.hpp"
#include "support/sqlite_query.hpp"
#include "support/temp_dir.hpp"
#include "support/wait_until.hpp"

using namespace callpop::test;

namespace {

std::int64_t count_of(const Daemon& daemon, const std::string& sql) {
    return std::stoll(query_one(daemon.database_path(), sql));
}

// The log's ids run 1..n with no hole (no half batch), and the JSONL file, written after
// each commit, holds the first of them in order.
void check_log_whole(const Daemon& daemon) {
    const auto records = count_of(daemon, "SELECT count(*) FROM call_log");
    CHECK(count_of(daemon, "SELECT coalesce(max(id), 0) FROM call_log") == records);
    std::ifstream jsonl(daemon.jsonl_path());
    std::int64_t expected = 1;
    for (std::string line; std::getline(jsonl, line); ++expected)
        REQUIRE(json::parse(line)["id"] == expected);
    CHECK(expected - 1 <= records);
    MESSAGE("call log: " << records << " records in the store, " << expected - 1
                         << " in the JSONL file");
}

// A call rung at 1001, popped, answered there, and in the store: the agent's own call.
void answer_and_store(const Daemon& daemon, Client& agent, Client& pbx, const std::string& call) {
    pbx.send(ring(call, "+15550102000", "1001"));
    CHECK(agent.expect("pop")["call"] == call);
    pbx.send({{"event", "answer"}, {"call", call}, {"ext", "1001"}});
    wait_until([&] {
        return query_one(daemon.database_path(),
                         "SELECT state FROM calls WHERE call_id = '" + call + "'") == "answered";
    }, 5s, "call " + call + " stored as answered");
}


// A daemon whose writer keeps `writer_queue_max` writes in memory, agent 1001 logged in at
// its extension, the switch, and one call of the agent's own in the store ("before").
struct AgentAtWork {
    explicit AgentAtWork(std::size_t writer_queue_max)
        : daemon({.extra_config = without_missed_call_followups,
                  .writer_queue_max = writer_queue_max}),
          agent(started(daemon).agent_port()),
          pbx(daemon.switch_port()) {
        login(agent, "1001", "secret-1001", {"1001"});
        answer_and_store(daemon, agent, pbx, "before");
    }
    static Daemon& started(Daemon& daemon) {
        daemon.start();
        return daemon;
    }
    Daemon daemon;
    Client agent;
    Client pbx;
};

// Calls `<prefix>0`, `<prefix>1`, ... rung at 1001 and hung up at once, back to back.
void ring_and_hang_up(Client& pbx, const std::string& prefix, int calls) {
    for (int call = 0; call < calls; ++call) {
        const std::string id = prefix + std::to_string(call);
        pbx.send(ring(id, "+15550102000", "1001"));
        pbx.send({{"event", "hangup"}, {"call", id}});
    }
}

// Calls of `prefix` whose ring is not followed at once by their hangup in the log: the
// switch sent each pair together, so the log keeps them together.
std::int64_t pairs_out_of_order(const Daemon& daemon, const std::string& prefix) {
    return count_of(daemon, "SELECT count(*) FROM call_log a JOIN call_log b ON a.call_id = "
                            "b.call_id WHERE a.kind = 'ring' AND b.kind = 'hangup' AND a.id + 1 "
                            "<> b.id AND a.call_id LIKE '" + prefix + "%'");
}

std::size_t spool_files(const Daemon& daemon) {
    std::size_t files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(daemon.store_dir()))
        files += entry.path().filename().string().find("-spool-") != std::string::npos;
    return files;
}

}  // namespace

TEST_CASE("kill -9 in the middle of a burst: acknowledged outcomes kept, the log whole, live "
          "calls pop again") {
    Daemon::Options options;
    options.agent_port = unused_port();  // the agent dials the same port again
    options.resync_s = 3;
    options.extra_config = without_missed_call_followups;
    Daemon daemon(options);
    daemon.start();
    Client agent(daemon.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
    auto pbx = std::make_unique<Client>(daemon.switch_port());

    // Two calls ringing at 1001 when the daemon dies.
    for (const char* call : {"live-1", "live-2"}) {
        pbx->send(ring(call, "+15550102000", "1001"));
        CHECK(agent.expect("pop")["call"] == call);
    }
    // The burst: each call rings 1001, is answered there, and gets the agent's outcome; the
    // first hundred also hang up.
    constexpr int calls = 400;
    std::string events;
    std::string outcomes;
    for (int call = 0; call < calls; ++call) {
        const std::string id = "burst-" + std::to_string(call);
        events += ring(id, "+15550102000", "1001").dump() + "\n" +
                  json{{"event", "answer"}, {"call", id}, {"ext", "1001"}}.dump() + "\n";
        if (call < 100) events += json{{"event", "hangup"}, {"call", id}}.dump() + "\n";
        outcomes += json{{"type", "outcome"}, {"call", id}, {"code", "resolved"}}.dump() + "\n";
    }
    pbx->send_raw(events);
    for (int call = 0; call < calls; ++call) agent.expect("pop", 30s);
    agent.send_raw(outcomes);
    std::set<std::string> acknowledged;
    while (acknowledged.size() < calls / 2) {
        const json message = agent.next(30s);
        if (message["type"] == "outcome_saved") acknowledged.insert(message["call"]);
    }
    daemon.kill_hard();
    MESSAGE("outcomes acknowledged before kill -9: "
            << acknowledged.size() << " of " << calls << "; committed: "
            << query_one(daemon.database_path(),
                         "SELECT count(*) FROM calls WHERE outcome = 'resolved'"));

    daemon.start();
    // The switch reconnects and resends its live calls' events; the agent logs in again.
    pbx = std::make_unique<Client>(daemon.switch_port());
    for (const char* call : {"live-1", "live-2"}) pbx->send(ring(call, "+15550102000", "1001"));
    Client again(daemon.agent_port());
    login(again, "1001", "secret-1001", {"1001"});
    std::set<std::string> popped;
    for (int pop = 0; pop < 2; ++pop) popped.insert(again.expect("pop")["call"].get<std::string>());
    CHECK(popped == std::set<std::string>{"live-1", "live-2"});

    for (const auto& call : acknowledged) {
        INFO("acknowledged outcome of " << call);
        CHECK(query_one(daemon.database_path(),
                        "SELECT outcome FROM calls WHERE call_id = '" + call + "'") == "resolved");
    }
    // Calls the switch did not speak of again are closed once the resync time is over; the
    // ones it did stay live and end as it says.
    wait_until([&] { return count_of(daemon, "SELECT count(*) FROM calls WHERE ended_at IS NULL") == 2; },
               15s, "the calls left open closed, the resent ones kept");
    const auto closed = count_of(
        daemon, "SELECT count(*) FROM calls WHERE cause = 'restart' AND call_id LIKE 'burst-%'");
    const auto hung_up = count_of(
        daemon, "SELECT count(*) FROM calls WHERE cause = 'normal' AND call_id LIKE 'burst-%'");
    MESSAGE("after the restart: " << hung_up << " burst calls hung up before the kill, " << closed
                                  << " closed with cause restart");
    CHECK(hung_up + closed == count_of(daemon, "SELECT count(*) FROM calls WHERE call_id LIKE 'burst-%'"));
    pbx->send({{"event", "hangup"}, {"call", "live-1"}});
    pbx->send({{"event", "hangup"}, {"call", "live-2"}});
    wait_until([&] { return count_of(daemon, "SELECT count(*) FROM calls WHERE ended_at IS NULL") == 0; },
               5s, "the live calls ended by the switch");
    CHECK(count_of(daemon, "SELECT count(*) FROM calls WHERE call_id LIKE 'live-%' AND "
                           "cause = 'normal'") == 2);
    daemon.stop();
    check_log_whole(daemon);
}

TEST_CASE("a store that takes no writes: pops keep coming, records spill to the spool and "
          "survive a kill -9, outcomes are refused, not acknowledged") {
    AgentAtWork work(20);
    auto& [daemon, agent, pbx] = work;
    StoreLock lock(daemon.database_path());
    constexpr int calls = 300;
    const auto sent_at = std::chrono::steady_clock::now();
    ring_and_hang_up(pbx, "spilled-", calls);
    for (int call = 0; call < calls; ++call) agent.expect("pop");
    const auto popped_in = std::chrono::steady_clock::now() - sent_at;
    MESSAGE("300 pops with the store locked in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(popped_in).count() << " ms");

    // An outcome now would be acknowledged ahead of the records it follows: refused.
    agent.send({{"type", "outcome"}, {"call", "before"}, {"code", "resolved"}});
    const json refused = agent.expect("error", 10s);
    CHECK(refused["code"] == "storage_error");
    CHECK(refused["message"].get<std::string>().find("writes behind") != std::string::npos);

    Client supervisor(daemon.agent_port());
    login(supervisor, "super", "boss");
    const json status = ask_status(supervisor);
    MESSAGE("status while locked: writer_queue " << status["writer_queue"] << ", writer_spooled "
                                                 << status["writer_spooled"] << ", spilled "
                                                 << status["faults"]["writes_spilled"]);
    const auto spooled = status["writer_spooled"].get<std::int64_t>();
    CHECK(spooled > calls);  // all but the memory queue (20) and the batch the writer holds
    CHECK(status["faults"]["writes_spilled"] == spooled);
    CHECK(status["faults"]["writes_failed"] == 1);

    // Killed while it waits in the spool; the store is free again when it starts. What the
    // memory queue held is lost with the process, as it would be without a spool: records
    // no one was told are written.
    daemon.kill_hard();
    lock.release();
    daemon.start();
    CHECK(daemon.log().find("record(s) replayed from") != std::string::npos);
    CHECK(count_of(daemon, "SELECT count(*) FROM call_log WHERE call_id LIKE 'spilled-%'") ==
          spooled);
    // In the switch's order: each call's ring right before its hangup.
    CHECK(pairs_out_of_order(daemon, "spilled-") == 0);
    CHECK(count_of(daemon, "SELECT count(*) FROM call_log WHERE kind = 'hangup' AND call_id "
                           "LIKE 'spilled-%'") >= spooled / 2);
    CHECK(spool_files(daemon) == 0);
    daemon.stop();
    check_log_whole(daemon);
}

TEST_CASE("a full disk: pops keep coming, writes wait and are reported, nothing acknowledged "
          "unwritten, and all of it lands once there is room") {
    // A filesystem of the test's own, small enough to fill in a moment.
    TempDir mount_point;
    REQUIRE_MESSAGE(::mount("tmpfs", mount_point.path().c_str(), "tmpfs", 0, "size=4m") == 0,
                    "mounting a 4 MiB tmpfs (the test runs as root, as CI does): "
                        << std::strerror(errno));
    struct Unmount {
        std::filesystem::path path;
        ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
    } unmount{mount_point.path()};

    Daemon::Options options;
    options.store_dir = mount_point.path();
    options.extra_config = without_missed_call_followups;
    Daemon daemon(options);
    daemon.start();
    Client agent(daemon.agent_port());
    login(agent, "1001", "secret-1001", {"1001"});
    Client pbx(daemon.switch_port());
    answer_and_store(daemon, agent, pbx, "roomy");

    // Fill the disk to the last byte.
    const auto filler = mount_point / "filler";
    {
        const int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        REQUIRE(fd >= 0);
        const std::string block(64 * 1024, 'f');
        for (std::size_t size = block.size(); size > 0;) {
            if (::write(fd, block.data(), size) < 0) size /= 2;
        }
        ::close(fd);
    }
    constexpr int calls = 200;
    const auto sent_at = std::chrono::steady_clock::now();
    for (int call = 0; call < calls; ++call) {
        const std::string id = "full-" + std::to_string(call);
        pbx.send(ring(id, "+15550102000", "1001"));
        pbx.send({{"event", "hangup"}, {"call", id}});
    }
    for (int call = 0; call < calls; ++call) agent.expect("pop");
    MESSAGE(calls << " pops with the disk full in "
                  << std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - sent_at)
                         .count()
                  << " ms");

    // The outcome cannot be written: it is not acknowledged, and waits.
    agent.send({{"type", "outcome"}, {"call", "roomy"}, {"code", "resolved"}});
    const auto until = std::chrono::steady_clock::now() + 2s;
    while (auto line = agent.read_line(std::chrono::duration_cast<std::chrono::milliseconds>(
               until - std::chrono::steady_clock::now()))) {
        CHECK(json::parse(*line)["type"] != "outcome_saved");  // the calls' ends come meanwhile
    }
    wait_until([&] { return daemon.log().find("database or disk is full") != std::string::npos; },
               10s, "the full disk reported");
    Client supervisor(daemon.agent_port());
    login(supervisor, "super", "boss");
    const auto waiting = ask_status(supervisor)["writer_queue"].get<int>();
    MESSAGE("writes waiting with the disk full: " << waiting);
    CHECK(waiting > 0);
    CHECK(query_one(daemon.database_path(), "SELECT outcome FROM calls WHERE call_id = 'roomy'") ==
          "");

    // Room again: everything lands, the outcome is acknowledged once it is written.
    const auto freed_at = std::chrono::steady_clock::now();
    std::filesystem::remove(filler);
    CHECK(agent.expect("outcome_saved", 15s)["call"] == "roomy");
    MESSAGE("outcome acknowledged "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - freed_at)
                   .count()
            << " ms after the disk had room");
    CHECK(query_one(daemon.database_path(), "SELECT outcome FROM calls WHERE call_id = 'roomy'") ==
          "resolved");
    wait_until([&] {
        return count_of(daemon, "SELECT count(*) FROM calls WHERE call_id LIKE 'full-%' AND "
                                "ended_at IS NOT NULL") == calls;
    }, 10s, "every call written");
    daemon.stop();
    check_log_whole(daemon);
    CHECK(count_of(daemon, "SELECT count(*) FROM call_log") == 2 + 2 * calls + 1);
}

TEST_CASE("SIGTERM while the store takes no writes: the daemon exits in bounded time and the "
          "next start writes every record it held, once, in order") {
    AgentAtWork work(50);  // some records in memory, more in the spool
    auto& [daemon, agent, pbx] = work;
    StoreLock lock(daemon.database_path());
    constexpr int calls = 200;
    ring_and_hang_up(pbx, "held-", calls);
    for (int call = 0; call < calls; ++call) agent.expect("pop");

    const auto asked_at = std::chrono::steady_clock::now();
    daemon.stop();  // checks exit status 0
    const auto stopped_in = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - asked_at);
    MESSAGE("stopped in " << stopped_in.count() << " ms with the store locked");
    CHECK(stopped_in < 15s);
    CHECK(daemon.log().find("for the next start to write") != std::string::npos);
    CHECK(count_of(daemon, "SELECT count(*) FROM call_log WHERE call_id LIKE 'held-%'") == 0);

    lock.release();
    daemon.start();
    CHECK(count_of(daemon, "SELECT count(*) FROM call_log WHERE call_id LIKE 'held-%'") ==
          2 * calls);
    CHECK(count_of(daemon, "SELECT count(DISTINCT call_id || kind) FROM call_log WHERE call_id "
                           "LIKE 'held-%'") == 2 * calls);
    CHECK(pairs_out_of_order(daemon, "held-") == 0);
    CHECK(count_of(daemon, "SELECT count(*) FROM calls WHERE call_id LIKE 'held-%' AND state = "
                           "'abandoned'") == calls);
    CHECK(spool_files(daemon) == 0);
    daemon.stop();
    check_log_whole(daemon);
}

TEST_CASE("the store locked by another process for 10 s: pops keep coming on time, and the "
          "writes land after, in order, without a restart") {
    AgentAtWork work(100);  // the burst outgrows memory: the spool is replayed live
    auto& [daemon, agent, pbx] = work;
    StoreLock lock(daemon.database_path());
    const auto locked_at = std::chrono::steady_clock::now();
    constexpr int calls = 400;  // one every 25 ms: 10 s
    std::vector<std::int64_t> pop_us;
    for (int call = 0; call < calls; ++call) {
        const std::string id = "locked-" + std::to_string(call);
        const auto sent_at = std::chrono::steady_clock::now();
        pbx.send(ring(id, "+15550102000", "1001"));
        REQUIRE(agent.expect("pop")["call"] == id);
        pop_us.push_back(std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::steady_clock::now() - sent_at)
                             .count());
        pbx.send({{"event", "hangup"}, {"call", id}});
        std::this_thread::sleep_until(locked_at + (call + 1) * 25ms);
    }
    lock.release();
    std::sort(pop_us.begin(), pop_us.end());
    MESSAGE("store locked " << std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now() - locked_at)
                                   .count()
                            << " ms; event -> pop p50 " << pop_us[calls / 2] << " us, p99 "
                            << pop_us[calls * 99 / 100] << " us, max " << pop_us.back() << " us");
    // Pops that waited for the lock would have taken seconds.
    CHECK(pop_us.back() < 2'000'000);

    const auto unlocked_at = std::chrono::steady_clock::now();
    wait_until([&] {
        return count_of(daemon, "SELECT count(*) FROM call_log WHERE call_id LIKE 'locked-%'") ==
               2 * calls;
    }, 30s, "every record written once the lock is gone");
    MESSAGE("all " << 2 * calls << " records written "
                   << std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - unlocked_at)
                          .count()
                   << " ms after the lock was released");
    CHECK(pairs_out_of_order(daemon, "locked-") == 0);
    // Agents' writes are taken again once the spool is written.
    json saved;
    wait_until([&] {
        agent.send({{"type", "outcome"}, {"call", "before"}, {"code", "resolved"}});
        while (true) {
            const json reply = agent.next(10s);
            if (reply["type"] == "outcome_saved") {
                saved = reply;
                return true;
            }
            if (reply["type"] == "error") return false;
        }
    }, 30s, "an outcome saved after the lock");
    CHECK(saved["call"] == "before");
    daemon.stop();
    check_log_whole(daemon);
}

TEST_CASE("a crash between a commit and its JSONL lines: the next start appends what the file "
          "lacks, after its last whole line") {
    Daemon daemon({.extra_config = without_missed_call_followups});
    daemon.start();
    Client pbx(daemon.switch_port());
    ring_and_hang_up(pbx, "jsonl-", 50);
    wait_until([&] { return count_of(daemon, "SELECT count(*) FROM call_log") == 100; }, 10s,
               "100 records committed");
    daemon.stop();

    // The file as a crash could leave it: 60 whole lines, then half of the 61st.
    std::ifstream full(daemon.jsonl_path());
    std::string kept;
    std::string line;
    for (int index = 0; index < 60 && std::getline(full, line); ++index) kept += line + "\n";
    REQUIRE(std::getline(full, line));
    kept += line.substr(0, line.size() / 2);
    full.close();
    write_file(daemon.jsonl_path(), kept);

    daemon.start();
    CHECK(daemon.log().find("the JSONL file lacked records 61..100") != std::string::npos);
    daemon.stop();
    check_log_whole(daemon);
    std::ifstream after(daemon.jsonl_path());
    int lines = 0;
    while (std::getline(after, line)) ++lines;
    CHECK(lines == 100);
}
