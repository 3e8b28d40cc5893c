// The real thing: Kamailio and SIPp from Debian's packages (kamailio, kamailio-extra-modules,
// sip-tester; scripts/install-deps), Kamailio running examples/kamailio/kamailio.cfg, and the
// real callpop binary connected to its evapi port. SIPp plays the agents' phones (one that
// answers, one that is busy, one that rings until someone gives up) and the callers.
//
// Everything binds 127.0.0.1 on ports picked free by the test; every process started here is
// stopped by its pid (and its own process group), never by name.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "integration/harness.hpp"
#include "support/sqlite_query.hpp"
#include "support/process.hpp"
#include "support/wait_until.hpp"

using namespace callpop::test;
namespace fs = std::filesystem;

namespace {

fs::path source_dir() {
    const char* dir = std::getenv("CALLPOP_SOURCE_DIR");
    REQUIRE_MESSAGE(dir != nullptr, "CALLPOP_SOURCE_DIR must name the source tree (ctest sets it)");
    return dir;
}

fs::path example_dir() { return source_dir() / "examples" / "kamailio"; }

// The test needs the programs; without them it fails and says how to get them.
std::string program(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path != nullptr ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        const fs::path candidate = fs::path(dir) / name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
    FAIL(name << " is not installed: scripts/install-deps installs it (Debian packages "
                 "kamailio, kamailio-extra-modules, sip-tester)");
    return {};
}

// A port nobody holds right now (the kernel's pick for port 0), for a program that wants
// its port on the command line.
std::uint16_t free_port(int type) {
    const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t size = sizeof address;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0);
    ::close(fd);
    return ntohs(address.sin_port);
}

// Whether something listens on 127.0.0.1:port (UDP: bound; TCP: in LISTEN), from /proc.
bool listening(std::uint16_t port, bool udp) {
    std::ifstream table(udp ? "/proc/net/udp" : "/proc/net/tcp");
    char wanted[32];
    std::snprintf(wanted, sizeof wanted, "0100007F:%04X", port);
    std::string line;
    std::getline(table, line);  // the header
    while (std::getline(table, line)) {
        std::istringstream fields(line);
        std::string slot, local, remote, state;
        fields >> slot >> local >> remote >> state;
        if (local == wanted && (udp || state == "0A")) return true;
    }
    return false;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
    std::size_t count = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
        ++count;
    return count;
}

// Kamailio with the shipped config, on ports of its own, and the agents' SIPp phones
// registered with it.
class Switch {
  public:
    struct Options {
        int ring_timeout_ms = 1500;  // the unanswered call fails (408) after this
        int phone_ring_ms = 300;     // the answering phone rings this long
    };

    explicit Switch(Options options) : options_(options) {
        kamailio_binary_ = program("kamailio");
        sipp_binary_ = program("sipp");
        sip_port_ = free_port(SOCK_DGRAM);
        evapi_port_ = free_port(SOCK_STREAM);
        answering_port_ = free_port(SOCK_DGRAM);
        busy_port_ = free_port(SOCK_DGRAM);
        ringing_port_ = free_port(SOCK_DGRAM);
        start_kamailio();
        answering_ = start_phone("phone_answers", answering_port_,
                                 {"-d", std::to_string(options_.phone_ring_ms)});
        busy_ = start_phone("phone_busy", busy_port_, {});
        ringing_ = start_phone("phone_rings", ringing_port_, {});
        register_phones();
    }

    std::uint16_t evapi_port() const { return evapi_port_; }
    const fs::path& dir() const { return dir_.path(); }

    void start_kamailio() {
        ++kamailio_starts_;
        kamailio_ = std::make_unique<Process>(
            "kamailio-" + std::to_string(kamailio_starts_),
            std::vector<std::string>{
                kamailio_binary_, "-f", (example_dir() / "kamailio.cfg").string(),
                // Foreground, log on stderr; its own runtime dir and pid file.
                "-DD", "-E", "-m", "64", "-M", "8", "-Y", dir_.path().string(), "-P",
                (dir_ / "kamailio.pid").string(), "--substdef",
                "!SIP_LISTEN!udp:127.0.0.1:" + std::to_string(sip_port_) + "!", "--substdef",
                "!EVAPI_BIND!127.0.0.1:" + std::to_string(evapi_port_) + "!", "-A",
                "RING_TIMEOUT_MS=" + std::to_string(options_.ring_timeout_ms), "-A", "CHILDREN=2"},
            dir_.path());
        wait_until(
            [&] {
                REQUIRE_MESSAGE(kamailio_->running(), "kamailio exited:\n" << kamailio_->output());
                return listening(sip_port_, true) && listening(evapi_port_, false);
            },
            10s, "kamailio to listen");
    }

