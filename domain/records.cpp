#include "domain/records.hpp"

namespace callpop::domain {

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
