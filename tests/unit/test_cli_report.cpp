// callpop followups and callpop report: the pure formatting and grouping, then the verbs on a
// real database filled through the Store API.
#include <doctest/doctest.h>

#include <algorithm>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/report.hpp"
#include "storage_test_support.hpp"

using namespace callpop;
using cli::report::GroupBy;
using cli::report::Period;
using domain::Followup;
using domain::FollowupKind;
using domain::FollowupStatus;
using domain::SurveyScale;
using storage::CallLogRecord;

namespace report = callpop::cli::report;

namespace {

storage::SurveyResult survey(std::string agent, SurveyScale scale, int score,
                             std::string completed_at = "2026-01-12T10:00:00.000Z") {
    storage::SurveyResult result;
    result.agent = std::move(agent);
    result.scale = scale;
    result.score = score;
    result.completed_at = std::move(completed_at);
    return result;
}

storage::FeedbackItem said(std::string at, std::string text, std::vector<std::string> products) {
    storage::FeedbackItem item;
    item.at = std::move(at);
    item.source = "survey";
    item.scale = SurveyScale::csat;
    item.score = 2;
    item.text = std::move(text);
    item.products = std::move(products);
    return item;
}

struct Run {
    int exit_code = -1;
    std::string out;
    std::string err;
};

// Runs a verb's function with std::cout and std::cerr captured.
Run run(int (*command)(const cli::Arguments&), const cli::Arguments& arguments) {
    std::ostringstream out;
    std::ostringstream err;
    auto* const old_out = std::cout.rdbuf(out.rdbuf());
    auto* const old_err = std::cerr.rdbuf(err.rdbuf());
    Run result;
    try {
        result.exit_code = command(arguments);
    } catch (...) {
        std::cout.rdbuf(old_out);
        std::cerr.rdbuf(old_err);
        throw;
    }
    std::cout.rdbuf(old_out);
    std::cerr.rdbuf(old_err);
    result.out = out.str();
    result.err = err.str();
    return result;
}

// A store with two customers, four calls and their follow-ups, and a config naming it.
class ReportFixture {
public:
    ReportFixture() {
        const auto settings = test::SqliteBackend::settings(dir_);
        config_ = test::write_file(dir_, "callpop.yaml",
                                   "site:\n  region: US\n  timezone: America/New_York\n"
                                   "storage:\n  backend: " + settings.backend + "\n"
                                   "  path: " + settings.path + "\n"
                                   "outcomes:\n  - {code: repaired, label: Repaired}\n"
                                   "  - {code: resolved, label: Resolved}\n"
                                   "  - {code: complaint, label: Complaint}\n")
                      .string();
        auto store = storage::open_store(settings);
        storage::StoreTransaction transaction(*store);
        domain::Customer pat;
        pat.external_id = "C-1";
        pat.name = "Pat Doe";
        pat_ = store->upsert_customer(pat);
        domain::Customer sam;
        sam.external_id = "C-2";
        sam.name = "Sam Roe";
        sam_ = store->upsert_customer(sam);
        store->upsert_asset("C-1", {"LaserJet Pro", "S1", "2025-01-01", ""});
        store->upsert_asset("C-1", {"Router AX", "S2", "2025-01-01", ""});

        call(*store, "c-1", pat_, "1001", "Support hotline", "repaired", "");
        call(*store, "c-2", pat_, "1001", "Sales", "resolved", "");
        call(*store, "c-3", sam_, "1002", "Support hotline", "complaint", "toner everywhere",
             "2026-01-11T09:00:00.000Z");
        call(*store, "c-4", pat_, "1003", "Support hotline", "complaint", "rude on the phone,\nvery",
             "2026-02-03T09:00:00.000Z");

        survey_done(*store, "c-1", pat_, "csat", 4, "", "2026-01-12T10:00:00.000Z");
        survey_done(*store, "c-2", pat_, "csat", 5, "", "2026-01-20T10:00:00.000Z");
        survey_done(*store, "c-3", sam_, "csat", 2, "still smudges", "2026-01-13T10:00:00.000Z");
        survey_done(*store, "c-3", sam_, "nps", 9, "", "2026-02-02T10:00:00.000Z");

        Followup callback = followup(FollowupKind::callback, "+15550102000", "2026-11-29T15:00:00.000Z");
        callback.customer_id = pat_;
        callback.call = "c-2";
        callback.reason = "abandoned";
        callback.attempts_made = 1;
        callback.leased_by = "2001";
        callback.lease_until = "2099-01-01T00:00:00.000Z";
        callback_ = *store->create_followup(callback);
        Followup berlin = followup(FollowupKind::satisfaction, "+493012345678", "2026-11-29T09:30:00.000Z");
        berlin.timezone = "Europe/Berlin";
        berlin.timezone_source = "number";
        berlin.reason = "repaired";
        berlin.survey = {{"scale", "csat"},
                         {"question", "How satisfied are you?"},
                         {"comment_question", "Anything, better?"}};
        berlin_ = *store->create_followup(berlin);
        transaction.commit();
    }

