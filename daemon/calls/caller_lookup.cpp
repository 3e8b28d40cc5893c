#include "daemon/calls/caller_lookup.hpp"

#include <spdlog/spdlog.h>

#include "daemon/calls/call_tracker.hpp"
#include "storage/storage_error.hpp"

namespace callpop::daemon {

CallerLookup::CallerLookup(storage::CustomerDirectory& directory, const config::Config& config)
    : directory_(directory),
      config_(config),
      normalizer_(config.site.region, config.site.international_prefixes) {
    for (const auto& line : config.lines) line_names_[normalizer_.normalize(line.number)] = line.name;
}

std::string CallerLookup::line_name(const std::string& dialed) const {
    if (dialed.empty()) return {};
    auto found = line_names_.find(normalizer_.normalize(dialed));
    return found == line_names_.end() ? std::string() : found->second;
}

std::optional<storage::Customer> CallerLookup::customer_from_data(const TrackedCall& call,
                                                                  std::string& match) {
    auto text_of = [&](const std::string& key) -> std::string {
        auto found = call.data.find(key);
        if (found == call.data.end()) return {};
        if (found->is_string()) return found->get<std::string>();
        if (found->is_number_integer()) return std::to_string(found->get<long long>());
        return {};
    };
    for (const auto& key : config_.pop.asset_keys) {
        const std::string serial = text_of(key);
        if (serial.empty()) continue;
        if (auto customer = directory_.customer_by_asset_serial(serial)) {
            match = "asset";
            return customer;
        }
    }
    for (const auto& key : config_.pop.account_keys) {
        const std::string account = text_of(key);
        if (account.empty()) continue;
        if (auto customer = directory_.customer_by_external_id(account)) {
            match = "account";
            return customer;
        }
    }
    return std::nullopt;
}

protocol::Pop CallerLookup::look_up(TrackedCall& call) {
    protocol::Pop pop;
    pop.call = call.id;
    pop.caller.raw = call.caller_raw;
    pop.caller.name = call.caller_name;
    pop.caller.withheld = storage::PhoneNormalizer::is_withheld(call.caller_raw);
    if (!pop.caller.withheld) pop.caller.number = normalizer_.normalize(call.caller_raw);
    pop.dialed = call.dialed;
    pop.line = line_name(call.dialed);
    pop.queue = call.queue;
    pop.data = call.data;

    std::string match = "none";
    // A store that fails (locked, I/O error) must not cost the agent the pop: it goes out
    // with what the switch said and no customer.
    try {
        std::vector<storage::Customer> candidates;
        if (auto customer = customer_from_data(call, match)) {
            candidates.push_back(std::move(*customer));
        } else if (pop.caller.withheld) {
            match = "withheld";
        } else {
            candidates = directory_.customers_by_number(pop.caller.number, config_.pop.candidates);
            if (!candidates.empty()) match = "number";
        }
        if (!candidates.empty()) {
            pop.customer = directory_.card(candidates.front(), config_.pop.history);
            pop.other_candidates.assign(std::make_move_iterator(candidates.begin() + 1),
                                        std::make_move_iterator(candidates.end()));
            call.customer_id = pop.customer->customer.id;
            call.customer_name = pop.customer->customer.name;
        }
    } catch (const storage::StorageError& error) {
        spdlog::error("call {}: customer lookup failed, popping without a customer: {}", call.id,
                      error.what());
        match = "lookup_failed";
        pop.customer.reset();
        pop.other_candidates.clear();
    }
    pop.match = match;
    call.looked_up = true;
    call.caller_number = pop.caller.number;
    call.line_name = pop.line;
    return pop;
}

}  // namespace callpop::daemon
