#include "storage/postgresql/postgres_store.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <unordered_map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "storage/postgresql/connection.hpp"
#include "storage/postgresql/schema.hpp"
#include "storage/store_bus.hpp"
#include "storage/stored_values.hpp"
#include "storage/token_hash.hpp"

namespace callpop::storage {

using domain::AgentRole;
using domain::AttemptResult;
using domain::FollowupKind;
using domain::FollowupStatus;
using domain::SurveyScale;
using postgresql::Connection;
using postgresql::Parameter;
using postgresql::Result;
using postgresql::text_array;
using stored::followup_columns;
using stored::log_record_select;

namespace {

// Parameters go to the server as text.
std::string text_of(std::int64_t value) { return std::to_string(value); }

std::optional<std::string> text_of(std::optional<std::int64_t> value) {
    if (!value) return std::nullopt;
    return std::to_string(*value);
}

std::optional<std::string> text_of(std::optional<int> value) {
    if (!value) return std::nullopt;
    return std::to_string(*value);
}

// Unset times are NULL in the followups table.
Parameter time_or_null(const std::string& iso) {
    if (iso.empty()) return std::nullopt;
    return iso;
}

// NULL is no limit to PostgreSQL; a limit past bigint is none either.
std::optional<std::string> limit_of(std::size_t limit) {
    if (limit > static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()))
        return std::nullopt;
    return std::to_string(limit);
}

std::string string_at(const Result& rows, int row, int column) {
    return std::string(rows.text(row, column));
}

// What `read(rows, row)` makes of every row.
template <typename Read>
auto every_row(const Result& rows, Read read) {
    std::vector<decltype(read(rows, 0))> values;
    values.reserve(static_cast<std::size_t>(rows.rows()));
    for (int row = 0; row < rows.rows(); ++row) values.push_back(read(rows, row));
    return values;
}

std::optional<std::int64_t> optional_integer(const Result& rows, int row, int column) {
    if (rows.is_null(row, column)) return std::nullopt;
    return rows.integer(row, column);
}

// What the customer readers select: stored::customer_columns, then the phones as a JSON array
// in their order, so that a customer and its phones are one round trip.
const std::string customer_select =
    std::string("SELECT ") + stored::customer_columns +
    ", (SELECT coalesce(json_agg(p.number ORDER BY p.position), '[]') FROM phones p "
    "WHERE p.customer_id = c.id)";

Customer read_customer(const Result& rows, int row) {
    Customer customer;
    customer.id = rows.integer(row, 0);
    customer.external_id = string_at(rows, row, 1);
    customer.name = string_at(rows, row, 2);
    customer.company = string_at(rows, row, 3);
    customer.tier = string_at(rows, row, 4);
    customer.segment = string_at(rows, row, 5);
    customer.language = string_at(rows, row, 6);
    customer.timezone = string_at(rows, row, 7);
    customer.email = string_at(rows, row, 8);
    customer.address = string_at(rows, row, 9);
    customer.do_not_call = rows.integer(row, 10) != 0;
    customer.phones = nlohmann::json::parse(rows.text(row, 11)).get<std::vector<std::string>>();
    return customer;
}

constexpr int customer_column_count = 12;

// A card's notes, assets, last calls and open follow-ups as four JSON arrays of rows, for
// the customer `c` of the query, when `condition` holds (NULLs otherwise): the whole card in
// one statement. `history` is the parameter limiting the calls.
std::string card_columns(std::string_view history, std::string_view condition) {
    const auto when = [&](const std::string& rows) {
        return "CASE WHEN " + std::string(condition) + " THEN (" + rows + ") END";
    };
    return when("SELECT coalesce(json_agg(json_build_array(id, kind, text, author, created_at) "
                "ORDER BY created_at DESC, id DESC), '[]') FROM (SELECT id, kind, text, author, "
                "created_at FROM notes WHERE customer_id = c.id ORDER BY created_at DESC, id DESC "
                "LIMIT 50) n") +
           ", " +
           when("SELECT coalesce(json_agg(json_build_array(product, serial, purchased, "
                "warranty_end) ORDER BY purchased DESC, id DESC), '[]') FROM (SELECT id, product, "
                "serial, purchased, warranty_end FROM assets WHERE customer_id = c.id ORDER BY "
                "purchased DESC, id DESC LIMIT 50) a") +
           ", " +
           when("SELECT coalesce(json_agg(json_build_array(call_id, started_at, line, state, "
                "agent, outcome, outcome_notes) ORDER BY started_at DESC), '[]') FROM (SELECT "
                "call_id, started_at, line, state, agent, outcome, outcome_notes FROM calls "
                "WHERE customer_id = c.id ORDER BY started_at DESC LIMIT " +
                std::string(history) + ") h") +
           ", " +
           when("SELECT coalesce(json_agg(json_build_array(id, kind, due_at, status, reason) "
                "ORDER BY due_at), '[]') FROM (SELECT id, kind, due_at, status, reason FROM "
                "followups WHERE customer_id = c.id AND status = 'open' ORDER BY due_at LIMIT 20) "
                "f");
}

// NULL columns come as JSON null: empty, as string_at reads them.
std::string text_in(const nlohmann::json& value) {
    return value.is_string() ? value.get<std::string>() : std::string();
}

constexpr int card_column_count = 4;

// The four columns of card_columns, from `column` on.
void read_card(const Result& rows, int row, int column, CustomerCard& card) {
    const auto array_at = [&](int offset) { return nlohmann::json::parse(rows.text(row, column + offset)); };
    for (const auto& note : array_at(0)) {
        Note read{note.at(0).get<std::int64_t>(), text_in(note.at(1)), text_in(note.at(2)),
                  text_in(note.at(3)), text_in(note.at(4))};
        (read.kind == "preference" ? card.preferences : card.notes).push_back(std::move(read));
    }
    for (const auto& asset : array_at(1))
        card.assets.push_back(
            {text_in(asset.at(0)), text_in(asset.at(1)), text_in(asset.at(2)), text_in(asset.at(3))});
    for (const auto& call : array_at(2))
        card.history.push_back({text_in(call.at(0)), text_in(call.at(1)), text_in(call.at(2)),
                                text_in(call.at(3)), text_in(call.at(4)), text_in(call.at(5)),
                                text_in(call.at(6))});
    for (const auto& followup : array_at(3))
        card.followups.push_back(
            {followup.at(0).get<std::int64_t>(),
             stored::state<FollowupKind>(text_in(followup.at(1)), "followups.kind"),
             text_in(followup.at(2)),
             stored::state<FollowupStatus>(text_in(followup.at(3)), "followups.status"),
             text_in(followup.at(4))});
}

// `insert_record` (a call_log insert RETURNING id, with append_log's parameters: $1 at,
// $2 kind, $3 call, $4 switch, $5 caller, $6 caller name, $7 dialed, $8 line, $9 queue,
// $10 extension, $11 agent, $12 customer id, $15 cause; $19 the daemon) with the call
// event's effect on its `calls` row, made only when the record was logged: an upsert. A row
// is made by the call's first event, whichever it is, as a ring followed by that event
// would have made it; later events fill in what earlier ones did not know.
std::string logged_and_folded(const std::string& insert_record, std::string_view kind) {
    std::string columns = "call_id, switch, started_at, caller, caller_name, dialed, line, "
                          "queue, extension, agent, customer_id, daemon, state";
    std::string values = "$3, $4, $1, $5, $6, $7, $8, $9, $10, $11, $12::bigint, $19, ";
    std::string updates =
        "started_at = least(c.started_at, excluded.started_at), "
        "caller = CASE WHEN c.caller = '' THEN excluded.caller ELSE c.caller END, "
        "caller_name = CASE WHEN c.caller_name = '' THEN excluded.caller_name "
        "ELSE c.caller_name END, "
        "dialed = CASE WHEN c.dialed = '' THEN excluded.dialed ELSE c.dialed END, "
        "line = CASE WHEN c.line = '' THEN excluded.line ELSE c.line END, "
        "queue = CASE WHEN c.queue = '' THEN excluded.queue ELSE c.queue END, "
        "customer_id = coalesce(c.customer_id, excluded.customer_id)";
    if (kind == "ring") {
        values += "'ringing'";
    } else if (kind == "answer") {
        columns += ", answered_at";
        values += "'answered', $1";
        updates += ", answered_at = coalesce(c.answered_at, excluded.answered_at), "
                   "extension = excluded.extension, agent = excluded.agent, "
                   "state = CASE WHEN c.ended_at IS NULL THEN 'answered' "
                   "WHEN c.state = 'abandoned' THEN 'completed' ELSE c.state END";
    } else {  // hangup or timeout
        columns += ", ended_at, cause";
        values += "CASE WHEN $2 = 'timeout' THEN 'timeout' ELSE 'abandoned' END, $1, $15";
        updates += ", ended_at = excluded.ended_at, cause = excluded.cause, "
                   "state = CASE WHEN excluded.state = 'timeout' THEN 'timeout' "
                   "WHEN c.answered_at IS NOT NULL THEN 'completed' ELSE 'abandoned' END";
    }
    return "WITH logged AS (" + insert_record + "), folded AS (INSERT INTO calls AS c (" +
           columns + ") SELECT " + values + " FROM logged ON CONFLICT (call_id) DO UPDATE SET " +
           updates + ") SELECT id FROM logged";
}

std::optional<Customer> first_customer(const Result& rows) {
    if (rows.rows() == 0) return std::nullopt;
    return read_customer(rows, 0);
}

std::vector<CallLogRecord> read_log_records(const Result& rows) {
    std::vector<CallLogRecord> records;
    records.reserve(static_cast<std::size_t>(rows.rows()));
    for (int row = 0; row < rows.rows(); ++row) {
        CallLogRecord record;
        record.id = rows.integer(row, 0);
        record.at = string_at(rows, row, 1);
        record.kind = string_at(rows, row, 2);
        record.call = string_at(rows, row, 3);
        record.switch_name = string_at(rows, row, 4);
        record.from = string_at(rows, row, 5);
        record.caller_name = string_at(rows, row, 6);
        record.to = string_at(rows, row, 7);
        record.line = string_at(rows, row, 8);
        record.queue = string_at(rows, row, 9);
        record.extension = string_at(rows, row, 10);
        record.agent = string_at(rows, row, 11);
        record.customer_id = optional_integer(rows, row, 12);
        record.customer_name = string_at(rows, row, 13);
        record.outcome = string_at(rows, row, 14);
        record.cause = string_at(rows, row, 15);
        record.notes = string_at(rows, row, 16);
        record.followup_id = optional_integer(rows, row, 17);
        records.push_back(std::move(record));
    }
    return records;
}

// Every row of a query on stored::followup_columns.
std::vector<Followup> read_followups(const Result& rows) {
    std::vector<Followup> followups;
    for (int row = 0; row < rows.rows(); ++row) {
        Followup followup;
        followup.id = rows.integer(row, 0);
        followup.kind = stored::state<FollowupKind>(rows.text(row, 1), "followups.kind");
        followup.status = stored::state<FollowupStatus>(rows.text(row, 2), "followups.status");
        followup.customer_id = optional_integer(rows, row, 3);
        followup.customer_name = string_at(rows, row, 4);
        followup.number = string_at(rows, row, 5);
        followup.call = string_at(rows, row, 6);
        followup.reason = string_at(rows, row, 7);
        followup.due_at = string_at(rows, row, 8);
        followup.timezone = string_at(rows, row, 9);
        followup.timezone_source = string_at(rows, row, 10);
        followup.window = stored::followup_json(string_at(rows, row, 11), rows.is_null(row, 11),
                                                followup.id, "calling_window");
        followup.attempts_made = static_cast<std::uint32_t>(rows.integer(row, 12));
        followup.attempts_max = static_cast<std::uint32_t>(rows.integer(row, 13));
        followup.retry_after_s = rows.integer(row, 14);
        followup.survey = stored::followup_json(string_at(rows, row, 15), rows.is_null(row, 15),
                                                followup.id, "survey");
        stored::check_survey_scale(followup);
        followup.leased_by = string_at(rows, row, 16);
        followup.lease_until = string_at(rows, row, 17);
        if (!rows.text(row, 18).empty())
            followup.last_result =
                stored::state<AttemptResult>(rows.text(row, 18), "followups.last_result");
        if (!rows.is_null(row, 19)) followup.score = static_cast<int>(rows.integer(row, 19));
        followup.comment = string_at(rows, row, 20);
        followup.created_at = string_at(rows, row, 21);
        followup.closed_at = string_at(rows, row, 22);
        followup.closed_by = string_at(rows, row, 23);
        followup.overdue_at = string_at(rows, row, 24);
        followups.push_back(std::move(followup));
    }
    return followups;
}

AgentAccount read_account(const Result& rows, int row) {
    return {string_at(rows, row, 0), string_at(rows, row, 1),
            stored::state<AgentRole>(rows.text(row, 2), "agents.role"), string_at(rows, row, 3),
            stored::split_extensions(rows.text(row, 4))};
}

// No attempt yet is '' in followups.last_result.
std::string_view result_name(const std::optional<AttemptResult>& result) {
    return result ? domain::to_string(*result) : std::string_view("");
}

// Held by a transaction that appends to the call log, until it ends (callpop's port, then 3).
constexpr const char* log_lock = "SELECT pg_advisory_xact_lock(7700, 3)";
// Held by the session that owes phones_by_number a build (PostgresStore::begin_import).
constexpr const char* try_number_index_lock = "SELECT pg_try_advisory_lock(7700, 4)";

class PostgresStore final : public Store {
public:
    PostgresStore(const std::string& conninfo, bool read_only, std::string daemon_name)
        : db_(conninfo, read_only ? Connection::Access::read_only : Connection::Access::read_write,
              "callpop " + daemon_name),
          read_only_(read_only),
          daemon_name_(std::move(daemon_name)),
          spool_file_key_("spool_file:" + daemon_name_),
          spool_offset_key_("spool_offset:" + daemon_name_) {
        if (read_only) {
            if (postgresql::schema_version(db_) != postgresql::known_schema_version())
                throw StorageError("PostgreSQL: the database has no schema of this callpop's "
                                   "version yet");
            return;
        }
        postgresql::migrate(db_);
        // An import into an empty store that stopped half-way left it to be built; one
        // running now builds it when done.
        if (db_.query("SELECT to_regclass('phones_by_number') IS NULL").text(0, 0) == "t" &&
            db_.query(try_number_index_lock).text(0, 0) == "t")
            build_number_index();
    }

