#pragma once
// `callpop import`: rows from a CRM merged into the directory. An import reads what is
// stored (a file without some columns keeps the stored values) and commits in chunks, so it
// sees the directory and transactions too.
#include <cstdint>
#include <string_view>

#include "domain/records.hpp"
#include "storage/customer_directory.hpp"
#include "storage/transactions.hpp"

namespace callpop::storage {

using domain::Asset;
using domain::Note;

class CustomerImport : public virtual CustomerDirectory, public virtual Transactions {
public:
    // Around a whole import, outside its transactions: the backend may set itself up for a
    // long run of writes (e.g. skip checks the import makes itself, leave an index to be
    // built once at the end) and puts back its usual settings in end_import(), which must
    // also be called after a failure. What a reader sees of the rows committed in between is
    // the same; only how fast it finds them may differ until end_import().
    virtual void begin_import() = 0;
    virtual void end_import() = 0;

    // Insert or update by external id; the customer's phones are replaced.
    virtual std::int64_t upsert_customer(const Customer& customer) = 0;
    // upsert_customer where nothing needs the id (a file of whole rows): the backend may hold
    // the row and write it with the others before commit() ends (PostgreSQL sends them in
    // one COPY). Until then reads need not see it; of rows with one external id, the last
    // one given wins, and a new customer's id follows the order its first row came in. The
    // transaction is the import's until then: besides these upserts, only
    // customer_by_external_id, commit and rollback may run in it (PostgreSQL's COPY holds
    // the connection; anything else is a std::logic_error).
    virtual void queue_customer(const Customer& customer) = 0;
    // Insert or update by (customer, serial), or (customer, product, purchased) without serial.
    // false when no customer has that external id.
    virtual bool upsert_asset(std::string_view customer_external_id, const Asset& asset) = 0;
    // Inserts unless the customer already has the same kind and text. false as above.
    virtual bool upsert_note(std::string_view customer_external_id, const Note& note) = 0;
};

}  // namespace callpop::storage
