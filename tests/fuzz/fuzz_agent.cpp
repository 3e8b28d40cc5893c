// libFuzzer target for the agent port (docs/protocol-agent.md): the line decoder and
// parse_agent_message, and the encoders fed with what it accepts (welcome, outcome_saved,
// follow-ups, call-log records). Build and run: tests/fuzz/README.md.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "fuzz/protocol_support.hpp"
#include "protocol/agent_message.hpp"
#include "protocol/records.hpp"

namespace protocol = callpop::protocol;
namespace domain = callpop::domain;
using callpop::domain::AttemptResult;
using callpop::domain::FollowupKind;
using callpop::domain::FollowupStatus;
using callpop::fuzz::check_encoded;
using callpop::fuzz::require;

namespace {

// What callpop logs for a follow-up event, from parsed text.
void check_followup_log(const char* kind, std::int64_t id, const std::string& agent,
                        const std::string& outcome, const std::string& notes) {
    domain::CallLogRecord record;
    record.kind = kind;
    record.agent = agent;
    record.outcome = outcome;
    record.notes = notes;
    record.followup_id = id;
    check_encoded(protocol::encode_log(record));
    // The JSONL file is read back by `callpop tail` and at start-up.
    const auto back = protocol::call_log_record_from_json(protocol::to_json(record));
    require(back.followup_id == record.followup_id);
    require(back.kind == record.kind && back.agent == record.agent);
    require(back.outcome == record.outcome && back.notes == record.notes);
}

void parse_line(const std::string& text) {
    auto message = protocol::parse_agent_message(text);
    if (auto* error = std::get_if<protocol::ProtocolError>(&message)) {
        require(!error->code.empty());
        check_encoded(protocol::encode_error(*error));
        return;
    }
    const auto& parsed = std::get<protocol::AgentMessage>(message);
    if (const auto* login = std::get_if<protocol::Login>(&parsed)) {
        check_encoded(protocol::encode_welcome(login->agent, domain::AgentRole::agent, 15,
                                               login->resume_after.value_or(0)));
    } else if (const auto* outcome = std::get_if<protocol::Outcome>(&parsed)) {
        domain::CallLogRecord record;
        record.kind = "outcome";
        record.call = outcome->call;
        record.outcome = outcome->code;
        record.notes = outcome->notes;
        check_encoded(protocol::encode_log(record));
        check_encoded(protocol::encode_outcome_saved(outcome->call, std::nullopt, ""));
        check_encoded(protocol::encode_outcome_saved(outcome->call, std::nullopt, outcome->notes));
        check_encoded(protocol::encode_outcome_saved(
            outcome->call,
            protocol::ScheduledFollowup{static_cast<std::int64_t>(outcome->notes.size()),
                                        outcome->notes.size() % 2 == 0
                                            ? FollowupKind::satisfaction
                                            : FollowupKind::callback,
                                        outcome->notes},
            outcome->notes));
        check_followup_log("followup_created", 1, outcome->call, outcome->code, outcome->notes);
    } else if (std::holds_alternative<protocol::NextFollowup>(parsed)) {
        check_encoded(protocol::encode_followup_waiting(text.size()));
    } else if (const auto* result = std::get_if<protocol::FollowupResult>(&parsed)) {
        // What the parser lets through: a known result, and a score of 0 to 10 only when the
        // customer was reached.
        require(domain::parse<AttemptResult>(domain::to_string(result->result)) == result->result);
        require(!result->score || (*result->score >= 0 && *result->score <= 10));
        require(!result->score || result->result == AttemptResult::reached);
        check_encoded(protocol::encode_followup_saved(result->followup, FollowupStatus::open,
                                                      result->comment));
        check_encoded(protocol::encode_followup_saved(
            result->followup,
            result->result == AttemptResult::reached ? FollowupStatus::completed
                                                     : FollowupStatus::unreachable,
            ""));
        // The call log and an offer carry the result by name, as the desk writes it.
        const std::string result_name(domain::to_string(result->result));
        check_followup_log("followup_attempted", result->followup, result->comment, result_name,
                           result->comment);
        callpop::fuzz::check_followup_offer(result->comment, result->comment, result->comment,
                                            result_name, result->comment, result->followup);
    } else if (const auto* close = std::get_if<protocol::FollowupClose>(&parsed)) {
        require(close->status == FollowupStatus::completed ||
                close->status == FollowupStatus::cancelled);
        check_encoded(protocol::encode_followup_saved(close->followup, close->status, ""));
        check_followup_log(close->status == FollowupStatus::completed ? "followup_completed"
                                                                      : "followup_cancelled",
                           close->followup, close->notes,
                           std::string(domain::to_string(close->status)), close->notes);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    callpop::fuzz::for_each_line(bytes, size, parse_line);
    return 0;
}