    // ---- the directory ----

    std::vector<Customer> customers_by_number(std::string_view number,
                                              std::size_t limit) override {
        // Best first: most recently called (none last), then the oldest record.
        static const std::string sql =
            customer_select +
            " FROM phones n JOIN customers c ON c.id = n.customer_id WHERE n.number = $1 "
            "ORDER BY (SELECT max(started_at) FROM calls WHERE customer_id = c.id) DESC "
            "NULLS LAST, c.id LIMIT $2";
        return every_row(db_.query(sql, {number, limit_of(limit)}), read_customer);
    }

    std::optional<Customer> customer_by_asset_serial(std::string_view serial) override {
        static const std::string sql =
            customer_select +
            " FROM assets a JOIN customers c ON c.id = a.customer_id "
            "WHERE a.serial = $1 AND a.serial <> '' ORDER BY a.id LIMIT 1";
        return first_customer(db_.query(sql, {serial}));
    }

    std::optional<Customer> customer_by_external_id(std::string_view external_id) override {
        write_queued_customers();
        static const std::string sql = customer_select + " FROM customers c WHERE external_id = $1";
        return first_customer(db_.query(sql, {external_id}));
    }

    std::optional<Customer> customer_by_id(std::int64_t id) override {
        static const std::string sql = customer_select + " FROM customers c WHERE id = $1";
        return first_customer(db_.query(sql, {text_of(id)}));
    }

