#include "storage/sqlite/sqlite_store.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <unordered_map>
#include <stdexcept>

#include "storage/sqlite/connection.hpp"
#include "storage/stored_values.hpp"
#include "storage/token_hash.hpp"

namespace callpop::storage {

using domain::AgentRole;
using domain::AttemptResult;
using domain::FollowupKind;
using domain::FollowupStatus;
using domain::SurveyScale;

namespace {

constexpr const char* migrations[] = {
#include "storage/sqlite/schema.sql.inc"
};

constexpr std::size_t known_schema_version = std::size(migrations);

std::size_t schema_version(Database& db) {
    Statement version_query(db.handle(), "PRAGMA user_version");
    version_query.step();
    const auto applied = static_cast<std::size_t>(version_query.column_int(0));
    version_query.reset();
    if (applied > known_schema_version)
        throw StorageError("database schema version " + std::to_string(applied) +
                           " is newer than this callpop knows (" +
                           std::to_string(known_schema_version) + ")");
    return applied;
}

void migrate(Database& db) {
    const std::size_t applied = schema_version(db);
    constexpr std::size_t available = known_schema_version;
    for (std::size_t index = applied; index < available; ++index) {
        Transaction transaction(db);
        db.exec(migrations[index]);
        db.exec("PRAGMA user_version = " + std::to_string(index + 1));
        transaction.commit();
    }
}

// As migration 1 made it. An import into an empty phones table drops it and builds it again
// when done (SqliteStore::begin_import).
constexpr const char* create_phones_by_number =
    "CREATE INDEX IF NOT EXISTS phones_by_number ON phones(number)";

using stored::customer_columns;
using stored::followup_columns;
using stored::log_record_select;

class SqliteStore final : public Store {
public:
    SqliteStore(const std::filesystem::path& path, bool read_only)
        : db_(path, read_only), read_only_(read_only) {
        if (read_only) {
            if (schema_version(db_) != known_schema_version)
                throw StorageError(path.string() + " has no schema of this callpop's version yet");
            return;
        }
        db_.exec("PRAGMA journal_mode = WAL");
        db_.exec("PRAGMA synchronous = NORMAL");
        db_.exec("PRAGMA foreign_keys = ON");
        migrate(db_);
        // An import into an empty store that stopped half-way left it to be built. (A
        // busy store is an import running now, which builds it when done: opening must
        // not fail for that.)
        try {
            db_.exec(create_phones_by_number);
        } catch (const StorageError& error) {
            if (!error.transient()) throw;
        }
    }

    std::vector<Customer> customers_by_number(std::string_view number,
                                              std::size_t limit) override {
        static const std::string sql = std::string("SELECT ") + customer_columns +
                                       " FROM phones p JOIN customers c ON c.id = p.customer_id "
                                       "WHERE p.number = ?1";
        auto& query = statement(sql);
        query.bind(1, number);
        std::vector<Customer> customers;
        while (query.step()) customers.push_back(read_customer(query));
        query.reset();
        // Most numbers have one customer: order the few shared ones here, best first (most
        // recently called, then oldest record), rather than sort every lookup in SQL.
        if (customers.size() > 1) {
            std::vector<std::pair<std::string, std::size_t>> last_call;
            for (std::size_t index = 0; index < customers.size(); ++index)
                last_call.emplace_back(last_call_of(customers[index].id), index);
            std::sort(last_call.begin(), last_call.end(), [&](const auto& a, const auto& b) {
                if (a.first != b.first) return a.first > b.first;  // none ("") sorts last
                return customers[a.second].id < customers[b.second].id;
            });
            std::vector<Customer> ordered;
            ordered.reserve(last_call.size());
            for (const auto& entry : last_call)
                ordered.push_back(std::move(customers[entry.second]));
            customers = std::move(ordered);
        }
        if (customers.size() > limit) customers.resize(limit);
        for (auto& customer : customers) customer.phones = phones_of(customer.id);
        return customers;
    }

    std::optional<Customer> customer_by_asset_serial(std::string_view serial) override {
        static const std::string sql = std::string("SELECT ") + customer_columns +
                                       " FROM assets a JOIN customers c ON c.id = a.customer_id "
                                       "WHERE a.serial = ?1 AND a.serial <> '' LIMIT 1";
        auto& query = statement(sql);
        query.bind(1, serial);
        return first_customer(query);
    }

    std::optional<Customer> customer_by_external_id(std::string_view external_id) override {
        static const std::string sql =
            std::string("SELECT ") + customer_columns + " FROM customers c WHERE external_id = ?1";
        auto& query = statement(sql);
        query.bind(1, external_id);
        return first_customer(query);
    }

    std::optional<Customer> customer_by_id(std::int64_t id) override {
        static const std::string sql =
            std::string("SELECT ") + customer_columns + " FROM customers c WHERE id = ?1";
        auto& query = statement(sql);
        query.bind(1, id);
        return first_customer(query);
    }

    CustomerCard card(const Customer& customer, std::size_t history) override {
        CustomerCard card;
        card.customer = customer;
        auto& notes = statement(
            "SELECT id, kind, text, author, created_at FROM notes WHERE customer_id = ?1 "
            "ORDER BY created_at DESC, id DESC LIMIT 50");
        notes.bind(1, customer.id);
        while (notes.step()) {
            Note note{notes.column_int(0), notes.column_text(1), notes.column_text(2),
                      notes.column_text(3), notes.column_text(4)};
            (note.kind == "preference" ? card.preferences : card.notes).push_back(std::move(note));
        }
        notes.reset();

        auto& assets = statement(
            "SELECT product, serial, purchased, warranty_end FROM assets WHERE customer_id = ?1 "
            "ORDER BY purchased DESC, id DESC LIMIT 50");
        assets.bind(1, customer.id);
        while (assets.step()) {
            card.assets.push_back({assets.column_text(0), assets.column_text(1),
                                   assets.column_text(2), assets.column_text(3)});
        }
        assets.reset();

        auto& calls = statement(
            "SELECT call_id, started_at, line, state, agent, outcome, outcome_notes FROM calls "
            "WHERE customer_id = ?1 ORDER BY started_at DESC LIMIT ?2");
        calls.bind(1, customer.id).bind(2, static_cast<std::int64_t>(history));
        while (calls.step()) {
            card.history.push_back({calls.column_text(0), calls.column_text(1),
                                    calls.column_text(2), calls.column_text(3),
                                    calls.column_text(4), calls.column_text(5),
                                    calls.column_text(6)});
        }
        calls.reset();

        auto& followups = statement(
            "SELECT id, kind, due_at, status, reason FROM followups "
            "WHERE customer_id = ?1 AND status = 'open' ORDER BY due_at LIMIT 20");
        followups.bind(1, customer.id);
        while (followups.step()) {
            card.followups.push_back(
                {followups.column_int(0),
                 state_column<FollowupKind>(followups, 1, "followups.kind"),
                 followups.column_text(2),
                 state_column<FollowupStatus>(followups, 3, "followups.status"),
                 followups.column_text(4)});
        }
        followups.reset();
        return card;
    }