    std::string config() const { return config_; }
    std::int64_t pat() const { return pat_; }
    std::int64_t callback() const { return callback_; }
    std::int64_t berlin() const { return berlin_; }

private:
    static void call(storage::Store& store, const std::string& id, std::int64_t customer,
                     const std::string& agent, const std::string& line, const std::string& outcome,
                     const std::string& notes,
                     const std::string& outcome_at = "2026-01-10T15:05:00.000Z") {
        CallLogRecord ring;
        ring.kind = "ring";
        ring.call = id;
        ring.at = "2026-01-10T15:00:00.000Z";
        ring.line = line;
        ring.customer_id = customer;
        REQUIRE(store.append_log(ring));
        CallLogRecord answer = ring;
        answer.kind = "answer";
        answer.agent = agent;
        REQUIRE(store.append_log(answer));
        CallLogRecord result;
        result.kind = "outcome";
        result.call = id;
        result.at = outcome_at;
        result.agent = agent;
        result.outcome = outcome;
        result.notes = notes;
        REQUIRE(store.append_log(result));
    }

    static Followup followup(FollowupKind kind, std::string number, std::string due_at) {
        Followup followup;
        followup.kind = kind;
        followup.status = FollowupStatus::open;
        followup.number = std::move(number);
        followup.due_at = std::move(due_at);
        followup.timezone = "America/New_York";
        followup.timezone_source = "customer";
        followup.window = {{"from", "08:00"}, {"to", "21:00"}, {"days", {"mon", "tue", "wed"}}};
        followup.created_at = "2026-01-10T15:05:00.000Z";
        return followup;
    }

    static void survey_done(storage::Store& store, const std::string& call, std::int64_t customer,
                            const std::string& scale, int score, const std::string& comment,
                            const std::string& closed_at) {
        Followup survey = followup(FollowupKind::satisfaction, "", "2026-01-11T15:00:00.000Z");
        survey.call = call;
        survey.customer_id = customer;
        survey.survey = {{"scale", scale}, {"question", "?"}, {"comment_question", "?"}};
        survey.id = *store.create_followup(survey);
        survey.status = FollowupStatus::completed;
        survey.score = score;
        survey.comment = comment;
        survey.closed_at = closed_at;
        survey.closed_by = "2001";
        store.update_followup(survey);
    }

    test::TempDir dir_;
    std::string config_;
    std::int64_t pat_ = 0;
    std::int64_t sam_ = 0;
    std::int64_t callback_ = 0;
    std::int64_t berlin_ = 0;
};

}  // namespace

TEST_CASE("report: tables pad to the widest cell, numbers to the right") {
    CHECK(report::format_table({{"A"}, {"NUM", true}, {"LAST"}},
                               {{"long cell", "7", "x"}, {"é", "1234", ""}}) ==
          "A           NUM  LAST\n"
          "long cell     7  x\n"
          "é          1234  \n");
    CHECK(report::format_table({{"A"}}, {}, "  ") == "  A\n");
}