    CustomerCard card(const Customer& customer, std::size_t history) override {
        static const std::string sql =
            "SELECT " + card_columns("$2", "true") + " FROM customers c WHERE c.id = $1";
        const Result rows = db_.query(sql, {text_of(customer.id), limit_of(history)});
        CustomerCard card;
        card.customer = customer;
        if (rows.rows() > 0) read_card(rows, 0, 0, card);
        return card;
    }

    NumberMatch caller_by_number(std::string_view number, std::size_t limit,
                                 std::size_t history) override {
        return std::move(callers_by_numbers({std::string(number)}, limit, history).front());
    }

    std::vector<NumberMatch> callers_by_numbers(const std::vector<std::string>& numbers,
                                                std::size_t limit,
                                                std::size_t history) override {
        // One statement, one snapshot, one round trip for every number: the pop of every
        // ring waits for it, and under load each statement's fixed cost (its executor's
        // set-up, the wake-ups of both sides) outweighed the lookup itself. The customers
        // of each number are ranked as customers_by_number; the card's columns are read for
        // the first only.
        static const std::string sql =
            "WITH found AS (SELECT w.position, n.customer_id AS id, row_number() OVER "
            "(PARTITION BY w.position ORDER BY (SELECT max(started_at) FROM calls WHERE "
            "customer_id = n.customer_id) DESC NULLS LAST, n.customer_id) AS rank "
            "FROM unnest($1::text[]) WITH ORDINALITY AS w(number, position) "
            "JOIN phones n ON n.number = w.number) " +
            customer_select + ", " + card_columns("$3", "f.rank = 1") +
            ", f.position FROM found f JOIN customers c ON c.id = f.id "
            "WHERE f.rank <= coalesce($2::bigint, 9223372036854775807) ORDER BY f.position, f.rank";
        const Result rows = db_.query(sql, {text_array(numbers), limit_of(limit), limit_of(history)});
        std::vector<NumberMatch> matches(numbers.size());
        constexpr int position_column = customer_column_count + card_column_count;
        for (int row = 0; row < rows.rows(); ++row) {
            auto& match = matches.at(static_cast<std::size_t>(rows.integer(row, position_column) - 1));
            if (match.card) {
                match.others.push_back(read_customer(rows, row));
                continue;
            }
            match.card.emplace();
            match.card->customer = read_customer(rows, row);
            read_card(rows, row, customer_column_count, *match.card);
        }
        return matches;
    }

    // ---- import ----

    // Into an empty phones table, the index by number is built once at the end, from sorted
    // numbers: keeping it up to date row by row cost a first import of a million customers
    // a fifth of its time. Until then a caller's number is found by reading the table. The
    // import that dropped it holds number_index_lock until it is built again, so that
    // opening the store builds it only after an import that stopped half-way. (The rows that
    // make an import slow one by one go by COPY: queue_customer.)
    void begin_import() override {
        loads_empty_directory_ = false;
        if (db_.query(try_number_index_lock).text(0, 0) != "t") return;
        try {
            begin();
            builds_number_index_ =
                db_.query("SELECT NOT EXISTS (SELECT 1 FROM phones)").text(0, 0) == "t";
            if (builds_number_index_) db_.exec("DROP INDEX IF EXISTS phones_by_number");
            loads_empty_directory_ =
                builds_number_index_ &&
                db_.query("SELECT NOT EXISTS (SELECT 1 FROM customers)").text(0, 0) == "t";
            commit();
        } catch (const StorageError&) {
            rollback();
            builds_number_index_ = false;
            loads_empty_directory_ = false;
        }
        if (!builds_number_index_) release_number_index_lock();
    }

    void end_import() override {
        loads_empty_directory_ = false;
        if (!builds_number_index_) return;
        builds_number_index_ = false;
        build_number_index();
    }

    // One line of COPY into latest_to_import, sent while the next rows are read; merged
    // into the directory by write_queued_customers(). Of rows with one external id the last
    // wins: the line it supersedes is deleted before the merge, and it carries the first's
    // place in the file (first_seen), so that a new customer's id follows the order its
    // first row came in.
    void queue_customer(const Customer& customer) override {
        if (!db_.copying()) start_queue();
        const std::size_t line = queued_lines_++;
        const auto [queued, first] = queued_customer_places_.try_emplace(
            customer.external_id, QueuedPlace{.first_seen = line, .latest_line = line});
        if (!first) {
            superseded_lines_.push_back(queued->second.latest_line);
            queued->second.latest_line = line;
        }
        std::string& rows = unsent_rows_;
        rows += std::to_string(line);
        rows += '\t';
        rows += std::to_string(queued->second.first_seen);
        for (const std::string* field :
             {&customer.external_id, &customer.name, &customer.company, &customer.tier,
              &customer.segment, &customer.language, &customer.timezone, &customer.email,
              &customer.address}) {
            rows += '\t';
            postgresql::append_copy_field(rows, *field);
        }
        rows += customer.do_not_call ? "\t1\t" : "\t0\t";
        postgresql::append_copy_field(rows, text_array(customer.phones));
        rows += '\n';
        // Small enough that the server is never long without rows, big enough that a send
        // carries many.
        if (rows.size() >= std::size_t{256} * 1024) {
            db_.put_copy(rows);
            rows.clear();
        }
    }

    std::int64_t upsert_customer(const Customer& customer) override {
        write_queued_customers();
        // A row that did not change is not written (a re-import is mostly such rows): it
        // returns nothing, and its id is read on its own.
        const Result written = db_.query(
            "INSERT INTO customers AS c (external_id, name, company, tier, segment, language, "
            "timezone, email, address, do_not_call) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
            "$10) ON CONFLICT (external_id) DO UPDATE SET name = excluded.name, "
            "company = excluded.company, tier = excluded.tier, segment = excluded.segment, "
            "language = excluded.language, timezone = excluded.timezone, email = excluded.email, "
            "address = excluded.address, do_not_call = excluded.do_not_call "
            "WHERE (c.name, c.company, c.tier, c.segment, c.language, c.timezone, c.email, "
            "c.address, c.do_not_call) IS DISTINCT FROM (excluded.name, excluded.company, "
            "excluded.tier, excluded.segment, excluded.language, excluded.timezone, "
            "excluded.email, excluded.address, excluded.do_not_call) "
            "RETURNING id, xmax = 0",
            {customer.external_id, customer.name, customer.company, customer.tier,
             customer.segment, customer.language, customer.timezone, customer.email,
             customer.address, customer.do_not_call ? "1" : "0"});
        std::int64_t id = 0;
        bool inserted = false;
        if (written.rows() == 1) {
            id = written.integer(0, 0);
            inserted = written.text(0, 1) == "t";
        } else {
            const Result stored =
                db_.query("SELECT id FROM customers WHERE external_id = $1", {customer.external_id});
            if (stored.rows() == 0)
                throw StorageError("customer \"" + customer.external_id +
                                       "\" was removed by another connection while being imported",
                                   true);
            id = stored.integer(0, 0);
        }
        const std::string id_text = text_of(id);
        const std::string phones = text_array(customer.phones);
        if (!inserted) {
            // Replaced only when they differ, in content or order.
            const Result same = db_.query(
                "SELECT coalesce(array_agg(number ORDER BY position), '{}') = $2::text[] "
                "FROM phones WHERE customer_id = $1",
                {id_text, phones});
            if (same.text(0, 0) == "t") return id;
            db_.query("DELETE FROM phones WHERE customer_id = $1", {id_text});
        }
        if (!customer.phones.empty())
            db_.query(
                "INSERT INTO phones (customer_id, number, position) SELECT $1, number, "
                "position - 1 FROM unnest($2::text[]) WITH ORDINALITY AS given(number, position) "
                "ON CONFLICT DO NOTHING",
                {id_text, phones});
        return id;
    }