    NumberMatch caller_by_number(std::string_view number, std::size_t limit,
                                 std::size_t history) override {
        // In process, several queries cost no more than one: one read transaction is the
        // snapshot.
        StoreTransaction snapshot(*this);
        NumberMatch match;
        auto customers = customers_by_number(number, limit);
        if (!customers.empty()) {
            match.card = card(customers.front(), history);
            match.others.assign(std::make_move_iterator(customers.begin() + 1),
                                std::make_move_iterator(customers.end()));
        }
        snapshot.commit();
        return match;
    }

    std::optional<CallSummary> call_summary(std::string_view call_id) override {
        auto& query = statement(
            "SELECT call_id, started_at, line, state, coalesce(nullif(outcome_agent, ''), agent), "
            "outcome, outcome_notes, caller, customer_id, agent, outcome_agent, switch, "
            "caller_name, dialed, queue, extension, coalesce(c.name, '') "
            "FROM calls LEFT JOIN customers c ON c.id = calls.customer_id WHERE call_id = ?1");
        query.bind(1, call_id);
        std::optional<CallSummary> summary;
        if (query.step()) {
            summary = CallSummary{{query.column_text(0), query.column_text(1), query.column_text(2),
                                   query.column_text(3), query.column_text(4), query.column_text(5),
                                   query.column_text(6)},
                                  query.column_text(7),
                                  std::nullopt,
                                  query.column_text(9),
                                  query.column_text(10),
                                  query.column_text(11),
                                  query.column_text(12),
                                  query.column_text(13),
                                  query.column_text(14),
                                  query.column_text(15),
                                  query.column_text(16)};
            if (!query.column_is_null(8)) summary->customer_id = query.column_int(8);
        }
        query.reset();
        return summary;
    }

    std::vector<CallLogRecord> calls_left_open() override {
        // A scan, once a start (~0.3 s over 1,200,000 calls, on the writer): an index of
        // open calls would cost every call two more B-tree writes.
        auto& query = statement(
            "SELECT call_id, switch, caller, caller_name, dialed, line, queue, extension, agent, "
            "customer_id, coalesce(c.name, '') FROM calls "
            "LEFT JOIN customers c ON c.id = calls.customer_id WHERE ended_at IS NULL");
        std::vector<CallLogRecord> open;
        while (query.step()) {
            CallLogRecord record;
            record.kind = "timeout";
            record.call = query.column_text(0);
            record.switch_name = query.column_text(1);
            record.from = query.column_text(2);
            record.caller_name = query.column_text(3);
            record.to = query.column_text(4);
            record.line = query.column_text(5);
            record.queue = query.column_text(6);
            record.extension = query.column_text(7);
            record.agent = query.column_text(8);
            if (!query.column_is_null(9)) record.customer_id = query.column_int(9);
            record.customer_name = query.column_text(10);
            open.push_back(std::move(record));
        }
        query.reset();
        return open;
    }

    std::optional<AgentAccount> agent(std::string_view id) override {
        auto& query = statement(
            "SELECT id, name, role, token_hash, extensions FROM agents WHERE id = ?1");
        query.bind(1, id);
        std::optional<AgentAccount> account;
        if (query.step()) account = read_account(query);
        query.reset();
        return account;
    }

    std::vector<AgentAccount> agents() override {
        auto& query =
            statement("SELECT id, name, role, token_hash, extensions FROM agents ORDER BY id");
        std::vector<AgentAccount> accounts;
        while (query.step()) accounts.push_back(read_account(query));
        query.reset();
        return accounts;
    }

    bool remove_agent(std::string_view id) override {
        auto& remove = statement("DELETE FROM agents WHERE id = ?1");
        remove.bind(1, id).run();
        return db_.changes() > 0;
    }

    std::int64_t accounts_revision() override {
        auto& query = statement(
            "SELECT coalesce((SELECT value FROM daemon_state WHERE name = 'accounts_revision'), 0)");
        query.step();
        const std::int64_t revision = query.column_int(0);
        query.reset();
        return revision;
    }

    std::vector<CallLogRecord> recent_log(std::size_t count) override {
        auto& query = statement(std::string(log_record_select) + " ORDER BY id DESC LIMIT ?1");
        query.bind(1, static_cast<std::int64_t>(count));
        auto records = read_log_records(query);
        return {records.rbegin(), records.rend()};
    }

    std::vector<CallLogRecord> log_after(std::int64_t after_id, std::size_t count) override {
        auto& query =
            statement(std::string(log_record_select) + " WHERE id > ?1 ORDER BY id LIMIT ?2");
        query.bind(1, after_id).bind(2, static_cast<std::int64_t>(count));
        return read_log_records(query);
    }

    static std::vector<CallLogRecord> read_log_records(Statement& query) {
        std::vector<CallLogRecord> records;
        while (query.step()) {
            CallLogRecord record;
            record.id = query.column_int(0);
            record.at = query.column_text(1);
            record.kind = query.column_text(2);
            record.call = query.column_text(3);
            record.switch_name = query.column_text(4);
            record.from = query.column_text(5);
            record.caller_name = query.column_text(6);
            record.to = query.column_text(7);
            record.line = query.column_text(8);
            record.queue = query.column_text(9);
            record.extension = query.column_text(10);
            record.agent = query.column_text(11);
            if (!query.column_is_null(12)) record.customer_id = query.column_int(12);
            record.customer_name = query.column_text(13);
            record.outcome = query.column_text(14);
            record.cause = query.column_text(15);
            record.notes = query.column_text(16);
            if (!query.column_is_null(17)) record.followup_id = query.column_int(17);
            records.push_back(std::move(record));
        }
        query.reset();
        return records;
    }

    std::int64_t last_log_id_before(std::string_view at) override {
        // Records come in time order: walking back from the newest reads only those since
        // `at` (today's, for a wallboard), not the whole log.
        auto& query = statement(
            "SELECT coalesce((SELECT id FROM call_log WHERE at < ?1 ORDER BY id DESC LIMIT 1), 0)");
        query.bind(1, at);
        query.step();
        const std::int64_t id = query.column_int(0);
        query.reset();
        return id;
    }

