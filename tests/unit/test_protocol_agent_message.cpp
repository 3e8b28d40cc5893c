#include <doctest/doctest.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "protocol/agent_message.hpp"
#include "protocol/line_decoder.hpp"
#include "protocol/records.hpp"

namespace domain = callpop::domain;
namespace protocol = callpop::protocol;
using nlohmann::json;
using callpop::domain::FollowupKind;
using callpop::domain::FollowupStatus;

namespace {

template <typename Message>
Message message_of(std::string_view line) {
    auto parsed = protocol::parse_agent_message(line);
    if (auto* error = std::get_if<protocol::ProtocolError>(&parsed)) {
        FAIL_CHECK("unexpected error for " << line << ": " << error->code << ": "
                                           << error->message);
        return {};
    }
    const auto& message = std::get<protocol::AgentMessage>(parsed);
    if (!std::holds_alternative<Message>(message)) {
        FAIL_CHECK("wrong message type for " << line);
        return {};
    }
    return std::get<Message>(message);
}

void check_error(std::string_view line, const std::string& code, const std::string& message) {
    INFO("line: " << line);
    auto parsed = protocol::parse_agent_message(line);
    REQUIRE(std::holds_alternative<protocol::ProtocolError>(parsed));
    const auto& error = std::get<protocol::ProtocolError>(parsed);
    CHECK(error.code == code);
    CHECK(error.message == message);
}

// Every encoder returns exactly one line: JSON, then one "\n", and no other newline.
json parse_line(const std::string& line) {
    REQUIRE_FALSE(line.empty());
    CHECK(line.back() == '\n');
    CHECK(std::count(line.begin(), line.end(), '\n') == 1);
    const json value = json::parse(line);
    REQUIRE(value.is_object());
    return value;
}

domain::CustomerCard sample_card() {
    domain::CustomerCard card;
    card.customer.id = 17;
    card.customer.external_id = "CRM-0017";
    card.customer.name = "Pat Doe";
    card.customer.company = "Doe Plumbing";
    card.customer.tier = "gold";
    card.customer.segment = "smb";
    card.customer.language = "en";
    card.customer.timezone = "America/New_York";
    card.customer.email = "pat@example.com";
    card.customer.address = "1 Main St";
    card.customer.do_not_call = false;
    card.customer.phones = {"+15550102000", "+15550102001"};
    card.notes = {{3, "note", "Prefers email", "1001", "2026-10-01T09:00:00.000Z"}};
    card.preferences = {{4, "preference", "Call after 5pm", "1002", "2026-10-02T09:00:00.000Z"}};
    card.assets = {{"Laptop X1", "7XK2Q1", "2025-03-04", "2027-03-04"},
                   {"Dock D2", "D2-991", "2025-03-04", ""}};
    card.history = {{"c-0", "2026-11-01T15:00:00.000Z", "Support hotline", "answered", "1001",
                     "repaired", "replaced the fan"}};
    card.followups = {{9, FollowupKind::satisfaction, "2026-11-29T15:00:00.000Z",
                       FollowupStatus::open, "repaired"}};
    return card;
}

// A satisfaction survey as offered after one unanswered attempt.
domain::Followup sample_survey() {
    domain::Followup followup;
    followup.id = 12;
    followup.kind = FollowupKind::satisfaction;
    followup.status = FollowupStatus::open;
    followup.customer_id = 17;
    followup.customer_name = "Pat Doe";
    followup.number = "+15550102000";
    followup.call = "c-1";
    followup.reason = "repaired";
    followup.due_at = "2026-11-30T15:00:00.000Z";
    followup.timezone = "America/New_York";
    followup.timezone_source = "customer";
    followup.window = {{"from", "08:00"},
                       {"to", "21:00"},
                       {"days", {"mon", "tue", "wed", "thu", "fri", "sat"}}};
    followup.attempts_made = 1;
    followup.attempts_max = 3;
    followup.retry_after_s = 7200;
    followup.survey = {{"scale", "csat"},
                       {"question", "How satisfied are you with the repair?"},
                       {"comment_question", "Anything we could have done better?"}};
    followup.leased_by = "1001";
    followup.lease_until = "2026-11-30T15:05:00.000Z";
    followup.last_result = domain::AttemptResult::no_answer;
    followup.created_at = "2026-11-23T15:04:05.000Z";
    return followup;
}

// A callback for an abandoned call from an unknown number, flagged overdue.
domain::Followup sample_callback() {
    domain::Followup followup;
    followup.id = 13;
    followup.kind = FollowupKind::callback;
    followup.status = FollowupStatus::open;
    followup.number = "+13125550188";
    followup.call = "c-7";
    followup.reason = "abandoned";
    followup.due_at = "2026-11-23T15:10:00.000Z";
    followup.timezone = "America/Chicago";
    followup.timezone_source = "number";
    followup.window = {{"from", "09:00"},
                       {"to", "17:00"},
                       {"days", {"mon", "tue", "wed", "thu", "fri"}}};
    followup.attempts_max = 3;
    followup.retry_after_s = 3600;
    followup.leased_by = "1002";
    followup.lease_until = "2026-11-23T15:45:00.000Z";
    followup.created_at = "2026-11-23T15:09:58.000Z";
    followup.overdue_at = "2026-11-23T15:40:00.000Z";
    return followup;
}

}  // namespace

// ---- client → callpop ------------------------------------------------------------------

TEST_CASE("agent message: login") {
    const auto login = message_of<protocol::Login>(
        R"({"type":"login","agent":"1001","token":"s3cret","extensions":["1001","2001"],"resume_after":41})");
    CHECK(login.agent == "1001");
    CHECK(login.token == "s3cret");
    CHECK(login.extensions == std::vector<std::string>{"1001", "2001"});
    REQUIRE(login.resume_after);
    CHECK(*login.resume_after == 41);

    const auto with_ticket = message_of<protocol::Login>(
        R"({"type":"login","agent":"1001","ticket":"1001.1732370000.ab","extensions":["1001"]})");
    CHECK(with_ticket.agent == "1001");
    CHECK(with_ticket.ticket == "1001.1732370000.ab");
    CHECK(with_ticket.token.empty());
    // null is absent: a client may send the field it does not use as null.
    CHECK(message_of<protocol::Login>(R"({"type":"login","agent":"a","token":"t","ticket":null})")
              .token == "t");
    CHECK(message_of<protocol::Login>(R"({"type":"login","agent":"a","token":null,"ticket":"x"})")
              .ticket == "x");

    const auto minimal = message_of<protocol::Login>(R"({"type":"login","agent":"a","token":"t"})");
    CHECK(minimal.extensions.empty());
    CHECK_FALSE(minimal.resume_after);

    CHECK(message_of<protocol::Login>(
              R"({"type":"login","agent":"a","token":"t","extensions":"1001"})")
              .extensions == std::vector<std::string>{"1001"});
    CHECK(message_of<protocol::Login>(R"({"type":"login","agent":"a","token":"t","extensions":""})")
              .extensions.empty());
    CHECK(
        *message_of<protocol::Login>(R"({"type":"login","agent":"a","token":"t","resume_after":0})")
             .resume_after == 0);
    CHECK(*message_of<protocol::Login>(
               R"({"type":"login","agent":"a","token":"t","resume_after":9223372036854775807})")
               .resume_after == 9223372036854775807ULL);

    check_error(R"({"type":"login","token":"t"})", "missing_field",
                "login: missing field \"agent\"");
    check_error(R"({"type":"login","agent":"","token":"t"})", "missing_field",
                "login: field \"agent\" is empty");
    check_error(R"({"type":"login","agent":"a"})", "missing_field",
                "login: missing field \"token\"");
    check_error(R"({"type":"login","agent":"a","ticket":""})", "missing_field",
                "login: missing field \"token\"");
    check_error(R"({"type":"login","agent":"a","token":"t","ticket":"a.1.00"})", "bad_field",
                "login: give a token or a ticket, not both");
    check_error(R"({"type":"login","agent":"a","ticket":["a.1.00"]})", "bad_field",
                "login: field \"ticket\" must be a string");
    check_error(R"({"type":"login","agent":1001,"token":"t"})", "bad_field",
                "login: field \"agent\" must be a string");
    check_error(R"({"type":"login","agent":"a","token":"t","extensions":[1001]})", "bad_field",
                "login: field \"extensions\" must be a string or a list of strings");
    check_error(R"({"type":"login","agent":"a","token":"t","resume_after":-1})", "bad_field",
                "login: resume_after must be >= 0");
    check_error(R"({"type":"login","agent":"a","token":"t","resume_after":"41"})", "bad_field",
                "login: field \"resume_after\" must be an integer");
    check_error(R"({"type":"login","agent":"a","token":"t","resume_after":41.5})", "bad_field",
                "login: field \"resume_after\" must be an integer");
    check_error(R"({"type":"login","agent":"a","token":"t","resume_after":18446744073709551615})",
                "bad_field", "login: field \"resume_after\" is out of range");
    // The first problem is reported, whichever check finds it.
    check_error(R"({"type":"login","token":"t","resume_after":-1})", "missing_field",
                "login: missing field \"agent\"");
}

