#include <doctest/doctest.h>

#include <initializer_list>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "protocol/ami_calls.hpp"
#include "protocol/ami_frame.hpp"
#include "support/ami_fixtures.hpp"

using callpop::protocol::AmiCallMapper;
using callpop::protocol::AmiCallRules;
using callpop::protocol::AmiDecoder;
using callpop::protocol::AmiMessage;
using callpop::protocol::extension_of;
using callpop::protocol::SwitchEvent;
using callpop::test::read_ami_fixture;

// Named, not anonymous: the test executables are unity builds (CMakeLists.txt), and
// the decoders' tests have helpers of the same names.
namespace ami_calls_test {

// The fixtures' agents are Local channels into the `phones` context; callers come in
// through `from-trunk`.
AmiCallRules fixture_rules() { return {{"PJSIP/{ext}", "Local/{ext}@phones"}, {"from-trunk"}}; }

std::string render(const SwitchEvent& event) {
    std::string text = std::string(to_string(event.kind)) + " " + event.call;
    const auto add = [&](const char* key, const std::string& value) {
        if (!value.empty()) text += std::string(" ") + key + "=" + value;
    };
    add("from", event.from);
    add("name", event.name);
    add("to", event.to);
    add("queue", event.queue);
    for (const auto& extension : event.extensions) add("ext", extension);
    add("cause", event.cause);
    return text;
}

void take(std::vector<std::string>& out, const std::vector<SwitchEvent>& events) {
    for (const auto& event : events) out.push_back(render(event));
}

// Decodes the stream in the given pieces and maps every event.
std::vector<std::string> map_stream(AmiCallMapper& mapper, const std::vector<std::string>& pieces) {
    AmiDecoder decoder;
    std::vector<std::string> out;
    for (const auto& piece : pieces) {
        decoder.feed(piece);
        while (auto item = decoder.next()) {
            if (const auto* message = std::get_if<AmiMessage>(&*item)) {
                if (message->find("Event") != nullptr) take(out, mapper.on_event(*message));
            }
        }
    }
    return out;
}

std::vector<std::string> map_fixture(const std::string& name) {
    AmiCallMapper mapper(fixture_rules());
    auto out = map_stream(mapper, {read_ami_fixture(name + ".ami")});
    CHECK(mapper.live_calls() == 0);
    CHECK(mapper.tracked_channels() == 0);
    return out;
}

AmiMessage ami(std::initializer_list<std::pair<std::string, std::string>> fields) {
    AmiMessage message;
    message.fields.assign(fields.begin(), fields.end());
    return message;
}

std::vector<std::string> feed(AmiCallMapper& mapper, const std::vector<AmiMessage>& events) {
    std::vector<std::string> out;
    for (const auto& event : events) take(out, mapper.on_event(event));
    return out;
}

AmiMessage new_channel(const std::string& channel, const std::string& uniqueid,
                       const std::string& linkedid, const std::string& context,
                       const std::string& exten, const std::string& caller = "<unknown>") {
    return ami({{"Event", "Newchannel"}, {"Channel", channel}, {"CallerIDNum", caller},
                {"CallerIDName", "<unknown>"}, {"Context", context}, {"Exten", exten},
                {"Uniqueid", uniqueid}, {"Linkedid", linkedid}});
}

AmiMessage dial(const char* event, const std::string& channel, const std::string& uniqueid,
                const std::string& linkedid, const std::string& destination,
                const std::string& status = "") {
    AmiMessage message = ami({{"Event", event}, {"Channel", channel}, {"CallerIDNum", "2125550101"},
                              {"Uniqueid", uniqueid}, {"Linkedid", linkedid},
                              {"DestChannel", destination}, {"DestLinkedid", linkedid}});
    if (!status.empty()) message.fields.emplace_back("DialStatus", status);
    return message;
}

AmiMessage hangup(const std::string& channel, const std::string& uniqueid,
                  const std::string& linkedid) {
    return ami({{"Event", "Hangup"}, {"Channel", channel}, {"Uniqueid", uniqueid},
                {"Linkedid", linkedid}, {"Cause", "16"}, {"Cause-txt", "Normal Clearing"}});
}

// A trunk call from +1 212 555 0101 to 8005551000, answered by PJSIP/1001.
std::vector<AmiMessage> answered_by_1001() {
    return {new_channel("PJSIP/trunk-00000001", "100.1", "100.1", "from-trunk", "8005551000",
                        "2125550101"),
            new_channel("PJSIP/1001-00000002", "100.2", "100.1", "phones", "s"),
            dial("DialBegin", "PJSIP/trunk-00000001", "100.1", "100.1", "PJSIP/1001-00000002"),
            dial("DialEnd", "PJSIP/trunk-00000001", "100.1", "100.1", "PJSIP/1001-00000002",
                 "ANSWER")};
}


TEST_CASE("ami calls: extensions come from channel and interface names by pattern") {
    const std::vector<std::string> patterns = {"PJSIP/{ext}", "Local/{ext}@from-queue",
                                               "SIP/agent-{ext}"};
    CHECK(extension_of("PJSIP/1001-0000002a", patterns) == "1001");
    CHECK(extension_of("PJSIP/1001", patterns) == "1001");
    CHECK(extension_of("Local/2002@from-queue-00000003;1", patterns) == "2002");
    CHECK(extension_of("Local/2002@from-queue/n", patterns) == "2002");
    CHECK(extension_of("SIP/agent-77-0000001", patterns) == "77");
    CHECK(extension_of("Local/2002@from-internal-00000003;1", patterns).empty());
    CHECK(extension_of("IAX2/1001-5", patterns).empty());
    CHECK(extension_of("PJSIP/", patterns).empty());
    CHECK(extension_of("", patterns).empty());
}

TEST_CASE("ami calls: the recorded Asterisk calls map to rings, answers and hangups") {
    CHECK(map_fixture("queue") ==
          std::vector<std::string>{
              "ring 1795385697.0 from=2125550101 name=Alice Caller to=8005551000 queue=support",
              "ring 1795385697.0 from=2125550101 name=Alice Caller to=8005551000 queue=support "
              "ext=1001",
              "answer 1795385697.0 from=2125550101 name=Alice Caller to=8005551000 "
              "queue=support ext=1001",
              "hangup 1795385697.0 from=2125550101 name=Alice Caller to=8005551000 "
              "queue=support cause=normal"});
    // The extension's own leg says the DID is calling: the caller comes from the trunk side.
    CHECK(map_fixture("direct") ==
          std::vector<std::string>{
              "ring 1795385708.0 from=3125550102 name=Bob Caller to=8005551002 ext=1002",
              "answer 1795385708.0 from=3125550102 name=Bob Caller to=8005551002 ext=1002",
              "hangup 1795385708.0 from=3125550102 name=Bob Caller to=8005551002 cause=normal"});
    // The caller's channel hangs up before QueueCallerAbandon arrives.
    CHECK(map_fixture("abandon") ==
          std::vector<std::string>{
              "ring 1795385824.0 from=4155550103 name=Carla Impatient to=8005552000 queue=sales",
              "ring 1795385824.0 from=4155550103 name=Carla Impatient to=8005552000 "
              "queue=sales ext=1003",
              "hangup 1795385824.0 from=4155550103 name=Carla Impatient to=8005552000 "
              "queue=sales cause=abandoned"});
    CHECK(map_fixture("noanswer") ==
          std::vector<std::string>{
              "ring 1795385731.0 from=6175550104 name=Dan Unlucky to=8005551003 ext=1003",
              "hangup 1795385731.0 from=6175550104 name=Dan Unlucky to=8005551003 "
              "cause=no_answer"});
    CHECK(map_fixture("busy") ==
          std::vector<std::string>{
              "ring 1795385744.0 from=7185550105 name=Eve Busytone to=8005551005 ext=1005",
              "hangup 1795385744.0 from=7185550105 name=Eve Busytone to=8005551005 cause=busy"});
}

TEST_CASE("ami calls: a fixture cut anywhere maps to the same events") {
    std::mt19937 random(3);
    for (const auto& name : callpop::test::ami_fixture_names) {
        INFO("fixture " << name);
        const std::string stream = read_ami_fixture(name + ".ami");
        const auto expected = map_fixture(name);
        for (int trial = 0; trial < 20; ++trial) {
            std::vector<std::string> pieces;
            std::uniform_int_distribution<std::size_t> length(1, 3000);
            for (std::size_t at = 0; at < stream.size();) {
                const std::size_t take = std::min(length(random), stream.size() - at);
                pieces.push_back(stream.substr(at, take));
                at += take;
            }
            AmiCallMapper mapper(fixture_rules());
            CHECK(map_stream(mapper, pieces) == expected);
        }
    }
}

TEST_CASE("ami calls: calls from other contexts are not customers' calls") {
    AmiCallMapper mapper(fixture_rules());
    // An agent calls a colleague: its first channel starts in from-internal.
    const auto events = feed(
        mapper, {new_channel("PJSIP/1001-00000001", "200.1", "200.1", "from-internal", "1002"),
                 new_channel("PJSIP/1002-00000002", "200.2", "200.1", "phones", "s"),
                 dial("DialBegin", "PJSIP/1001-00000001", "200.1", "200.1", "PJSIP/1002-00000002"),
                 hangup("PJSIP/1002-00000002", "200.2", "200.1"),
                 hangup("PJSIP/1001-00000001", "200.1", "200.1")});
    CHECK(events.empty());
    // With no contexts configured every call counts.
    AmiCallMapper every_call({{"PJSIP/{ext}"}, {}});
    CHECK(feed(every_call, {new_channel("PJSIP/1001-00000001", "200.1", "200.1", "from-internal",
                                        "1002", "1001"),
                            dial("DialBegin", "PJSIP/1001-00000001", "200.1", "200.1",
                                 "PJSIP/1002-00000002")}) ==
          std::vector<std::string>{"ring 200.1 from=1001 to=1002 ext=1002"});
}

TEST_CASE("ami calls: events for channels never seen, and events missing ids, change nothing") {
    AmiCallMapper mapper(fixture_rules());
    CHECK(feed(mapper, {dial("DialBegin", "PJSIP/trunk-9", "9.9", "9.9", "PJSIP/1001-1"),
                        ami({{"Event", "AgentConnect"}, {"Interface", "PJSIP/1001"}}),
                        ami({{"Event", "Hangup"}}), ami({{"Event", "Newchannel"}}),
                        ami({{"Event", "AttendedTransfer"}, {"Result", "Success"}}),
                        hangup("PJSIP/trunk-9", "9.9", "9.9")})
              .empty());
    CHECK(mapper.live_calls() == 0);
}

TEST_CASE("ami calls: a blind transfer rings the new agent, who then answers") {
    AmiCallMapper mapper(fixture_rules());
    auto events = feed(mapper, answered_by_1001());
    REQUIRE(events.size() == 2);
    // The transferer's leg goes; the caller's channel dials 1002 (BlindTransfer, then Dial).
    events = feed(
        mapper,
        {ami({{"Event", "BlindTransfer"}, {"Result", "Success"}, {"TransfereeChannel", "PJSIP/trunk-00000001"},
              {"TransfereeLinkedid", "100.1"}, {"Extension", "1002"}}),
         hangup("PJSIP/1001-00000002", "100.2", "100.1"),
         new_channel("PJSIP/1002-00000003", "100.3", "100.1", "phones", "s"),
         dial("DialBegin", "PJSIP/trunk-00000001", "100.1", "100.1", "PJSIP/1002-00000003"),
         dial("DialEnd", "PJSIP/trunk-00000001", "100.1", "100.1", "PJSIP/1002-00000003", "ANSWER"),
         hangup("PJSIP/1002-00000003", "100.3", "100.1"),
         hangup("PJSIP/trunk-00000001", "100.1", "100.1")});
    CHECK(events == std::vector<std::string>{
                        "transfer 100.1 from=2125550101 to=8005551000 ext=1002",
                        "answer 100.1 from=2125550101 to=8005551000 ext=1002",
                        "hangup 100.1 from=2125550101 to=8005551000 cause=normal"});
}

TEST_CASE("ami calls: an attended transfer hands the call to the agent consulted") {
    AmiCallMapper mapper(fixture_rules());
    feed(mapper, answered_by_1001());
    // 1001 calls 1002 (its own Linkedid, an internal call), then completes the transfer.
    auto events = feed(
        mapper,
        {new_channel("PJSIP/1001-00000004", "300.1", "300.1", "from-internal", "1002"),
         new_channel("PJSIP/1002-00000005", "300.2", "300.1", "phones", "s"),
         dial("DialBegin", "PJSIP/1001-00000004", "300.1", "300.1", "PJSIP/1002-00000005"),
         dial("DialEnd", "PJSIP/1001-00000004", "300.1", "300.1", "PJSIP/1002-00000005", "ANSWER"),
         ami({{"Event", "AttendedTransfer"}, {"Result", "Success"},
              {"OrigTransfererChannel", "PJSIP/1001-00000002"}, {"OrigTransfererLinkedid", "100.1"},
              {"SecondTransfererChannel", "PJSIP/1001-00000004"},
              {"SecondTransfererLinkedid", "300.1"}, {"DestType", "Bridge"},
              {"TransfereeChannel", "PJSIP/trunk-00000001"}, {"TransfereeLinkedid", "100.1"},
              {"TransferTargetChannel", "PJSIP/1002-00000005"},
              {"TransferTargetLinkedid", "300.1"}}),
         hangup("PJSIP/1001-00000002", "100.2", "100.1"),
         hangup("PJSIP/1001-00000004", "300.1", "300.1"),
         hangup("PJSIP/trunk-00000001", "100.1", "100.1")});
    CHECK(events == std::vector<std::string>{
                        "transfer 100.1 from=2125550101 to=8005551000 ext=1002",
                        "answer 100.1 from=2125550101 to=8005551000 ext=1002",
                        "hangup 100.1 from=2125550101 to=8005551000 cause=normal"});
    // The consultation call is not a customer's call; its last channel ends it quietly,
    // though the bridge gave the channel the customer's Linkedid.
    CHECK(feed(mapper, {ami({{"Event", "BridgeEnter"}, {"Channel", "PJSIP/1002-00000005"},
                             {"Uniqueid", "300.2"}, {"Linkedid", "100.1"}}),
                        hangup("PJSIP/1002-00000005", "300.2", "100.1")})
              .empty());
    CHECK(mapper.live_calls() == 0);
    CHECK(mapper.tracked_channels() == 0);
}

TEST_CASE("ami calls: after a reconnect the channel list closes vanished calls and finds new ones") {
    AmiCallMapper mapper(fixture_rules());
    feed(mapper, answered_by_1001());
    feed(mapper, {new_channel("PJSIP/trunk-00000007", "400.1", "400.1", "from-trunk",
                              "8005552000", "4155550103"),
                  dial("DialBegin", "PJSIP/trunk-00000007", "400.1", "400.1",
                       "PJSIP/1003-00000008")});
    REQUIRE(mapper.live_calls() == 2);

    // The link was down. Call 100.1 ended meanwhile; 400.1 is still ringing; 500.1 began
    // and was answered by 1004. A channel created while the list comes is kept.
    mapper.begin_resync();
    auto events = feed(
        mapper,
        {ami({{"Event", "CoreShowChannel"}, {"Channel", "PJSIP/trunk-00000007"},
              {"Uniqueid", "400.1"}, {"Linkedid", "400.1"}, {"Context", "from-trunk"},
              {"Exten", "8005552000"}, {"ChannelStateDesc", "Ring"}, {"BridgeId", ""}}),
         ami({{"Event", "CoreShowChannel"}, {"Channel", "PJSIP/1003-00000008"},
              {"Uniqueid", "400.2"}, {"Linkedid", "400.1"}, {"Context", "phones"},
              {"ChannelStateDesc", "Ringing"}}),
         ami({{"Event", "CoreShowChannel"}, {"Channel", "PJSIP/trunk-00000009"},
              {"Uniqueid", "500.1"}, {"Linkedid", "500.1"}, {"Context", "from-trunk"},
              {"Exten", "8005551002"}, {"CallerIDNum", "3125550102"}, {"ChannelStateDesc", "Up"},
              {"BridgeId", "b-1"}}),
         ami({{"Event", "CoreShowChannel"}, {"Channel", "PJSIP/1004-0000000a"},
              {"Uniqueid", "500.2"}, {"Linkedid", "500.1"}, {"Context", "phones"},
              {"ChannelStateDesc", "Up"}, {"BridgeId", "b-1"}}),
         new_channel("PJSIP/1005-0000000b", "400.3", "400.1", "phones", "s")});
    CHECK(events.empty());
    take(events, mapper.end_resync());
    CHECK(events == std::vector<std::string>{
                        "hangup 100.1 from=2125550101 to=8005551000 cause=unknown",
                        "ring 500.1 from=3125550102 to=8005551002 ext=1004",
                        "answer 500.1 from=3125550102 to=8005551002 ext=1004"});
    CHECK(mapper.live_calls() == 2);
    // The calls found go on as usual.
    CHECK(feed(mapper, {hangup("PJSIP/1004-0000000a", "500.2", "500.1"),
                        hangup("PJSIP/trunk-00000009", "500.1", "500.1")}) ==
          std::vector<std::string>{"hangup 500.1 from=3125550102 to=8005551002 cause=normal"});
    CHECK(feed(mapper, {hangup("PJSIP/1003-00000008", "400.2", "400.1"),
                        hangup("PJSIP/1005-0000000b", "400.3", "400.1")})
              .empty());
    CHECK(feed(mapper, {hangup("PJSIP/trunk-00000007", "400.1", "400.1")}) ==
          std::vector<std::string>{"hangup 400.1 from=4155550103 to=8005552000 cause=abandoned"});
    CHECK(mapper.live_calls() == 0);
}

TEST_CASE("ami calls: an event trailing a channel's hangup does not bring the channel back") {
    AmiCallMapper mapper(fixture_rules());
    feed(mapper, answered_by_1001());
    // Event order between legs varies: the trunk's QueueCallerLeave after its Hangup.
    const auto events = feed(
        mapper, {hangup("PJSIP/trunk-00000001", "100.1", "100.1"),
                 ami({{"Event", "QueueCallerLeave"}, {"Channel", "PJSIP/trunk-00000001"},
                      {"Uniqueid", "100.1"}, {"Linkedid", "100.1"}, {"Queue", "support"}}),
                 hangup("PJSIP/1001-00000002", "100.2", "100.1")});
    CHECK(events == std::vector<std::string>{
                        "hangup 100.1 from=2125550101 to=8005551000 cause=normal"});
    CHECK(mapper.live_calls() == 0);
    CHECK(mapper.tracked_channels() == 0);
}

TEST_CASE("ami calls: the channel list applies in any order, and a refused list changes nothing") {
    AmiCallMapper mapper(fixture_rules());
    mapper.begin_resync();
    // The agent's channel comes before the call's first channel.
    feed(mapper,
         {ami({{"Event", "CoreShowChannel"}, {"Channel", "PJSIP/1004-0000000a"},
               {"Uniqueid", "500.2"}, {"Linkedid", "500.1"}, {"Context", "phones"},
               {"ChannelStateDesc", "Up"}, {"BridgeId", "b-1"}}),
          ami({{"Event", "CoreShowChannel"}, {"Channel", "PJSIP/trunk-00000009"},
               {"Uniqueid", "500.1"}, {"Linkedid", "500.1"}, {"Context", "from-trunk"},
               {"Exten", "8005551002"}, {"CallerIDNum", "3125550102"}, {"ChannelStateDesc", "Up"},
               {"BridgeId", "b-1"}})});
    std::vector<std::string> events;
    take(events, mapper.end_resync());
    CHECK(events == std::vector<std::string>{"ring 500.1 from=3125550102 to=8005551002 ext=1004",
                                             "answer 500.1 from=3125550102 to=8005551002 ext=1004"});

    // CoreShowChannels refused: the calls are not known to have ended.
    mapper.begin_resync();
    mapper.abort_resync();
    CHECK(mapper.live_calls() == 1);
    CHECK(mapper.tracked_channels() == 2);
}

}  // namespace ami_calls_test
