#include "domain/records.hpp"

#include <stdexcept>

namespace callpop::domain {

std::optional<SurveyScale> survey_scale(const nlohmann::json& survey) {
    if (!survey.is_object()) return std::nullopt;
    const auto found = survey.find("scale");
    if (found == survey.end() || found->is_null()) return std::nullopt;
    if (!found->is_string())
        throw std::invalid_argument("survey scale is not a string: " + found->dump());
    const auto& name = found->get_ref<const std::string&>();
    if (const auto scale = parse<SurveyScale>(name)) return scale;
    throw std::invalid_argument("unknown survey scale \"" + name + "\"");
}

CallLogRecord followup_event(std::string kind, const Followup& followup, std::string agent,
                             std::string at) {
    CallLogRecord record;
    record.at = std::move(at);
    record.kind = std::move(kind);
    record.call = followup.call;
    record.from = followup.number;
    record.agent = std::move(agent);
    record.customer_id = followup.customer_id;
    record.customer_name = followup.customer_name;
    record.outcome = followup.reason;
    if (followup.id != 0) record.followup_id = followup.id;
    return record;
}

}  // namespace callpop::domain