    // Kamailio dies at once. On SIGTERM its tm module may still end a ringing transaction and
    // report it ("failed") before the evapi socket closes: a clean shutdown, not the lost
    // switch the test is about (seen under ASan, with the machine loaded).
    void crash_kamailio() { kamailio_->kill_hard(); }

    // Phones register with the switch (its location table lives in memory: again after a
    // restart).
    void register_phones() {
        write_file(dir_ / "phones.csv", "SEQUENTIAL\n1001;" + std::to_string(answering_port_) +
                                            "\n1002;" + std::to_string(busy_port_) + "\n1003;" +
                                            std::to_string(ringing_port_) + "\n");
        auto registration =
            sipp("register", {"-sf", scenario("register.xml"), "-inf",
                              (dir_ / "phones.csv").string(), "-m", "3", "-r", "100"});
        const int exit_code = registration->wait(15s);
        REQUIRE_MESSAGE(exit_code == 0, "phones did not register:\n"
                                            << registration->output() << kamailio_->output());
    }

    struct Call {
        std::string scenario;  // caller_answered, _abandons, _refused, _asserted
        std::string caller;
        std::string caller_name;
        std::string extension;  // X-Agent: whose phone rings
        int pause_ms = 300;     // talk time, or ring time before the caller gives up
        int calls = 1;
        int rate = 10;                    // calls per second when there are several
        std::vector<std::string> keys{};  // more "-key NAME VALUE" pairs: {NAME, VALUE, ...}
    };

    // Starts the caller; the SIP Call-ID of its first call is "1-<pid>@127.0.0.1".
    std::unique_ptr<Process> place(const Call& call) {
        std::vector<std::string> arguments = {"-sf", scenario(call.scenario + ".xml")};
        const std::vector<std::string> keys = {"caller",         call.caller,   "caller_name",
                                               call.caller_name, "did",         "8005551000",
                                               "agent",          call.extension};
        for (const auto& list : {keys, call.keys}) {
            for (std::size_t at = 0; at + 1 < list.size(); at += 2) {
                arguments.insert(arguments.end(), {"-key", list[at], list[at + 1]});
            }
        }
        arguments.insert(arguments.end(),
                         {"-d", std::to_string(call.pause_ms), "-m", std::to_string(call.calls),
                          "-r", std::to_string(call.rate), "-l", "1000"});
        return sipp(call.scenario + "-" + std::to_string(++calls_placed_), std::move(arguments));
    }

    // Places the call and waits for the caller to finish; returns its Call-ID.
    std::string call(const Call& call) {
        auto caller = place(call);
        const std::string id = call_id(*caller);
        const int exit_code = caller->wait(30s);
        CHECK_MESSAGE(exit_code == 0, "SIPp " << call.scenario << " failed:\n" << caller->output());
        return id;
    }

    static std::string call_id(const Process& caller) {
        return "1-" + std::to_string(caller.pid()) + "@127.0.0.1";
    }

    std::string kamailio_log() const { return kamailio_->output(); }

  private:
    std::string scenario(const std::string& name) const {
        return (example_dir() / "sipp" / name).string();
    }

    std::unique_ptr<Process> sipp(const std::string& name, std::vector<std::string> arguments) {
        std::vector<std::string> command = {sipp_binary_, "127.0.0.1:" + std::to_string(sip_port_)};
        command.insert(command.end(), arguments.begin(), arguments.end());
        // Ports of its own (SIPp's default walks up from 5060 and 8888), no terminal, a
        // bound on its life.
        const std::vector<std::string> options = {
            "-i",          "127.0.0.1",
            "-mi",         "127.0.0.1",
            "-p",          std::to_string(free_port(SOCK_DGRAM)),
            "-cp",         std::to_string(free_port(SOCK_DGRAM)),
            "-nostdin",    "-timeout",
            "60s",         "-trace_err",
            "-error_file", (dir_ / (name + ".errors")).string()};
        command.insert(command.end(), options.begin(), options.end());
        return std::make_unique<Process>("sipp-" + name, std::move(command), dir_.path());
    }