TEST_CASE("agent message: ack") {
    CHECK(message_of<protocol::Ack>(R"({"type":"ack","seq":42})").seq == 42);
    CHECK(message_of<protocol::Ack>(R"({"type":"ack","seq":0})").seq == 0);
    check_error(R"({"type":"ack"})", "missing_field", "ack: missing field \"seq\"");
    check_error(R"({"type":"ack","seq":null})", "missing_field", "ack: missing field \"seq\"");
    check_error(R"({"type":"ack","seq":-3})", "bad_field", "ack: seq must be >= 0");
    check_error(R"({"type":"ack","seq":"42"})", "bad_field",
                "ack: field \"seq\" must be an integer");
}

TEST_CASE("agent message: outcome") {
    const auto outcome = message_of<protocol::Outcome>(
        R"({"type":"outcome","call":"c-1","code":"repaired","notes":"new fan","satisfaction_call":true})");
    CHECK(outcome.call == "c-1");
    CHECK(outcome.code == "repaired");
    CHECK(outcome.notes == "new fan");
    REQUIRE(outcome.satisfaction_call);
    CHECK(*outcome.satisfaction_call);

    const auto minimal =
        message_of<protocol::Outcome>(R"({"type":"outcome","call":"c-1","code":"sale"})");
    CHECK(minimal.notes.empty());
    CHECK_FALSE(minimal.satisfaction_call);

    check_error(R"({"type":"outcome","code":"sale"})", "missing_field",
                "outcome: missing field \"call\"");
    check_error(R"({"type":"outcome","call":"c-1"})", "missing_field",
                "outcome: missing field \"code\"");
    check_error(R"({"type":"outcome","call":"c-1","code":"sale","notes":{}})", "bad_field",
                "outcome: field \"notes\" must be a string");
    check_error(R"({"type":"outcome","call":"c-1","code":"sale","satisfaction_call":"yes"})",
                "bad_field", "outcome: field \"satisfaction_call\" must be true or false");
}

TEST_CASE("agent message: note") {
    const auto note = message_of<protocol::AddNote>(
        R"({"type":"note","customer":17,"kind":"preference","text":"Call after 5pm","call":"c-1"})");
    CHECK(note.customer == 17);
    CHECK(note.kind == "preference");
    CHECK(note.text == "Call after 5pm");
    CHECK(note.call == "c-1");

    const auto plain =
        message_of<protocol::AddNote>(R"({"type":"note","customer":17,"text":"hi"})");
    CHECK(plain.kind == "note");
    CHECK(plain.call.empty());

    check_error(R"({"type":"note","text":"hi"})", "missing_field",
                "note: missing field \"customer\"");
    check_error(R"({"type":"note","customer":"17","text":"hi"})", "bad_field",
                "note: field \"customer\" must be an integer");
    check_error(R"({"type":"note","customer":17})", "missing_field",
                "note: missing field \"text\"");
    check_error(R"({"type":"note","customer":17,"text":""})", "missing_field",
                "note: field \"text\" is empty");
    check_error(R"({"type":"note","customer":17,"text":"hi","kind":"warning"})", "bad_field",
                "note: kind must be \"note\" or \"preference\"");
}

TEST_CASE("agent message: tail") {
    const auto defaults = message_of<protocol::Tail>(R"({"type":"tail"})");
    CHECK(defaults.backlog == 0);
    CHECK(defaults.follow);
    CHECK(defaults.filter.queue.empty());
    CHECK(defaults.filter.agent.empty());
    CHECK(defaults.filter.outcome.empty());

    const auto tail = message_of<protocol::Tail>(
        R"({"type":"tail","backlog":100,"follow":false,"filter":{"queue":"support","agent":"1001","outcome":"repaired"}})");
    CHECK(tail.backlog == 100);
    CHECK_FALSE(tail.follow);
    CHECK(tail.filter.queue == "support");
    CHECK(tail.filter.agent == "1001");
    CHECK(tail.filter.outcome == "repaired");

    const auto today = message_of<protocol::Tail>(R"({"type":"tail","since":"2026-12-04T05:00:00Z"})");
    CHECK(today.since == "2026-12-04T05:00:00.000Z");
    CHECK(!today.after);
    CHECK(message_of<protocol::Tail>(R"({"type":"tail","since":"2026-12-04T05:00:00.250Z"})").since ==
          "2026-12-04T05:00:00.250Z");
    check_error(R"({"type":"tail","since":"yesterday"})", "bad_field",
                "tail: since must be a UTC time such as 2026-12-04T05:00:00Z, not \"yesterday\"");
    check_error(R"({"type":"tail","since":"2026-12-04T05:00:00Z","after":7})", "bad_field",
                "tail: give since or after, not both");
    check_error(R"({"type":"tail","since":"2026-12-04T05:00:00Z","follow":false})", "bad_field",
                "tail: since needs follow");

    check_error(R"({"type":"tail","backlog":-1})", "bad_field", "tail: backlog must be >= 0");
    check_error(R"({"type":"tail","backlog":"all"})", "bad_field",
                "tail: field \"backlog\" must be an integer");
    check_error(R"({"type":"tail","follow":1})", "bad_field",
                "tail: field \"follow\" must be true or false");
    check_error(R"({"type":"tail","filter":"support"})", "bad_field",
                "tail: field \"filter\" must be an object");
    check_error(R"({"type":"tail","filter":{"queue":true}})", "bad_field",
                "tail filter: field \"queue\" must be a string");
    check_error(R"({"type":"tail","follow":"yes","filter":{"agent":[]}})", "bad_field",
                "tail: field \"follow\" must be true or false");
}