    std::int64_t last_log_id() override {
        auto& query = statement("SELECT coalesce(max(id), 0) FROM call_log");
        query.step();
        const std::int64_t id = query.column_int(0);
        query.reset();
        return id;
    }

    SpoolPosition spool_position() override {
        auto& query = statement(
            "SELECT coalesce((SELECT value FROM daemon_state WHERE name = 'spool_file'), 0), "
            "coalesce((SELECT value FROM daemon_state WHERE name = 'spool_offset'), 0)");
        query.step();
        const SpoolPosition position{query.column_int(0), query.column_int(1)};
        query.reset();
        return position;
    }

    void set_spool_position(SpoolPosition position) override {
        auto& update = statement(
            "INSERT INTO daemon_state (name, value) VALUES ('spool_file', ?1), "
            "('spool_offset', ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value");
        update.bind(1, position.file);
        update.bind(2, position.offset);
        update.run();
    }

    // A reader's transaction is one snapshot for several queries (a caller's whole card);
    // the statements are kept, as a lookup begins and ends one each time.
    void begin() override { statement(read_only_ ? "BEGIN" : "BEGIN IMMEDIATE").run(); }
    void commit() override { statement("COMMIT").run(); }
    void rollback() override {
        try {
            db_.exec("ROLLBACK");
        } catch (const StorageError&) {
            // Nothing was open: SQLite already rolled back after the failure.
        }
    }

    // The record outlives each statement's run(): its text is bound in place, not copied
    // (the writer appends two records a call).
    // SQLite lets one writer at a time in: ids follow commit order by themselves.
    std::optional<std::int64_t> append_log(const CallLogRecord& record) override {
        if (record.kind == "outcome") {
            auto& update = statement(
                "UPDATE calls SET outcome = ?2, outcome_notes = ?3, outcome_agent = ?4, "
                "outcome_at = ?5 WHERE call_id = ?1");
            update.bind_in_place(1, record.call)
                .bind_in_place(2, record.outcome)
                .bind_in_place(3, record.notes);
            update.bind_in_place(4, record.agent).bind_in_place(5, record.at).run();
            if (db_.changes() == 0) return std::nullopt;
        }
        // A switch event the log holds already changes nothing (call_log_one_per_switch_event).
        const auto event_key = switch_event_key(record);
        auto& insert = statement(
            "INSERT INTO call_log (id, at, kind, call_id, switch, caller, caller_name, dialed, "
            "line, queue, extension, agent, customer_id, customer_name, outcome, cause, notes, "
            "followup_id, event_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
            "?13, ?14, ?15, ?16, ?17, ?18, ?19) ON CONFLICT DO NOTHING");
        insert.bind_null(1);
        insert.bind_in_place(2, record.at)
            .bind_in_place(3, record.kind)
            .bind_in_place(4, record.call);
        insert.bind_in_place(5, record.switch_name)
            .bind_in_place(6, record.from)
            .bind_in_place(7, record.caller_name);
        insert.bind_in_place(8, record.to)
            .bind_in_place(9, record.line)
            .bind_in_place(10, record.queue);
        insert.bind_in_place(11, record.extension).bind_in_place(12, record.agent);
        if (record.customer_id) insert.bind(13, *record.customer_id); else insert.bind_null(13);
        insert.bind_in_place(14, record.customer_name)
            .bind_in_place(15, record.outcome)
            .bind_in_place(16, record.cause);
        insert.bind_in_place(17, record.notes);
        if (record.followup_id) insert.bind(18, *record.followup_id); else insert.bind_null(18);
        if (event_key) insert.bind_in_place(19, *event_key); else insert.bind_null(19);
        insert.run();
        if (db_.changes() == 0) return std::nullopt;
        const std::int64_t id = db_.last_insert_id();
        if (record.kind == "ring" || record.kind == "answer" || record.kind == "hangup" ||
            record.kind == "timeout")
            fold_call_event(record);
        return id;
    }

    std::optional<std::int64_t> add_note(std::int64_t customer_id, const Note& note) override {
        if (!customer_exists(customer_id)) return std::nullopt;
        auto& insert = statement(
            "INSERT INTO notes (customer_id, kind, text, author, created_at) "
            "VALUES (?1, ?2, ?3, ?4, ?5)");
        insert.bind(1, customer_id).bind(2, note.kind).bind(3, note.text);
        insert.bind(4, note.author).bind(5, note.created_at).run();
        return db_.last_insert_id();
    }

    void put_agent(const AgentAccount& account) override {
        auto& upsert = statement(
            "INSERT INTO agents (id, name, role, token_hash, extensions) "
            "VALUES (?1, ?2, ?3, ?4, ?5) "
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role, "
            "token_hash = excluded.token_hash, extensions = excluded.extensions");
        const std::string extensions = stored::join_extensions(account.extensions);
        upsert.bind(1, account.id).bind(2, account.name).bind(3, domain::to_string(account.role));
        upsert.bind(4, account.token_hash).bind(5, extensions).run();
    }

    void daemon_seen(const DaemonSeen& daemon) override {
        auto& upsert = statement(
            "INSERT INTO daemons (name, host, pid, version, started_at, last_seen) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (name) DO UPDATE SET host = excluded.host, "
            "pid = excluded.pid, version = excluded.version, started_at = excluded.started_at, "
            "last_seen = excluded.last_seen");
        upsert.bind(1, daemon.name).bind(2, daemon.host).bind(3, daemon.pid);
        upsert.bind(4, daemon.version).bind(5, daemon.started_at).bind(6, daemon.last_seen).run();
    }

    std::vector<DaemonSeen> daemons() override {
        auto& query = statement(
            "SELECT name, host, pid, version, started_at, last_seen FROM daemons ORDER BY name");
        std::vector<DaemonSeen> daemons;
        while (query.step())
            daemons.push_back({query.column_text(0), query.column_text(1), query.column_int(2),
                               query.column_text(3), query.column_text(4), query.column_text(5)});
        query.reset();
        return daemons;
    }

    std::string ticket_key() override {
        constexpr std::size_t key_bytes = 32;
        if (auto key = secret("ticket_key"); key && key->size() >= key_bytes) return *key;
        // Two processes may both find none: the first insert wins and both read it back.
        auto& insert = statement(
            "INSERT INTO secrets (name, value) VALUES ('ticket_key', ?1) "
            "ON CONFLICT (name) DO NOTHING");
        insert.bind(1, to_hex(random_bytes(key_bytes))).run();
        auto key = secret("ticket_key");
        if (!key || key->size() < key_bytes)
            throw StorageError("secrets.ticket_key: not 32 bytes of hex");
        return *key;
    }

