#pragma once
// The whole store, as one connection implements it. Callers take the narrowest part:
//   CustomerDirectory  finding the caller and their card (customer_directory.hpp)
//   CustomerImport     the directory's writes from CSV import (customer_import.hpp)
//   CallLog            the call log, calls' rows, agents' notes (call_log.hpp)
//   FollowupQueue      follow-up calls (followup_queue.hpp)
//   Reports            survey results and feedback (reports.hpp)
//   AgentAccounts      who may log in (agent_accounts.hpp)
//   DaemonRegistry     the daemons serving the store (daemon_registry.hpp)
//   Transactions       begin/commit/rollback, StoreTransaction (transactions.hpp)
// Whole-Store callers are those whose writes span kinds in one transaction: the daemon's
// writer thread and demo data. SQLite is the embedded backend (storage/sqlite/); a shared
// backend (PostgreSQL) is another implementation of this class, and open_store() picks one.
// One Store object belongs to one thread: the daemon opens one for lookups on the event
// loop and one for its writer thread.
#include "storage/agent_accounts.hpp"
#include "storage/call_log.hpp"
#include "storage/customer_directory.hpp"
#include "storage/customer_import.hpp"
#include "storage/daemon_registry.hpp"
#include "storage/followup_queue.hpp"
#include "storage/reports.hpp"
#include "storage/storage_error.hpp"
#include "storage/transactions.hpp"

namespace callpop::storage {

// CustomerDirectory and Transactions are virtual bases, shared with CustomerImport.
class Store : public virtual CustomerDirectory,
              public CustomerImport,
              public CallLog,
              public FollowupQueue,
              public Reports,
              public AgentAccounts,
              public DaemonRegistry,
              public virtual Transactions {};

// Held by the daemon for its life where a backend lets one daemon serve a store; released
// when the process ends, however it ends.
class ServeLock {
public:
    virtual ~ServeLock() = default;
};

}  // namespace callpop::storage