TEST_CASE("agent message: tail filter matching") {
    domain::CallLogRecord record;
    record.queue = "support";
    record.agent = "1001";
    record.outcome = "repaired";
    CHECK(protocol::TailFilter{}.matches(record));
    CHECK(protocol::TailFilter{"support", "", ""}.matches(record));
    CHECK(protocol::TailFilter{"support", "1001", "repaired"}.matches(record));
    CHECK_FALSE(protocol::TailFilter{"sales", "", ""}.matches(record));
    CHECK_FALSE(protocol::TailFilter{"", "1002", ""}.matches(record));
    CHECK_FALSE(protocol::TailFilter{"", "", "sale"}.matches(record));
}

TEST_CASE("agent message: ping and logout") {
    auto ping = protocol::parse_agent_message(R"({"type":"ping"})");
    REQUIRE(std::holds_alternative<protocol::AgentMessage>(ping));
    CHECK(std::holds_alternative<protocol::Ping>(std::get<protocol::AgentMessage>(ping)));
    auto logout = protocol::parse_agent_message(R"({"type":"logout","reason":"end of shift"})");
    REQUIRE(std::holds_alternative<protocol::AgentMessage>(logout));
    CHECK(std::holds_alternative<protocol::Logout>(std::get<protocol::AgentMessage>(logout)));
}

TEST_CASE("agent message: next_followup") {
    auto next = protocol::parse_agent_message(R"({"type":"next_followup"})");
    REQUIRE(std::holds_alternative<protocol::AgentMessage>(next));
    CHECK(std::holds_alternative<protocol::NextFollowup>(std::get<protocol::AgentMessage>(next)));
    // It has no fields: others are ignored, whatever their type.
    auto extra = protocol::parse_agent_message(
        R"({"type":"next_followup","kind":"callback","followup":"x","count":[1]})");
    REQUIRE(std::holds_alternative<protocol::AgentMessage>(extra));
    CHECK(std::holds_alternative<protocol::NextFollowup>(std::get<protocol::AgentMessage>(extra)));
}

TEST_CASE("agent message: followup_result") {
    const auto reached = message_of<protocol::FollowupResult>(
        R"({"type":"followup_result","followup":9,"result":"reached","score":4,"comment":"the fan is loud again"})");
    CHECK(reached.followup == 9);
    CHECK(reached.result == domain::AttemptResult::reached);
    REQUIRE(reached.score);
    CHECK(*reached.score == 4);
    CHECK(reached.comment == "the fan is loud again");

    const auto minimal = message_of<protocol::FollowupResult>(
        R"({"type":"followup_result","followup":9,"result":"no_answer"})");
    CHECK(minimal.followup == 9);
    CHECK(minimal.result == domain::AttemptResult::no_answer);
    CHECK_FALSE(minimal.score);
    CHECK(minimal.comment.empty());

    for (const char* result : {"reached", "no_answer", "busy", "wrong_number", "refused"}) {
        INFO("result: " << result);
        CHECK(message_of<protocol::FollowupResult>(
                  std::string(R"({"type":"followup_result","followup":9,"result":")") + result +
                  R"(","comment":"x"})")
                  .result == domain::parse<domain::AttemptResult>(result).value());
    }
    // The score's bounds are those of the widest scale (nps, 0 to 10); the survey's own scale
    // is checked by the daemon.
    CHECK(*message_of<protocol::FollowupResult>(
               R"({"type":"followup_result","followup":9,"result":"reached","score":0})")
               .score == 0);
    CHECK(*message_of<protocol::FollowupResult>(
               R"({"type":"followup_result","followup":9,"result":"reached","score":10})")
               .score == 10);
    // A null score is no score, so any result takes it.
    CHECK_FALSE(message_of<protocol::FollowupResult>(
                    R"({"type":"followup_result","followup":9,"result":"busy","score":null})")
                    .score);
    // Reached without a score (a callback, or a customer who would not give one).
    CHECK_FALSE(message_of<protocol::FollowupResult>(
                    R"({"type":"followup_result","followup":9,"result":"reached"})")
                    .score);
    CHECK(message_of<protocol::FollowupResult>(
              R"({"type":"followup_result","followup":9,"result":"refused","comment":1234})")
              .comment == "1234");
    // The parser takes any id; the daemon says whether it exists.
    CHECK(message_of<protocol::FollowupResult>(
              R"({"type":"followup_result","followup":0,"result":"busy"})")
              .followup == 0);

    check_error(R"({"type":"followup_result","result":"busy"})", "missing_field",
                "followup_result: missing field \"followup\"");
    check_error(R"({"type":"followup_result","followup":null,"result":"busy"})", "missing_field",
                "followup_result: missing field \"followup\"");
    check_error(R"({"type":"followup_result","followup":"9","result":"busy"})", "bad_field",
                "followup_result: field \"followup\" must be an integer");
    check_error(R"({"type":"followup_result","followup":9.5,"result":"busy"})", "bad_field",
                "followup_result: field \"followup\" must be an integer");
    check_error(
        R"({"type":"followup_result","followup":18446744073709551615,"result":"busy"})",
        "bad_field", "followup_result: field \"followup\" is out of range");
    check_error(R"({"type":"followup_result","followup":9})", "missing_field",
                "followup_result: missing field \"result\"");
    check_error(R"({"type":"followup_result","followup":9,"result":""})", "missing_field",
                "followup_result: field \"result\" is empty");
    check_error(R"({"type":"followup_result","followup":9,"result":true})", "bad_field",
                "followup_result: field \"result\" must be a string");
    check_error(R"({"type":"followup_result","followup":9,"result":"answered"})", "bad_field",
                "followup_result: result \"answered\" is not one of reached, no_answer, busy, "
                "wrong_number, refused");
    check_error(R"({"type":"followup_result","followup":9,"result":"Reached"})", "bad_field",
                "followup_result: result \"Reached\" is not one of reached, no_answer, busy, "
                "wrong_number, refused");
    check_error(R"({"type":"followup_result","followup":9,"result":"reached","score":-1})",
                "bad_field", "followup_result: score must be from 0 to 10");
    check_error(R"({"type":"followup_result","followup":9,"result":"reached","score":11})",
                "bad_field", "followup_result: score must be from 0 to 10");
    check_error(R"({"type":"followup_result","followup":9,"result":"reached","score":"4"})",
                "bad_field", "followup_result: field \"score\" must be an integer");
    check_error(R"({"type":"followup_result","followup":9,"result":"reached","score":4.5})",
                "bad_field", "followup_result: field \"score\" must be an integer");
    check_error(R"({"type":"followup_result","followup":9,"result":"reached","comment":{}})",
                "bad_field", "followup_result: field \"comment\" must be a string");
    for (const char* result : {"no_answer", "busy", "wrong_number", "refused"}) {
        INFO("result: " << result);
        check_error(std::string(R"({"type":"followup_result","followup":9,"result":")") +
                        result + R"(","score":0})",
                    "bad_field",
                    "followup_result: a score is only given when the customer was reached");
    }

    // One problem is reported. The fields' types come first, in the order followup, result,
    // score, comment (a score outside 0..10 counts as a bad score); then the result's value;
    // then whether a score may be given.
    check_error(R"({"type":"followup_result","result":"maybe","score":99})", "missing_field",
                "followup_result: missing field \"followup\"");
    check_error(R"({"type":"followup_result","followup":9,"score":99})", "missing_field",
                "followup_result: missing field \"result\"");
    check_error(R"({"type":"followup_result","followup":9,"result":"maybe","score":99})",
                "bad_field", "followup_result: score must be from 0 to 10");
    check_error(R"({"type":"followup_result","followup":9,"result":"maybe","comment":[]})",
                "bad_field", "followup_result: field \"comment\" must be a string");
    check_error(R"({"type":"followup_result","followup":9,"result":"maybe","score":3})",
                "bad_field",
                "followup_result: result \"maybe\" is not one of reached, no_answer, busy, "
                "wrong_number, refused");
    check_error(R"({"type":"followup_result","followup":9,"result":"busy","score":3,"comment":5.5})",
                "bad_field", "followup_result: field \"comment\" must be a string");
}

