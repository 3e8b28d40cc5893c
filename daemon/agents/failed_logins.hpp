#pragma once
// Failed logins by source address. Past `max` failures within a window, an address is
// refused without a check until its window has passed: a guesser is slowed to `max`
// guesses a window, while a call center behind one NAT address can still mistype.
#include <chrono>
#include <cstddef>
#include <string>
#include <unordered_map>

namespace callpop::daemon {

class FailedLogins {
public:
    using Clock = std::chrono::steady_clock;
    FailedLogins(std::size_t max, std::chrono::seconds window) : max_(max), window_(window) {}

    // How long `address` must wait before it may try again; zero when it may now.
    Clock::duration blocked_for(const std::string& address, Clock::time_point now) const;
    void failed(const std::string& address, Clock::time_point now);
    // Forgets windows that have passed: the map holds the addresses of the last window.
    void forget_old(Clock::time_point now);
    std::size_t addresses() const { return by_address_.size(); }

private:
    struct Window {
        Clock::time_point started;
        std::size_t failures = 0;
    };
    // Bounds memory against a flood from many addresses: past it, new ones go uncounted.
    static constexpr std::size_t addresses_max = 100000;

    std::size_t max_;
    Clock::duration window_;
    std::unordered_map<std::string, Window> by_address_;
};

}  // namespace callpop::daemon