    std::unique_ptr<Process> start_phone(const std::string& scenario_name, std::uint16_t port,
                                         std::vector<std::string> extra) {
        std::vector<std::string> command = {sipp_binary_,
                                            "-sf",
                                            scenario(scenario_name + ".xml"),
                                            "-i",
                                            "127.0.0.1",
                                            "-p",
                                            std::to_string(port),
                                            "-cp",
                                            std::to_string(free_port(SOCK_DGRAM)),
                                            "-mi",
                                            "127.0.0.1",
                                            "-nostdin",
                                            "-timeout",
                                            "120s",
                                            "-trace_err",
                                            "-error_file",
                                            (dir_ / (scenario_name + ".errors")).string()};
        command.insert(command.end(), extra.begin(), extra.end());
        auto phone =
            std::make_unique<Process>("sipp-" + scenario_name, std::move(command), dir_.path());
        wait_until(
            [&] {
                REQUIRE_MESSAGE(phone->running(), scenario_name << " exited:\n" << phone->output());
                return listening(port, true);
            },
            10s, scenario_name + " to listen");
        return phone;
    }

    Options options_;
    TempDir dir_;
    std::string kamailio_binary_;
    std::string sipp_binary_;
    std::uint16_t sip_port_ = 0;
    std::uint16_t evapi_port_ = 0;
    std::uint16_t answering_port_ = 0;
    std::uint16_t busy_port_ = 0;
    std::uint16_t ringing_port_ = 0;
    int kamailio_starts_ = 0;
    int calls_placed_ = 0;
    std::unique_ptr<Process> kamailio_;
    std::unique_ptr<Process> answering_;
    std::unique_ptr<Process> busy_;
    std::unique_ptr<Process> ringing_;
};

std::string evapi_link(std::uint16_t port) {
    return "switches:\n"
           "  - name: kamailio\n"
           "    type: evapi\n"
           "    host: 127.0.0.1\n"
           "    port: " +
           std::to_string(port) +
           "\n"
           "    reconnect_min: 1s\n"
           "    reconnect_max: 1s\n";
}

constexpr const char* link_ready = "switch kamailio: kamailio is sending events";

// callpop is registered with evapi once Kamailio's hello reached it: events sent before
// that were never sent to it.
void wait_for_link(const Daemon& daemon, std::size_t hellos) {
    wait_until([&] { return count_of(daemon.log(), link_ready) >= hellos; }, 15s,
               "callpop's evapi link to Kamailio");
}

// The calls table's row for a call, as "state switch caller cause answered agent".
std::string call_row(const Daemon& daemon, const std::string& call) {
    return query_one(daemon.database_path(),
                     "SELECT state || ' ' || switch || ' ' || caller || ' ' || cause || ' ' || "
                     "(answered_at IS NOT NULL) || ' ' || agent FROM calls WHERE call_id = '" +
                         call + "'");
}

// The hangup record of a call in the JSONL call log.
std::optional<json> jsonl_hangup(const Daemon& daemon, const std::string& call) {
    std::istringstream lines(read_file(daemon.jsonl_path()));
    for (std::string line; std::getline(lines, line);) {
        json record = json::parse(line);
        if (record.value("kind", "") == "hangup" && record.value("call", "") == call) return record;
    }
    return std::nullopt;
}

// The hangup records of these calls on the supervisor's tail, in whatever order they come.
std::map<std::string, json> expect_hangups(Client& supervisor, std::set<std::string> calls) {
    std::map<std::string, json> hangups;
    while (hangups.size() < calls.size()) {
        json record = expect_log(supervisor, "hangup");
        const std::string call = record["call"];
        if (calls.contains(call)) hangups.emplace(call, std::move(record));
    }
    return hangups;
}

json expect_ended(Client& agent, const std::string& call) {
    const json ended = agent.expect("call", 10s);
    CHECK(ended["call"] == call);
    CHECK(ended["state"] == "ended");
    return ended;
}