TEST_CASE("report: CSV fields are quoted as RFC 4180 asks") {
    CHECK(report::csv_field("plain") == "plain");
    CHECK(report::csv_field("a,b") == "\"a,b\"");
    CHECK(report::csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
    CHECK(report::csv_field("two\nlines") == "\"two\nlines\"");
    CHECK(report::csv_line({"a", "", "b,c"}) == "a,,\"b,c\"\r\n");
    CHECK(report::split_list(" complaint, refund,,") ==
          std::vector<std::string>{"complaint", "refund"});
    CHECK(report::one_line("a\r\nb\nc\rd") == "a / b / c / d");
}

TEST_CASE("report: periods, days and local times") {
    CHECK(report::period_of("2026-11-23T13:45:00.000Z", Period::day) == "2026-11-23");
    CHECK(report::period_of("2026-11-23T13:45:00.000Z", Period::month) == "2026-11");
    CHECK(report::period_of("2026-11-23T13:45:00.000Z", Period::week) == "2026-W48");
    CHECK(report::period_of("2026-01-01T00:00:00.000Z", Period::week) == "2026-W01");  // Thursday
    CHECK(report::period_of("2027-01-01T00:00:00.000Z", Period::week) == "2026-W53");  // Friday
    CHECK(report::period_of("2024-12-30T00:00:00.000Z", Period::week) == "2025-W01");  // Monday
    CHECK(report::period_of("soon", Period::week) == "soon");

    CHECK(report::day_start_utc("2026-02-28") == "2026-02-28T00:00:00.000Z");
    CHECK(report::day_start_utc("2026-02-28", 1) == "2026-03-01T00:00:00.000Z");
    CHECK_FALSE(report::day_start_utc("2026-02-29"));
    CHECK_FALSE(report::day_start_utc("2026-2-28"));
    CHECK_FALSE(report::day_start_utc("2026-02-28T00:00"));

    CHECK(report::local_time("2026-11-29T15:00:00.000Z", "America/New_York") ==
          "2026-11-29 10:00 -05:00");
    CHECK(report::local_time("2026-07-01T15:00:00.000Z", "America/New_York") ==
          "2026-07-01 11:00 -04:00");
    CHECK(report::local_time("2026-11-29T15:00:00.000Z", "Asia/Kolkata") ==
          "2026-11-29 20:30 +05:30");
    CHECK(report::local_time("2026-11-29T15:00:00.000Z", "") == "2026-11-29 15:00 +00:00");
    CHECK(report::local_time("2026-11-29T15:00:00.000Z", "Mars/Olympus") ==
          "2026-11-29 15:00 +00:00");
    CHECK(report::local_time("garbage", "America/New_York") == "garbage");
}

TEST_CASE("report: scores per group and scale, CSAT % and NPS") {
    const std::vector<storage::SurveyResult> results{
        survey("1001", SurveyScale::csat, 4), survey("1001", SurveyScale::csat, 5),
        survey("1002", SurveyScale::csat, 2), survey("", SurveyScale::csat, 3),
        survey("1001", SurveyScale::nps, 10), survey("1001", SurveyScale::nps, 8),
        survey("1001", SurveyScale::nps, 3),  survey("1002", SurveyScale::nps, 9)};
    const auto rows = report::score_rows(results, GroupBy::agent, Period::month);
    CHECK(report::score_table(rows, GroupBy::agent) ==
          "AGENT   SCALE  RESPONSES  AVERAGE  CSAT %    NPS\n"
          "(none)  csat           1     3.00     0.0      -\n"
          "1001    csat           2     4.50   100.0      -\n"
          "1002    csat           1     2.00     0.0      -\n"
          "(all)   csat           4     3.50    50.0      -\n"
          "1001    nps            3     7.00       -    0.0\n"
          "1002    nps            1     9.00       -  100.0\n"
          "(all)   nps            4     7.50       -   25.0\n");
    CHECK(report::score_csv(rows, GroupBy::agent) ==
          "agent,scale,responses,average,csat_percent,nps\r\n"
          "(none),csat,1,3.00,0.0,\r\n"
          "1001,csat,2,4.50,100.0,\r\n"
          "1002,csat,1,2.00,0.0,\r\n"
          "(all),csat,4,3.50,50.0,\r\n"
          "1001,nps,3,7.00,,0.0\r\n"
          "1002,nps,1,9.00,,100.0\r\n"
          "(all),nps,4,7.50,,25.0\r\n");

    const auto by_week = report::score_rows(
        {survey("1001", SurveyScale::csat, 1, "2026-01-05T00:00:00.000Z"),
         survey("1001", SurveyScale::csat, 5, "2026-01-11T23:59:59.000Z"),
         survey("1001", SurveyScale::csat, 5, "2026-01-12T00:00:00.000Z")},
        GroupBy::period, Period::week);
    REQUIRE(by_week.size() == 3);
    CHECK(by_week[0].group == "2026-W02");
    CHECK(by_week[0].responses == 2);
    CHECK(by_week[0].average == 3.0);
    CHECK(by_week[1].group == "2026-W03");
    CHECK(by_week[2].group == "(all)");
    CHECK(report::score_table({}, GroupBy::line) == "(no survey results)\n");
    CHECK(report::low_score(SurveyScale::csat, 2));
    CHECK_FALSE(report::low_score(SurveyScale::csat, 3));
    CHECK(report::low_score(SurveyScale::nps, 6));
    CHECK_FALSE(report::low_score(SurveyScale::nps, 7));
}

TEST_CASE("report: feedback is grouped by each product, then period; no product last") {
    const auto groups = report::feedback_groups(
        {said("2026-01-05T10:00:00.000Z", "one", {"Router", "LaserJet"}),
         said("2026-02-05T10:00:00.000Z", "two", {}),
         said("2026-01-20T10:00:00.000Z", "three", {"LaserJet"}),
         said("2026-02-01T10:00:00.000Z", "four", {"LaserJet"})},
        Period::month);
    REQUIRE(groups.size() == 4);
    CHECK(groups[0].product == "LaserJet");
    CHECK(groups[0].period == "2026-01");
    REQUIRE(groups[0].items.size() == 2);
    CHECK(groups[0].items[0].text == "one");
    CHECK(groups[0].items[1].text == "three");
    CHECK(groups[1].product == "LaserJet");
    CHECK(groups[1].period == "2026-02");
    CHECK(groups[2].product == "Router");
    CHECK(groups[3].product == "(no product)");
    CHECK(groups[3].items[0].text == "two");
    CHECK(report::feedback_text({}) == "(no feedback)\n");
}

TEST_CASE("callpop report csat on a real store: average 4.5 from 4 and 5, groups per scale") {
    const ReportFixture fixture;
    auto result = run(cli::command_report, {"csat", "--config", fixture.config()});
    CHECK(result.exit_code == 0);
    CHECK(result.err == "");
    CHECK(result.out ==
          "AGENT  SCALE  RESPONSES  AVERAGE  CSAT %    NPS\n"
          "1001   csat           2     4.50   100.0      -\n"
          "1002   csat           1     2.00     0.0      -\n"
          "(all)  csat           3     3.67    66.7      -\n"
          "1002   nps            1     9.00       -  100.0\n"
          "(all)  nps            1     9.00       -  100.0\n");

    result = run(cli::command_report,
                 {"csat", "--config", fixture.config(), "--by", "line", "--csv"});
    CHECK(result.exit_code == 0);
    CHECK(result.out ==
          "line,scale,responses,average,csat_percent,nps\r\n"
          "Sales,csat,1,5.00,100.0,\r\n"
          "Support hotline,csat,2,3.00,50.0,\r\n"
          "(all),csat,3,3.67,66.7,\r\n"
          "Support hotline,nps,1,9.00,,100.0\r\n"
          "(all),nps,1,9.00,,100.0\r\n");

    // --until is inclusive of its day; --period groups by the UTC completion date.
    result = run(cli::command_report,
                 {"csat", "--config", fixture.config(), "--by", "period", "--period", "week",
                  "--since", "2026-01-12", "--until", "2026-01-13"});
    CHECK(result.exit_code == 0);
    CHECK(result.out ==
          "PERIOD    SCALE  RESPONSES  AVERAGE  CSAT %  NPS\n"
          "2026-W03  csat           2     3.00    50.0    -\n"
          "(all)     csat           2     3.00    50.0    -\n");

    result = run(cli::command_report, {"csat", "--config", fixture.config(), "--by", "product"});
    CHECK(result.exit_code == 2);
    CHECK(result.err ==
          "callpop report csat: --by: \"product\" is not agent, outcome, line or period\n");
    result = run(cli::command_report,
                 {"csat", "--config", fixture.config(), "--since", "2026-02-30"});
    CHECK(result.exit_code == 2);
    CHECK(result.err == "callpop report csat: --since: \"2026-02-30\" is not a date (YYYY-MM-DD)\n");
    result = run(cli::command_report, {"csat", "--config", fixture.config(), "--period", "day"});
    CHECK(result.exit_code == 2);
    result = run(cli::command_report, {"nps"});
    CHECK(result.exit_code == 2);
    CHECK(result.err.starts_with("callpop report: unknown \"nps\" (csat or feedback)\n"));
}

TEST_CASE("callpop report feedback on a real store: by product and month") {
    const ReportFixture fixture;
    auto result = run(cli::command_report, {"feedback", "--config", fixture.config()});
    CHECK(result.exit_code == 0);
    CHECK(result.err == "");
    CHECK(result.out ==
          "LaserJet Pro, 2026-02\n"
          "  DATE        SOURCE   SCORE  CUSTOMER  AGENT  TEXT\n"
          "  2026-02-03  outcome  -      Pat Doe   1003   [complaint] rude on the phone, / very\n"
          "\n"
          "Router AX, 2026-02\n"
          "  DATE        SOURCE   SCORE  CUSTOMER  AGENT  TEXT\n"
          "  2026-02-03  outcome  -      Pat Doe   1003   [complaint] rude on the phone, / very\n"
          "\n"
          "(no product), 2026-01\n"
          "  DATE        SOURCE   SCORE   CUSTOMER  AGENT  TEXT\n"
          "  2026-01-11  outcome  -       Sam Roe   1002   [complaint] toner everywhere\n"
          "  2026-01-13  survey   csat 2  Sam Roe   1002   still smudges\n");

    result = run(cli::command_report,
                 {"feedback", "--config", fixture.config(), "--csv", "--since", "2026-01-01",
                  "--until", "2026-01-31", "--outcomes", "complaint,refund"});
    CHECK(result.exit_code == 0);
    CHECK(result.err.find("warning: --outcomes: \"refund\" is not an outcome code") !=
          std::string::npos);
    CHECK(result.out ==
          "product,period,at,source,scale,score,outcome,text,customer_id,customer_name,agent,"
          "call\r\n"
          "(no product),2026-01,2026-01-11T09:00:00.000Z,outcome,,,complaint,toner everywhere,2,"
          "Sam Roe,1002,c-3\r\n"
          "(no product),2026-01,2026-01-13T10:00:00.000Z,survey,csat,2,complaint,still smudges,2,"
          "Sam Roe,1002,c-3\r\n");

    result = run(cli::command_report,
                 {"feedback", "--config", fixture.config(), "--period", "day"});
    CHECK(result.exit_code == 2);
    CHECK(result.err == "callpop report feedback: --period: \"day\" is not week or month\n");
    result = run(cli::command_report,
                 {"feedback", "--config", fixture.config(), "--since", "2026-02-01", "--until",
                  "2026-01-01"});
    CHECK(result.exit_code == 2);
    CHECK(result.err ==
          "callpop report feedback: --since 2026-02-01 is after --until 2026-01-01\n");
}

TEST_CASE("callpop followups list and export on a real store") {
    const ReportFixture fixture;
    const auto pat = std::to_string(fixture.pat());
    const auto callback = std::to_string(fixture.callback());
    const auto berlin = std::to_string(fixture.berlin());
    auto result = run(cli::command_followups, {"list", "--config", fixture.config()});
    CHECK(result.exit_code == 0);
    CHECK(result.err == "");
    const std::string id_pad(callback.size() > 1 ? 0 : 1, ' ');
    CHECK(result.out ==
          "ID  KIND          STATUS  DUE                      CUSTOMER  NUMBER         REASON     "
          "ATTEMPTS  HELD BY\n" +
              id_pad + berlin +
              "  satisfaction  open    2026-11-29 10:30 +01:00  -         +493012345678  repaired   "
              "     0/3  -\n" +
              id_pad + callback +
              "  callback      open    2026-11-29 10:00 -05:00  Pat Doe   +15550102000   abandoned  "
              "     1/3  2001\n");

    result = run(cli::command_followups,
                 {"list", "--config", fixture.config(), "--kind", "callback", "--json"});
    CHECK(result.exit_code == 0);
    const auto object = nlohmann::json::parse(result.out);
    CHECK(object["id"] == fixture.callback());
    CHECK(object["customer"] == fixture.pat());
    CHECK(object["customer_name"] == "Pat Doe");
    CHECK(object["due"] == "2026-11-29T15:00:00.000Z");
    CHECK(object["leased_by"] == "2001");

    result = run(cli::command_followups,
                 {"list", "--config", fixture.config(), "--status", "completed", "--agent", "1002"});
    CHECK(result.exit_code == 0);
    CHECK(std::count(result.out.begin(), result.out.end(), '\n') == 3);  // header, two surveys of c-3

    result = run(cli::command_followups,
                 {"list", "--config", fixture.config(), "--status", "done"});
    CHECK(result.exit_code == 2);
    CHECK(result.err == "callpop followups list: --status: \"done\" is not open, completed, "
                        "unreachable, cancelled or all\n");

    result = run(cli::command_followups,
                 {"export", "--config", fixture.config(), "--format", "csv"});
    CHECK(result.exit_code == 0);
    CHECK(result.out ==
          "id,kind,status,due_utc,due_local,timezone,number,customer_id,customer_external_id,"
          "customer_name,reason,call,attempts_made,attempts_max,retry_after_s,window_from,"
          "window_to,window_days,survey_scale,survey_question,survey_comment_question\r\n" +
              berlin +
              ",satisfaction,open,2026-11-29T09:30:00.000Z,2026-11-29T10:30:00+01:00,"
              "Europe/Berlin,+493012345678,,,,repaired,,0,3,7200,08:00,21:00,mon;tue;wed,csat,"
              "How satisfied are you?,\"Anything, better?\"\r\n" +
              callback +
              ",callback,open,2026-11-29T15:00:00.000Z,2026-11-29T10:00:00-05:00,"
              "America/New_York,+15550102000," + pat +
              ",C-1,Pat Doe,abandoned,c-2,1,3,7200,08:00,21:00,mon;tue;wed,,,\r\n");

    result = run(cli::command_followups,
                 {"export", "--config", fixture.config(), "--format", "json", "--kind", "callback"});
    CHECK(result.exit_code == 0);
    const auto exported = nlohmann::json::parse(result.out);
    CHECK(exported["customer_external_id"] == "C-1");
    CHECK(exported["due_local"] == "2026-11-29T10:00:00-05:00");

    result = run(cli::command_followups, {"export", "--config", fixture.config()});
    CHECK(result.exit_code == 2);
    result = run(cli::command_followups,
                 {"export", "--config", fixture.config(), "--format", "xml"});
    CHECK(result.exit_code == 2);
    CHECK(result.err == "callpop followups export: --format: \"xml\" is not csv or json\n");
    result = run(cli::command_followups, {"show"});
    CHECK(result.exit_code == 2);
}