TEST_CASE("agent message: followup_close") {
    const auto cancelled = message_of<protocol::FollowupClose>(
        R"({"type":"followup_close","followup":9,"status":"cancelled","notes":"the customer moved abroad"})");
    CHECK(cancelled.followup == 9);
    CHECK(cancelled.status == FollowupStatus::cancelled);
    CHECK(cancelled.notes == "the customer moved abroad");

    const auto completed = message_of<protocol::FollowupClose>(
        R"({"type":"followup_close","followup":10,"status":"completed"})");
    CHECK(completed.followup == 10);
    CHECK(completed.status == FollowupStatus::completed);
    CHECK(completed.notes.empty());
    CHECK(message_of<protocol::FollowupClose>(
              R"({"type":"followup_close","followup":10,"status":"completed","notes":77})")
              .notes == "77");

    check_error(R"({"type":"followup_close","status":"cancelled"})", "missing_field",
                "followup_close: missing field \"followup\"");
    check_error(R"({"type":"followup_close","followup":"9","status":"cancelled"})", "bad_field",
                "followup_close: field \"followup\" must be an integer");
    check_error(R"({"type":"followup_close","followup":9})", "missing_field",
                "followup_close: missing field \"status\"");
    check_error(R"({"type":"followup_close","followup":9,"status":""})", "missing_field",
                "followup_close: field \"status\" is empty");
    check_error(R"({"type":"followup_close","followup":9,"status":1})", "bad_field",
                "followup_close: field \"status\" must be a string");
    for (const char* status : {"open", "unreachable", "Cancelled", "done"}) {
        INFO("status: " << status);
        check_error(std::string(R"({"type":"followup_close","followup":9,"status":")") + status +
                        "\"}",
                    "bad_field", "followup_close: status must be \"completed\" or \"cancelled\"");
    }
    check_error(R"({"type":"followup_close","followup":9,"status":"cancelled","notes":{}})",
                "bad_field", "followup_close: field \"notes\" must be a string");
    // The fields' types first, then the status's value.
    check_error(R"({"type":"followup_close","status":"open"})", "missing_field",
                "followup_close: missing field \"followup\"");
    check_error(R"({"type":"followup_close","followup":9,"status":"open","notes":[]})", "bad_field",
                "followup_close: field \"notes\" must be a string");
}

TEST_CASE("agent message: status") {
    CHECK(!message_of<protocol::StatusRequest>(R"({"type":"status"})").agents);
    CHECK(message_of<protocol::StatusRequest>(R"({"type":"status","agents":true})").agents);
    // Unknown fields are ignored, whatever their type.
    message_of<protocol::StatusRequest>(R"({"type":"status","switch":["pbx1"],"verbose":1})");
    check_error(R"({"type":"status","agents":"yes"})", "bad_field",
                "status: field \"agents\" must be true or false");
    check_error(R"({"type":"Status"})", "unknown_type",
                "unknown message type \"Status\" (expected login, ack, outcome, note, tail, ping, "
                "logout, next_followup, followup_result, followup_close, status, release_extension, disconnect or reload)");
}

TEST_CASE("agent message: release_extension and disconnect") {
    CHECK(message_of<protocol::ReleaseExtension>(R"({"type":"release_extension","extension":"1001"})")
              .extension == "1001");
    CHECK(message_of<protocol::Disconnect>(R"({"type":"disconnect","agent":"1002"})").agent == "1002");
    check_error(R"({"type":"disconnect","agent":""})", "missing_field",
                "disconnect: field \"agent\" is empty");
    CHECK(parse_line(protocol::encode_disconnected("1002", 2)) ==
          json{{"type", "disconnected"}, {"agent", "1002"}, {"sessions", 2}});
}

TEST_CASE("agent message: errors common to every message") {
    check_error("hello", "bad_json", "not JSON at byte 1 of the line");
    check_error(R"({"type":"ping")", "bad_json", "not JSON at byte 15 of the line");
    check_error(R"(["ping"])", "bad_json", "expected a JSON object");
    check_error(R"({"type":"ping","x":)" + std::string(70, '[') + std::string(70, ']') + "}",
                "bad_json", "JSON nested deeper than 64 levels");
    check_error(R"({"agent":"1001"})", "missing_field", "message: missing field \"type\"");
    check_error(R"({"type":""})", "missing_field", "message: field \"type\" is empty");
    check_error(R"({"type":7})", "bad_field", "message: field \"type\" must be a string");
    check_error(R"({"type":"hello"})", "unknown_type",
                "unknown message type \"hello\" (expected login, ack, outcome, note, tail, ping, "
                "logout, next_followup, followup_result, followup_close, status, release_extension, disconnect or reload)");
    // Types are matched exactly.
    check_error(R"({"type":"Next_Followup"})", "unknown_type",
                "unknown message type \"Next_Followup\" (expected login, ack, outcome, note, "
                "tail, ping, logout, next_followup, followup_result, followup_close, status, release_extension, disconnect or reload)");
}

// ---- callpop → client ------------------------------------------------------------------

TEST_CASE("encode: welcome") {
    const json welcome = parse_line(
        protocol::encode_welcome("1001", domain::AgentRole::agent, 15, 1732370000000042ULL));
    CHECK(welcome == json{{"type", "welcome"},
                          {"agent", "1001"},
                          {"role", "agent"},
                          {"heartbeat_s", 15},
                          {"last_seq", 1732370000000042ULL},
                          {"outcomes", json::array()}});

    const json with_ticket = parse_line(protocol::encode_welcome(
        "1001", domain::AgentRole::supervisor, 15, 7,
        protocol::ResumeTicket{"1001.1732413600.ab",
                               std::chrono::system_clock::time_point(std::chrono::seconds(1732413600))},
        {{"resolved", "Resolved on the call"}, {"repaired", "Repaired"}}));
    CHECK(with_ticket == json{{"type", "welcome"},
                              {"agent", "1001"},
                              {"role", "supervisor"},
                              {"heartbeat_s", 15},
                              {"last_seq", 7},
                              {"ticket", "1001.1732413600.ab"},
                              {"ticket_expires", "2024-11-24T02:00:00.000Z"},
                              {"outcomes",
                               {{{"code", "resolved"}, {"label", "Resolved on the call"}},
                                {{"code", "repaired"}, {"label", "Repaired"}}}}});
}

