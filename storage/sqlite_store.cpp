#include "storage/sqlite_store.hpp"

#include <array>
#include <map>

#include "storage/sqlite.hpp"

namespace callpop::storage {

namespace {

constexpr const char* migrations[] = {
#include "storage/schema.sql.inc"
};

void migrate(Database& db) {
    Statement version_query(db.handle(), "PRAGMA user_version");
    version_query.step();
    const auto applied = static_cast<std::size_t>(version_query.column_int(0));
    version_query.reset();
    constexpr std::size_t available = std::size(migrations);
    if (applied > available)
        throw StorageError("database schema version " + std::to_string(applied) +
                           " is newer than this callpop knows (" + std::to_string(available) +
                           ")");
    for (std::size_t index = applied; index < available; ++index) {
        Transaction transaction(db);
        db.exec(migrations[index]);
        db.exec("PRAGMA user_version = " + std::to_string(index + 1));
        transaction.commit();
    }
}

constexpr const char* customer_columns =
    "c.id, c.external_id, c.name, c.company, c.tier, c.segment, c.language, c.timezone, "
    "c.email, c.address, c.do_not_call";

class SqliteStore final : public Store {
public:
    explicit SqliteStore(const std::filesystem::path& path) : db_(path) {
        db_.exec("PRAGMA journal_mode = WAL");
        db_.exec("PRAGMA synchronous = NORMAL");
        db_.exec("PRAGMA foreign_keys = ON");
        migrate(db_);
    }

    std::vector<Customer> customers_by_number(std::string_view number,
                                              std::size_t limit) override {
        auto& query = statement(
            std::string("SELECT ") + customer_columns + " FROM phones p "
            "JOIN customers c ON c.id = p.customer_id WHERE p.number = ?1 "
            "ORDER BY (SELECT max(started_at) FROM calls WHERE customer_id = c.id) DESC "
            "NULLS LAST, c.id LIMIT ?2");
        query.bind(1, number).bind(2, static_cast<std::int64_t>(limit));
        std::vector<Customer> customers;
        while (query.step()) customers.push_back(read_customer(query));
        query.reset();
        for (auto& customer : customers) customer.phones = phones_of(customer.id);
        return customers;
    }

    std::optional<Customer> customer_by_asset_serial(std::string_view serial) override {
        auto& query = statement(std::string("SELECT ") + customer_columns +
                                " FROM assets a JOIN customers c ON c.id = a.customer_id "
                                "WHERE a.serial = ?1 AND a.serial <> '' LIMIT 1");
        query.bind(1, serial);
        return first_customer(query);
    }

    std::optional<Customer> customer_by_external_id(std::string_view external_id) override {
        auto& query = statement(std::string("SELECT ") + customer_columns +
                                " FROM customers c WHERE external_id = ?1");
        query.bind(1, external_id);
        return first_customer(query);
    }

    std::optional<Customer> customer_by_id(std::int64_t id) override {
        auto& query =
            statement(std::string("SELECT ") + customer_columns + " FROM customers c WHERE id = ?1");
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
            card.followups.push_back({followups.column_int(0), followups.column_text(1),
                                      followups.column_text(2), followups.column_text(3),
                                      followups.column_text(4)});
        }
        followups.reset();
        return card;
    }

    std::optional<AgentAccount> agent(std::string_view id) override {
        auto& query = statement("SELECT id, name, role, token_hash FROM agents WHERE id = ?1");
        query.bind(1, id);
        std::optional<AgentAccount> account;
        if (query.step())
            account = AgentAccount{query.column_text(0), query.column_text(1),
                                   query.column_text(2), query.column_text(3)};
        query.reset();
        return account;
    }

    std::vector<CallLogRecord> recent_log(std::size_t count) override {
        auto& query = statement(
            "SELECT id, at, kind, call_id, switch, caller, caller_name, dialed, line, queue, "
            "extension, agent, customer_id, customer_name, outcome, cause, notes FROM call_log "
            "ORDER BY id DESC LIMIT ?1");
        query.bind(1, static_cast<std::int64_t>(count));
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
            records.push_back(std::move(record));
        }
        query.reset();
        return {records.rbegin(), records.rend()};
    }