    // ---- follow-ups ----

    std::optional<std::int64_t> create_followup(const Followup& followup) override {
        // DO NOTHING covers the uniqueness constraints only: the primary key (not given) and
        // followups_one_open_callback. A refused callback therefore changes nothing.
        auto& insert = statement(
            "INSERT INTO followups (customer_id, call_id, kind, status, reason, number, due_at, "
            "timezone, timezone_source, calling_window, attempts_made, attempts_max, "
            "retry_after_s, survey, leased_by, lease_until, last_result, score, comment, "
            "created_at, closed_at, closed_by, overdue_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
            "?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23) "
            "ON CONFLICT DO NOTHING");
        if (followup.customer_id) insert.bind(1, *followup.customer_id); else insert.bind_null(1);
        insert.bind(2, followup.call).bind(3, domain::to_string(followup.kind));
        insert.bind(4, domain::to_string(followup.status));
        insert.bind(5, followup.reason).bind(6, followup.number).bind(7, followup.due_at);
        insert.bind(8, followup.timezone).bind(9, followup.timezone_source);
        insert.bind(10, followup.window.is_null() ? std::string("{}") : followup.window.dump());
        insert.bind(11, static_cast<std::int64_t>(followup.attempts_made));
        insert.bind(12, static_cast<std::int64_t>(followup.attempts_max));
        insert.bind(13, followup.retry_after_s);
        if (followup.survey.is_null()) insert.bind_null(14); else insert.bind(14, followup.survey.dump());
        insert.bind(15, followup.leased_by);
        bind_time(insert, 16, followup.lease_until);
        insert.bind(17, result_name(followup.last_result));
        if (followup.score) insert.bind(18, static_cast<std::int64_t>(*followup.score)); else insert.bind_null(18);
        insert.bind(19, followup.comment).bind(20, followup.created_at);
        bind_time(insert, 21, followup.closed_at);
        insert.bind(22, followup.closed_by);
        bind_time(insert, 23, followup.overdue_at);
        insert.run();
        if (db_.changes() == 0) return std::nullopt;
        return db_.last_insert_id();
    }

    std::optional<Followup> followup(std::int64_t id) override {
        auto& query = statement(std::string("SELECT ") + followup_columns +
                                " FROM followups f LEFT JOIN customers cu ON cu.id = f.customer_id "
                                "WHERE f.id = ?1");
        query.bind(1, id);
        auto found = read_followups(query);
        if (found.empty()) return std::nullopt;
        return std::move(found.front());
    }

    std::optional<std::string> last_survey_created(std::int64_t customer_id) override {
        auto& query = statement(
            "SELECT max(created_at) FROM followups WHERE customer_id = ?1 "
            "AND kind = 'satisfaction' AND status <> 'cancelled'");
        query.bind(1, customer_id);
        std::optional<std::string> created;
        if (query.step() && !query.column_is_null(0)) created = query.column_text(0);
        query.reset();
        return created;
    }

    std::vector<Followup> due_followups(std::string_view now, std::size_t limit) override {
        auto& query = statement(std::string("SELECT ") + followup_columns +
                                " FROM followups f LEFT JOIN customers cu ON cu.id = f.customer_id "
                                "WHERE f.status = 'open' AND f.due_at <= ?1 AND (f.leased_by = '' "
                                "OR f.lease_until IS NULL OR f.lease_until <= ?1) "
                                "ORDER BY f.due_at, f.id LIMIT ?2");
        query.bind(1, now).bind(2, sql_limit(limit));
        return read_followups(query);
    }

    FollowupCounts count_due_followups(std::string_view now) override {
        auto& query = statement(
            "SELECT count(*), count(overdue_at) FROM followups WHERE status = 'open' AND due_at <= ?1");
        query.bind(1, now);
        FollowupCounts counts;
        if (query.step()) {
            counts.due = static_cast<std::uint64_t>(query.column_int(0));
            counts.overdue = static_cast<std::uint64_t>(query.column_int(1));
        }
        query.reset();
        return counts;
    }

    void update_followup(const Followup& followup) override {
        auto& update = statement(
            "UPDATE followups SET status = ?2, due_at = ?3, attempts_made = ?4, leased_by = ?5, "
            "lease_until = ?6, last_result = ?7, score = ?8, comment = ?9, closed_at = ?10, "
            "closed_by = ?11, overdue_at = ?12 WHERE id = ?1");
        update.bind(1, followup.id).bind(2, domain::to_string(followup.status));
        update.bind(3, followup.due_at);
        update.bind(4, static_cast<std::int64_t>(followup.attempts_made));
        update.bind(5, followup.leased_by);
        bind_time(update, 6, followup.lease_until);
        update.bind(7, result_name(followup.last_result));
        if (followup.score) update.bind(8, static_cast<std::int64_t>(*followup.score)); else update.bind_null(8);
        update.bind(9, followup.comment);
        bind_time(update, 10, followup.closed_at);
        update.bind(11, followup.closed_by);
        bind_time(update, 12, followup.overdue_at);
        update.run();
        if (db_.changes() == 0)
            throw StorageError("no follow-up " + std::to_string(followup.id) + " to update");
    }