TEST_CASE("encode: pop with a customer") {
    protocol::Pop pop;
    pop.seq = 42;
    pop.call = "c-1";
    pop.caller = {"+15550102000", "+1 (555) 010-2000", "PAT DOE", false};
    pop.dialed = "8005551000";
    pop.line = "Support hotline";
    pop.queue = "support";
    pop.data = {{"service_tag", "7XK2Q1"}};
    pop.match = "asset";
    pop.customer = sample_card();
    domain::Customer other;
    other.id = 18;
    other.name = "Sam Doe";
    other.phones = {"+15550102000"};
    pop.other_candidates = {other};

    json message = parse_line(protocol::encode_pop(pop));
    CHECK(message["type"] == "pop");
    CHECK(message["seq"] == 42);
    CHECK(message["call"] == "c-1");
    CHECK(message["caller"] == json{{"number", "+15550102000"},
                                    {"raw", "+1 (555) 010-2000"},
                                    {"name", "PAT DOE"},
                                    {"withheld", false}});
    CHECK(message["dialed"] == "8005551000");
    CHECK(message["line"] == "Support hotline");
    CHECK(message["queue"] == "support");
    CHECK(message["data"] == json{{"service_tag", "7XK2Q1"}});
    CHECK(message["match"] == "asset");

    const json& customer = message["customer"];
    REQUIRE(customer.is_object());
    CHECK(customer["id"] == 17);
    CHECK(customer["external_id"] == "CRM-0017");
    CHECK(customer["name"] == "Pat Doe");
    CHECK(customer["company"] == "Doe Plumbing");
    CHECK(customer["tier"] == "gold");
    CHECK(customer["segment"] == "smb");
    CHECK(customer["language"] == "en");
    CHECK(customer["timezone"] == "America/New_York");
    CHECK(customer["email"] == "pat@example.com");
    CHECK(customer["address"] == "1 Main St");
    CHECK(customer["do_not_call"] == false);
    CHECK(customer["phones"] == json{"+15550102000", "+15550102001"});
    CHECK(customer["notes"] == json::array({{{"id", 3},
                                             {"text", "Prefers email"},
                                             {"by", "1001"},
                                             {"at", "2026-10-01T09:00:00.000Z"}}}));
    CHECK(customer["preferences"] == json::array({{{"id", 4},
                                                   {"text", "Call after 5pm"},
                                                   {"by", "1002"},
                                                   {"at", "2026-10-02T09:00:00.000Z"}}}));
    // Assets, history and follow-ups are at the top level, not inside the customer.
    CHECK_FALSE(customer.contains("assets"));
    CHECK_FALSE(customer.contains("history"));
    CHECK_FALSE(customer.contains("followups"));

    REQUIRE(message["assets"].size() == 2);
    CHECK(message["assets"][0] == json{{"product", "Laptop X1"},
                                       {"serial", "7XK2Q1"},
                                       {"purchased", "2025-03-04"},
                                       {"warranty_end", "2027-03-04"}});
    // No warranty end: the key is left out.
    CHECK(message["assets"][1] ==
          json{{"product", "Dock D2"}, {"serial", "D2-991"}, {"purchased", "2025-03-04"}});
    CHECK(message["history"] == json::array({{{"call", "c-0"},
                                              {"at", "2026-11-01T15:00:00.000Z"},
                                              {"line", "Support hotline"},
                                              {"state", "answered"},
                                              {"agent", "1001"},
                                              {"outcome", "repaired"},
                                              {"notes", "replaced the fan"}}}));
    CHECK(message["followups"] == json::array({{{"id", 9},
                                                {"kind", "satisfaction"},
                                                {"due", "2026-11-29T15:00:00.000Z"},
                                                {"status", "open"},
                                                {"reason", "repaired"}}}));
    REQUIRE(message["candidates"].size() == 1);
    CHECK(message["candidates"][0]["id"] == 18);
    CHECK(message["candidates"][0]["name"] == "Sam Doe");
    CHECK_FALSE(message["candidates"][0].contains("notes"));

    const std::vector<std::string> keys{"type",   "seq",     "call",      "caller",    "dialed",
                                        "line",   "queue",   "data",      "match",     "customer",
                                        "assets", "history", "followups", "candidates"};
    CHECK(message.size() == keys.size());
    for (const auto& key : keys) CHECK_MESSAGE(message.contains(key), key);
}

TEST_CASE("encode: pop without a customer, and from a withheld number") {
    protocol::Pop pop;
    pop.seq = 43;
    pop.call = "c-2";
    pop.caller = {"+15550109999", "5550109999", "", false};
    pop.match = "none";
    json unknown = parse_line(protocol::encode_pop(pop));
    CHECK(unknown["customer"].is_null());
    CHECK(unknown["assets"] == json::array());
    CHECK(unknown["history"] == json::array());
    CHECK(unknown["followups"] == json::array());
    CHECK(unknown["candidates"] == json::array());
    CHECK(unknown["caller"]["number"] == "+15550109999");
    CHECK(unknown["data"] == json::object());
    CHECK(unknown["match"] == "none");

    protocol::Pop withheld;
    withheld.seq = 44;
    withheld.call = "c-3";
    withheld.caller = {"", "anonymous", "", true};
    withheld.match = "withheld";
    json anonymous = parse_line(protocol::encode_pop(withheld));
    CHECK(anonymous["caller"]["number"].is_null());
    CHECK(anonymous["caller"]["raw"] == "anonymous");
    CHECK(anonymous["caller"]["withheld"] == true);
    CHECK(anonymous["customer"].is_null());
    CHECK(anonymous["match"] == "withheld");
}

TEST_CASE("encode: a pop renumbered by with_pop_seq is the same pop under the new seq") {
    protocol::Pop pop;
    pop.call = "c-5";
    pop.caller = {"+15550102000", "+1 (555) 010-2000", "PAT DOE", false};
    pop.match = "number";
    const std::string line = protocol::encode_pop(pop);  // seq 0, as the lookup encodes it
    json expected = parse_line(line);
    for (const std::uint64_t seq : {std::uint64_t{7}, std::uint64_t{1234567},
                                    std::numeric_limits<std::uint64_t>::max()}) {
        const std::string renumbered = protocol::with_pop_seq(line, seq);
        CHECK(renumbered.back() == '\n');
        expected["seq"] = seq;
        CHECK(parse_line(renumbered) == expected);
        // Renumbered again, as a transfer does.
        expected["seq"] = 3;
        CHECK(parse_line(protocol::with_pop_seq(renumbered, 3)) == expected);
    }
    CHECK_THROWS_AS(protocol::with_pop_seq("{\"type\":\"ended\"}\n", 1), std::invalid_argument);
    CHECK_THROWS_AS(protocol::with_pop_seq("{\"type\":\"pop\",\"seq\":0}\n", 1), std::invalid_argument);
}

TEST_CASE("encode: text that is not UTF-8 is replaced, never thrown on") {
    protocol::Pop pop;
    pop.call = "c-4";
    pop.caller = {"+15550102000", "+15550102000", "M\xfcller", false};
    std::string line;
    CHECK_NOTHROW(line = protocol::encode_pop(pop));
    json message = parse_line(line);
    CHECK(message["caller"]["name"] == "M\xef\xbf\xbdller");  // U+FFFD
    // Newlines inside strings are escaped: the message is still one line.
    CHECK(parse_line(protocol::encode_bye("shutdown", "two\nlines"))["message"] == "two\nlines");
}

