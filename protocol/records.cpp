#include "protocol/records.hpp"

namespace callpop::protocol {

using nlohmann::json;

namespace {

json notes_to_json(const std::vector<Note>& notes) {
    json list = json::array();
    for (const auto& note : notes) {
        list.push_back({{"id", note.id},
                        {"text", note.text},
                        {"by", note.author},
                        {"at", note.created_at}});
    }
    return list;
}

void put_if_set(json& object, const char* key, const std::string& value) {
    if (!value.empty()) object[key] = value;
}

std::string string_or_empty(const json& object, const char* key) {
    const auto found = object.find(key);
    if (found == object.end() || !found->is_string()) return {};
    return found->get<std::string>();
}

}  // namespace

json to_json(const Customer& customer) {
    return {{"id", customer.id},
            {"external_id", customer.external_id},
            {"name", customer.name},
            {"company", customer.company},
            {"tier", customer.tier},
            {"segment", customer.segment},
            {"language", customer.language},
            {"timezone", customer.timezone},
            {"email", customer.email},
            {"address", customer.address},
            {"do_not_call", customer.do_not_call},
            {"phones", customer.phones}};
}

json to_json(const CustomerCard& card) {
    json object = to_json(card.customer);
    object["notes"] = notes_to_json(card.notes);
    object["preferences"] = notes_to_json(card.preferences);
    json assets = json::array();
    for (const auto& asset : card.assets) {
        json item = {{"product", asset.product},
                     {"serial", asset.serial},
                     {"purchased", asset.purchased}};
        put_if_set(item, "warranty_end", asset.warranty_end);
        assets.push_back(std::move(item));
    }
    object["assets"] = std::move(assets);
    json history = json::array();
    for (const auto& entry : card.history) {
        history.push_back({{"call", entry.call},
                           {"at", entry.at},
                           {"line", entry.line},
                           {"state", entry.state},
                           {"agent", entry.agent},
                           {"outcome", entry.outcome},
                           {"notes", entry.notes}});
    }
    object["history"] = std::move(history);
    json followups = json::array();
    for (const auto& followup : card.followups) {
        followups.push_back({{"id", followup.id},
                             {"kind", domain::to_string(followup.kind)},
                             {"due", followup.due},
                             {"status", domain::to_string(followup.status)},
                             {"reason", followup.reason}});
    }
    object["followups"] = std::move(followups);
    return object;
}

json to_json(const CallLogRecord& record) {
    json object = {{"id", record.id}, {"at", record.at}, {"kind", record.kind}, {"call", record.call}};
    put_if_set(object, "switch", record.switch_name);
    put_if_set(object, "from", record.from);
    put_if_set(object, "caller_name", record.caller_name);
    put_if_set(object, "to", record.to);
    put_if_set(object, "line", record.line);
    put_if_set(object, "queue", record.queue);
    put_if_set(object, "ext", record.extension);
    put_if_set(object, "agent", record.agent);
    if (record.customer_id) object["customer"] = *record.customer_id;
    put_if_set(object, "customer_name", record.customer_name);
    put_if_set(object, "outcome", record.outcome);
    put_if_set(object, "cause", record.cause);
    put_if_set(object, "notes", record.notes);
    if (record.followup_id) object["followup"] = *record.followup_id;
    return object;
}

json to_json(const Followup& followup) {
    json object = {{"id", followup.id},
                   {"kind", domain::to_string(followup.kind)},
                   {"status", domain::to_string(followup.status)}};
    if (followup.customer_id) object["customer"] = *followup.customer_id;
    put_if_set(object, "customer_name", followup.customer_name);
    object["number"] = followup.number;
    put_if_set(object, "call", followup.call);
    object["reason"] = followup.reason;
    object["due"] = followup.due_at;
    object["timezone"] = followup.timezone;
    put_if_set(object, "timezone_source", followup.timezone_source);
    object["window"] = followup.window.is_null() ? json::object() : followup.window;
    object["attempts_made"] = followup.attempts_made;
    object["attempts_max"] = followup.attempts_max;
    object["retry_after_s"] = followup.retry_after_s;
    if (!followup.survey.is_null()) object["survey"] = followup.survey;
    put_if_set(object, "leased_by", followup.leased_by);
    put_if_set(object, "lease_until", followup.lease_until);
    if (followup.last_result) object["last_result"] = domain::to_string(*followup.last_result);
    if (followup.score) object["score"] = *followup.score;
    put_if_set(object, "comment", followup.comment);
    object["created_at"] = followup.created_at;
    put_if_set(object, "closed_at", followup.closed_at);
    put_if_set(object, "closed_by", followup.closed_by);
    put_if_set(object, "overdue_at", followup.overdue_at);
    return object;
}

CallLogRecord call_log_record_from_json(const json& object) {
    CallLogRecord record;
    if (auto id = object.find("id"); id != object.end() && id->is_number_integer())
        record.id = id->get<std::int64_t>();
    record.at = string_or_empty(object, "at");
    record.kind = string_or_empty(object, "kind");
    record.call = string_or_empty(object, "call");
    record.switch_name = string_or_empty(object, "switch");
    record.from = string_or_empty(object, "from");
    record.caller_name = string_or_empty(object, "caller_name");
    record.to = string_or_empty(object, "to");
    record.line = string_or_empty(object, "line");
    record.queue = string_or_empty(object, "queue");
    record.extension = string_or_empty(object, "ext");
    record.agent = string_or_empty(object, "agent");
    if (auto customer = object.find("customer");
        customer != object.end() && customer->is_number_integer())
        record.customer_id = customer->get<std::int64_t>();
    record.customer_name = string_or_empty(object, "customer_name");
    record.outcome = string_or_empty(object, "outcome");
    record.cause = string_or_empty(object, "cause");
    record.notes = string_or_empty(object, "notes");
    if (auto followup = object.find("followup");
        followup != object.end() && followup->is_number_integer())
        record.followup_id = followup->get<std::int64_t>();
    return record;
}

}  // namespace callpop::protocol