    void add_followup_attempt(std::int64_t followup_id, const FollowupAttempt& attempt) override {
        auto& insert = statement(
            "INSERT INTO followup_attempts (followup_id, at, agent, result, score, comment) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
        insert.bind(1, followup_id).bind(2, attempt.at).bind(3, attempt.agent);
        insert.bind(4, domain::to_string(attempt.result));
        if (attempt.score) insert.bind(5, static_cast<std::int64_t>(*attempt.score)); else insert.bind_null(5);
        insert.bind(6, attempt.comment).run();
    }

    std::vector<Followup> open_followups_of_call(std::string_view call_id) override {
        auto& query = statement(std::string("SELECT ") + followup_columns +
                                " FROM followups f LEFT JOIN customers cu ON cu.id = f.customer_id "
                                "WHERE f.call_id = ?1 AND f.call_id <> '' AND f.status = 'open' "
                                "ORDER BY f.id");
        query.bind(1, call_id);
        return read_followups(query);
    }

    std::vector<Followup> unflagged_overdue_callbacks(std::string_view cutoff,
                                                      std::size_t limit) override {
        auto& query = statement(std::string("SELECT ") + followup_columns +
                                " FROM followups f LEFT JOIN customers cu ON cu.id = f.customer_id "
                                "WHERE f.status = 'open' AND f.kind = 'callback' AND f.due_at < ?1 "
                                "AND f.overdue_at IS NULL ORDER BY f.due_at, f.id LIMIT ?2");
        query.bind(1, cutoff).bind(2, static_cast<std::int64_t>(limit));
        return read_followups(query);
    }

    std::vector<Followup> list_followups(const FollowupQuery& query) override {
        // One statement for every combination of filters: an empty parameter filters nothing.
        auto& list = statement(
            std::string("SELECT ") + followup_columns +
            " FROM followups f LEFT JOIN customers cu ON cu.id = f.customer_id "
            "LEFT JOIN calls ca ON ca.call_id = f.call_id AND f.call_id <> '' "
            "WHERE (?1 = '[]' OR f.status IN (SELECT value FROM json_each(?1))) "
            "AND (?2 = '' OR f.kind = ?2) "
            "AND (?3 = '' OR f.leased_by = ?3 OR f.closed_by = ?3 OR ca.agent = ?3 "
            "OR ca.outcome_agent = ?3) "
            "AND (?4 = '' OR f.reason = ?4) "
            "AND (?5 = '' OR f.due_at <= ?5) "
            "AND (?6 = '' OR (f.kind = 'callback' AND f.overdue_at IS NOT NULL)) "
            "ORDER BY f.due_at, f.id LIMIT ?7");
        nlohmann::json statuses = nlohmann::json::array();
        for (const auto status : query.statuses) statuses.push_back(domain::to_string(status));
        list.bind(1, statuses.dump());
        // "", not an empty string_view: SQLite binds a null pointer as NULL, which no row equals.
        list.bind(2, query.kind ? domain::to_string(*query.kind) : "");
        list.bind(3, query.agent).bind(4, query.reason).bind(5, query.due_by);
        list.bind(6, query.overdue).bind(7, sql_limit(query.limit));
        return read_followups(list);
    }

    std::vector<SurveyResult> survey_results(std::string_view since,
                                             std::string_view until) override {
        auto& query = statement(
            "SELECT f.id, f.closed_at, coalesce(json_extract(f.survey, '$.scale'), 'csat'), "
            "f.score, f.comment, coalesce(nullif(ca.outcome_agent, ''), ca.agent, ''), "
            "coalesce(ca.outcome, ''), coalesce(ca.line, ''), f.customer_id, "
            "coalesce(cu.name, '') FROM followups f "
            "LEFT JOIN calls ca ON ca.call_id = f.call_id AND f.call_id <> '' "
            "LEFT JOIN customers cu ON cu.id = f.customer_id "
            "WHERE f.kind = 'satisfaction' AND f.status = 'completed' AND f.score IS NOT NULL "
            "AND f.closed_at IS NOT NULL AND (?1 = '' OR f.closed_at >= ?1) "
            "AND (?2 = '' OR f.closed_at < ?2) ORDER BY f.closed_at, f.id");
        query.bind(1, since).bind(2, until);
        std::vector<SurveyResult> results;
        while (query.step()) {
            SurveyResult result;
            result.followup_id = query.column_int(0);
            result.completed_at = query.column_text(1);
            result.scale = state_column<SurveyScale>(query, 2, "followups.survey scale");
            result.score = static_cast<int>(query.column_int(3));
            result.comment = query.column_text(4);
            result.agent = query.column_text(5);
            result.outcome = query.column_text(6);
            result.line = query.column_text(7);
            if (!query.column_is_null(8)) result.customer_id = query.column_int(8);
            result.customer_name = query.column_text(9);
            results.push_back(std::move(result));
        }
        query.reset();
        ProductCache products;
        for (auto& result : results) result.products = products_of(products, result.customer_id);
        return results;
    }

    std::vector<FeedbackItem> feedback(std::string_view since, std::string_view until,
                                       const std::vector<std::string>& outcome_codes) override {
        // Survey answers with a comment or a low score (csat <= 2, nps <= 6), then the calls
        // whose outcome is one of the codes, merged by time.
        auto& query = statement(
            "SELECT * FROM ("
            "SELECT f.closed_at AS at, 'survey' AS source, "
            "coalesce(json_extract(f.survey, '$.scale'), 'csat') AS scale, f.score, "
            "f.comment AS text, coalesce(ca.outcome, '') AS outcome, "
            "coalesce(nullif(ca.outcome_agent, ''), ca.agent, '') AS agent, f.call_id AS call, "
            "f.customer_id AS customer_id, coalesce(cu.name, '') AS customer_name, f.id AS tie "
            "FROM followups f "
            "LEFT JOIN calls ca ON ca.call_id = f.call_id AND f.call_id <> '' "
            "LEFT JOIN customers cu ON cu.id = f.customer_id "
            "WHERE f.kind = 'satisfaction' AND f.status = 'completed' AND f.score IS NOT NULL "
            "AND f.closed_at IS NOT NULL AND (?1 = '' OR f.closed_at >= ?1) "
            "AND (?2 = '' OR f.closed_at < ?2) AND (f.comment <> '' OR "
            "(coalesce(json_extract(f.survey, '$.scale'), 'csat') = 'csat' AND f.score <= 2) OR "
            "(json_extract(f.survey, '$.scale') = 'nps' AND f.score <= 6)) "
            "UNION ALL "
            "SELECT ca.outcome_at, 'outcome', '', NULL, ca.outcome_notes, ca.outcome, "
            "coalesce(nullif(ca.outcome_agent, ''), ca.agent), ca.call_id, ca.customer_id, "
            "coalesce(cu.name, ''), ca.rowid FROM calls ca "
            "LEFT JOIN customers cu ON cu.id = ca.customer_id "
            "WHERE ca.outcome IN (SELECT value FROM json_each(?3)) AND ca.outcome_at IS NOT NULL "
            "AND (?1 = '' OR ca.outcome_at >= ?1) AND (?2 = '' OR ca.outcome_at < ?2)"
            ") ORDER BY at, source DESC, tie");
        query.bind(1, since).bind(2, until).bind(3, nlohmann::json(outcome_codes).dump());
        std::vector<FeedbackItem> items;
        while (query.step()) {
            FeedbackItem item;
            item.at = query.column_text(0);
            item.source = query.column_text(1);
            // An outcome has no scale: its row gives ''.
            if (!query.column_text(2).empty())
                item.scale = state_column<SurveyScale>(query, 2, "followups.survey scale");
            if (!query.column_is_null(3)) item.score = static_cast<int>(query.column_int(3));
            item.text = query.column_text(4);
            item.outcome = query.column_text(5);
            item.agent = query.column_text(6);
            item.call = query.column_text(7);
            if (!query.column_is_null(8)) item.customer_id = query.column_int(8);
            item.customer_name = query.column_text(9);
            items.push_back(std::move(item));
        }
        query.reset();
        ProductCache products;
        for (auto& item : items) item.products = products_of(products, item.customer_id);
        return items;
    }

    std::int64_t upsert_customer(const Customer& customer) override {
        // A file is mostly new customers (a first load) or mostly known ones (a re-import):
        // what the customer before this one turned out to be is tried first, so that a new
        // one costs a single insert and a known one a look-up.
        if (last_customer_was_new_) {
            if (const auto id = insert_customer(customer)) return *id;
        }
        if (const auto id = update_customer(customer)) {
            last_customer_was_new_ = false;
            return *id;
        }
        if (const auto id = insert_customer(customer)) {
            last_customer_was_new_ = true;
            return *id;
        }
        throw StorageError("customer \"" + customer.external_id +
                               "\" was added by another connection while being imported",
                           true);
    }

    // One row at a time costs SQLite no more than rows held back would.
    void queue_customer(const Customer& customer) override { upsert_customer(customer); }

    void begin_import() override {
        // The import adds phones to the customer it has just inserted or found, and assets
        // and notes to a customer it has just looked up, in the same transaction: checking
        // each reference again costs it more than a tenth of its time.
        db_.exec("PRAGMA foreign_keys = OFF");
        // Into an empty phones table, the index by number is built once at the end, from
        // sorted numbers: keeping it up to date row by row costs a first import a fifth of
        // its time. Until then a caller's number is found by reading the table.
        Transaction transaction(db_);
        if (table_is_empty("phones")) db_.exec("DROP INDEX IF EXISTS phones_by_number");
        transaction.commit();
    }

    void end_import() override {
        db_.exec("PRAGMA foreign_keys = ON");
        db_.exec(create_phones_by_number);
    }

    bool upsert_asset(std::string_view customer_external_id, const Asset& asset) override {
        const auto customer_id = id_of_external(customer_external_id);
        if (!customer_id) return false;
        auto& find = statement(
            "SELECT id FROM assets WHERE customer_id = ?1 AND ((?2 <> '' AND serial = ?2) OR "
            "(?2 = '' AND serial = '' AND product = ?3 AND purchased = ?4))");
        // `asset` outlives each statement's run: its text is read in place.
        find.bind(1, *customer_id).bind_in_place(2, asset.serial);
        find.bind_in_place(3, asset.product).bind_in_place(4, asset.purchased);
        std::optional<std::int64_t> existing;
        if (find.step()) existing = find.column_int(0);
        find.reset();
        if (existing) {
            auto& update = statement(
                "UPDATE assets SET product = ?2, serial = ?3, purchased = ?4, warranty_end = ?5 "
                "WHERE id = ?1");
            update.bind(1, *existing).bind_in_place(2, asset.product);
            update.bind_in_place(3, asset.serial).bind_in_place(4, asset.purchased);
            update.bind_in_place(5, asset.warranty_end).run();
        } else {
            auto& insert = statement(
                "INSERT INTO assets (customer_id, product, serial, purchased, warranty_end) "
                "VALUES (?1, ?2, ?3, ?4, ?5)");
            insert.bind(1, *customer_id).bind_in_place(2, asset.product);
            insert.bind_in_place(3, asset.serial).bind_in_place(4, asset.purchased);
            insert.bind_in_place(5, asset.warranty_end).run();
        }
        return true;
    }

    bool upsert_note(std::string_view customer_external_id, const Note& note) override {
        const auto customer_id = id_of_external(customer_external_id);
        if (!customer_id) return false;
        auto& insert = statement(
            "INSERT INTO notes (customer_id, kind, text, author, created_at) "
            "SELECT ?1, ?2, ?3, ?4, ?5 WHERE NOT EXISTS (SELECT 1 FROM notes WHERE "
            "customer_id = ?1 AND kind = ?2 AND text = ?3)");
        // `note` outlives the run: its text is read in place.
        insert.bind(1, *customer_id).bind_in_place(2, note.kind).bind_in_place(3, note.text);
        insert.bind_in_place(4, note.author).bind_in_place(5, note.created_at).run();
        return true;
    }

private:
    using ProductCache = std::map<std::int64_t, std::vector<std::string>>;

    // SQLite reads a negative LIMIT as none.
    static std::int64_t sql_limit(std::size_t limit) {
        return limit > static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())
                   ? -1
                   : static_cast<std::int64_t>(limit);
    }

