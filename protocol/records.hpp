#pragma once
// The JSON form of the domain's records (customer cards, call-log records, follow-ups), as
// docs/protocol-agent.md specifies it.
#include <nlohmann/json.hpp>

#include "domain/records.hpp"

namespace callpop::protocol {

using domain::Asset;
using domain::CallLogRecord;
using domain::Customer;
using domain::CustomerCard;
using domain::Followup;
using domain::FollowupSummary;
using domain::HistoryEntry;
using domain::Note;

nlohmann::json to_json(const Customer& customer);
nlohmann::json to_json(const CustomerCard& card);
nlohmann::json to_json(const CallLogRecord& record);  // without "type"
// The record as one line of the JSONL call log, newline included.
std::string json_line(const CallLogRecord& record);
nlohmann::json to_json(const Followup& followup);
CallLogRecord call_log_record_from_json(const nlohmann::json& object);

}  // namespace callpop::protocol
