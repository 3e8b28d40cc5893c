// libFuzzer target for callpop.yaml (docs/config.md): the YAML loader and its validation,
// fed the bytes as a string (parse_config) and as a file (load_config). A ConfigError that
// points at file:line:column is an expected answer; any other exception is a crash.
// Build and run: tests/fuzz/README.md.
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "fuzz/fuzz_support.hpp"

namespace config = callpop::config;
using callpop::fuzz::require;

namespace {

// "<source>:<line>:<column>: ...", line and column from 1, the line within the text.
void check_error(const std::string& message, const std::string& source, std::string_view text) {
    require(message.starts_with(source + ":"));
    std::string_view rest = std::string_view(message).substr(source.size() + 1);
    const auto number = [&](char end) {
        const auto stop = rest.find(end);
        require(stop != std::string_view::npos && stop > 0);
        std::size_t value = 0;
        for (const char c : rest.substr(0, stop)) {
            require(c >= '0' && c <= '9');
            value = value * 10 + static_cast<std::size_t>(c - '0');
        }
        rest.remove_prefix(stop + 1);
        return value;
    };
    const auto line = number(':');
    const auto column = number(':');
    require(line >= 1 && column >= 1);
    const auto breaks = static_cast<std::size_t>(
        std::count_if(text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; }));
    require(line <= breaks + 1);
    require(rest.starts_with(" ") && rest.size() > 1);
}

void check_window(const config::CallingWindow& window) {
    require(window.start_minute >= 0 && window.start_minute < 24 * 60);
    require(window.end_minute >= 0 && window.end_minute < 24 * 60);
    require(window.start_minute != window.end_minute);
    require(std::find(window.days.begin(), window.days.end(), true) != window.days.end());
}

void check_policy(const config::FollowupPolicy& policy) {
    require(policy.kind == "satisfaction" || policy.kind == "callback" || policy.kind == "none");
    require(policy.delay.count() >= 0 && policy.retry_after.count() >= 0);
    require(policy.survey.scale == "csat" || policy.survey.scale == "nps");
    check_window(policy.window);
}

// What the loader promises of a configuration it accepts (docs/config.md).
void check_config(const config::Config& loaded) {
    require(!loaded.outcomes.empty());
    std::set<std::string> codes;
    for (const auto& outcome : loaded.outcomes) require(codes.insert(outcome.code).second);
    for (const auto& [code, policy] : loaded.followups.by_outcome) {
        require(loaded.has_outcome(code));
        check_policy(policy);
    }
    check_policy(loaded.followups.defaults);
    check_policy(loaded.followups.on_request);
    check_policy(loaded.followups.missed_calls);
    require(loaded.followups.lease.count() > 0);
    require(loaded.site.region.size() == 2);
    require(loaded.storage.backend == "sqlite");
    std::set<std::string> names;
    for (const auto& link : loaded.switches) {
        require(!link.name.empty() && link.name != "native" && names.insert(link.name).second);
        require(link.type == "ami" || link.type == "evapi");
        require(link.reconnect_max >= link.reconnect_min);
        for (const auto& pattern : link.extension_patterns) {
            const auto at = pattern.find("{ext}");
            require(at != std::string::npos && pattern.find("{ext}", at + 1) == std::string::npos);
        }
    }
}

// The outcome of loading, as text: the error message, or "ok".
std::string outcome(const std::function<config::Config()>& load, const std::string& source,
                    std::string_view text) {
    try {
        check_config(load());
        return "ok";
    } catch (const config::ConfigError& error) {
        check_error(error.what(), source, text);
        return error.what();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    static const std::filesystem::path path =
        std::filesystem::temp_directory_path() /
        ("callpop-fuzz-config-" + std::to_string(::getpid()) + ".yaml");
    const std::string text(reinterpret_cast<const char*>(bytes), size);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    const auto from_string =
        outcome([&] { return config::parse_config(text, path.string()); }, path.string(), text);
    const auto from_file = outcome([&] { return config::load_config(path); }, path.string(), text);
    require(from_string == from_file);
    return 0;
}
