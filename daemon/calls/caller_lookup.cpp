#include "daemon/calls/caller_lookup.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "storage/open_store.hpp"

namespace callpop::daemon {

NumberBook::NumberBook(const config::Config& config)
    : normalizer_(config.site.region, config.site.international_prefixes) {
    for (const auto& line : config.lines) line_names_[normalizer_.normalize(line.number)] = line.name;
}

std::string NumberBook::line_name(const std::string& dialed) const {
    if (dialed.empty()) return {};
    auto found = line_names_.find(normalizer_.normalize(dialed));
    return found == line_names_.end() ? std::string() : found->second;
}

CallerLookup::CallerLookup(storage::CustomerDirectory& directory, const config::Config& config)
    : directory_(directory), config_(config), numbers_(config) {}

std::optional<domain::CustomerCard> CallerLookup::card_from_data(const nlohmann::json& data,
                                                                std::string& match) {
    auto text_of = [&](const std::string& key) -> std::string {
        auto found = data.find(key);
        if (found == data.end()) return {};
        if (found->is_string()) return found->get<std::string>();
        if (found->is_number_integer()) return std::to_string(found->get<long long>());
        return {};
    };
    std::vector<std::string> serials;
    std::vector<std::string> accounts;
    for (const auto& key : config_.pop.asset_keys) {
        if (std::string serial = text_of(key); !serial.empty()) serials.push_back(std::move(serial));
    }
    for (const auto& key : config_.pop.account_keys) {
        if (std::string account = text_of(key); !account.empty())
            accounts.push_back(std::move(account));
    }
    // Most rings collected nothing: no snapshot to open.
    if (serials.empty() && accounts.empty()) return std::nullopt;
    // One snapshot for the customer and its card: the card is consistent.
    storage::StoreTransaction snapshot(directory_);
    std::optional<storage::Customer> customer;
    for (const auto& serial : serials) {
        if ((customer = directory_.customer_by_asset_serial(serial))) {
            match = "asset";
            break;
        }
    }
    for (const auto& account : accounts) {
        if (customer) break;
        if ((customer = directory_.customer_by_external_id(account))) match = "account";
    }
    std::optional<domain::CustomerCard> card;
    if (customer) card = directory_.card(*customer, config_.pop.history);
    snapshot.commit();
    return card;
}

std::vector<LookupAnswer> CallerLookup::look_up(std::span<const LookupRequest> requests) {
    std::vector<protocol::Pop> pops(requests.size());
    for (std::size_t index = 0; index < requests.size(); ++index) {
        const auto& request = requests[index];
        auto& pop = pops[index];
        pop.call = request.call;
        pop.caller.raw = request.caller_raw;
        pop.caller.name = request.caller_name;
        pop.caller.withheld = storage::PhoneNormalizer::is_withheld(request.caller_raw);
        if (!pop.caller.withheld) pop.caller.number = numbers_.normalize(request.caller_raw);
        pop.dialed = request.dialed;
        pop.line = numbers_.line_name(request.dialed);
        pop.queue = request.queue;
        pop.data = request.data;
    }

    const auto find = [&] {
        std::vector<std::size_t> by_number;
        std::vector<std::string> numbers;
        for (std::size_t index = 0; index < requests.size(); ++index) {
            auto& pop = pops[index];
            pop.match = "none";
            if (auto card = card_from_data(requests[index].data, pop.match)) {
                pop.customer = std::move(card);
            } else if (pop.caller.withheld) {
                pop.match = "withheld";
            } else {
                by_number.push_back(index);
                numbers.push_back(pop.caller.number);
            }
        }
        if (numbers.empty()) return;
        auto found = directory_.callers_by_numbers(numbers, config_.pop.candidates,
                                                   config_.pop.history);
        for (std::size_t at = 0; at < by_number.size(); ++at) {
            auto& pop = pops[by_number[at]];
            auto& match = found.at(at);
            if (match.card) pop.match = "number";
            pop.customer = std::move(match.card);
            pop.other_candidates = std::move(match.others);
        }
    };
    const auto calls = [&] {
        std::string listed;
        for (const auto& request : requests) listed += (listed.empty() ? "" : ", ") + request.call;
        return listed;
    };
    // A store that fails (locked, I/O error) must not cost the agents their pops: they go out
    // with what the switch said and no customer.
    const auto pop_without_customers = [&](const std::exception& error) {
        spdlog::error("call {}: customer lookup failed, popping without a customer: {}", calls(),
                      error.what());
        for (std::size_t index = 0; index < pops.size(); ++index) {
            auto& pop = pops[index];
            pop.customer.reset();
            pop.other_candidates.clear();
            // A withheld number with nothing from the IVR needed no store.
            const bool needed_store = !pop.caller.withheld || !requests[index].data.empty();
            pop.match = needed_store ? "lookup_failed" : "withheld";
        }
    };
    // What one caller's records broke must not cost the others theirs: each alone. A store
    // that is down is down for all of them: asked again per caller, each would wait for it.
    const auto each_alone = [&] {
        std::vector<LookupAnswer> answers;
        answers.reserve(requests.size());
        for (std::size_t index = 0; index < requests.size(); ++index)
            answers.push_back(std::move(look_up(requests.subspan(index, 1)).front()));
        return answers;
    };
    try {
        try {
            find();
        } catch (const storage::StorageError& error) {
            if (!error.transient()) throw;
            // A database server restarted since this connection's last lookup: the first
            // statement finds the connection gone, the next one connects again.
            spdlog::warn("call {}: customer lookup failed, trying again: {}", calls(), error.what());
            find();
        }
    } catch (const std::exception& error) {
        const auto* storage_error = dynamic_cast<const storage::StorageError*>(&error);
        const bool store_down = storage_error != nullptr && storage_error->transient();
        if (store_down || requests.size() == 1) {
            pop_without_customers(error);
        } else {
            return each_alone();
        }
    }

    std::vector<LookupAnswer> answers(requests.size());
    for (std::size_t index = 0; index < requests.size(); ++index) {
        auto& pop = pops[index];
        auto& answer = answers[index];
        answer.call = requests[index].call;
        answer.pop_line = protocol::encode_pop(pop);
        answer.caller_number = std::move(pop.caller.number);
        answer.line_name = std::move(pop.line);
        if (pop.customer) {
            answer.customer_id = pop.customer->customer.id;
            answer.customer_name = std::move(pop.customer->customer.name);
        }
    }
    return answers;
}

void CallerLookup::warm_up() {
    try {
        directory_.caller_by_number("", config_.pop.candidates, config_.pop.history);
    } catch (const std::exception& error) {
        // The first call's lookup tries again, and says so when it fails.
        spdlog::debug("customer lookup: warming up: {}", error.what());
    }
}

LookupThreads::LookupThreads(const config::Config& config, asio::any_io_executor loop,
                             Shape shape)
    : loop_(std::move(loop)), batch_max_(std::max<std::size_t>(1, shape.batch_max)) {
    // Opened here, so that a store that cannot be read fails the start, not a thread.
    for (unsigned index = 0; index < std::max(1u, shape.threads); ++index) {
        connections_.push_back(storage::open_store(config.storage, storage::Access::read_only));
        lookups_.push_back(std::make_unique<CallerLookup>(*connections_.back(), config));
    }
    for (auto& lookup : lookups_) threads_.emplace_back([this, &lookup] { run(*lookup); });
}

LookupThreads::~LookupThreads() { stop(); }

void LookupThreads::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    for (auto& thread : threads_) {
        if (thread.joinable()) thread.join();
    }
}

