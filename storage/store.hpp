#pragma once
// The customer store and call log behind one narrow interface. SQLite is the embedded
// backend; a shared backend (PostgreSQL) is another implementation of this class.
// One Store object belongs to one thread: the daemon opens one for lookups on the event
// loop and one for its writer thread.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "protocol/records.hpp"
#include "storage/storage_error.hpp"

namespace callpop::storage {

using protocol::Asset;
using protocol::CallLogRecord;
using protocol::Customer;
using protocol::CustomerCard;
using protocol::Note;

struct AgentAccount {
    std::string id;
    std::string name;
    std::string role = "agent";  // agent or supervisor
    std::string token_hash;      // see daemon/token_hash.hpp
};

class Store {
public:
    virtual ~Store() = default;

    // Lookups. Numbers are E.164 (or as given when they did not parse).
    // Customers on a number come best first: most recently called, then oldest record.
    virtual std::vector<Customer> customers_by_number(std::string_view number,
                                                      std::size_t limit) = 0;
    virtual std::optional<Customer> customer_by_asset_serial(std::string_view serial) = 0;
    virtual std::optional<Customer> customer_by_external_id(std::string_view external_id) = 0;
    virtual std::optional<Customer> customer_by_id(std::int64_t id) = 0;
    // Notes, preferences, assets, the last `history` calls, open follow-ups.
    virtual CustomerCard card(const Customer& customer, std::size_t history) = 0;
    virtual std::optional<AgentAccount> agent(std::string_view id) = 0;
    // The last `count` call-log records, oldest first.
    virtual std::vector<CallLogRecord> recent_log(std::size_t count) = 0;
    // The highest call-log id so far (0 for an empty log): new records continue from it.
    virtual std::int64_t last_log_id() = 0;

    // Writes run inside begin()/commit(); rollback() on failure.
    virtual void begin() = 0;
    virtual void commit() = 0;
    virtual void rollback() = 0;

    // Appends to the call log and folds the record into the call's row. Returns false, and
    // writes nothing, for an outcome of a call the store has never seen.
    virtual bool append_log(const CallLogRecord& record) = 0;
    // Returns the note's id, or nullopt when the customer does not exist.
    virtual std::optional<std::int64_t> add_note(std::int64_t customer_id, const Note& note) = 0;
    virtual void put_agent(const AgentAccount& account) = 0;

    // Import: insert or update by external id; the customer's phones are replaced.
    virtual std::int64_t upsert_customer(const Customer& customer) = 0;
    // Insert or update by (customer, serial), or (customer, product, purchased) without serial.
    // false when no customer has that external id.
    virtual bool upsert_asset(std::string_view customer_external_id, const Asset& asset) = 0;
    // Inserts unless the customer already has the same kind and text. false as above.
    virtual bool upsert_note(std::string_view customer_external_id, const Note& note) = 0;
};

// Rolls back on scope exit unless committed.
class StoreTransaction {
public:
    explicit StoreTransaction(Store& store) : store_(store) { store_.begin(); }
    ~StoreTransaction() {
        if (!committed_) store_.rollback();
    }
    StoreTransaction(const StoreTransaction&) = delete;
    StoreTransaction& operator=(const StoreTransaction&) = delete;
    void commit() {
        store_.commit();
        committed_ = true;
    }

private:
    Store& store_;
    bool committed_ = false;
};

// Opens the backend named in the config, creating and migrating the schema as needed.
std::unique_ptr<Store> open_store(const config::Storage& settings);

}  // namespace callpop::storage