struct Desk {
    explicit Desk(const Daemon& daemon)
        : agent_1001(daemon.agent_port()),
          agent_1002(daemon.agent_port()),
          agent_1003(daemon.agent_port()),
          supervisor(daemon.agent_port()) {
        login(agent_1001, "1001", "secret-1001", {"1001"});
        login(agent_1002, "1002", "secret-1002", {"1002"});
        login(agent_1003, "1003", "secret-1003", {"1003"});
        follow_call_log(supervisor);
    }
    Client agent_1001;  // at the phone that answers
    Client agent_1002;  // at the busy phone
    Client agent_1003;  // at the phone that rings until someone gives up
    Client supervisor;
};

}  // namespace

TEST_CASE("kamailio: answered, abandoned, busy, unanswered and offline calls pop and are logged") {
    Switch kamailio({});
    Daemon daemon({.extra_config = evapi_link(kamailio.evapi_port())});
    daemon.start();
    wait_for_link(daemon, 1);
    Desk desk(daemon);

    // Pat Doe calls the support line; 1001's phone rings, answers; Pat hangs up.
    const std::string answered = kamailio.call({.scenario = "caller_answered",
                                                .caller = "15550102000",
                                                .caller_name = "Pat Doe",
                                                .extension = "1001"});
    json pop = desk.agent_1001.expect("pop", 10s);
    CHECK(pop["call"] == answered);
    CHECK(pop["caller"]["raw"] == "15550102000");
    CHECK(pop["caller"]["number"] == "+15550102000");
    CHECK(pop["caller"]["name"] == "Pat Doe");
    CHECK(pop["dialed"] == "8005551000");
    CHECK(pop["line"] == "Support hotline");
    REQUIRE(pop["customer"].is_object());
    CHECK(pop["customer"]["external_id"] == "C-1000");
    CHECK(expect_ended(desk.agent_1001, answered)["cause"] == "normal");
    const json ring_record = expect_log(desk.supervisor, "ring", answered);
    CHECK(ring_record["switch"] == "kamailio");
    CHECK(ring_record["ext"] == "1001");
    const json answer_record = expect_log(desk.supervisor, "answer", answered);
    CHECK(answer_record["ext"] == "1001");
    CHECK(answer_record["agent"] == "1001");
    CHECK(expect_log(desk.supervisor, "hangup", answered)["cause"] == "normal");
    CHECK(call_row(daemon, answered) == "completed kamailio +15550102000 normal 1 1001");

    // A caller of a number two customers share gives up while 1003's phone rings.
    const std::string abandoned = kamailio.call({.scenario = "caller_abandons",
                                                 .caller = "15550104000",
                                                 .caller_name = "Sam Roe",
                                                 .extension = "1003"});
    pop = desk.agent_1003.expect("pop", 10s);
    CHECK(pop["call"] == abandoned);
    CHECK(pop["caller"]["number"] == "+15550104000");
    CHECK(pop["candidates"].size() == 1);
    CHECK(expect_ended(desk.agent_1003, abandoned)["cause"] == "abandoned");
    CHECK(expect_log(desk.supervisor, "hangup", abandoned)["cause"] == "abandoned");
    CHECK(call_row(daemon, abandoned) == "abandoned kamailio +15550104000 abandoned 0 ");

    // A stranger calls 1002, whose phone is busy (486).
    const std::string busy = kamailio.call({.scenario = "caller_refused",
                                            .caller = "15550109999",
                                            .caller_name = "",
                                            .extension = "1002"});
    pop = desk.agent_1002.expect("pop", 10s);
    CHECK(pop["call"] == busy);
    CHECK(pop["caller"]["number"] == "+15550109999");
    CHECK(pop["customer"].is_null());
    CHECK(expect_ended(desk.agent_1002, busy)["cause"] == "busy");
    CHECK(expect_log(desk.supervisor, "hangup", busy)["cause"] == "busy");
    CHECK(call_row(daemon, busy) == "abandoned kamailio +15550109999 busy 0 ");

    // 1003's phone rings until Kamailio gives up (fr_inv_timer: a local 408).
    const std::string unanswered = kamailio.call({.scenario = "caller_refused",
                                                  .caller = "+15550102001",
                                                  .caller_name = "Pat Doe",
                                                  .extension = "1003"});
    pop = desk.agent_1003.expect("pop", 10s);
    CHECK(pop["call"] == unanswered);
    CHECK(pop["customer"]["external_id"] == "C-1000");
    CHECK(expect_ended(desk.agent_1003, unanswered)["cause"] == "no_answer");
    CHECK(expect_log(desk.supervisor, "hangup", unanswered)["cause"] == "no_answer");
    CHECK(call_row(daemon, unanswered) == "abandoned kamailio +15550102001 no_answer 0 ");

    // Nobody's phone is registered at 1004: nothing rings, nobody gets a pop, the call is
    // logged as failed (480).
    const std::string offline = kamailio.call({.scenario = "caller_refused",
                                               .caller = "15550104000",
                                               .caller_name = "Lee Poe",
                                               .extension = "1004"});
    CHECK(expect_log(desk.supervisor, "hangup", offline)["cause"] == "no_answer");
    CHECK(call_row(daemon, offline) == "abandoned kamailio +15550104000 no_answer 0 ");

    // Through a trunk: From names the trunk's account, P-Asserted-Identity the caller.
    const std::string asserted =
        kamailio.call({.scenario = "caller_asserted",
                       .caller = "15550102000",
                       .caller_name = "PAT DOE",
                       .extension = "1001",
                       .pause_ms = 100,
                       .keys = {"from_user", "trunk-7", "privacy", "none"}});
    pop = desk.agent_1001.expect("pop", 10s);
    CHECK(pop["call"] == asserted);
    CHECK(pop["caller"]["raw"] == "15550102000");
    CHECK(pop["customer"]["external_id"] == "C-1000");
    CHECK(expect_ended(desk.agent_1001, asserted)["cause"] == "normal");

    // The caller asked for privacy: the trunk knows the number, the agent does not see it.
    const std::string withheld =
        kamailio.call({.scenario = "caller_asserted",
                       .caller = "15550102000",
                       .caller_name = "Anonymous",
                       .extension = "1001",
                       .pause_ms = 100,
                       .keys = {"from_user", "anonymous", "privacy", "id"}});
    pop = desk.agent_1001.expect("pop", 10s);
    CHECK(pop["call"] == withheld);
    CHECK(pop["caller"]["withheld"] == true);
    CHECK(pop["caller"]["number"].is_null());
    CHECK(pop["customer"].is_null());
    CHECK(expect_ended(desk.agent_1001, withheld)["cause"] == "normal");

    // Every outcome is in the JSONL call log too.
    for (const auto& [call, cause] :
         std::vector<std::pair<std::string, std::string>>{{answered, "normal"},
                                                          {abandoned, "abandoned"},
                                                          {busy, "busy"},
                                                          {unanswered, "no_answer"},
                                                          {offline, "no_answer"}}) {
        CAPTURE(call);
        const auto hangup = jsonl_hangup(daemon, call);
        REQUIRE(hangup.has_value());
        CHECK((*hangup)["cause"] == cause);
        CHECK((*hangup)["switch"] == "kamailio");
    }
    // Each agent got their own calls' pops only, and Kamailio's stream held nothing callpop
    // had to skip.
    CHECK(desk.agent_1001.quiet());
    CHECK(desk.agent_1002.quiet());
    CHECK(desk.agent_1003.quiet());
    CHECK(daemon.log().find("skipped:") == std::string::npos);
}

