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

LookupAnswer CallerLookup::look_up(const LookupRequest& request) {
    protocol::Pop pop;
    pop.call = request.call;
    pop.caller.raw = request.caller_raw;
    pop.caller.name = request.caller_name;
    pop.caller.withheld = storage::PhoneNormalizer::is_withheld(request.caller_raw);
    if (!pop.caller.withheld) pop.caller.number = numbers_.normalize(request.caller_raw);
    pop.dialed = request.dialed;
    pop.line = numbers_.line_name(request.dialed);
    pop.queue = request.queue;
    pop.data = request.data;

    std::string match = "none";
    const auto find = [&] {
        match = "none";
        if (auto card = card_from_data(request.data, match)) {
            pop.customer = std::move(card);
        } else if (pop.caller.withheld) {
            match = "withheld";
        } else {
            auto found = directory_.caller_by_number(pop.caller.number, config_.pop.candidates,
                                                     config_.pop.history);
            if (found.card) match = "number";
            pop.customer = std::move(found.card);
            pop.other_candidates = std::move(found.others);
        }
    };
    // A store that fails (locked, I/O error) must not cost the agent the pop: it goes out
    // with what the switch said and no customer.
    try {
        try {
            find();
        } catch (const storage::StorageError& error) {
            if (!error.transient()) throw;
            // A database server restarted since this connection's last lookup: the first
            // statement finds the connection gone, the next one connects again.
            spdlog::warn("call {}: customer lookup failed, trying again: {}", request.call,
                         error.what());
            find();
        }
    } catch (const std::exception& error) {
        spdlog::error("call {}: customer lookup failed, popping without a customer: {}",
                      request.call, error.what());
        match = "lookup_failed";
        pop.customer.reset();
        pop.other_candidates.clear();
    }
    pop.match = match;

    LookupAnswer answer;
    answer.call = request.call;
    answer.pop_line = protocol::encode_pop(pop);
    answer.caller_number = std::move(pop.caller.number);
    answer.line_name = std::move(pop.line);
    if (pop.customer) {
        answer.customer_id = pop.customer->customer.id;
        answer.customer_name = std::move(pop.customer->customer.name);
    }
    return answer;
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
        std::vector<std::pair<Done, LookupAnswer>> answers;
        answers.reserve(batch.size());
        for (auto& pending : batch)
            answers.emplace_back(std::move(pending.done), lookup.look_up(pending.request));
        asio::post(batch.front().loop_at_work, [answers = std::move(answers)]() mutable {
            for (auto& [done, answer] : answers) done(std::move(answer));
        });
        batch.clear();  // the others' hold on the loop ends once the post holds it
        lock.lock();
    }
}

}  // namespace callpop::daemon