    bool upsert_asset(std::string_view customer_external_id, const Asset& asset) override {
        // By serial, or by product and purchase date when there is none: updated if found,
        // else added; in one statement, which also says whether the customer exists.
        const Result customers = db_.query(
            "WITH owner AS (SELECT id FROM customers WHERE external_id = $1), "
            "found AS (SELECT a.id FROM assets a JOIN owner ON a.customer_id = owner.id "
            "WHERE ($3::text <> '' AND a.serial = $3::text) OR ($3::text = '' AND a.serial = '' "
            "AND a.product = $2::text AND a.purchased = $4::text) ORDER BY a.id LIMIT 1), "
            "updated AS (UPDATE assets SET product = $2::text, serial = $3::text, "
            "purchased = $4::text, warranty_end = $5::text WHERE id IN (SELECT id FROM found)), "
            "added AS (INSERT INTO assets (customer_id, product, serial, purchased, warranty_end) "
            "SELECT id, $2::text, $3::text, $4::text, $5::text FROM owner "
            "WHERE NOT EXISTS (SELECT 1 FROM found)) "
            "SELECT count(*) FROM owner",
            {customer_external_id, asset.product, asset.serial, asset.purchased,
             asset.warranty_end});
        return customers.integer(0, 0) > 0;
    }

    bool upsert_note(std::string_view customer_external_id, const Note& note) override {
        const Result customers = db_.query(
            "WITH owner AS (SELECT id FROM customers WHERE external_id = $1), "
            "added AS (INSERT INTO notes (customer_id, kind, text, author, created_at) "
            "SELECT id, $2::text, $3::text, $4::text, $5::text FROM owner WHERE NOT EXISTS "
            "(SELECT 1 FROM notes n WHERE n.customer_id = owner.id AND n.kind = $2::text "
            "AND n.text = $3::text)) "
            "SELECT count(*) FROM owner",
            {customer_external_id, note.kind, note.text, note.author, note.created_at});
        return customers.integer(0, 0) > 0;
    }

    // ---- the call log ----

    std::optional<CallSummary> call_summary(std::string_view call_id) override {
        const Result rows = db_.query(
            "SELECT call_id, started_at, line, state, coalesce(nullif(outcome_agent, ''), agent), "
            "outcome, outcome_notes, caller, customer_id, agent, outcome_agent, switch, "
            "caller_name, dialed, queue, extension, coalesce(c.name, '') "
            "FROM calls LEFT JOIN customers c ON c.id = calls.customer_id WHERE call_id = $1",
            {call_id});
        if (rows.rows() == 0) return std::nullopt;
        CallSummary summary{{string_at(rows, 0, 0), string_at(rows, 0, 1), string_at(rows, 0, 2),
                             string_at(rows, 0, 3), string_at(rows, 0, 4), string_at(rows, 0, 5),
                             string_at(rows, 0, 6)},
                            string_at(rows, 0, 7),
                            optional_integer(rows, 0, 8),
                            string_at(rows, 0, 9),
                            string_at(rows, 0, 10),
                            string_at(rows, 0, 11),
                            string_at(rows, 0, 12),
                            string_at(rows, 0, 13),
                            string_at(rows, 0, 14),
                            string_at(rows, 0, 15),
                            string_at(rows, 0, 16)};
        return summary;
    }

    std::vector<CallLogRecord> recent_log(std::size_t count) override {
        static const std::string sql =
            std::string(log_record_select) + " ORDER BY id DESC LIMIT $1";
        auto records = read_log_records(db_.query(sql, {limit_of(count)}));
        return {records.rbegin(), records.rend()};
    }

    std::vector<CallLogRecord> log_after(std::int64_t after_id, std::size_t count) override {
        static const std::string sql =
            std::string(log_record_select) + " WHERE id > $1 ORDER BY id LIMIT $2";
        return read_log_records(db_.query(sql, {text_of(after_id), limit_of(count)}));
    }

    std::vector<CallLogRecord> calls_left_open() override {
        const Result rows = db_.query(
            "SELECT call_id, switch, caller, caller_name, dialed, line, queue, extension, agent, "
            "customer_id, coalesce(c.name, '') FROM calls "
            "LEFT JOIN customers c ON c.id = calls.customer_id "
            "WHERE ended_at IS NULL AND daemon = $1 ORDER BY started_at, call_id",
            {daemon_name_});
        std::vector<CallLogRecord> open;
        for (int row = 0; row < rows.rows(); ++row) {
            CallLogRecord record;
            record.kind = "timeout";
            record.call = string_at(rows, row, 0);
            record.switch_name = string_at(rows, row, 1);
            record.from = string_at(rows, row, 2);
            record.caller_name = string_at(rows, row, 3);
            record.to = string_at(rows, row, 4);
            record.line = string_at(rows, row, 5);
            record.queue = string_at(rows, row, 6);
            record.extension = string_at(rows, row, 7);
            record.agent = string_at(rows, row, 8);
            record.customer_id = optional_integer(rows, row, 9);
            record.customer_name = string_at(rows, row, 10);
            open.push_back(std::move(record));
        }
        return open;
    }

    std::int64_t last_log_id_before(std::string_view at) override {
        // Records come in time order: walking back from the newest reads only those since
        // `at`, not the whole log.
        return db_
            .query("SELECT coalesce((SELECT id FROM call_log WHERE at < $1 ORDER BY id DESC "
                   "LIMIT 1), 0)",
                   {at})
            .integer(0, 0);
    }

    std::int64_t last_log_id() override {
        return db_.query("SELECT coalesce(max(id), 0) FROM call_log").integer(0, 0);
    }

    std::optional<std::int64_t> append_log(const CallLogRecord& record) override {
        return append_logs(std::span(&record, 1)).front();
    }

    std::vector<std::optional<std::int64_t>> append_logs(
        std::span<const CallLogRecord> records) override {
        std::vector<std::optional<std::int64_t>> ids;
        ids.reserve(records.size());
        // An outcome is logged only when its call has a row to take it: it goes on its own.
        // The records between outcomes go together.
        while (!records.empty()) {
            const auto outcome = std::find_if(records.begin(), records.end(),
                                              [](const auto& record) { return record.kind == "outcome"; });
            const auto together = static_cast<std::size_t>(outcome - records.begin());
            log_together(records.first(together), ids);
            records = records.subspan(together);
            if (records.empty()) break;
            take_log_lock();
            const auto& record = records.front();
            const Result updated = db_.query(
                "UPDATE calls SET outcome = $2, outcome_notes = $3, outcome_agent = $4, "
                "outcome_at = $5 WHERE call_id = $1",
                {record.call, record.outcome, record.notes, record.agent, record.at});
            if (updated.affected() == 0)
                ids.emplace_back();
            else
                log_together(records.first(1), ids);
            records = records.subspan(1);
        }
        return ids;
    }

    std::optional<std::int64_t> add_note(std::int64_t customer_id, const Note& note) override {
        const Result added = db_.query(
            "INSERT INTO notes (customer_id, kind, text, author, created_at) "
            "SELECT id, $2::text, $3::text, $4::text, $5::text FROM customers WHERE id = $1 "
            "RETURNING id",
            {text_of(customer_id), note.kind, note.text, note.author, note.created_at});
        if (added.rows() == 0) return std::nullopt;
        return added.integer(0, 0);
    }

    SpoolPosition spool_position() override {
        // Each daemon has a spool of its own.
        const Result rows = db_.query(
            "SELECT coalesce((SELECT value FROM daemon_state WHERE name = $1), 0), "
            "coalesce((SELECT value FROM daemon_state WHERE name = $2), 0)",
            {spool_file_key_, spool_offset_key_});
        return {rows.integer(0, 0), rows.integer(0, 1)};
    }