TEST_CASE("encode: a record's strings are written byte for byte as nlohmann would dump them") {
    // Pops and call-log records are written without a DOM; their strings must come out
    // exactly as json::dump(-1, ' ', false, replace) writes them.
    const std::vector<std::string> texts = {
        "",
        "plain",
        "quote \" and backslash \\",
        std::string("controls \b\f\n\r\t \x01\x1f \x7f end"),
        std::string("nul \0 inside", 13),
        "M\xc3\xbcller \xe2\x82\xac \xf0\x9f\x93\x9e",  // ü € and an emoji
        "M\xfcller",                                     // Latin-1, not UTF-8
        "\xc0\xaf overlong",
        "\xed\xa0\x80 surrogate",
        "\xf4\x90\x80\x80 past U+10FFFF",
        "cut \xe2\x82",
        "\xe2\x82 cut at the start",
    };
    for (const auto& text : texts) {
        CAPTURE(text);
        domain::CallLogRecord record;
        record.kind = "note";
        record.notes = text;
        record.at = text;
        const std::string expected =
            json(text).dump(-1, ' ', false, json::error_handler_t::replace);
        const std::string line = protocol::json_line(record);
        CHECK(line.find("\"at\":" + expected + ",") != std::string::npos);
        if (!text.empty()) CHECK(line.find("\"notes\":" + expected) != std::string::npos);
        CHECK(line.back() == '\n');
        CHECK(line.find('\n') == line.size() - 1);
    }
}

TEST_CASE("encode: call state") {
    using domain::PoppedCallState;
    CHECK(parse_line(protocol::encode_call_state("c-1", PoppedCallState::answered, "1002", "")) ==
          json{{"type", "call"}, {"call", "c-1"}, {"state", "answered"}, {"by", "1002"}});
    CHECK(parse_line(protocol::encode_call_state("c-1", PoppedCallState::ended, "", "abandoned")) ==
          json{{"type", "call"}, {"call", "c-1"}, {"state", "ended"}, {"cause", "abandoned"}});
    CHECK(parse_line(protocol::encode_call_state("c-1", PoppedCallState::ended, "", "")) ==
          json{{"type", "call"}, {"call", "c-1"}, {"state", "ended"}});
}

TEST_CASE("encode: outcome_saved, note_saved, backlog_end, pong, bye, error") {
    CHECK(parse_line(protocol::encode_outcome_saved("c-1", std::nullopt, "")) ==
          json{{"type", "outcome_saved"}, {"call", "c-1"}, {"followup", nullptr}});
    CHECK(parse_line(protocol::encode_note_saved(17, 5)) ==
          json{{"type", "note_saved"}, {"customer", 17}, {"id", 5}});
    CHECK(parse_line(protocol::encode_backlog_end(3, 1234)) ==
          json{{"type", "backlog_end"}, {"count", 3}, {"last", 1234}});
    CHECK(parse_line(protocol::encode_pong()) == json{{"type", "pong"}});
    CHECK(parse_line(protocol::encode_bye("slow_consumer", "too slow")) ==
          json{{"type", "bye"}, {"code", "slow_consumer"}, {"message", "too slow"}});
    CHECK(parse_line(protocol::encode_error({"not_logged_in", "log in first"})) ==
          json{{"type", "error"}, {"code", "not_logged_in"}, {"message", "log in first"}});
}

TEST_CASE("encode: outcome_saved with the follow-up it scheduled, or why none was") {
    const json scheduled = parse_line(protocol::encode_outcome_saved(
        "c-1", protocol::ScheduledFollowup{12, FollowupKind::satisfaction,
                                           "2026-11-30T10:00:00-05:00"}, ""));
    CHECK(scheduled == json{{"type", "outcome_saved"},
                            {"call", "c-1"},
                            {"followup",
                             {{"id", 12},
                              {"kind", "satisfaction"},
                              {"due", "2026-11-30T10:00:00-05:00"}}}});
    // A scheduled follow-up leaves no room for a reason.
    CHECK(parse_line(protocol::encode_outcome_saved(
              "c-2", protocol::ScheduledFollowup{13, FollowupKind::callback,
                                                 "2026-11-24T09:00:00-06:00"},
              "declined by the agent")) ==
          json{{"type", "outcome_saved"},
               {"call", "c-2"},
               {"followup",
                {{"id", 13}, {"kind", "callback"}, {"due", "2026-11-24T09:00:00-06:00"}}}});
    for (const char* reason :
         {"declined by the agent", "the customer is on the do-not-call list",
          "no number to call back", "surveyed on 2026-11-20 (one survey per 7 days)",
          "an open callback for +15550102000 exists already",
          "no follow-up is configured for requests"}) {
        INFO("reason: " << reason);
        CHECK(parse_line(protocol::encode_outcome_saved("c-3", std::nullopt, reason)) ==
              json{{"type", "outcome_saved"},
                   {"call", "c-3"},
                   {"followup", nullptr},
                   {"no_followup", reason}});
    }
    // Nothing was configured to happen: no reason.
    const json nothing = parse_line(protocol::encode_outcome_saved("c-4", std::nullopt, ""));
    CHECK(nothing == json{{"type", "outcome_saved"}, {"call", "c-4"}, {"followup", nullptr}});
    CHECK_FALSE(nothing.contains("no_followup"));
}

TEST_CASE("encode: followup (the outbound pop) for a survey") {
    protocol::FollowupOffer offer;
    offer.followup = sample_survey();
    offer.due_local = "2026-11-30T10:00:00-05:00";
    offer.customer = sample_card();
    offer.call = domain::HistoryEntry{"c-1",      "2026-11-23T15:00:00.000Z", "Support hotline",
                                        "answered", "1002",
                                        "repaired", "replaced the fan"};
    const json survey = {{"scale", "csat"},
                         {"question", "How satisfied are you with the repair?"},
                         {"comment_question", "Anything we could have done better?"}};

    const json message = parse_line(protocol::encode_followup_offer(offer));
    CHECK(message ==
          json{{"type", "followup"},
               {"followup",
                {{"id", 12},
                 {"kind", "satisfaction"},
                 {"status", "open"},
                 {"customer", 17},
                 {"customer_name", "Pat Doe"},
                 {"number", "+15550102000"},
                 {"call", "c-1"},
                 {"reason", "repaired"},
                 {"due", "2026-11-30T15:00:00.000Z"},
                 {"due_local", "2026-11-30T10:00:00-05:00"},
                 {"timezone", "America/New_York"},
                 {"timezone_source", "customer"},
                 {"window",
                  {{"from", "08:00"},
                   {"to", "21:00"},
                   {"days", {"mon", "tue", "wed", "thu", "fri", "sat"}}}},
                 {"attempts_made", 1},
                 {"attempts_max", 3},
                 {"retry_after_s", 7200},
                 {"survey", survey},
                 {"leased_by", "1001"},
                 {"lease_until", "2026-11-30T15:05:00.000Z"},
                 {"last_result", "no_answer"},
                 {"created_at", "2026-11-23T15:04:05.000Z"}}},
               {"customer", protocol::to_json(sample_card())},
               {"call",
                {{"call", "c-1"},
                 {"at", "2026-11-23T15:00:00.000Z"},
                 {"line", "Support hotline"},
                 {"state", "answered"},
                 {"agent", "1002"},
                 {"outcome", "repaired"},
                 {"notes", "replaced the fan"}}},
               {"survey", survey}});
    // Unlike a pop's, the customer here is the whole card: assets, history and follow-ups
    // sit inside it.
    const json& customer = message["customer"];
    CHECK(customer["id"] == 17);
    CHECK(customer["notes"].size() == 1);
    CHECK(customer["preferences"].size() == 1);
    CHECK(customer["assets"].size() == 2);
    CHECK(customer["history"][0]["call"] == "c-0");
    CHECK(customer["followups"][0]["id"] == 9);
}

