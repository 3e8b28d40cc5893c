#include "protocol/records.hpp"

#include "protocol/record_writer.hpp"

namespace callpop::protocol {

using nlohmann::json;

namespace {

void write_notes(JsonWriter& out, std::string_view name, const std::vector<Note>& notes) {
    out.key(name).begin_array();
    for (const auto& note : notes) {
        out.begin_object()
            .field("id", note.id)
            .field("text", note.text)
            .field("by", note.author)
            .field("at", note.created_at)
            .end_object();
    }
    out.end_array();
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

namespace {

void write_customer_fields(JsonWriter& out, const Customer& customer) {
    out.field("id", customer.id)
        .field("external_id", customer.external_id)
        .field("name", customer.name)
        .field("company", customer.company)
        .field("tier", customer.tier)
        .field("segment", customer.segment)
        .field("language", customer.language)
        .field("timezone", customer.timezone)
        .field("email", customer.email)
        .field("address", customer.address)
        .key("do_not_call")
        .boolean(customer.do_not_call)
        .key("phones")
        .begin_array();
    for (const auto& phone : customer.phones) out.string(phone);
    out.end_array();
}

json parsed(const std::string& text) { return json::parse(text); }

}  // namespace

void write_customer(JsonWriter& out, const Customer& customer) {
    out.begin_object();
    write_customer_fields(out, customer);
    out.end_object();
}

void write_card_fields(JsonWriter& out, const CustomerCard& card, bool with_lists) {
    write_customer_fields(out, card.customer);
    write_notes(out, "notes", card.notes);
    write_notes(out, "preferences", card.preferences);
    if (!with_lists) return;
    write_assets(out, card);
    write_history(out, card);
    write_followup_summaries(out, card);
}

void write_assets(JsonWriter& out, const CustomerCard& card) {
    out.key("assets").begin_array();
    for (const auto& asset : card.assets) {
        out.begin_object()
            .field("product", asset.product)
            .field("serial", asset.serial)
            .field("purchased", asset.purchased)
            .field_if_set("warranty_end", asset.warranty_end)
            .end_object();
    }
    out.end_array();
}

void write_history(JsonWriter& out, const CustomerCard& card) {
    out.key("history").begin_array();
    for (const auto& entry : card.history) {
        out.begin_object()
            .field("call", entry.call)
            .field("at", entry.at)
            .field("line", entry.line)
            .field("state", entry.state)
            .field("agent", entry.agent)
            .field("outcome", entry.outcome)
            .field("notes", entry.notes)
            .end_object();
    }
    out.end_array();
}

void write_followup_summaries(JsonWriter& out, const CustomerCard& card) {
    out.key("followups").begin_array();
    for (const auto& followup : card.followups) {
        out.begin_object()
            .field("id", followup.id)
            .field("kind", domain::to_string(followup.kind))
            .field("due", followup.due)
            .field("status", domain::to_string(followup.status))
            .field("reason", followup.reason)
            .end_object();
    }
    out.end_array();
}

void write_record_fields(JsonWriter& out, const CallLogRecord& record) {
    out.field("id", record.id)
        .field("at", record.at)
        .field("kind", record.kind)
        .field("call", record.call)
        .field_if_set("switch", record.switch_name)
        .field_if_set("from", record.from)
        .field_if_set("caller_name", record.caller_name)
        .field_if_set("to", record.to)
        .field_if_set("line", record.line)
        .field_if_set("queue", record.queue)
        .field_if_set("ext", record.extension)
        .field_if_set("agent", record.agent);
    if (record.customer_id) out.field("customer", *record.customer_id);
    out.field_if_set("customer_name", record.customer_name)
        .field_if_set("outcome", record.outcome)
        .field_if_set("cause", record.cause)
        .field_if_set("notes", record.notes);
    if (record.followup_id) out.field("followup", *record.followup_id);
}

std::string json_line(const CallLogRecord& record) {
    std::string line;
    JsonWriter out(line);
    out.begin_object();
    write_record_fields(out, record);
    out.end_object();
    line += '\n';
    return line;
}

json to_json(const Customer& customer) {
    std::string text;
    JsonWriter out(text);
    write_customer(out, customer);
    return parsed(text);
}

json to_json(const CustomerCard& card) {
    std::string text;
    JsonWriter out(text);
    out.begin_object();
    write_card_fields(out, card, true);
    out.end_object();
    return parsed(text);
}

json to_json(const CallLogRecord& record) { return parsed(json_line(record)); }

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