    // Unset times are NULL in the followups table.
    static void bind_time(Statement& statement, int index, const std::string& iso) {
        if (iso.empty()) statement.bind_null(index); else statement.bind(index, iso);
    }

    // No attempt yet is '' in followups.last_result; an empty string_view() has no data,
    // which sqlite3_bind_text would store as NULL.
    static std::string_view result_name(const std::optional<AttemptResult>& result) {
        return result ? domain::to_string(*result) : std::string_view("");
    }

    // A query left mid-rows would hold its read snapshot, and refuse the next bind: each
    // reader of a broken value resets its query before the error goes up.
    static nlohmann::json json_column(Statement& row, int index, std::int64_t id,
                                      const char* what) {
        try {
            return stored::followup_json(row.column_text(index), row.column_is_null(index), id,
                                         what);
        } catch (const StorageError&) {
            row.reset();
            throw;
        }
    }

    static AgentAccount read_account(Statement& row) {
        return {row.column_text(0), row.column_text(1),
                state_column<AgentRole>(row, 2, "agents.role"), row.column_text(3),
                stored::split_extensions(row.column_view(4))};
    }

    template <domain::NamedState State>
    static State state_column(Statement& row, int index, const char* column) {
        try {
            return stored::state<State>(row.column_view(index), column);
        } catch (const StorageError&) {
            row.reset();
            throw;
        }
    }

    static void survey_scale_of(Statement& row, const Followup& followup) {
        try {
            stored::check_survey_scale(followup);
        } catch (const StorageError&) {
            row.reset();
            throw;
        }
    }

