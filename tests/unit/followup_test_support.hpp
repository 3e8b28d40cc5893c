#pragma once
// Customers and follow-ups put in a store, for the follow-up tests of every backend and the
// SQLite-only ones alike.
#include <cstdint>
#include <optional>
#include <string>

#include "storage/store.hpp"

namespace callpop::test {

using domain::FollowupKind;
using domain::FollowupStatus;

inline std::int64_t add_customer(storage::Store& store, std::string external_id, std::string name) {
    storage::Customer customer;
    customer.external_id = std::move(external_id);
    customer.name = std::move(name);
    storage::StoreTransaction transaction(store);
    const auto id = store.upsert_customer(customer);
    transaction.commit();
    return id;
}

inline storage::Followup make_followup(FollowupKind kind, std::string number, std::string due_at) {
    storage::Followup followup;
    followup.kind = kind;
    followup.status = FollowupStatus::open;
    followup.number = std::move(number);
    followup.due_at = std::move(due_at);
    followup.reason = followup.kind == FollowupKind::callback ? "abandoned" : "repaired";
    followup.timezone = "America/New_York";
    followup.timezone_source = "site";
    followup.window = {{"from", "08:00"}, {"to", "21:00"}, {"days", {"mon", "tue", "wed", "thu", "fri"}}};
    followup.created_at = "2026-01-10T15:05:00.000Z";
    if (followup.kind == FollowupKind::satisfaction)
        followup.survey = {{"scale", "csat"}, {"question", "How satisfied?"}, {"comment_question", "Better?"}};
    return followup;
}

inline std::optional<std::int64_t> create(storage::Store& store,
                                          const storage::Followup& followup) {
    storage::StoreTransaction transaction(store);
    auto id = store.create_followup(followup);
    transaction.commit();
    return id;
}

inline void update(storage::Store& store, const storage::Followup& followup) {
    storage::StoreTransaction transaction(store);
    store.update_followup(followup);
    transaction.commit();
}

}  // namespace callpop::test