    void set_spool_position(SpoolPosition position) override {
        db_.query(
            "INSERT INTO daemon_state (name, value) VALUES ($1, $3), ($2, $4) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            {spool_file_key_, spool_offset_key_, text_of(position.file),
             text_of(position.offset)});
    }

    // ---- transactions ----

    // A reader's transaction is one snapshot for several queries (a caller's whole card).
    void begin() override {
        forget_queued_customers();
        db_.exec(read_only_ ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN");
        holds_log_lock_ = false;
    }

    void commit() override {
        write_queued_customers();
        const bool logged = holds_log_lock_;
        holds_log_lock_ = false;
        // A COMMIT of a transaction a statement failed in rolls it back, and says so.
        if (db_.exec("COMMIT").command() == "ROLLBACK")
            throw StorageError("PostgreSQL: the transaction was rolled back after an error in it");
        if (logged) tell_other_daemons_of_records();
    }

    void rollback() override {
        holds_log_lock_ = false;
        forget_queued_customers();
        try {
            db_.exec("ROLLBACK");
        } catch (const StorageError&) {
            // The connection is gone, and the transaction with it.
        }
    }

    // ---- follow-ups ----

    std::optional<std::int64_t> create_followup(const Followup& followup) override {
        // DO NOTHING covers the uniqueness constraints only: the primary key (not given) and
        // followups_one_open_callback. A refused callback therefore changes nothing.
        const Result added = db_.query(
            "INSERT INTO followups (customer_id, call_id, kind, status, reason, number, due_at, "
            "timezone, timezone_source, calling_window, attempts_made, attempts_max, "
            "retry_after_s, survey, leased_by, lease_until, last_result, score, comment, "
            "created_at, closed_at, closed_by, overdue_at) VALUES ($1, $2, $3, $4, $5, $6, $7, "
            "$8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23) "
            "ON CONFLICT DO NOTHING RETURNING id",
            {text_of(followup.customer_id), followup.call, domain::to_string(followup.kind),
             domain::to_string(followup.status), followup.reason, followup.number,
             followup.due_at, followup.timezone, followup.timezone_source,
             followup.window.is_null() ? std::string("{}") : followup.window.dump(),
             text_of(followup.attempts_made), text_of(followup.attempts_max),
             text_of(followup.retry_after_s),
             followup.survey.is_null() ? std::nullopt : std::optional(followup.survey.dump()),
             followup.leased_by, time_or_null(followup.lease_until),
             result_name(followup.last_result), text_of(followup.score), followup.comment,
             followup.created_at, time_or_null(followup.closed_at), followup.closed_by,
             time_or_null(followup.overdue_at)});
        if (added.rows() == 0) return std::nullopt;
        return added.integer(0, 0);
    }

    std::optional<Followup> followup(std::int64_t id) override {
        static const std::string sql =
            std::string("SELECT ") + followup_columns +
            " FROM followups f LEFT JOIN customers cu ON cu.id = f.customer_id WHERE f.id = $1";
        auto found = read_followups(db_.query(sql, {text_of(id)}));
        if (found.empty()) return std::nullopt;
        return std::move(found.front());
    }

    std::optional<std::string> last_survey_created(std::int64_t customer_id) override {
        const Result rows = db_.query(
            "SELECT max(created_at) FROM followups WHERE customer_id = $1 "
            "AND kind = 'satisfaction' AND status <> 'cancelled'",
            {text_of(customer_id)});
        if (rows.is_null(0, 0)) return std::nullopt;
        return string_at(rows, 0, 0);
    }

    std::vector<Followup> due_followups(std::string_view now, std::size_t limit) override {
        // Locked until the caller's transaction ends, and skipped by every other daemon's
        // meanwhile: a follow-up goes to one agent however many daemons hand them out.
        static const std::string sql =
            std::string("SELECT ") + followup_columns +
            " FROM followups f LEFT JOIN customers cu ON cu.id = f.customer_id "
            "WHERE f.status = 'open' AND f.due_at <= $1 AND (f.leased_by = '' "
            "OR f.lease_until IS NULL OR f.lease_until <= $1) ORDER BY f.due_at, f.id LIMIT $2";
        static const std::string locking = sql + " FOR UPDATE OF f SKIP LOCKED";
        return read_followups(db_.query(read_only_ ? sql : locking, {now, limit_of(limit)}));
    }

    FollowupCounts count_due_followups(std::string_view now) override {
        const Result rows = db_.query(
            "SELECT count(*), count(overdue_at) FROM followups WHERE status = 'open' "
            "AND due_at <= $1",
            {now});
        return {static_cast<std::uint64_t>(rows.integer(0, 0)),
                static_cast<std::uint64_t>(rows.integer(0, 1))};
    }

    void update_followup(const Followup& followup) override {
        const Result updated = db_.query(
            "UPDATE followups SET status = $2, due_at = $3, attempts_made = $4, leased_by = $5, "
            "lease_until = $6, last_result = $7, score = $8, comment = $9, closed_at = $10, "
            "closed_by = $11, overdue_at = $12 WHERE id = $1",
            {text_of(followup.id), domain::to_string(followup.status), followup.due_at,
             text_of(followup.attempts_made), followup.leased_by,
             time_or_null(followup.lease_until), result_name(followup.last_result),
             text_of(followup.score), followup.comment, time_or_null(followup.closed_at),
             followup.closed_by, time_or_null(followup.overdue_at)});
        if (updated.affected() == 0)
            throw StorageError("no follow-up " + std::to_string(followup.id) + " to update");
    }

    void add_followup_attempt(std::int64_t followup_id, const FollowupAttempt& attempt) override {
        db_.query(
            "INSERT INTO followup_attempts (followup_id, at, agent, result, score, comment) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            {text_of(followup_id), attempt.at, attempt.agent, domain::to_string(attempt.result),
             text_of(attempt.score), attempt.comment});
    }

    std::vector<Followup> open_followups_of_call(std::string_view call_id) override {
        static const std::string sql =
            std::string("SELECT ") + followup_columns +
            " FROM followups f LEFT JOIN customers cu ON cu.id = f.customer_id "
            "WHERE f.call_id = $1 AND f.call_id <> '' AND f.status = 'open' ORDER BY f.id";
        return read_followups(db_.query(sql, {call_id}));
    }

    std::vector<Followup> unflagged_overdue_callbacks(std::string_view cutoff,
                                                      std::size_t limit) override {
        static const std::string sql =
            std::string("SELECT ") + followup_columns +
            " FROM followups f LEFT JOIN customers cu ON cu.id = f.customer_id "
            "WHERE f.status = 'open' AND f.kind = 'callback' AND f.due_at < $1 "
            "AND f.overdue_at IS NULL ORDER BY f.due_at, f.id LIMIT $2";
        return read_followups(db_.query(sql, {cutoff, limit_of(limit)}));
    }

    std::vector<Followup> list_followups(const FollowupQuery& query) override {
        // One statement for every combination of filters: an empty parameter filters nothing.
        static const std::string sql =
            std::string("SELECT ") + followup_columns +
            " FROM followups f LEFT JOIN customers cu ON cu.id = f.customer_id "
            "LEFT JOIN calls ca ON ca.call_id = f.call_id AND f.call_id <> '' "
            "WHERE (cardinality($1::text[]) = 0 OR f.status = ANY($1::text[])) "
            "AND ($2::text = '' OR f.kind = $2::text) "
            "AND ($3::text = '' OR f.leased_by = $3::text OR f.closed_by = $3::text "
            "OR ca.agent = $3::text OR ca.outcome_agent = $3::text) "
            "AND ($4::text = '' OR f.reason = $4::text) "
            "AND ($5::text = '' OR f.due_at <= $5::text) "
            "AND ($6::text = '' OR (f.kind = 'callback' AND f.overdue_at IS NOT NULL)) "
            "ORDER BY f.due_at, f.id LIMIT $7";
        std::vector<std::string> statuses;
        for (const auto status : query.statuses) statuses.emplace_back(domain::to_string(status));
        return read_followups(db_.query(
            sql, {text_array(statuses),
                  query.kind ? domain::to_string(*query.kind) : std::string_view(""), query.agent,
                  query.reason, query.due_by, query.overdue, limit_of(query.limit)}));
    }