    // Every row of a query on followup_columns; resets the query.
    static std::vector<Followup> read_followups(Statement& query) {
        std::vector<Followup> followups;
        while (query.step()) {
            Followup followup;
            followup.id = query.column_int(0);
            followup.kind = state_column<FollowupKind>(query, 1, "followups.kind");
            followup.status = state_column<FollowupStatus>(query, 2, "followups.status");
            if (!query.column_is_null(3)) followup.customer_id = query.column_int(3);
            followup.customer_name = query.column_text(4);
            followup.number = query.column_text(5);
            followup.call = query.column_text(6);
            followup.reason = query.column_text(7);
            followup.due_at = query.column_text(8);
            followup.timezone = query.column_text(9);
            followup.timezone_source = query.column_text(10);
            followup.window = json_column(query, 11, followup.id, "calling_window");
            followup.attempts_made = static_cast<std::uint32_t>(query.column_int(12));
            followup.attempts_max = static_cast<std::uint32_t>(query.column_int(13));
            followup.retry_after_s = query.column_int(14);
            followup.survey = json_column(query, 15, followup.id, "survey");
            survey_scale_of(query, followup);
            followup.leased_by = query.column_text(16);
            followup.lease_until = query.column_text(17);
            if (!query.column_text(18).empty())
                followup.last_result =
                    state_column<AttemptResult>(query, 18, "followups.last_result");
            if (!query.column_is_null(19)) followup.score = static_cast<int>(query.column_int(19));
            followup.comment = query.column_text(20);
            followup.created_at = query.column_text(21);
            followup.closed_at = query.column_text(22);
            followup.closed_by = query.column_text(23);
            followup.overdue_at = query.column_text(24);
            followups.push_back(std::move(followup));
        }
        query.reset();
        return followups;
    }

    // The customer's products, each once, alphabetically; none without a customer.
    const std::vector<std::string>& products_of(ProductCache& cache,
                                                std::optional<std::int64_t> customer_id) {
        static const std::vector<std::string> none;
        if (!customer_id) return none;
        auto found = cache.find(*customer_id);
        if (found != cache.end()) return found->second;
        auto& query = statement(
            "SELECT DISTINCT product FROM assets WHERE customer_id = ?1 AND product <> '' "
            "ORDER BY product");
        query.bind(1, *customer_id);
        std::vector<std::string> products;
        while (query.step()) products.push_back(query.column_text(0));
        query.reset();
        return cache.emplace(*customer_id, std::move(products)).first->second;
    }

    // A secret by name, as raw bytes; nullopt when there is none. A value that is not hex
    // is a broken row.
    std::optional<std::string> secret(std::string_view name) {
        auto& query = statement("SELECT value FROM secrets WHERE name = ?1");
        query.bind(1, name);
        std::optional<std::string> hex;
        if (query.step()) hex = query.column_text(0);
        query.reset();
        if (!hex) return std::nullopt;
        auto bytes = from_hex(*hex);
        if (!bytes) throw StorageError("secrets." + std::string(name) + ": not hex");
        return bytes;
    }

    // Prepared once per connection, found by its text without copying it: the lookup and
    // the import run this for every row.
    Statement& statement(std::string_view sql) {
        auto found = statements_.find(sql);
        if (found == statements_.end())
            found = statements_
                        .emplace(std::string(sql), std::make_unique<Statement>(db_.handle(), sql))
                        .first;
        return *found->second;
    }

    static Customer read_customer(const Statement& row) {
        Customer customer;
        customer.id = row.column_int(0);
        customer.external_id = row.column_text(1);
        customer.name = row.column_text(2);
        customer.company = row.column_text(3);
        customer.tier = row.column_text(4);
        customer.segment = row.column_text(5);
        customer.language = row.column_text(6);
        customer.timezone = row.column_text(7);
        customer.email = row.column_text(8);
        customer.address = row.column_text(9);
        customer.do_not_call = row.column_int(10) != 0;
        return customer;
    }

    std::string last_call_of(std::int64_t customer_id) {
        auto& query = statement("SELECT max(started_at) FROM calls WHERE customer_id = ?1");
        query.bind(1, customer_id);
        std::string at = query.step() ? query.column_text(0) : std::string();
        query.reset();
        return at;
    }

    std::vector<std::string> phones_of(std::int64_t customer_id) {
        auto& query =
            statement("SELECT number FROM phones WHERE customer_id = ?1 ORDER BY position");
        query.bind(1, customer_id);
        std::vector<std::string> phones;
        while (query.step()) phones.push_back(query.column_text(0));
        query.reset();
        return phones;
    }

    // The first customer a bound query yields, with its phones.
    std::optional<Customer> first_customer(Statement& query) {
        std::optional<Customer> customer;
        if (query.step()) customer = read_customer(query);
        query.reset();
        if (customer) customer->phones = phones_of(customer->id);
        return customer;
    }

    // Inserts a customer not stored yet, with its phones; nullopt when the external id is
    // taken.
    std::optional<std::int64_t> insert_customer(const Customer& customer) {
        auto& insert = statement(
            "INSERT INTO customers (external_id, name, company, tier, segment, language, "
            "timezone, email, address, do_not_call) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
            "?10) ON CONFLICT (external_id) DO NOTHING");
        insert.bind_in_place(1, customer.external_id);
        bind_customer(insert, customer).run();
        if (db_.changes() == 0) return std::nullopt;
        const std::int64_t id = db_.last_insert_id();
        insert_phones(id, customer.phones);
        return id;
    }

    // Updates a stored customer and its phones, writing only what differs (a re-import is
    // mostly rows that did not change); nullopt when the external id is not stored.
    std::optional<std::int64_t> update_customer(const Customer& customer) {
        auto& stored = statement(
            "SELECT id, name, company, tier, segment, language, timezone, email, address, "
            "do_not_call FROM customers WHERE external_id = ?1");
        stored.bind_in_place(1, customer.external_id);
        if (!stored.step()) {
            stored.reset();
            return std::nullopt;
        }
        const std::int64_t id = stored.column_int(0);
        const bool unchanged =
            stored.column_view(1) == customer.name && stored.column_view(2) == customer.company &&
            stored.column_view(3) == customer.tier && stored.column_view(4) == customer.segment &&
            stored.column_view(5) == customer.language &&
            stored.column_view(6) == customer.timezone &&
            stored.column_view(7) == customer.email && stored.column_view(8) == customer.address &&
            (stored.column_int(9) != 0) == customer.do_not_call;
        stored.reset();
        if (!unchanged) {
            auto& update = statement(
                "UPDATE customers SET name = ?2, company = ?3, tier = ?4, segment = ?5, "
                "language = ?6, timezone = ?7, email = ?8, address = ?9, do_not_call = ?10 "
                "WHERE id = ?1");
            update.bind(1, id);
            bind_customer(update, customer).run();
        }
        if (!has_phones(id, customer.phones)) {
            auto& clear = statement("DELETE FROM phones WHERE customer_id = ?1");
            clear.bind(1, id).run();
            insert_phones(id, customer.phones);
        }
        return id;
    }

