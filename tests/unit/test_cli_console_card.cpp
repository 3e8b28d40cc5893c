#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "cli/console_card.hpp"

using callpop::cli::render_card;
using callpop::cli::render_event;
using nlohmann::json;

TEST_CASE("console card: an unknown or withheld caller, and several customers on one number") {
    CHECK(render_card({{"call", "c-9"},
                       {"caller", {{"number", "+15550109999"}, {"name", "JO BLOGGS"}, {"withheld", false}}},
                       {"line", ""},
                       {"queue", ""},
                       {"customer", nullptr}}) ==
          "=== call c-9 from +15550109999 ===\n  unknown caller: JO BLOGGS\n");
    CHECK(render_card({{"call", "c-8"},
                       {"caller", {{"number", nullptr}, {"name", ""}, {"withheld", true}}},
                       {"customer", nullptr}}) ==
          "=== call c-8 from number withheld ===\n  unknown caller\n");
    const json shared = {{"call", "c-7"},
                         {"caller", {{"number", "+15550104000"}, {"withheld", false}}},
                         {"customer", {{"id", 2}, {"name", "Sam Roe"}, {"tier", "silver"}, {"do_not_call", true}}},
                         {"history",
                          {{{"at", "2026-11-01T15:00:00.000Z"}, {"state", "answered"}, {"agent", "1001"},
                            {"outcome", "resolved"}, {"notes", ""}}}},
                         {"followups", {{{"id", 9}, {"kind", "callback"}, {"due", "2026-11-29T15:00:00.000Z"}, {"reason", "missed"}}}},
                         {"candidates", {{{"id", 3}}}}};
    CHECK(render_card(shared) ==
          "=== call c-7 from +15550104000 ===\n"
          "  Sam Roe [silver]  (do not call back)\n"
          "  last calls:\n    2026-11-01 15:00  answered by 1001: resolved\n"
          "  open follow-ups:\n    #9 callback due 2026-11-29 15:00 (missed)\n"
          "  (1 more customer on this number)\n");
}

TEST_CASE("console events: withdrawn, ended, saved, errors; pongs are not shown") {
    CHECK(render_event({{"type", "call"}, {"call", "c-1"}, {"state", "answered"}, {"by", "1002"}}) ==
          "--- call c-1 answered by 1002: card cleared");
    CHECK(render_event({{"type", "call"}, {"call", "c-1"}, {"state", "ended"}, {"cause", "abandoned"}}) ==
          "--- call c-1 ended (abandoned)");
    CHECK(render_event({{"type", "error"}, {"code", "unknown_outcome"}, {"message", "no"}}) ==
          "!!! unknown_outcome: no");
    CHECK(render_event({{"type", "pong"}}).empty());
}