    // ---- reports ----

    std::vector<SurveyResult> survey_results(std::string_view since,
                                             std::string_view until) override {
        const Result rows = db_.query(
            "SELECT f.id, f.closed_at, coalesce(f.survey::jsonb ->> 'scale', 'csat'), "
            "f.score, f.comment, coalesce(nullif(ca.outcome_agent, ''), ca.agent, ''), "
            "coalesce(ca.outcome, ''), coalesce(ca.line, ''), f.customer_id, "
            "coalesce(cu.name, '') FROM followups f "
            "LEFT JOIN calls ca ON ca.call_id = f.call_id AND f.call_id <> '' "
            "LEFT JOIN customers cu ON cu.id = f.customer_id "
            "WHERE f.kind = 'satisfaction' AND f.status = 'completed' AND f.score IS NOT NULL "
            "AND f.closed_at IS NOT NULL AND ($1::text = '' OR f.closed_at >= $1::text) "
            "AND ($2::text = '' OR f.closed_at < $2::text) ORDER BY f.closed_at, f.id",
            {since, until});
        std::vector<SurveyResult> results;
        for (int row = 0; row < rows.rows(); ++row) {
            SurveyResult result;
            result.followup_id = rows.integer(row, 0);
            result.completed_at = string_at(rows, row, 1);
            result.scale = stored::state<SurveyScale>(rows.text(row, 2), "followups.survey scale");
            result.score = static_cast<int>(rows.integer(row, 3));
            result.comment = string_at(rows, row, 4);
            result.agent = string_at(rows, row, 5);
            result.outcome = string_at(rows, row, 6);
            result.line = string_at(rows, row, 7);
            result.customer_id = optional_integer(rows, row, 8);
            result.customer_name = string_at(rows, row, 9);
            results.push_back(std::move(result));
        }
        ProductCache products;
        for (auto& result : results) result.products = products_of(products, result.customer_id);
        return results;
    }

    std::vector<FeedbackItem> feedback(std::string_view since, std::string_view until,
                                       const std::vector<std::string>& outcome_codes) override {
        // Survey answers with a comment or a low score (csat <= 2, nps <= 6), then the calls
        // whose outcome is one of the codes, merged by time.
        const Result rows = db_.query(
            "SELECT * FROM ("
            "SELECT f.closed_at AS at, 'survey' AS source, "
            "coalesce(f.survey::jsonb ->> 'scale', 'csat') AS scale, f.score, "
            "f.comment AS text, coalesce(ca.outcome, '') AS outcome, "
            "coalesce(nullif(ca.outcome_agent, ''), ca.agent, '') AS agent, f.call_id AS call, "
            "f.customer_id AS customer_id, coalesce(cu.name, '') AS customer_name, "
            "f.id AS tie, '' AS tie_call FROM followups f "
            "LEFT JOIN calls ca ON ca.call_id = f.call_id AND f.call_id <> '' "
            "LEFT JOIN customers cu ON cu.id = f.customer_id "
            "WHERE f.kind = 'satisfaction' AND f.status = 'completed' AND f.score IS NOT NULL "
            "AND f.closed_at IS NOT NULL AND ($1::text = '' OR f.closed_at >= $1::text) "
            "AND ($2::text = '' OR f.closed_at < $2::text) AND (f.comment <> '' OR "
            "(coalesce(f.survey::jsonb ->> 'scale', 'csat') = 'csat' AND f.score <= 2) OR "
            "(f.survey::jsonb ->> 'scale' = 'nps' AND f.score <= 6)) "
            "UNION ALL "
            "SELECT ca.outcome_at, 'outcome', '', NULL, ca.outcome_notes, ca.outcome, "
            "coalesce(nullif(ca.outcome_agent, ''), ca.agent), ca.call_id, ca.customer_id, "
            "coalesce(cu.name, ''), 0, ca.call_id FROM calls ca "
            "LEFT JOIN customers cu ON cu.id = ca.customer_id "
            "WHERE ca.outcome = ANY($3::text[]) AND ca.outcome_at IS NOT NULL "
            "AND ($1::text = '' OR ca.outcome_at >= $1::text) "
            "AND ($2::text = '' OR ca.outcome_at < $2::text)"
            ") AS items ORDER BY at, source DESC, tie, tie_call",
            {since, until, text_array(outcome_codes)});
        std::vector<FeedbackItem> items;
        for (int row = 0; row < rows.rows(); ++row) {
            FeedbackItem item;
            item.at = string_at(rows, row, 0);
            item.source = string_at(rows, row, 1);
            // An outcome has no scale: its row gives ''.
            if (!rows.text(row, 2).empty())
                item.scale = stored::state<SurveyScale>(rows.text(row, 2), "followups.survey scale");
            if (!rows.is_null(row, 3)) item.score = static_cast<int>(rows.integer(row, 3));
            item.text = string_at(rows, row, 4);
            item.outcome = string_at(rows, row, 5);
            item.agent = string_at(rows, row, 6);
            item.call = string_at(rows, row, 7);
            item.customer_id = optional_integer(rows, row, 8);
            item.customer_name = string_at(rows, row, 9);
            items.push_back(std::move(item));
        }
        ProductCache products;
        for (auto& item : items) item.products = products_of(products, item.customer_id);
        return items;
    }

    // ---- accounts ----

    std::optional<AgentAccount> agent(std::string_view id) override {
        const Result rows = db_.query(
            "SELECT id, name, role, token_hash, extensions FROM agents WHERE id = $1", {id});
        if (rows.rows() == 0) return std::nullopt;
        return read_account(rows, 0);
    }

    void put_agent(const AgentAccount& account) override {
        db_.query(
            "INSERT INTO agents (id, name, role, token_hash, extensions) "
            "VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role, "
            "token_hash = excluded.token_hash, extensions = excluded.extensions",
            {account.id, account.name, domain::to_string(account.role), account.token_hash,
             stored::join_extensions(account.extensions)});
    }

    bool remove_agent(std::string_view id) override {
        return db_.query("DELETE FROM agents WHERE id = $1", {id}).affected() > 0;
    }

    std::vector<AgentAccount> agents() override {
        return every_row(
            db_.query("SELECT id, name, role, token_hash, extensions FROM agents ORDER BY id"),
            read_account);
    }

    std::int64_t accounts_revision() override {
        return db_
            .query("SELECT coalesce((SELECT value FROM daemon_state "
                   "WHERE name = 'accounts_revision'), 0)")
            .integer(0, 0);
    }

    void daemon_seen(const DaemonSeen& daemon) override {
        db_.query(
            "INSERT INTO daemons (name, host, pid, version, started_at, last_seen) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO UPDATE SET "
            "host = excluded.host, pid = excluded.pid, version = excluded.version, "
            "started_at = excluded.started_at, last_seen = excluded.last_seen",
            {daemon.name, daemon.host, text_of(daemon.pid), daemon.version, daemon.started_at,
             daemon.last_seen});
    }

    std::vector<DaemonSeen> daemons() override {
        return every_row(
            db_.query("SELECT name, host, pid, version, started_at, last_seen FROM daemons "
                      "ORDER BY name"),
            [](const Result& rows, int row) {
                return DaemonSeen{string_at(rows, row, 0), string_at(rows, row, 1),
                                  rows.integer(row, 2),    string_at(rows, row, 3),
                                  string_at(rows, row, 4), string_at(rows, row, 5)};
            });
    }

