#pragma once
// Polls a condition that another process makes true (a row the daemon writes), failing the
// test with `what` when it does not come true in time.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>

namespace callpop::test {

template <typename Condition>
void wait_until(Condition condition, std::chrono::milliseconds timeout, const std::string& what) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
        REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                        "waited " << timeout.count() << " ms for " << what);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

}  // namespace callpop::test
