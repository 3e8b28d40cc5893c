#pragma once
// The JSON form of the domain's records, written with a JsonWriter: the one definition of
// that form (records.hpp's to_json() reads it back into a DOM). Internal to protocol/.
#include "domain/records.hpp"
#include "protocol/json_writer.hpp"

namespace callpop::protocol {

void write_customer(JsonWriter& out, const domain::Customer& customer);
// The customer's fields, then notes and preferences, and with `with_lists` its assets,
// history and follow-ups: a pop carries those three at its top level instead.
void write_card_fields(JsonWriter& out, const domain::CustomerCard& card, bool with_lists);
void write_assets(JsonWriter& out, const domain::CustomerCard& card);
void write_history(JsonWriter& out, const domain::CustomerCard& card);
void write_followup_summaries(JsonWriter& out, const domain::CustomerCard& card);
// A record's fields, inside an object the caller opened ("log" adds its type).
void write_record_fields(JsonWriter& out, const domain::CallLogRecord& record);

}  // namespace callpop::protocol