    std::string ticket_key() override {
        constexpr std::size_t key_bytes = 32;
        if (auto key = secret("ticket_key"); key && key->size() >= key_bytes) return *key;
        // Two processes may both find none: the first insert wins and both read it back.
        db_.query(
            "INSERT INTO secrets (name, value) VALUES ('ticket_key', $1) "
            "ON CONFLICT (name) DO NOTHING",
            {to_hex(random_bytes(key_bytes))});
        auto key = secret("ticket_key");
        if (!key || key->size() < key_bytes)
            throw StorageError("secrets.ticket_key: not 32 bytes of hex");
        return *key;
    }

private:
    // The other daemons' tails read the log on when they hear of it: after the records
    // commit, in a transaction of its own that does not wait for the disk. Inside the
    // records' transaction, the notify lock (every notifying transaction on the server waits
    // for it: each daemon's bus) would be held through the commit's flush. The name lets this
    // daemon's own bus pass over what its writer read already. A failure here is not the
    // commit's, and is not reported as one: the records are in, the others read them with
    // the next ones, and a connection that is gone fails this writer's next statement.
    void tell_other_daemons_of_records() {
        try {
            db_.query("SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, $2)",
                      {log_channel, daemon_name_});
        } catch (const StorageError&) {
        }
    }

    // Writers on every daemon take ids one transaction at a time, so that ids follow commit
    // order: a tail going on after id N never finds a smaller one committed later. Taken
    // before the call's row is locked: the other way round, two daemons' writers could each
    // hold what the other waits for.
    bool needs_log_lock() const { return db_.in_transaction() && !holds_log_lock_; }
    void take_log_lock() {
        if (!needs_log_lock()) return;
        db_.query(log_lock);
        holds_log_lock_ = true;
    }

    // Logs `records` (none an outcome) in one round trip, the log lock first when this
    // transaction has yet to take it, and appends their ids.
    // A switch event the log holds already, from another daemon connected to the same switch,
    // changes nothing (call_log_one_per_switch_event). Under the log lock the first writer's
    // row is committed before the second inserts, so the second finds it and never waits on
    // the index. A call event that is logged folds into the call's row in the same
    // statement.
    void log_together(std::span<const CallLogRecord> records,
                      std::vector<std::optional<std::int64_t>>& ids) {
        if (records.empty()) return;
        static const std::string insert_record =
            "INSERT INTO call_log (at, kind, call_id, switch, caller, caller_name, dialed, "
            "line, queue, extension, agent, customer_id, customer_name, outcome, cause, notes, "
            "followup_id, event_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
            "$13, $14, $15, $16, $17, $18) ON CONFLICT DO NOTHING RETURNING id";
        static const std::string ring = logged_and_folded(insert_record, "ring");
        static const std::string answer = logged_and_folded(insert_record, "answer");
        static const std::string end = logged_and_folded(insert_record, "hangup");
        // What the parameters point at besides the records.
        struct Texts {
            std::optional<std::string> customer_id, followup_id, event_key;
        };
        std::vector<Texts> texts;
        texts.reserve(records.size());
        std::vector<postgresql::Statement> statements;
        statements.reserve(records.size() + 1);
        const bool locks = needs_log_lock();
        if (locks) statements.push_back({log_lock, {}});
        for (const auto& record : records) {
            const bool ends = record.kind == "hangup" || record.kind == "timeout";
            const std::string* log_and_fold = record.kind == "ring"     ? &ring
                                              : record.kind == "answer" ? &answer
                                              : ends                    ? &end
                                                                        : nullptr;
            const auto& text = texts.emplace_back(Texts{text_of(record.customer_id),
                                                        text_of(record.followup_id),
                                                        switch_event_key(record)});
            // The call_log insert alone binds the first 18; a fold the daemon's name too.
            auto& statement = statements.emplace_back(postgresql::Statement{
                log_and_fold == nullptr ? insert_record : *log_and_fold,
                {record.at, record.kind, record.call, record.switch_name, record.from,
                 record.caller_name, record.to, record.line, record.queue, record.extension,
                 record.agent, text.customer_id, record.customer_name, record.outcome,
                 record.cause, record.notes, text.followup_id, text.event_key}});
            if (log_and_fold != nullptr) statement.parameters.emplace_back(daemon_name_);
        }
        const auto results = db_.query_pipelined(statements);
        if (locks) holds_log_lock_ = true;
        for (std::size_t index = locks ? 1 : 0; index < results.size(); ++index) {
            const auto& written = results[index];
            ids.push_back(written.rows() == 0 ? std::nullopt
                                              : std::optional(written.integer(0, 0)));
        }
    }

    using ProductCache = std::map<std::int64_t, std::vector<std::string>>;

    // The queued customers, merged as upsert_customer would have written them one by one:
    // the last row of an external id wins (in the first one's place: queue_customer),
    // new ones take ids in the order of their first row, unchanged rows are not written,
    // phones are replaced where they differ. A first load compares nothing: new customers'
    // phones are simply added.
    void write_queued_customers() {
        if (!db_.copying()) return;
        db_.put_copy(unsent_rows_);
        db_.end_copy();
        const std::size_t customers = queued_lines_ - superseded_lines_.size();
        std::string superseded;
        for (const std::size_t line : superseded_lines_)
            superseded += (superseded.empty() ? "{" : ",") + std::to_string(line);
        forget_queued_customers();
        if (!superseded.empty())
            db_.query("DELETE FROM latest_to_import WHERE line = ANY($1::bigint[])",
                      {superseded + "}"});
        // New customers with their phones as given (the importer gives each number once),
        // in one statement: what it wrote is read from memory, not from a table.
        static const std::string merge_sql =
            "WITH written AS (INSERT INTO customers AS c (external_id, name, company, tier, "
            "segment, language, timezone, email, address, do_not_call) "
            "SELECT external_id, name, company, tier, segment, language, timezone, email, "
            "address, do_not_call FROM latest_to_import ORDER BY first_seen ";
        static const std::string on_conflict =
            "ON CONFLICT (external_id) DO UPDATE SET name = excluded.name, "
            "company = excluded.company, tier = excluded.tier, segment = excluded.segment, "
            "language = excluded.language, timezone = excluded.timezone, email = excluded.email, "
            "address = excluded.address, do_not_call = excluded.do_not_call "
            "WHERE (c.name, c.company, c.tier, c.segment, c.language, c.timezone, c.email, "
            "c.address, c.do_not_call) IS DISTINCT FROM (excluded.name, excluded.company, "
            "excluded.tier, excluded.segment, excluded.language, excluded.timezone, "
            "excluded.email, excluded.address, excluded.do_not_call) ";
        static const std::string phones_sql =
            "RETURNING id, external_id, xmax = 0 AS inserted), "
            "phones_of_inserted AS (INSERT INTO phones (customer_id, number, position) "
            "SELECT written.id, given.number, given.position - 1 FROM written "
            "JOIN latest_to_import latest ON latest.external_id = written.external_id, "
            "unnest(latest.phones) WITH ORDINALITY AS given(number, position) "
            "WHERE written.inserted) "
            "SELECT count(*) FILTER (WHERE inserted) FROM written";
        static const std::string insert_new_sql = merge_sql + phones_sql;
        static const std::string upsert_sql = merge_sql + on_conflict + phones_sql;
        const Result inserted = loads_empty_directory_ ? insert_new_customers(insert_new_sql, upsert_sql)
                                                       : db_.query(upsert_sql);
        // Known customers, changed or not: their phones replaced where they differ (those
        // just inserted are found the same). A first load has none.
        if (inserted.integer(0, 0) == static_cast<std::int64_t>(customers)) return;
        db_.exec(
            "INSERT INTO phones_to_import (customer_id, phones) "
            "SELECT c.id, latest.phones FROM latest_to_import latest "
            "JOIN customers c ON c.external_id = latest.external_id "
            "WHERE latest.phones IS DISTINCT FROM (SELECT coalesce(array_agg(p.number "
            "ORDER BY p.position), '{}') FROM phones p WHERE p.customer_id = c.id); "
            "DELETE FROM phones p USING phones_to_import changed "
            "WHERE p.customer_id = changed.customer_id; "
            "INSERT INTO phones (customer_id, number, position) "
            "SELECT changed.customer_id, given.number, given.position - 1 "
            "FROM phones_to_import changed, "
            "unnest(changed.phones) WITH ORDINALITY AS given(number, position)");
    }

