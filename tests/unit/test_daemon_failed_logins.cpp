#include <doctest/doctest.h>

#include "daemon/agents/failed_logins.hpp"

using callpop::daemon::FailedLogins;
using namespace std::chrono_literals;

TEST_CASE("failed logins: an address is blocked past the maximum, until its window has passed") {
    FailedLogins failed(3, 60s);
    const auto start = FailedLogins::Clock::now();
    for (int attempt = 0; attempt < 3; ++attempt) {
        CHECK(failed.blocked_for("10.0.0.5", start).count() == 0);
        failed.failed("10.0.0.5", start + 1s);
    }
    CHECK(failed.blocked_for("10.0.0.5", start + 10s) == 51s);
    CHECK(failed.blocked_for("10.0.0.6", start + 10s).count() == 0);  // others are not
    CHECK(failed.blocked_for("10.0.0.5", start + 61s).count() == 0);
    // A new window starts with the next failure.
    failed.failed("10.0.0.5", start + 62s);
    CHECK(failed.blocked_for("10.0.0.5", start + 62s).count() == 0);
    failed.failed("10.0.0.6", start + 62s);
    CHECK(failed.addresses() == 2);
    failed.forget_old(start + 200s);
    CHECK(failed.addresses() == 0);
}
