#pragma once
// Finds who is calling: an asset serial or account number the IVR collected wins over the
// caller's number; a number shared by several customers gives all of them, best first.
// The lookups run on threads of their own, each with a read-only connection to the store,
// and come back to the loop as completions: the loop never waits for the disk, and a
// store locked by another process cannot stall pops.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "daemon/net/asio.hpp"
#include "daemon/net/shared_message.hpp"
#include "protocol/agent_message.hpp"
#include "storage/customer_directory.hpp"
#include "storage/phone_number.hpp"

namespace callpop::daemon {

// Caller numbers to E.164 and dialled numbers to the site's line names.
class NumberBook {
public:
    explicit NumberBook(const config::Config& config);
    std::string normalize(const std::string& raw) const { return normalizer_.normalize(raw); }
    std::string line_name(const std::string& dialed) const;

private:
    storage::PhoneNormalizer normalizer_;
    std::unordered_map<std::string, std::string> line_names_;  // normalized number → name
};

// What the switch told about a call, copied for the lookup thread.
struct LookupRequest {
    std::string call;
    std::string caller_raw;
    std::string caller_name;
    std::string dialed;
    std::string queue;
    // What the IVR collected: an empty object when nothing, as on a tracked call, or every
    // request would differ from its call and be looked up twice.
    nlohmann::json data = nlohmann::json::object();
    bool operator==(const LookupRequest&) const = default;
};

struct LookupAnswer {
    std::string call;
    std::string pop_line;  // encoded under seq 0, for protocol::with_pop_seq()
    std::string caller_number;  // E.164 where parseable; empty when withheld
    std::string line_name;
    std::optional<std::int64_t> customer_id;
    std::string customer_name;
};

// One thread's lookup: the store connection is the caller's.
class CallerLookup {
public:
    CallerLookup(storage::CustomerDirectory& directory, const config::Config& config);
    // An answer for each request, in their order; the callers known by number alone are
    // read together (CustomerDirectory::callers_by_numbers).
    std::vector<LookupAnswer> look_up(std::span<const LookupRequest> requests);
    // Runs the lookup once for a number no one has: a database session's first run of it
    // plans it and reads the catalogs (some 30 ms on PostgreSQL), which the first caller
    // should not wait for.
    void warm_up();

private:
    // The card of the customer an asset serial or account number the IVR collected names.
    std::optional<domain::CustomerCard> card_from_data(const nlohmann::json& data,
                                                       std::string& match);

    storage::CustomerDirectory& directory_;
    const config::Config& config_;
    NumberBook numbers_;
};

class LookupThreads {
public:
    using Done = std::function<void(LookupAnswer)>;
    struct Shape {
        unsigned threads = 1;
        // Lookups a thread takes at once; their answers go back to the loop together.
        std::size_t batch_max = 1;
    };
    // Opens a read-only connection per thread; completions run on `loop`.
    LookupThreads(const config::Config& config, asio::any_io_executor loop, Shape shape);
    ~LookupThreads();  // answers what is queued, then joins
    LookupThreads(const LookupThreads&) = delete;
    LookupThreads& operator=(const LookupThreads&) = delete;

    void look_up(LookupRequest request, Done done);
    void stop();

private:
    struct Pending {
        LookupRequest request;
        Done done;
        // Keeps the loop running until the answer is back: a call that rang as the daemon
        // stopped is still logged.
        asio::any_io_executor loop_at_work;
    };
    void run(CallerLookup& lookup);

    asio::any_io_executor loop_;
    std::size_t batch_max_;
    std::vector<std::unique_ptr<storage::CustomerDirectory>> connections_;
    std::vector<std::unique_ptr<CallerLookup>> lookups_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Pending> queue_;
    unsigned idle_ = 0;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace callpop::daemon