TEST_CASE("kamailio: calls open when the switch restarts are closed as unknown; the link returns") {
    // A long ring timeout: the ringing call is still ringing when Kamailio goes.
    Switch kamailio({.ring_timeout_ms = 30000});
    Daemon daemon({.extra_config = evapi_link(kamailio.evapi_port())});
    daemon.start();
    wait_for_link(daemon, 1);
    Desk desk(daemon);

    auto talking = kamailio.place({.scenario = "caller_answered",
                                   .caller = "15550102000",
                                   .caller_name = "Pat Doe",
                                   .extension = "1001",
                                   .pause_ms = 60000});
    const std::string talking_call = Switch::call_id(*talking);
    auto ringing = kamailio.place({.scenario = "caller_abandons",
                                   .caller = "15550109999",
                                   .caller_name = "",
                                   .extension = "1003",
                                   .pause_ms = 60000});
    const std::string ringing_call = Switch::call_id(*ringing);
    CHECK(desk.agent_1001.expect("pop", 10s)["call"] == talking_call);
    CHECK(desk.agent_1003.expect("pop", 10s)["call"] == ringing_call);
    expect_log(desk.supervisor, "answer", talking_call);

    // What happens to these calls now is never sent: callpop closes them as "unknown".
    kamailio.crash_kamailio();
    CHECK(expect_ended(desk.agent_1001, talking_call)["cause"] == "unknown");
    CHECK(expect_ended(desk.agent_1003, ringing_call)["cause"] == "unknown");
    for (const auto& [call, hangup] : expect_hangups(desk.supervisor, {talking_call, ringing_call}))
        CHECK(hangup["cause"] == "unknown");
    CHECK(call_row(daemon, talking_call) == "completed kamailio +15550102000 unknown 1 1001");
    CHECK(call_row(daemon, ringing_call) == "abandoned kamailio +15550109999 unknown 0 ");
    CHECK(jsonl_hangup(daemon, talking_call).value()["cause"] == "unknown");
    talking->stop();
    ringing->stop();

    // Kamailio is back on the same ports; callpop reconnects by itself and pops again.
    kamailio.start_kamailio();
    wait_for_link(daemon, 2);
    kamailio.register_phones();
    const std::string after = kamailio.call({.scenario = "caller_answered",
                                             .caller = "15550102000",
                                             .caller_name = "Pat Doe",
                                             .extension = "1001"});
    CHECK(desk.agent_1001.expect("pop", 10s)["call"] == after);
    CHECK(expect_ended(desk.agent_1001, after)["cause"] == "normal");
    expect_log(desk.supervisor, "hangup", after);
    CHECK(call_row(daemon, after) == "completed kamailio +15550102000 normal 1 1001");
    CHECK(desk.agent_1001.quiet());
    // Nobody knows whether the caller whose call was lost was helped: no callback for it
    // (the writer is in order: what the hangups queued is committed by now).
    CHECK(query_one(daemon.database_path(),
                    "SELECT count(*) FROM followups WHERE kind = 'callback'") == "0");
}