TEST_CASE("encode: followup (the outbound pop) for a callback from an unknown number") {
    protocol::FollowupOffer offer;
    offer.followup = sample_callback();
    offer.due_local = "2026-11-23T09:10:00-06:00";
    const json message = parse_line(protocol::encode_followup_offer(offer));
    CHECK(message == json{{"type", "followup"},
                          {"followup",
                           {{"id", 13},
                            {"kind", "callback"},
                            {"status", "open"},
                            {"number", "+13125550188"},
                            {"call", "c-7"},
                            {"reason", "abandoned"},
                            {"due", "2026-11-23T15:10:00.000Z"},
                            {"due_local", "2026-11-23T09:10:00-06:00"},
                            {"timezone", "America/Chicago"},
                            {"timezone_source", "number"},
                            {"window",
                             {{"from", "09:00"},
                              {"to", "17:00"},
                              {"days", {"mon", "tue", "wed", "thu", "fri"}}}},
                            {"attempts_made", 0},
                            {"attempts_max", 3},
                            {"retry_after_s", 3600},
                            {"leased_by", "1002"},
                            {"lease_until", "2026-11-23T15:45:00.000Z"},
                            {"created_at", "2026-11-23T15:09:58.000Z"},
                            {"overdue_at", "2026-11-23T15:40:00.000Z"}}},
                          {"customer", nullptr},
                          {"call", nullptr},
                          {"survey", nullptr}});
    // No customer, no survey: those keys are left out of the follow-up, not null.
    for (const char* key : {"customer", "customer_name", "survey", "last_result", "score",
                            "comment", "closed_at", "closed_by"})
        CHECK_FALSE_MESSAGE(message["followup"].contains(key), key);
}

TEST_CASE("encode: followup_waiting and followup_saved") {
    CHECK(parse_line(protocol::encode_followup_waiting(1)) ==
          json{{"type", "followup_waiting"}, {"agents_waiting", 1}});
    CHECK(parse_line(protocol::encode_followup_waiting(3)) ==
          json{{"type", "followup_waiting"}, {"agents_waiting", 3}});

    // Still open: when the next attempt falls due, on the customer's clock.
    CHECK(parse_line(protocol::encode_followup_saved(12, FollowupStatus::open, "2026-11-30T12:00:00-05:00")) ==
          json{{"type", "followup_saved"},
               {"followup", 12},
               {"status", "open"},
               {"next_due", "2026-11-30T12:00:00-05:00"}});
    const std::pair<FollowupStatus, const char*> closed[] = {
        {FollowupStatus::completed, "completed"},
        {FollowupStatus::unreachable, "unreachable"},
        {FollowupStatus::cancelled, "cancelled"}};
    for (const auto& [status, name] : closed) {
        INFO("status: " << name);
        CHECK(parse_line(protocol::encode_followup_saved(12, status, "")) ==
              json{{"type", "followup_saved"},
                   {"followup", 12},
                   {"status", name},
                   {"next_due", nullptr}});
    }
}

