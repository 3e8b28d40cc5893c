#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include "storage/number_timezone.hpp"
#include "support/temp_dir.hpp"

using callpop::storage::NumberTimezones;
using callpop::storage::number_timezones;
using callpop::test::TempDir;

TEST_CASE("number zones: one zone per number from zone1970.tab or the prefix table") {
    const auto& zones = number_timezones();
    // Regions with several zones: the prefix table decides.
    CHECK(zones.zone_for("+12127365000").zone == "America/New_York");
    CHECK(zones.zone_for("+14155550100").zone == "America/Los_Angeles");
    CHECK(zones.zone_for("+61293744000").zone == "Australia/Sydney");
    CHECK(zones.zone_for("+4930901820").zone == "Europe/Berlin");  // DE: Berlin and Zurich
    CHECK(zones.zone_for("+861012345678").zone == "Asia/Shanghai");
    CHECK(zones.zone_for("+861012345678").reason.empty());
    // Longest prefix wins: Lord Howe Island inside +61 2.
    CHECK(zones.zone_for("+61255007123").zone == "Australia/Lord_Howe");
    // Regions with one zone in zone1970.tab.
    CHECK(zones.zone_for("+33142685300").zone == "Europe/Paris");
    CHECK(zones.zone_for("+81312345678").zone == "Asia/Tokyo");
    // Formatting around an E.164 number is tolerated.
    CHECK(zones.zone_for("+1 (212) 736-5000").zone == "America/New_York");
}

TEST_CASE("number zones: ambiguous numbers have no zone and a reason") {
    const auto& zones = number_timezones();
    const auto toll_free = zones.zone_for("+18005551000");
    CHECK(toll_free.zone.empty());
    CHECK(toll_free.reason.find("+1 800 is not tied to one time zone") == 0);
    const auto russia = zones.zone_for("+78002000600");
    CHECK(russia.zone.empty());
    CHECK(russia.reason.find("+7 800 is not tied to one time zone") == 0);
    for (const std::string garbage : {"garbage", "12125550100", "+", "+0000", ""}) {
        CAPTURE(garbage);
        const auto answer = zones.zone_for(garbage);
        CHECK(answer.zone.empty());
        CHECK_FALSE(answer.reason.empty());
    }
    CHECK(zones.zone_for("garbage").reason.find("\"garbage\"") != std::string::npos);
    CHECK(zones.zone_for("").reason == "no phone number");
}

TEST_CASE("number zones: zone1970.tab path, and the prefix table alone when it is missing") {
    TempDir dir;
    {
        // A one-row table: Germany has one zone here, Zurich instead of Berlin.
        std::ofstream out(dir / "zone1970.tab");
        out << "# comment\n"
               "CH,DE,LI\t+4723+00832\tEurope/Zurich\tBusingen\n"
               "FR\t+4852+00220\tEurope/Paris\n";
    }
    const NumberTimezones custom(dir / "zone1970.tab");
    CHECK(custom.zone_for("+4930901820").zone == "Europe/Zurich");
    CHECK(custom.zone_for("+4930901820").reason.empty());

    const NumberTimezones missing(dir / "no-such.tab");
    const auto paris = missing.zone_for("+33142685300");
    CHECK(paris.zone == "Europe/Paris");  // from the prefix table
    CHECK(paris.reason.find("prefix table only") != std::string::npos);
    CHECK(paris.reason.find("no-such.tab") != std::string::npos);
    CHECK(missing.zone_for("+12127365000").zone == "America/New_York");
    const auto toll_free = missing.zone_for("+18005551000");
    CHECK(toll_free.zone.empty());
    CHECK(toll_free.reason.find("not tied to one time zone") != std::string::npos);
    CHECK(toll_free.reason.find("cannot read") != std::string::npos);
}
