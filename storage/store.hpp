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

#include "domain/records.hpp"
#include "storage/storage_error.hpp"

namespace callpop::storage {

using domain::Asset;
using domain::CallLogRecord;
using domain::Customer;
using domain::CustomerCard;
using domain::Followup;
using domain::Note;

struct CallSummary {
    domain::HistoryEntry entry;
    std::string caller;  // E.164 where parseable
    std::optional<std::int64_t> customer_id;
};

struct FollowupAttempt {
    std::string at;      // UTC ISO
    std::string agent;
    std::string result;  // reached, no_answer, busy, wrong_number, refused
    std::optional<int> score;
    std::string comment;
};

// What `callpop followups list|export` asks for. Empty fields do not filter.
struct FollowupQuery {
    std::vector<std::string> statuses{"open"};  // any of these; empty: every status
    std::string kind;     // satisfaction, callback
    std::string agent;    // the agent of the original call, or who holds or closed it
    std::string reason;   // the outcome code (or abandoned / missed / requested) behind it
    std::string due_by;   // only those due at or before this UTC time
    std::string overdue;  // non-empty: only callbacks flagged overdue
    std::size_t limit = 1000;
};

// A completed survey with what the report groups it by.
struct SurveyResult {
    std::int64_t followup_id = 0;
    std::string completed_at;  // UTC ISO
    std::string scale;         // csat, nps
    int score = 0;
    std::string comment;
    std::string agent;    // who took the original call (recorded its outcome, else answered)
    std::string outcome;  // its outcome code
    std::string line;     // the line it came in on
    std::optional<std::int64_t> customer_id;
    std::string customer_name;
    std::vector<std::string> products;  // the customer's assets
};

// Something a customer said: a survey answer, or an outcome (complaint) with its notes.
struct FeedbackItem {
    std::string at;      // UTC ISO
    std::string source;  // survey, outcome
    std::string scale;   // for surveys
    std::optional<int> score;
    std::string text;     // the comment or the outcome's notes
    std::string outcome;  // outcome code of the call
    std::string agent;
    std::string call;
    std::optional<std::int64_t> customer_id;
    std::string customer_name;
    std::vector<std::string> products;
};

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
    // A call as its row stands (outcome and notes included), for follow-ups made from it.
    virtual std::optional<CallSummary> call_summary(std::string_view call_id) = 0;
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

    // ---- follow-ups (docs/followups.md) ----
    // Inserts it and returns its id; nullopt, writing nothing, when it is a callback and an
    // open callback for the same number exists already.
    virtual std::optional<std::int64_t> create_followup(const Followup& followup) = 0;
    virtual std::optional<Followup> followup(std::int64_t id) = 0;
    // When the customer's latest satisfaction follow-up that was not cancelled was created.
    virtual std::optional<std::string> last_survey_created(std::int64_t customer_id) = 0;
    // Open follow-ups due at `now` or before whose lease is free or ran out, earliest first.
    virtual std::vector<Followup> due_followups(std::string_view now, std::size_t limit) = 0;
    // Writes back every field that changes after creation (status, due, attempts, lease,
    // answers, closing, overdue flag). Throws StorageError when there is no such follow-up,
    // or when reopening a callback would make a second open one for its number.
    virtual void update_followup(const Followup& followup) = 0;
    virtual void add_followup_attempt(std::int64_t followup_id, const FollowupAttempt& attempt) = 0;
    // The open follow-ups a call created.
    virtual std::vector<Followup> open_followups_of_call(std::string_view call_id) = 0;
    // Open callbacks due before `cutoff` not yet flagged overdue, earliest first.
    virtual std::vector<Followup> unflagged_overdue_callbacks(std::string_view cutoff,
                                                              std::size_t limit) = 0;
    virtual std::vector<Followup> list_followups(const FollowupQuery& query) = 0;
    // Reports: surveys completed, and feedback, in [since, until) (UTC ISO; empty: open).
    // Survey results are completed satisfaction follow-ups with a score, by completion time.
    // Feedback is those with a comment or a low score (csat <= 2, nps <= 6), and the calls
    // whose outcome is one of `outcome_codes` (with the outcome's notes), by time.
    // Products: the customer's asset products, each once, by name.
    virtual std::vector<SurveyResult> survey_results(std::string_view since,
                                                     std::string_view until) = 0;
    virtual std::vector<FeedbackItem> feedback(std::string_view since, std::string_view until,
                                               const std::vector<std::string>& outcome_codes) = 0;

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

}  // namespace callpop::storage