TEST_CASE("encode: status, with a dialled link and the native port") {
    using std::chrono::sys_days;
    using namespace std::chrono_literals;
    const auto day = sys_days{std::chrono::year{2026} / 11 / 22};
    protocol::DaemonStatus status;
    status.version = "0.1.0";
    status.started_at = day + 15h;
    status.at = day + 17h + 3min + 7s + 250ms;
    status.uptime_s = 7387;
    status.live_calls = 3;
    status.ended_calls = 41;
    status.agents_logged_in = 12;
    status.agents_away = 2;
    status.tail_followers = 1;
    status.followup_waiters = 4;
    status.followups_held = 1;
    status.writer_queue = 0;
    // The store went away once and is back; the link to the other daemons is down now.
    status.store = {true, 1, "PostgreSQL: connecting again: connection refused"};
    status.peer_link = protocol::PeerLinkHealth{false, 2, 17, "PostgreSQL: server closed the connection"};
    status.lookups = 9;
    status.faults.calls_timed_out = 1;
    status.faults.logins_refused = 3;

    // A link that never came up: no times, the reason it is down.
    protocol::SwitchStatus down;
    down.name = "pbx-down";
    down.type = "ami";
    down.address = "10.0.0.9:5038";
    down.state = "down";
    down.last_error = "cannot connect to 10.0.0.9:5038: Connection refused";
    // The native port with one switch connected: no error, times to the millisecond.
    protocol::SwitchStatus native;
    native.name = "native";
    native.type = "native";
    native.address = "127.0.0.1:7700";
    native.state = "up";
    native.up_since = day + 15h + 1s;
    native.last_event_at = day + 17h + 3min + 5s + 7ms;
    native.connects = 2;
    native.messages = 13;
    native.events = 12;
    native.calls = 4;
    native.garbage = 1;
    native.sessions = 1;
    status.switches = {down, native};
    status.name = "east-1";
    status.daemons = {{"east-1", "cti-east", 4242, "0.1.0", "2026-11-22T15:00:00.000Z",
                       "2026-11-22T17:03:05.000Z"},
                      {"west-1", "cti-west", 77, "0.1.0", "2026-11-21T09:00:00.000Z",
                       "2026-11-22T17:03:03.000Z"}};

    const json message = parse_line(protocol::encode_status(status));
    CHECK(message == json{{"type", "status"},
                          {"daemon", "east-1"},
                          {"version", "0.1.0"},
                          {"started_at", "2026-11-22T15:00:00.000Z"},
                          {"at", "2026-11-22T17:03:07.250Z"},
                          {"uptime_s", 7387},
                          {"live_calls", 3}, {"ended_calls", 41},
                          {"agents_logged_in", 12},
                          {"agents_away", 2},
                          {"tail_followers", 1},
                          {"followup_waiters", 4},
                          {"followups_held", 1},
                          {"writer_queue", 0},
                          {"writer_spooled", 0},
                          {"store",
                           {{"up", true},
                            {"outages", 1},
                            {"last_error", "PostgreSQL: connecting again: connection refused"}}},
                          {"peer_link",
                           {{"connected", false},
                            {"outages", 2},
                            {"dropped", 17},
                            {"last_error", "PostgreSQL: server closed the connection"}}},
                          {"lookups", 9},
                          {"faults",
                           {{"calls_timed_out", 1},
                            {"calls_closed_at_start", 0},
                            {"tail_fell_behind", 0},
                            {"logins_refused", 3},
                            {"outcomes_refused", 0},
                            {"writes_failed", 0},
                            {"writes_spilled", 0},
                            {"sessions_closed_for_account", 0},
                            {"logins_throttled", 0},
                            {"switches_refused", 0},
                            {"switch_hellos_refused", 0},
                            {"plain_refused", 0},
                            {"tls_failed", 0}}},
                          {"switches",
                           {{{"name", "pbx-down"},
                             {"type", "ami"},
                             {"address", "10.0.0.9:5038"},
                             {"state", "down"},
                             {"last_error", "cannot connect to 10.0.0.9:5038: Connection refused"},
                             {"up_since", nullptr},
                             {"last_event_at", nullptr},
                             {"connects", 0},
                             {"messages", 0},
                             {"events", 0},
                             {"calls", 0},
                             {"garbage", 0}},
                            {{"name", "native"},
                             {"type", "native"},
                             {"address", "127.0.0.1:7700"},
                             {"state", "up"},
                             {"last_error", nullptr},
                             {"up_since", "2026-11-22T15:00:01.000Z"},
                             {"last_event_at", "2026-11-22T17:03:05.007Z"},
                             {"connects", 2},
                             {"messages", 13},
                             {"events", 12},
                             {"calls", 4},
                             {"garbage", 1},
                             {"sessions", 1}}}},
                          {"daemons",
                           {{{"name", "east-1"},
                             {"host", "cti-east"},
                             {"pid", 4242},
                             {"version", "0.1.0"},
                             {"started_at", "2026-11-22T15:00:00.000Z"},
                             {"last_seen", "2026-11-22T17:03:05.000Z"}},
                            {{"name", "west-1"},
                             {"host", "cti-west"},
                             {"pid", 77},
                             {"version", "0.1.0"},
                             {"started_at", "2026-11-21T09:00:00.000Z"},
                             {"last_seen", "2026-11-22T17:03:03.000Z"}}}}});
    // Only the native port says how many switches are connected to it.
    CHECK_FALSE(message["switches"][0].contains("sessions"));

    // No switch configured and nothing connected: the native port alone, listening.
    protocol::DaemonStatus quiet;
    quiet.version = "0.1.0";
    quiet.started_at = quiet.at = day;
    protocol::SwitchStatus listening;
    listening.name = listening.type = "native";
    listening.address = "127.0.0.1:7700";
    listening.state = "listening";
    listening.sessions = 0;
    quiet.switches = {listening};
    const json alone = parse_line(protocol::encode_status(quiet));
    CHECK(alone["uptime_s"] == 0);
    REQUIRE(alone["switches"].size() == 1);
    CHECK(alone["switches"][0]["state"] == "listening");
    CHECK(alone["switches"][0]["sessions"] == 0);
    CHECK(alone["switches"][0]["up_since"].is_null());
    // A store of its own (SQLite) that never failed: no link to other daemons.
    CHECK(alone["store"] == json{{"up", true}, {"outages", 0}, {"last_error", nullptr}});
    CHECK(alone["peer_link"].is_null());
    CHECK(!alone.contains("agents"));
    quiet.agents = {{{"1001", {"1001"}, true, false, std::nullopt}, {"1002", {"1002", "1012"}, false, false, 17}}};
    const json with_agents = parse_line(protocol::encode_status(quiet));
    CHECK(with_agents["agents"] ==
          json::parse(R"([{"agent":"1001","extensions":["1001"],"state":"connected","waiting_for_followup":false,"followup":null},
                          {"agent":"1002","extensions":["1002","1012"],"state":"away","waiting_for_followup":false,"followup":17}])"));
    // Text from a switch that is not UTF-8 (an error naming its bytes) is replaced, not thrown on.
    quiet.switches[0].last_error = "bad_json: \xff\xfe";
    CHECK(parse_line(protocol::encode_status(quiet))["switches"][0]["last_error"] ==
          "bad_json: \xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("encode: log records, and the call-log JSON round trip") {
    domain::CallLogRecord record;
    record.id = 1234;
    record.at = "2026-11-22T15:04:05.123Z";
    record.kind = "outcome";
    record.call = "c-1";
    record.switch_name = "native";
    record.from = "+15550102000";
    record.caller_name = "PAT DOE";
    record.to = "8005551000";
    record.line = "Support hotline";
    record.queue = "support";
    record.extension = "1001";
    record.agent = "1001";
    record.customer_id = 17;
    record.customer_name = "Pat Doe";
    record.outcome = "repaired";
    record.cause = "normal";
    record.notes = "new fan";

    const json full = protocol::to_json(record);
    CHECK(full == json{{"id", 1234},
                       {"at", "2026-11-22T15:04:05.123Z"},
                       {"kind", "outcome"},
                       {"call", "c-1"},
                       {"switch", "native"},
                       {"from", "+15550102000"},
                       {"caller_name", "PAT DOE"},
                       {"to", "8005551000"},
                       {"line", "Support hotline"},
                       {"queue", "support"},
                       {"ext", "1001"},
                       {"agent", "1001"},
                       {"customer", 17},
                       {"customer_name", "Pat Doe"},
                       {"outcome", "repaired"},
                       {"cause", "normal"},
                       {"notes", "new fan"}});
    json with_type = full;
    with_type["type"] = "log";
    CHECK(parse_line(protocol::encode_log(record)) == with_type);

    const auto back = protocol::call_log_record_from_json(full);
    CHECK(protocol::to_json(back) == full);
    CHECK(back.extension == "1001");
    CHECK(back.switch_name == "native");
    REQUIRE(back.customer_id);
    CHECK(*back.customer_id == 17);

    // Empty fields and an unset customer are left out; id, at, kind and call are always there.
    domain::CallLogRecord ring;
    ring.id = 1;
    ring.at = "2026-11-22T15:00:00.000Z";
    ring.kind = "ring";
    CHECK(protocol::to_json(ring) ==
          json{{"id", 1}, {"at", "2026-11-22T15:00:00.000Z"}, {"kind", "ring"}, {"call", ""}});
    CHECK_FALSE(protocol::call_log_record_from_json(protocol::to_json(ring)).customer_id);
    // Reading tolerates missing and mistyped fields.
    const auto odd = protocol::call_log_record_from_json(json{{"id", "x"}, {"agent", 5}});
    CHECK(odd.id == 0);
    CHECK(odd.agent.empty());
}

TEST_CASE("encode: every encoded line passes through the line decoder unchanged") {
    protocol::Pop pop;
    pop.seq = 1;
    pop.call = "c-1";
    pop.caller = {"+15550102000", "+15550102000", "Line\nBreak", false};
    pop.customer = sample_card();
    protocol::FollowupOffer offer;
    offer.followup = sample_survey();
    offer.followup.comment = "two\nlines";
    offer.due_local = "2026-11-30T10:00:00-05:00";
    offer.customer = sample_card();
    const std::string stream =
        protocol::encode_welcome("1001", domain::AgentRole::agent, 15, 0) +
        protocol::encode_pop(pop) +
        protocol::encode_call_state("c-1", domain::PoppedCallState::answered, "1002", "") +
        protocol::encode_followup_waiting(1) +
        protocol::encode_followup_offer(offer) +
        protocol::encode_followup_saved(12, FollowupStatus::open, "2026-11-30T12:00:00-05:00");
    protocol::LineDecoder decoder;
    std::vector<json> messages;
    for (char byte : stream) {
        decoder.feed(std::string_view(&byte, 1));
        while (auto line = decoder.next()) messages.push_back(json::parse(line->text));
    }
    REQUIRE(messages.size() == 6);
    CHECK(messages[0]["type"] == "welcome");
    CHECK(messages[1]["type"] == "pop");
    CHECK(messages[1]["caller"]["name"] == "Line\nBreak");
    CHECK(messages[2]["type"] == "call");
    CHECK(messages[3]["type"] == "followup_waiting");
    CHECK(messages[4]["type"] == "followup");
    CHECK(messages[4]["followup"]["comment"] == "two\nlines");
    CHECK(messages[5]["type"] == "followup_saved");
}
