#include "daemon/agents/failed_logins.hpp"

namespace callpop::daemon {

FailedLogins::Clock::duration FailedLogins::blocked_for(const std::string& address,
                                                        Clock::time_point now) const {
    const auto found = by_address_.find(address);
    if (found == by_address_.end() || found->second.failures < max_) return {};
    const auto ends = found->second.started + window_;
    return ends > now ? ends - now : Clock::duration{};
}

void FailedLogins::failed(const std::string& address, Clock::time_point now) {
    auto found = by_address_.find(address);
    if (found == by_address_.end()) {
        if (by_address_.size() >= addresses_max) forget_old(now);
        if (by_address_.size() >= addresses_max) return;
        by_address_.emplace(address, Window{now, 1});
        return;
    }
    Window& window = found->second;
    if (now - window.started >= window_) window = Window{now, 0};
    ++window.failures;
}

void FailedLogins::forget_old(Clock::time_point now) {
    std::erase_if(by_address_,
                  [&](const auto& entry) { return now - entry.second.started >= window_; });
}

}  // namespace callpop::daemon