    std::int64_t last_log_id() override {
        auto& query = statement("SELECT coalesce(max(id), 0) FROM call_log");
        query.step();
        const std::int64_t id = query.column_int(0);
        query.reset();
        return id;
    }

    void begin() override { db_.exec("BEGIN IMMEDIATE"); }
    void commit() override { db_.exec("COMMIT"); }
    void rollback() override {
        try {
            db_.exec("ROLLBACK");
        } catch (const StorageError&) {
            // Nothing was open: SQLite already rolled back after the failure.
        }
    }

    bool append_log(const CallLogRecord& record) override {
        if (record.kind == "outcome") {
            auto& update = statement(
                "UPDATE calls SET outcome = ?2, outcome_notes = ?3, outcome_agent = ?4, "
                "outcome_at = ?5 WHERE call_id = ?1");
            update.bind(1, record.call).bind(2, record.outcome).bind(3, record.notes);
            update.bind(4, record.agent).bind(5, record.at).run();
            if (db_.changes() == 0) return false;
        } else if (record.kind == "ring" || record.kind == "answer" || record.kind == "hangup" ||
                   record.kind == "timeout") {
            fold_call_event(record);
        }
        auto& insert = statement(
            "INSERT INTO call_log (id, at, kind, call_id, switch, caller, caller_name, dialed, "
            "line, queue, extension, agent, customer_id, customer_name, outcome, cause, notes) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)");
        if (record.id > 0) insert.bind(1, record.id); else insert.bind_null(1);
        insert.bind(2, record.at).bind(3, record.kind).bind(4, record.call);
        insert.bind(5, record.switch_name).bind(6, record.from).bind(7, record.caller_name);
        insert.bind(8, record.to).bind(9, record.line).bind(10, record.queue);
        insert.bind(11, record.extension).bind(12, record.agent);
        if (record.customer_id) insert.bind(13, *record.customer_id); else insert.bind_null(13);
        insert.bind(14, record.customer_name).bind(15, record.outcome).bind(16, record.cause);
        insert.bind(17, record.notes).run();
        return true;
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
            "INSERT INTO agents (id, name, role, token_hash) VALUES (?1, ?2, ?3, ?4) "
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role, "
            "token_hash = excluded.token_hash");
        upsert.bind(1, account.id).bind(2, account.name).bind(3, account.role);
        upsert.bind(4, account.token_hash).run();
    }

    std::int64_t upsert_customer(const Customer& customer) override {
        // Looked up first rather than with RETURNING, which costs SQLite a temporary table
        // per row, and so that a new customer skips deleting phones it cannot have.
        const auto existing = id_of_external(customer.external_id);
        auto& upsert = statement(
            "INSERT INTO customers (external_id, name, company, tier, segment, language, "
            "timezone, email, address, do_not_call) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
            "?10) ON CONFLICT (external_id) DO UPDATE SET name = excluded.name, "
            "company = excluded.company, tier = excluded.tier, segment = excluded.segment, "
            "language = excluded.language, timezone = excluded.timezone, email = excluded.email, "
            "address = excluded.address, do_not_call = excluded.do_not_call");
        upsert.bind(1, customer.external_id).bind(2, customer.name).bind(3, customer.company);
        upsert.bind(4, customer.tier).bind(5, customer.segment).bind(6, customer.language);
        upsert.bind(7, customer.timezone).bind(8, customer.email).bind(9, customer.address);
        upsert.bind(10, static_cast<std::int64_t>(customer.do_not_call ? 1 : 0));
        upsert.run();
        const std::int64_t id = existing ? *existing : db_.last_insert_id();

        if (existing) {
            auto& clear = statement("DELETE FROM phones WHERE customer_id = ?1");
            clear.bind(1, id).run();
        }
        auto& add = statement(
            "INSERT OR IGNORE INTO phones (customer_id, number, position) VALUES (?1, ?2, ?3)");
        std::int64_t position = 0;
        for (const auto& phone : customer.phones) {
            add.bind(1, id).bind(2, phone).bind(3, position++).run();
        }
        return id;
    }

    bool upsert_asset(std::string_view customer_external_id, const Asset& asset) override {
        const auto customer_id = id_of_external(customer_external_id);
        if (!customer_id) return false;
        auto& find = statement(
            "SELECT id FROM assets WHERE customer_id = ?1 AND ((?2 <> '' AND serial = ?2) OR "
            "(?2 = '' AND serial = '' AND product = ?3 AND purchased = ?4))");
        find.bind(1, *customer_id).bind(2, asset.serial).bind(3, asset.product);
        find.bind(4, asset.purchased);
        std::optional<std::int64_t> existing;
        if (find.step()) existing = find.column_int(0);
        find.reset();
        if (existing) {
            auto& update = statement(
                "UPDATE assets SET product = ?2, serial = ?3, purchased = ?4, warranty_end = ?5 "
                "WHERE id = ?1");
            update.bind(1, *existing).bind(2, asset.product).bind(3, asset.serial);
            update.bind(4, asset.purchased).bind(5, asset.warranty_end).run();
        } else {
            auto& insert = statement(
                "INSERT INTO assets (customer_id, product, serial, purchased, warranty_end) "
                "VALUES (?1, ?2, ?3, ?4, ?5)");
            insert.bind(1, *customer_id).bind(2, asset.product).bind(3, asset.serial);
            insert.bind(4, asset.purchased).bind(5, asset.warranty_end).run();
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
        insert.bind(1, *customer_id).bind(2, note.kind).bind(3, note.text);
        insert.bind(4, note.author).bind(5, note.created_at).run();
        return true;
    }

private:
    Statement& statement(const std::string& sql) {
        auto found = statements_.find(sql);
        if (found == statements_.end())
            found = statements_.emplace(sql, std::make_unique<Statement>(db_.handle(), sql)).first;
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

    std::optional<std::int64_t> id_of_external(std::string_view external_id) {
        auto& query = statement("SELECT id FROM customers WHERE external_id = ?1");
        query.bind(1, external_id);
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
        upsert.bind(1, record.call).bind(2, record.switch_name).bind(3, record.at);
        upsert.bind(4, record.from).bind(5, record.caller_name).bind(6, record.to);
        upsert.bind(7, record.line).bind(8, record.queue).bind(9, record.extension);
        upsert.bind(10, record.agent);
        if (record.customer_id) upsert.bind(11, *record.customer_id); else upsert.bind_null(11);
        upsert.run();

        if (record.kind == "answer") {
            auto& answer = statement(
                "UPDATE calls SET answered_at = coalesce(answered_at, ?2), extension = ?3, "
                "agent = ?4, state = CASE WHEN ended_at IS NULL THEN 'answered' WHEN state = 'abandoned' "
                "THEN 'completed' ELSE state END WHERE call_id = ?1");
            answer.bind(1, record.call).bind(2, record.at).bind(3, record.extension);
            answer.bind(4, record.agent).run();
        } else if (record.kind == "hangup" || record.kind == "timeout") {
            auto& end = statement(
                "UPDATE calls SET ended_at = ?2, cause = ?3, state = CASE WHEN ?4 = 'timeout' "
                "THEN 'timeout' WHEN answered_at IS NOT NULL THEN 'completed' ELSE 'abandoned' "
                "END WHERE call_id = ?1");
            end.bind(1, record.call).bind(2, record.at).bind(3, record.cause);
            end.bind(4, record.kind).run();
        }
    }

    Database db_;
    std::map<std::string, std::unique_ptr<Statement>> statements_;
};

}  // namespace

std::unique_ptr<Store> open_sqlite_store(const std::filesystem::path& path) {
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
    return std::make_unique<SqliteStore>(path);
}

std::unique_ptr<Store> open_store(const config::Storage& settings) {
    if (settings.backend == "sqlite") return open_sqlite_store(settings.path);
    throw StorageError("storage.backend \"" + settings.backend + "\" is not built in (sqlite)");
}

}  // namespace callpop::storage