    // Binds ?2..?10 to the customer's fields. `customer` outlives the statement's run: its
    // text is read in place.
    static Statement& bind_customer(Statement& statement, const Customer& customer) {
        statement.bind_in_place(2, customer.name);
        statement.bind_in_place(3, customer.company).bind_in_place(4, customer.tier);
        statement.bind_in_place(5, customer.segment).bind_in_place(6, customer.language);
        statement.bind_in_place(7, customer.timezone).bind_in_place(8, customer.email);
        statement.bind_in_place(9, customer.address);
        return statement.bind(10, static_cast<std::int64_t>(customer.do_not_call ? 1 : 0));
    }

    // Up to phones_per_insert phones in one statement: most customers have one to three, and
    // each statement run costs SQLite about as much as the row it adds.
    void insert_phones(std::int64_t customer_id, const std::vector<std::string>& phones) {
        for (std::size_t first = 0; first < phones.size(); first += phones_per_insert) {
            const std::size_t count = std::min(phones_per_insert, phones.size() - first);
            auto& insert = phone_insert(count);
            insert.bind(1, customer_id).bind(2, static_cast<std::int64_t>(first));
            for (std::size_t index = 0; index < count; ++index)
                insert.bind_in_place(static_cast<int>(index) + 3, phones[first + index]);
            insert.run();
        }
    }

    // INSERT of `count` phones of customer ?1 at positions ?2, ?2 + 1, ...: numbers ?3...
    Statement& phone_insert(std::size_t count) {
        auto& insert = phone_inserts_.at(count - 1);
        if (!insert) {
            std::string sql =
                "INSERT OR IGNORE INTO phones (customer_id, number, position) VALUES ";
            for (std::size_t index = 0; index < count; ++index)
                sql += (index == 0 ? "" : ", ") + std::string("(?1, ?") +
                       std::to_string(index + 3) + ", ?2 + " + std::to_string(index) + ")";
            insert = &statement(sql);
        }
        return *insert;
    }

    // Whether the customer's stored phones are these, in this order.
    bool has_phones(std::int64_t customer_id, const std::vector<std::string>& phones) {
        auto& query =
            statement("SELECT number FROM phones WHERE customer_id = ?1 ORDER BY position");
        query.bind(1, customer_id);
        std::size_t count = 0;
        bool same = true;
        while (same && query.step()) {
            same = count < phones.size() && query.column_view(0) == phones[count];
            ++count;
        }
        query.reset();
        return same && count == phones.size();
    }

    bool table_is_empty(std::string_view table) {
        Statement query(db_.handle(), "SELECT 1 FROM " + std::string(table) + " LIMIT 1");
        const bool empty = !query.step();
        query.reset();
        return empty;
    }

    std::optional<std::int64_t> id_of_external(std::string_view external_id) {
        auto& query = statement("SELECT id FROM customers WHERE external_id = ?1");
        query.bind_in_place(1, external_id);  // read before this returns
        std::optional<std::int64_t> id;
        if (query.step()) id = query.column_int(0);
        query.reset();
        return id;
    }

    bool customer_exists(std::int64_t id) {
        auto& query = statement("SELECT 1 FROM customers WHERE id = ?1");
        query.bind(1, id);
        const bool found = query.step();
        query.reset();
        return found;
    }

    // Keeps one row per call whatever order its events arrive in.
    void fold_call_event(const CallLogRecord& record) {
        auto& upsert = statement(
            "INSERT INTO calls (call_id, switch, started_at, caller, caller_name, dialed, line, "
            "queue, extension, agent, customer_id, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
            "?9, ?10, ?11, 'ringing') ON CONFLICT (call_id) DO UPDATE SET "
            "started_at = min(started_at, excluded.started_at), "
            "caller = iif(caller = '', excluded.caller, caller), "
            "caller_name = iif(caller_name = '', excluded.caller_name, caller_name), "
            "dialed = iif(dialed = '', excluded.dialed, dialed), "
            "line = iif(line = '', excluded.line, line), "
            "queue = iif(queue = '', excluded.queue, queue), "
            "customer_id = coalesce(customer_id, excluded.customer_id)");
        upsert.bind_in_place(1, record.call)
            .bind_in_place(2, record.switch_name)
            .bind_in_place(3, record.at);
        upsert.bind_in_place(4, record.from)
            .bind_in_place(5, record.caller_name)
            .bind_in_place(6, record.to);
        upsert.bind_in_place(7, record.line)
            .bind_in_place(8, record.queue)
            .bind_in_place(9, record.extension);
        upsert.bind_in_place(10, record.agent);
        if (record.customer_id) upsert.bind(11, *record.customer_id); else upsert.bind_null(11);
        upsert.run();

        if (record.kind == "answer") {
            auto& answer = statement(
                "UPDATE calls SET answered_at = coalesce(answered_at, ?2), extension = ?3, "
                "agent = ?4, state = CASE WHEN ended_at IS NULL THEN 'answered' WHEN state = 'abandoned' "
                "THEN 'completed' ELSE state END WHERE call_id = ?1");
            answer.bind_in_place(1, record.call)
                .bind_in_place(2, record.at)
                .bind_in_place(3, record.extension);
            answer.bind_in_place(4, record.agent).run();
        } else if (record.kind == "hangup" || record.kind == "timeout") {
            auto& end = statement(
                "UPDATE calls SET ended_at = ?2, cause = ?3, state = CASE WHEN ?4 = 'timeout' "
                "THEN 'timeout' WHEN answered_at IS NOT NULL THEN 'completed' ELSE 'abandoned' "
                "END WHERE call_id = ?1");
            end.bind_in_place(1, record.call)
                .bind_in_place(2, record.at)
                .bind_in_place(3, record.cause);
            end.bind_in_place(4, record.kind).run();
        }
    }

    Database db_;
    struct SqlHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view sql) const {
            return std::hash<std::string_view>{}(sql);
        }
    };
    std::unordered_map<std::string, std::unique_ptr<Statement>, SqlHash, std::equal_to<>>
        statements_;
    bool read_only_ = false;
    bool last_customer_was_new_ = true;
    static constexpr std::size_t phones_per_insert = 4;
    std::array<Statement*, phones_per_insert> phone_inserts_{};  // by count - 1, in statements_
};

}  // namespace

std::unique_ptr<Store> open_sqlite_store(const std::filesystem::path& path, bool read_only) {
    if (!read_only && path.has_parent_path())
        std::filesystem::create_directories(path.parent_path());
    return std::make_unique<SqliteStore>(path, read_only);
}

}  // namespace callpop::storage