TEST_CASE("kamailio: a burst of calls all reach the call log") {
    Switch kamailio({.phone_ring_ms = 50});
    Daemon daemon({.extra_config = evapi_link(kamailio.evapi_port())});
    daemon.start();
    wait_for_link(daemon, 1);
    Desk desk(daemon);

    constexpr int calls = 200;
    auto callers = kamailio.place({.scenario = "caller_answered",
                                   .caller = "15550102000",
                                   .caller_name = "Pat Doe",
                                   .extension = "1001",
                                   .pause_ms = 100,
                                   .calls = calls,
                                   .rate = 100});
    const int exit_code = callers->wait(60s);
    CHECK_MESSAGE(exit_code == 0, callers->output());
    int pops = 0;
    while (desk.agent_1001.read_line(2s)) ++pops;  // pops and ends, in order
    CHECK(pops == 2 * calls);
    wait_until(
        [&] {
            return query_one(daemon.database_path(),
                             "SELECT count(*) FROM calls WHERE switch = 'kamailio' AND state = "
                             "'completed' AND cause = 'normal'") == std::to_string(calls);
        },
        15s, "every call completed in the call log");
    CHECK(daemon.log().find("skipped:") == std::string::npos);
}

TEST_CASE("kamailio: display names pop as the caller wrote them, SIP's escapes undone") {
    Switch kamailio({});
    Daemon daemon({.extra_config = evapi_link(kamailio.evapi_port())});
    daemon.start();
    wait_for_link(daemon, 1);
    Desk desk(daemon);

    struct Name {
        std::string in_sip;  // inside the From header's quotes, as the phone sends it
        std::string popped;
    };
    // The longest a From header here carries in one UDP datagram with room to spare.
    const std::string long_name(900, 'N');
    const std::vector<Name> names = {
        {R"(Pat \"The Boss\" Doe)", R"(Pat "The Boss" Doe)"},
        {R"(Back\\slash \\ Co)", R"(Back\slash \ Co)"},
        {"Jos\xc3\xa9 M\xc3\xbcller \xe6\x9d\x8e", "Jos\xc3\xa9 M\xc3\xbcller \xe6\x9d\x8e"},
        {long_name, long_name},
    };
    for (const auto& name : names) {
        const std::string call = kamailio.call({.scenario = "caller_answered",
                                                .caller = "15550102000",
                                                .caller_name = name.in_sip,
                                                .extension = "1001",
                                                .pause_ms = 50});
        const json pop = desk.agent_1001.expect("pop", 10s);
        CHECK(pop["call"] == call);
        CHECK(pop["caller"]["name"] == name.popped);
        expect_ended(desk.agent_1001, call);
    }
}