void LookupThreads::look_up(LookupRequest request, Done done) {
    bool wake = false;
    {
        std::lock_guard lock(mutex_);
        queue_.push_back({std::move(request), std::move(done),
                          asio::prefer(loop_, asio::execution::outstanding_work.tracked)});
        // A busy thread takes the request when it comes back for more: no wake-up needed.
        wake = idle_ > 0;
    }
    if (wake) wake_.notify_one();
}

void LookupThreads::run(CallerLookup& lookup) {
    lookup.warm_up();
    std::unique_lock lock(mutex_);
    while (true) {
        ++idle_;
        wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        --idle_;
        if (queue_.empty() && stopping_) return;
        std::vector<Pending> batch;
        // A batch of answers goes back to the loop as one completion: under load, one
        // wake-up of the loop carries many pops.
        while (!queue_.empty() && batch.size() < batch_max_) {
            batch.push_back(std::move(queue_.front()));
            queue_.pop_front();
        }
        lock.unlock();
        std::vector<LookupRequest> requests;
        requests.reserve(batch.size());
        for (auto& pending : batch) requests.push_back(std::move(pending.request));
        auto found = lookup.look_up(requests);
        std::vector<std::pair<Done, LookupAnswer>> answers;
        answers.reserve(batch.size());
        for (std::size_t index = 0; index < batch.size(); ++index)
            answers.emplace_back(std::move(batch[index].done), std::move(found[index]));
        asio::post(batch.front().loop_at_work, [answers = std::move(answers)]() mutable {
            for (auto& [done, answer] : answers) done(std::move(answer));
        });
        batch.clear();  // the others' hold on the loop ends once the post holds it
        lock.lock();
    }
}

}  // namespace callpop::daemon
