#pragma once
// `callpop report` (docs/reports.md): what customers answered and said, read-only.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/states.hpp"

namespace callpop::storage {

// A completed survey with what the report groups it by.
struct SurveyResult {
    std::int64_t followup_id = 0;
    std::string completed_at;  // UTC ISO
    domain::SurveyScale scale{};
    int score = 0;
    std::string comment;
    std::string agent;    // who took the original call (recorded its outcome, else answered)
    std::string outcome;  // its outcome code
    std::string line;     // the line it came in on
    std::optional<std::int64_t> customer_id;
    std::string customer_name;
    std::vector<std::string> products;  // the customer's assets
};

// Something a customer said: a survey answer, or an outcome (complaint) with its notes.
struct FeedbackItem {
    std::string at;      // UTC ISO
    std::string source;  // survey, outcome
    std::optional<domain::SurveyScale> scale;  // surveys only
    std::optional<int> score;
    std::string text;     // the comment or the outcome's notes
    std::string outcome;  // outcome code of the call
    std::string agent;
    std::string call;
    std::optional<std::int64_t> customer_id;
    std::string customer_name;
    std::vector<std::string> products;
};

class Reports {
public:
    virtual ~Reports() = default;

    // Surveys completed, and feedback, in [since, until) (UTC ISO; empty: open).
    // Survey results are completed satisfaction follow-ups with a score, by completion time.
    // Feedback is those with a comment or a low score (csat <= 2, nps <= 6), and the calls
    // whose outcome is one of `outcome_codes` (with the outcome's notes), by time.
    // Products: the customer's asset products, each once, by name.
    virtual std::vector<SurveyResult> survey_results(std::string_view since,
                                                     std::string_view until) = 0;
    virtual std::vector<FeedbackItem> feedback(std::string_view since, std::string_view until,
                                               const std::vector<std::string>& outcome_codes) = 0;
};

}  // namespace callpop::storage
