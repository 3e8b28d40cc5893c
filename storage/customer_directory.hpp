#pragma once
// Finding the caller: what the lookup threads read on every ring, and nothing they could
// write. A lookup reads in one transaction, so that its queries see one snapshot.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/records.hpp"
#include "storage/transactions.hpp"

namespace callpop::storage {

using domain::Customer;
using domain::CustomerCard;

// Who may be calling from a number: the best match's card, and the others on the number.
struct NumberMatch {
    std::optional<CustomerCard> card;
    std::vector<Customer> others;
};

class CustomerDirectory : public virtual Transactions {
public:
    ~CustomerDirectory() override = default;

    // Numbers are E.164 (or as given when they did not parse).
    // Customers on a number come best first: most recently called, then oldest record.
    virtual std::vector<Customer> customers_by_number(std::string_view number,
                                                      std::size_t limit) = 0;
    virtual std::optional<Customer> customer_by_asset_serial(std::string_view serial) = 0;
    virtual std::optional<Customer> customer_by_external_id(std::string_view external_id) = 0;
    virtual std::optional<Customer> customer_by_id(std::int64_t id) = 0;
    // Notes, preferences, assets, the last `history` calls, open follow-ups.
    virtual CustomerCard card(const Customer& customer, std::size_t history) = 0;
    // customers_by_number (up to `limit`) and the first one's card, read as one snapshot
    // outside any transaction of the caller's: what a ring from a number pops.
    virtual NumberMatch caller_by_number(std::string_view number, std::size_t limit,
                                         std::size_t history) = 0;
    // caller_by_number of each number, in their order. A database server answers them in
    // one round trip; in process they cost what they cost one by one.
    virtual std::vector<NumberMatch> callers_by_numbers(const std::vector<std::string>& numbers,
                                                        std::size_t limit, std::size_t history) {
        std::vector<NumberMatch> matches;
        matches.reserve(numbers.size());
        for (const auto& number : numbers) matches.push_back(caller_by_number(number, limit, history));
        return matches;
    }
};

}  // namespace callpop::storage
