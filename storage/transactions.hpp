#pragma once
// Writes of several kinds (a call's log records, its notes and the follow-ups it makes)
// commit as one unit, so transactions belong to the connection, not to any one interface.
// Every interface whose callers group writes derives from Transactions virtually: a Store
// has one.

namespace callpop::storage {

class Transactions {
public:
    virtual ~Transactions() = default;
    // Writes run inside begin()/commit(); rollback() on failure.
    virtual void begin() = 0;
    virtual void commit() = 0;
    virtual void rollback() = 0;
};

// Rolls back on scope exit unless committed.
class StoreTransaction {
public:
    explicit StoreTransaction(Transactions& store) : store_(store) { store_.begin(); }
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
    Transactions& store_;
    bool committed_ = false;
};

}  // namespace callpop::storage
