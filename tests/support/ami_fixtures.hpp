#pragma once
// The AMI streams recorded from a real Asterisk 22 (tests/fixtures/ami, README there).
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace callpop::test {

inline const std::vector<std::string> ami_fixture_names = {"queue", "direct", "abandon",
                                                           "noanswer", "busy"};

inline std::filesystem::path ami_fixture_dir() {
    // ctest names the source tree (__FILE__ is relative under ccache's base dir).
    const char* source_dir = std::getenv("CALLPOP_SOURCE_DIR");
    REQUIRE_MESSAGE(source_dir != nullptr, "CALLPOP_SOURCE_DIR must name the source tree");
    return std::filesystem::path(source_dir) / "tests" / "fixtures" / "ami";
}

// The exact bytes of one fixture file, e.g. "queue.ami".
inline std::string read_ami_fixture(const std::string& file_name) {
    const auto path = ami_fixture_dir() / file_name;
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot read " << path.string());
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

}  // namespace callpop::test