    // Into a directory that was empty when the import began, the chunk's customers are
    // most likely all new: inserted without ON CONFLICT, whose own check of each row was a
    // quarter of the insert's time. A chunk that meets a customer the directory has (a row
    // repeating an earlier chunk's external id, another writer's customer) is merged after
    // all, and so is every chunk after it; any other failure is the chunk's, as it is.
    Result insert_new_customers(const std::string& insert_sql, const std::string& upsert_sql) {
        db_.exec("SAVEPOINT new_customers");
        std::optional<Result> inserted;
        try {
            inserted.emplace(db_.query(insert_sql));
        } catch (const StorageError& error) {
            if (error.broken_unique_key() != "customers_external_id_key") throw;
        }
        if (inserted) {
            db_.exec("RELEASE SAVEPOINT new_customers");
            return std::move(*inserted);
        }
        loads_empty_directory_ = false;
        db_.exec("ROLLBACK TO SAVEPOINT new_customers");
        return db_.query(upsert_sql);
    }

    // Under number_index_lock, which it lets go of whatever happens.
    void build_number_index() {
        try {
            begin();
            db_.exec("CREATE INDEX IF NOT EXISTS phones_by_number ON phones(number)");
            commit();
        } catch (const StorageError&) {
            rollback();
            release_number_index_lock();
            throw;
        }
        release_number_index_lock();
    }

    void release_number_index_lock() {
        try {
            db_.query("SELECT pg_advisory_unlock(7700, 4)");
        } catch (const StorageError&) {
            // The session is gone, and the lock with it.
        }
    }

    // Into a COPY the rest of the chunk's rows go to, in the transaction the import began.
    void start_queue() {
        // Temporary tables live as long as the session: made again after a reconnect.
        db_.exec(
            "CREATE TEMP TABLE IF NOT EXISTS latest_to_import (line bigint NOT NULL, "
            "first_seen bigint NOT NULL, external_id text COLLATE \"C\" NOT NULL, "
            "name text COLLATE \"C\" NOT NULL, company text COLLATE \"C\" NOT NULL, "
            "tier text COLLATE \"C\" NOT NULL, segment text COLLATE \"C\" NOT NULL, "
            "language text COLLATE \"C\" NOT NULL, timezone text COLLATE \"C\" NOT NULL, "
            "email text COLLATE \"C\" NOT NULL, address text COLLATE \"C\" NOT NULL, "
            "do_not_call integer NOT NULL, phones text[] COLLATE \"C\" NOT NULL); "
            "CREATE TEMP TABLE IF NOT EXISTS phones_to_import (customer_id bigint NOT NULL, "
            "phones text[] COLLATE \"C\" NOT NULL); "
            "TRUNCATE latest_to_import, phones_to_import; "
            // A chunk's statements each run once: compiling them (JIT, which their estimated
            // cost turns on) took longer than it saved.
            "SET LOCAL jit = off; "
            // The planner cannot know how many customers an insert returns, and guessed a
            // merge join of them with their phones: sorting both sides took five times as
            // long as hashing one.
            "SET LOCAL enable_mergejoin = off; "
            "SET LOCAL work_mem = '256MB'");
        db_.begin_copy(
            "COPY latest_to_import (line, first_seen, external_id, name, company, tier, "
            "segment, language, timezone, email, address, do_not_call, phones) FROM STDIN");
    }

    void forget_queued_customers() {
        db_.abandon_copy();
        unsent_rows_.clear();
        queued_lines_ = 0;
        queued_customer_places_.clear();
        superseded_lines_.clear();
    }

    // Keeps one row per call whatever order its events arrive in.
    // The customer's products, each once, alphabetically; none without a customer.
    const std::vector<std::string>& products_of(ProductCache& cache,
                                                std::optional<std::int64_t> customer_id) {
        static const std::vector<std::string> none;
        if (!customer_id) return none;
        auto found = cache.find(*customer_id);
        if (found != cache.end()) return found->second;
        const Result rows = db_.query(
            "SELECT DISTINCT product FROM assets WHERE customer_id = $1 AND product <> '' "
            "ORDER BY product",
            {text_of(*customer_id)});
        auto products =
            every_row(rows, [](const Result& read, int row) { return string_at(read, row, 0); });
        return cache.emplace(*customer_id, std::move(products)).first->second;
    }

    // A secret by name, as raw bytes; nullopt when there is none. A value that is not hex
    // is a broken row.
    std::optional<std::string> secret(std::string_view name) {
        const Result rows = db_.query("SELECT value FROM secrets WHERE name = $1", {name});
        if (rows.rows() == 0) return std::nullopt;
        auto bytes = from_hex(rows.text(0, 0));
        if (!bytes) throw StorageError("secrets." + std::string(name) + ": not hex");
        return bytes;
    }

    Connection db_;
    bool read_only_ = false;
    // This daemon among those sharing the database: its calls, its spool.
    std::string daemon_name_;
    std::string spool_file_key_;
    std::string spool_offset_key_;
    // queue_customer()'s rows in the COPY under way: how many, those not sent yet, each
    // external id's first and latest line, the lines a later one superseded.
    struct QueuedPlace {
        std::size_t first_seen;
        std::size_t latest_line;
    };
    std::size_t queued_lines_ = 0;
    std::string unsent_rows_;
    std::unordered_map<std::string, QueuedPlace> queued_customer_places_;
    std::vector<std::size_t> superseded_lines_;
    bool holds_log_lock_ = false;  // log_lock, until the transaction ends
    bool builds_number_index_ = false;  // number_index_lock, from begin_import to end_import
    // An import into a directory with no customers (and no phones) when it began, that took
    // number_index_lock, until a chunk of it met a customer it had (insert_new_customers).
    bool loads_empty_directory_ = false;
};

}  // namespace

std::unique_ptr<Store> open_postgres_store(const std::string& conninfo,
                                          const std::string& daemon_name, bool read_only) {
    return std::make_unique<PostgresStore>(conninfo, read_only, daemon_name);
}

namespace {

class DaemonNameLock final : public ServeLock {
public:
    explicit DaemonNameLock(Connection connection) : connection_(std::move(connection)) {}

private:
    Connection connection_;  // the lock ends with its session
};

}  // namespace

std::unique_ptr<ServeLock> lock_postgres_daemon_name(const std::string& conninfo,
                                                     const std::string& daemon_name) {
    Connection connection(conninfo, Connection::Access::read_write, "callpop " + daemon_name);
    // Keyed by the name's hash under a first key of its own (the migration and log locks use
    // 7700), so that no name can take theirs.
    const Result locked = connection.query(
        "SELECT pg_try_advisory_lock(7702, hashtext($1))", {daemon_name});
    if (locked.text(0, 0) != "t") {
        postgresql::migrate(connection);
        const Result seen = connection.query(
            "SELECT host, pid, last_seen FROM daemons WHERE name = $1", {daemon_name});
        const std::string holder =
            seen.rows() == 0 ? std::string("not yet registered")
                             : "host " + string_at(seen, 0, 0) + ", pid " + string_at(seen, 0, 1) +
                                   ", last seen " + string_at(seen, 0, 2);
        throw StorageError("daemon name \"" + daemon_name +
                           "\" is served by another callpop serve on this database (" + holder +
                           "): give each daemon its own storage.daemon_name");
    }
    return std::make_unique<DaemonNameLock>(std::move(connection));
}

}  // namespace callpop::storage
