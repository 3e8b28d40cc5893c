// `callpop import`'s progress line, on a clock the test moves.
#include <doctest/doctest.h>

#include <chrono>
#include <sstream>
#include <string>

#include "cli/import_progress.hpp"

using callpop::cli::ImportProgressLine;
using callpop::cli::with_thousands;
using namespace std::chrono_literals;

namespace {

struct FakeClock {
    std::chrono::steady_clock::time_point now{std::chrono::steady_clock::time_point{} + 1h};
    ImportProgressLine::Clock clock() {
        return [this] { return now; };
    }
};

}  // namespace

TEST_CASE("import progress: on a terminal, one line rewritten a few times a second") {
    FakeClock time;
    std::ostringstream out;
    {
        ImportProgressLine line(out, "/var/lib/callpop/customers.csv", true, time.clock());
        time.now += 100ms;
        line.update(10'000);  // too soon after the start
        CHECK(out.str().empty());
        time.now += 150ms;
        line.update(20'000);
        CHECK(out.str() == "\rcustomers.csv: 20,000 rows, 80,000 rows/s, 0.2 s\x1b[K");
        out.str("");
        time.now += 200ms;
        line.update(30'000);  // 200 ms after the last one shown
        CHECK(out.str().empty());
        time.now += 50ms;
        line.update(1'000'000);
        CHECK(out.str() == "\rcustomers.csv: 1,000,000 rows, 2,000,000 rows/s, 0.5 s\x1b[K");
        out.str("");
        time.now += 1500ms;
        line.finish(1'500'000);
        CHECK(out.str() == "\rcustomers.csv: 1,500,000 rows, 750,000 rows/s, 2.0 s\x1b[K\n");
        out.str("");
    }
    CHECK(out.str().empty());  // ended by finish(): nothing more
}

TEST_CASE("import progress: a small file shows its final figures; an interrupted line ends") {
    FakeClock time;
    std::ostringstream out;
    {
        ImportProgressLine line(out, "c.csv", true, time.clock());
        line.finish(3);
        CHECK(out.str() == "\rc.csv: 3 rows, 0 rows/s, 0.0 s\x1b[K\n");
    }
    out.str("");
    {
        ImportProgressLine line(out, "c.csv", true, time.clock());
        time.now += 1s;
        line.update(10'000);
        line.interrupt();  // a file-level error is printed next, on a line of its own
        CHECK(out.str() == "\rc.csv: 10,000 rows, 10,000 rows/s, 1.0 s\x1b[K\n");
        out.str("");
    }
    CHECK(out.str().empty());
    {
        ImportProgressLine line(out, "c.csv", true, time.clock());
        time.now += 1s;
        line.update(10'000);
    }  // an exception passing through
    CHECK(out.str() == "\rc.csv: 10,000 rows, 10,000 rows/s, 1.0 s\x1b[K\n");
}

TEST_CASE("import progress: nothing at all when stderr is not a terminal") {
    FakeClock time;
    std::ostringstream out;
    {
        ImportProgressLine line(out, "c.csv", false, time.clock());
        time.now += 10s;
        line.update(10'000);
        line.interrupt();
        line.finish(20'000);
    }
    CHECK(out.str().empty());
}

TEST_CASE("import progress: thousands grouped") {
    CHECK(with_thousands(0) == "0");
    CHECK(with_thousands(999) == "999");
    CHECK(with_thousands(1000) == "1,000");
    CHECK(with_thousands(123456) == "123,456");
    CHECK(with_thousands(1234567) == "1,234,567");
}
