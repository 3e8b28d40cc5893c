// Loads callpop.yaml into the plain structs of config.hpp. Every error names the file, the
// line and column of the offending node (yaml-cpp's marks are 0-based, editors count from 1)
// and the dotted key path, so an administrator can go straight to the mistake.
// docs/config.md is the exact list of keys; keep it in step with the readers below.
#include "config/config.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <span>
#include <string_view>
#include <utility>

namespace callpop::config {

namespace {

// The address as IPv6 bytes (IPv4 as ::ffff:a.b.c.d), or nothing.
std::optional<std::array<unsigned char, 16>> address_bytes(const std::string& text) {
    std::array<unsigned char, 16> bytes{};
    std::array<unsigned char, 4> v4{};
    if (inet_pton(AF_INET, text.c_str(), v4.data()) == 1) {
        bytes[10] = 0xff;
        bytes[11] = 0xff;
        std::copy(v4.begin(), v4.end(), bytes.begin() + 12);
        return bytes;
    }
    if (inet_pton(AF_INET6, text.c_str(), bytes.data()) == 1) return bytes;
    return std::nullopt;
}

}  // namespace

AddressRange AddressRange::parse(const std::string& text) {
    const auto slash = text.find('/');
    const std::string address = text.substr(0, slash);
    const auto bytes = address_bytes(address);
    if (!bytes)
        throw std::invalid_argument("\"" + text +
                                    "\" is not an address block (like 10.0.0.0/8 or fd00::/8)");
    const bool v4 = address.find(':') == std::string::npos;
    const unsigned width = v4 ? 32 : 128;
    unsigned bits = width;
    if (slash != std::string::npos) {
        const std::string length = text.substr(slash + 1);
        const auto [end, error] = std::from_chars(length.data(), length.data() + length.size(), bits);
        if (error != std::errc{} || end != length.data() + length.size() || length.empty() ||
            bits > width)
            throw std::invalid_argument("\"" + text + "\": the prefix length must be 0 to " +
                                        std::to_string(width));
    }
    AddressRange range{*bytes, v4 ? bits + 96 : bits};
    return range;
}

bool any_contains(const std::vector<AddressRange>& ranges, const std::string& address) {
    return std::any_of(ranges.begin(), ranges.end(),
                       [&](const AddressRange& range) { return range.contains(address); });
}

std::vector<AddressRange> loopback_ranges() {
    return {AddressRange::parse("127.0.0.0/8"), AddressRange::parse("::1/128")};
}

bool AddressRange::contains(const std::string& address) const {
    const auto bytes = address_bytes(address);
    if (!bytes) return false;
    for (unsigned bit = 0; bit < prefix_bits; ++bit) {
        const unsigned mask = 0x80U >> (bit % 8);
        if (((*bytes)[bit / 8] & mask) != (this->bytes[bit / 8] & mask)) return false;
    }
    return true;
}
namespace {

// --- error reporting ------------------------------------------------------------------------

std::string position(const YAML::Mark& mark) {
    if (mark.is_null()) return "1:1";
    return std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

// "<file>:<line>:<column>: <path>: <message>"; the path is left out only when the problem is
// the document itself (not a mapping, several documents).
[[noreturn]] void throw_at(const std::string& source, const YAML::Mark& mark, std::string_view path,
                           std::string_view message) {
    std::string text = source + ":" + position(mark) + ": ";
    if (!path.empty()) text.append(path).append(": ");
    text.append(message);
    throw ConfigError(text);
}

std::string join_key(const std::string& parent, const std::string& key) {
    return parent.empty() ? key : parent + "." + key;
}

template <typename Items, typename Name>
std::string comma_separated(const Items& items, Name name_of) {
    std::string text;
    for (const auto& item : items) {
        if (!text.empty()) text += ", ";
        text += name_of(item);
    }
    return text;
}

// A YAML node together with what an error about it must say: the file and the key path.
class Value {
  public:
    Value(const YAML::Node& yaml, std::string path, YAML::Mark fallback_mark, const std::string& source,
          std::map<std::string, std::string, std::less<>>* places)
        : yaml_(yaml),
          path_(std::move(path)),
          fallback_mark_(fallback_mark),
          source_(&source),
          places_(places) {
        if (places_ != nullptr && !path_.empty()) (*places_)[path_] = position(mark());
    }

    const YAML::Node& yaml() const { return yaml_; }
    const std::string& path() const { return path_; }

    // yaml-cpp marks an empty value ("port:" with nothing after it) at the next token, often a
    // line further down, so errors about an empty value point at its key (or list) instead.
    YAML::Mark mark() const { return yaml_.IsNull() ? fallback_mark_ : yaml_.Mark(); }

    Value member(const YAML::Node& key, const YAML::Node& content) const {
        return Value(content, join_key(path_, key.Scalar()), key.Mark(), *source_, places_);
    }

    // The key node itself: unknown and repeated keys are reported where the key is written.
    Value member_key(const YAML::Node& key) const {
        const std::string path = key.IsScalar() ? join_key(path_, key.Scalar()) : path_;
        return Value(key, path, key.Mark(), *source_, nullptr);
    }

    Value element(std::size_t index, const YAML::Node& content) const {
        return Value(content, path_ + "[" + std::to_string(index) + "]", mark(), *source_, places_);
    }

    [[noreturn]] void fail(std::string_view message) const {
        throw_at(*source_, mark(), path_, message);
    }

    // For a required key that is absent: names the key, points at this mapping.
    [[noreturn]] void fail_missing(const std::string& key, std::string_view message) const {
        throw_at(*source_, mark(), join_key(path_, key), message);
    }

  private:
    YAML::Node yaml_;
    std::string path_;
    YAML::Mark fallback_mark_;
    const std::string* source_;
    std::map<std::string, std::string, std::less<>>* places_;  // Config::places, being filled
};

// --- mappings and lists ---------------------------------------------------------------------

// Remembers where each key or list value was first given, so a repeat can say where.
class UniqueValues {
  public:
    explicit UniqueValues(std::string what) : what_(std::move(what)) {}

    void add(const std::string& text, const Value& value) {
        const auto first = std::find_if(first_lines_.begin(), first_lines_.end(),
                                        [&](const auto& seen) { return seen.first == text; });
        if (first != first_lines_.end()) {
            value.fail("duplicate " + what_ + " \"" + text + "\" (first given at line " +
                       std::to_string(first->second) + ")");
        }
        first_lines_.emplace_back(text, value.mark().line + 1);
    }

  private:
    std::string what_;
    std::vector<std::pair<std::string, int>> first_lines_;  // value, 1-based line
};

struct Member {
    std::string_view key;
    std::function<void(const Value&)> read;
};

// Reads a mapping whose keys must all be known; each known key present is handed to its
// reader, absent keys keep their defaults. Unknown keys are refused so a typo ("hearbeat_s")
// is not silently ignored, and repeated keys because yaml-cpp would quietly use one of them.
// `unknown` names what a key outside `members` is ("unknown outcome code" where the keys
// are codes).
void read_mapping(const Value& value, std::span<const Member> members,
                  std::string_view unknown = "unknown key") {
    if (!value.yaml().IsMap()) value.fail("expected a mapping");
    UniqueValues keys("key");
    for (const auto& entry : value.yaml()) {
        const Value key = value.member_key(entry.first);
        const auto known = std::find_if(members.begin(), members.end(), [&](const Member& m) {
            return entry.first.IsScalar() && m.key == entry.first.Scalar();
        });
        if (known == members.end()) {
            const auto key_of = [](const Member& m) { return m.key; };
            key.fail(std::string(unknown) +
                     " (expected one of: " + comma_separated(members, key_of) + ")");
        }
        keys.add(entry.first.Scalar(), key);
        known->read(value.member(entry.first, entry.second));
    }
}

// A section written with nothing under it ("log:" with every key commented out) keeps all
// its defaults, as if it were absent.
void read_section(const Value& value, std::span<const Member> members,
                  std::string_view unknown = "unknown key") {
    if (value.yaml().IsNull()) return;
    read_mapping(value, members, unknown);
}

void read_list(const Value& value, const std::function<void(const Value&)>& read_element) {
    if (!value.yaml().IsSequence()) value.fail("expected a list");
    std::size_t index = 0;
    for (const auto& element : value.yaml()) read_element(value.element(index++, element));
}

// --- scalars --------------------------------------------------------------------------------

std::string read_string(const Value& value) {
    if (!value.yaml().IsScalar()) value.fail("expected a string");
    return value.yaml().Scalar();
}

std::string read_nonempty_string(const Value& value) {
    std::string text = read_string(value);
    if (text.empty()) value.fail("must not be empty");
    return text;
}

bool read_bool(const Value& value) {
    const std::string text = value.yaml().IsScalar() ? value.yaml().Scalar() : std::string();
    if (text == "true") return true;
    if (text == "false") return false;
    value.fail("expected true or false");
}

// A file the daemon will read at start: refused here when it cannot be read, so that
// check-config finds the mistake rather than a failed start.
std::filesystem::path read_readable_file(const Value& value) {
    std::filesystem::path path = read_nonempty_string(value);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) value.fail(path.string() + ": " + std::strerror(errno));
    ::close(fd);
    return path;
}

// Non-empty and made only of allowed characters.
bool consists_of(std::string_view text, bool (*allowed)(char)) {
    return !text.empty() && std::all_of(text.begin(), text.end(), allowed);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Large enough for every count in the file; a bigger number is a typo, not a setting.
constexpr std::uint64_t largest_count = std::numeric_limits<std::uint32_t>::max();

// The value of a run of decimal digits, or nothing if the text is not one ("-5", "1e3" and
// "0x1C" are not what anyone means here). Numbers too big for 64 bits come back as the
// largest 64-bit number, which every caller refuses.
std::optional<std::uint64_t> parse_digits(std::string_view text) {
    if (!consists_of(text, is_digit)) return std::nullopt;
    std::uint64_t number = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (error == std::errc::result_out_of_range) return std::numeric_limits<std::uint64_t>::max();
    return number;
}

// The value of an unquoted decimal integer, or nothing if the value is not one. Quoted "7700"
// is a string in YAML.
std::optional<std::uint64_t> parse_unsigned(const Value& value) {
    const YAML::Node& node = value.yaml();
    if (!node.IsScalar() || node.Tag() != "?") return std::nullopt;
    return parse_digits(node.Scalar());
}

std::string too_large() { return "too large (at most " + std::to_string(largest_count) + ")"; }

std::uint32_t read_positive(const Value& value) {
    const std::optional<std::uint64_t> number = parse_unsigned(value);
    if (!number || *number == 0) value.fail("expected a positive integer");
    if (*number > largest_count) value.fail(too_large());
    return static_cast<std::uint32_t>(*number);
}

// For settings where 0 has a meaning (no history shown, no waiting for a batch).
std::uint32_t read_zero_or_more(const Value& value) {
    const std::optional<std::uint64_t> number = parse_unsigned(value);
    if (!number || *number > largest_count) {
        value.fail("expected an integer from 0 to " + std::to_string(largest_count));
    }
    return static_cast<std::uint32_t>(*number);
}

// 0 lets the system pick a free port, which tests use.
std::uint16_t read_port(const Value& value) {
    const std::optional<std::uint64_t> number = parse_unsigned(value);
    if (!number || *number > std::numeric_limits<std::uint16_t>::max()) {
        value.fail("expected an integer from 0 to 65535");
    }
    return static_cast<std::uint16_t>(*number);
}

std::string read_one_of(const Value& value, std::initializer_list<std::string_view> choices) {
    std::string text = read_string(value);
    if (std::find(choices.begin(), choices.end(), text) == choices.end()) {
        const auto itself = [](std::string_view choice) { return choice; };
        value.fail("expected one of: " + comma_separated(choices, itself));
    }
    return text;
}

std::vector<std::string> read_string_list(const Value& value,
                                          std::string (*read_element)(const Value&)) {
    std::vector<std::string> texts;
    read_list(value, [&](const Value& element) { texts.push_back(read_element(element)); });
    return texts;
}

// --- site -----------------------------------------------------------------------------------

std::string read_region(const Value& value) {
    std::string region = read_string(value);
    if (region.size() != 2 || !consists_of(region, [](char c) { return c >= 'A' && c <= 'Z'; })) {
        value.fail("expected two uppercase letters (an ISO 3166 country code, like US)");
    }
    return region;
}

std::string read_international_prefix(const Value& value) {
    std::string prefix = read_string(value);
    if (!consists_of(prefix, is_digit)) {
        value.fail("expected digits only (like 00 or 011)");
    }
    return prefix;
}

void read_site(const Value& value, Site& site) {
    const Member members[] = {
        {"name", [&](const Value& v) { site.name = read_nonempty_string(v); }},
        {"region", [&](const Value& v) { site.region = read_region(v); }},
        {"international_prefixes",
         [&](const Value& v) {
             site.international_prefixes = read_string_list(v, read_international_prefix);
         }},
        {"timezone", [&](const Value& v) { site.timezone = read_nonempty_string(v); }},
    };
    read_section(value, members);
}

// --- listen ---------------------------------------------------------------------------------

// Asio binds to an address literal, so a host name is refused here rather than at start.
std::string read_ip_address(const Value& value) {
    std::string address = read_string(value);
    std::array<unsigned char, sizeof(in6_addr)> parsed{};
    if (inet_pton(AF_INET, address.c_str(), parsed.data()) != 1 &&
        inet_pton(AF_INET6, address.c_str(), parsed.data()) != 1) {
        value.fail("expected an IPv4 or IPv6 address (like 127.0.0.1, 0.0.0.0 or ::1)");
    }
    return address;
}

AddressRange read_address_range(const Value& value) {
    try {
        return AddressRange::parse(read_string(value));
    } catch (const std::invalid_argument& error) {
        value.fail(error.what());
    }
}

std::vector<AddressRange> read_address_ranges(const Value& value) {
    std::vector<AddressRange> ranges;
    read_list(value, [&](const Value& element) { ranges.push_back(read_address_range(element)); });
    return ranges;
}

void read_switch_listener(const Value& value, Listen& listen) {
    const Member members[] = {
        {"address", [&](const Value& v) { listen.switch_port.address = read_ip_address(v); }},
        {"port", [&](const Value& v) { listen.switch_port.port = read_port(v); }},
        {"allow",
         [&](const Value& v) {
             listen.switch_allow = read_address_ranges(v);
         }},
        {"secret", [&](const Value& v) { listen.switch_secret = read_nonempty_string(v); }},
    };
    read_section(value, members);
}

TlsIdentity read_tls_identity(const Value& value) {
    TlsIdentity identity;
    const Member members[] = {
        {"certificate", [&](const Value& v) { identity.certificate = read_readable_file(v); }},
        {"key", [&](const Value& v) { identity.key = read_readable_file(v); }},
    };
    read_section(value, members);
    if (identity.certificate.empty())
        value.fail_missing("certificate", "missing (the PEM file of the certificate chain)");
    if (identity.key.empty()) value.fail_missing("key", "missing (the PEM file of its private key)");
    return identity;
}

// false: loopback only; true: everywhere; or a list of address blocks.
std::vector<AddressRange> read_plain_allow(const Value& value) {
    if (value.yaml().IsSequence()) return read_address_ranges(value);
    if (!value.yaml().IsScalar() || (value.yaml().Scalar() != "true" && value.yaml().Scalar() != "false"))
        value.fail("expected true, false or a list of address blocks");
    if (read_bool(value)) return {AddressRange::parse("::/0")};
    return loopback_ranges();
}

// The agent port and the web port: TLS, and plain connections only from allow_plain.
void read_secured_listener(const Value& value, Endpoint& endpoint, std::optional<TlsIdentity>& tls,
                           std::vector<AddressRange>& plain_allow, std::string_view clients) {
    bool plain_only_from_loopback = true;
    const Member members[] = {
        {"address", [&](const Value& v) { endpoint.address = read_ip_address(v); }},
        {"port", [&](const Value& v) { endpoint.port = read_port(v); }},
        {"tls", [&](const Value& v) { tls = read_tls_identity(v); }},
        {"allow_plain",
         [&](const Value& v) {
             plain_allow = read_plain_allow(v);
             plain_only_from_loopback = v.yaml().IsScalar() && v.yaml().Scalar() == "false";
         }},
    };
    read_section(value, members);
    // A listener that would refuse everyone it was opened for is a mistake, not a policy.
    if (!tls && plain_only_from_loopback && !any_contains(loopback_ranges(), endpoint.address))
        value.fail("listens on " + endpoint.address + " without tls, so " + std::string(clients) +
                   " on other hosts would be refused: give tls (certificate, key) or allow_plain");
}

void read_listen(const Value& value, Listen& listen) {
    const Member members[] = {
        {"switch", [&](const Value& v) { read_switch_listener(v, listen); }},
        {"agent",
         [&](const Value& v) {
             read_secured_listener(v, listen.agent_port, listen.agent_tls, listen.agent_plain_allow,
                                   "agents");
         }},
        {"http",
         [&](const Value& v) {
             WebListener web;
             read_secured_listener(v, web.endpoint, web.tls, web.plain_allow, "browsers");
             listen.http = std::move(web);
         }},
    };
    read_section(value, members);
}

// --- storage, call log, calls, sessions, pop, log -------------------------------------------

std::string read_backend(const Value& value) {
    std::string backend = read_string(value);
    if (backend != "sqlite" && backend != "postgresql")
        value.fail("expected one of: sqlite, postgresql");
    return backend;
}

void read_storage(const Value& value, Storage& storage) {
    const Member members[] = {
        {"backend", [&](const Value& v) { storage.backend = read_backend(v); }},
        {"path", [&](const Value& v) { storage.path = read_nonempty_string(v); }},
        {"conninfo", [&](const Value& v) { storage.conninfo = read_nonempty_string(v); }},
        {"daemon_name",
         [&](const Value& v) {
             storage.daemon_name = read_nonempty_string(v);
             // The name goes on the bus as a line of its own, and into logs and status.
             if (std::any_of(storage.daemon_name.begin(), storage.daemon_name.end(),
                             [](unsigned char c) { return c < 0x20 || c == 0x7f; }))
                 v.fail("must be one line without control characters");
         }},
    };
    read_section(value, members);
    if (storage.backend == "postgresql" && storage.conninfo.empty())
        value.fail_missing("conninfo",
                           "missing: the postgresql backend needs a libpq connection string");
}

void read_call_log(const Value& value, CallLog& call_log) {
    const Member members[] = {
        // Empty is allowed: it turns the JSONL file off.
        {"jsonl", [&](const Value& v) { call_log.jsonl_path = read_string(v); }},
        {"batch_max", [&](const Value& v) { call_log.batch_max = read_positive(v); }},
        {"flush_ms", [&](const Value& v) { call_log.flush_ms = read_zero_or_more(v); }},
        {"tail_memory", [&](const Value& v) { call_log.tail_memory = read_zero_or_more(v); }},
        {"queue_max", [&](const Value& v) { call_log.queue_max = read_positive(v); }},
    };
    read_section(value, members);
}

void read_calls(const Value& value, Calls& calls) {
    const Member members[] = {
        {"max_duration_s", [&](const Value& v) { calls.max_duration_s = read_positive(v); }},
        {"ended_keep_s", [&](const Value& v) { calls.ended_keep_s = read_positive(v); }},
        {"ended_max", [&](const Value& v) { calls.ended_max = read_positive(v); }},
        {"resync_s", [&](const Value& v) { calls.resync_s = read_zero_or_more(v); }},
    };
    read_section(value, members);
}

// A client's queue must hold at least a pop, its withdraw and a few replies, or every
// agent would be dropped as a slow consumer at the first burst.
constexpr std::uint32_t smallest_queue_max = 8;

std::uint32_t read_queue_max(const Value& value) {
    const std::uint32_t queue_max = read_positive(value);
    if (queue_max < smallest_queue_max) {
        value.fail("must be at least " + std::to_string(smallest_queue_max));
    }
    return queue_max;
}

// Resume tickets are bearer credentials, renewed at every login: a month at most.
std::uint32_t read_ticket_ttl(const Value& value) {
    constexpr std::uint32_t longest = 30 * 86400;
    const std::uint32_t ttl = read_zero_or_more(value);
    if (ttl > longest) value.fail("at most " + std::to_string(longest) + " (30 days)");
    return ttl;
}

void read_sessions(const Value& value, Sessions& sessions) {
    const Member members[] = {
        {"login_timeout_s", [&](const Value& v) { sessions.login_timeout_s = read_positive(v); }},
        {"heartbeat_s", [&](const Value& v) { sessions.heartbeat_s = read_positive(v); }},
        {"queue_max", [&](const Value& v) { sessions.queue_max = read_queue_max(v); }},
        {"ticket_ttl_s", [&](const Value& v) { sessions.ticket_ttl_s = read_ticket_ttl(v); }},
        {"logins_at_once", [&](const Value& v) { sessions.logins_at_once = read_positive(v); }},
        {"login_failures_max",
         [&](const Value& v) { sessions.login_failures_max = read_positive(v); }},
        {"login_failures_window_s",
         [&](const Value& v) { sessions.login_failures_window_s = read_positive(v); }},
    };
    read_section(value, members);
}

void read_pop(const Value& value, Pop& pop) {
    const Member members[] = {
        {"history", [&](const Value& v) { pop.history = read_zero_or_more(v); }},
        {"candidates", [&](const Value& v) { pop.candidates = read_positive(v); }},
        {"asset_keys",
         [&](const Value& v) { pop.asset_keys = read_string_list(v, read_nonempty_string); }},
        {"account_keys",
         [&](const Value& v) { pop.account_keys = read_string_list(v, read_nonempty_string); }},
    };
    read_section(value, members);
}

void read_log(const Value& value, Log& log) {
    const Member members[] = {
        {"level",
         [&](const Value& v) {
             log.level =
                 read_one_of(v, {"trace", "debug", "info", "warn", "error", "critical", "off"});
         }},
    };
    read_section(value, members);
}

// --- lines and outcomes ---------------------------------------------------------------------

Line read_line(const Value& element, UniqueValues& numbers) {
    Line line;
    bool has_number = false;
    const Member members[] = {
        {"number",
         [&](const Value& v) {
             line.number = read_nonempty_string(v);
             numbers.add(line.number, v);
             has_number = true;
         }},
        {"name", [&](const Value& v) { line.name = read_string(v); }},
    };
    read_mapping(element, members);
    if (!has_number) element.fail_missing("number", "missing (the number callers dial)");
    return line;
}

std::vector<Line> read_lines(const Value& value) {
    std::vector<Line> lines;
    UniqueValues numbers("line number");
    read_list(value, [&](const Value& element) { lines.push_back(read_line(element, numbers)); });
    return lines;
}

// Codes are stored with every call and sent by agents, so they are kept to one plain
// spelling: lowercase letters, digits and underscores.
std::string read_outcome_code(const Value& value) {
    std::string code = read_string(value);
    const auto allowed = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    };
    if (!consists_of(code, allowed)) {
        value.fail("expected lowercase letters, digits and _ only (like repair_booked)");
    }
    return code;
}

OutcomeCode read_outcome(const Value& element, UniqueValues& codes) {
    OutcomeCode outcome;
    bool has_code = false;
    const Member members[] = {
        {"code",
         [&](const Value& v) {
             outcome.code = read_outcome_code(v);
             codes.add(outcome.code, v);
             has_code = true;
         }},
        {"label", [&](const Value& v) { outcome.label = read_string(v); }},
    };
    read_mapping(element, members);
    if (!has_code) element.fail_missing("code", "missing (what agents send and the log stores)");
    return outcome;
}

constexpr std::string_view outcomes_required = "(at least one outcome code is required)";

std::vector<OutcomeCode> read_outcomes(const Value& value) {
    std::vector<OutcomeCode> outcomes;
    UniqueValues codes("outcome code");
    read_list(value,
              [&](const Value& element) { outcomes.push_back(read_outcome(element, codes)); });
    if (outcomes.empty()) value.fail("must not be empty " + std::string(outcomes_required));
    return outcomes;
}

// --- followups ------------------------------------------------------------------------------

constexpr std::string_view duration_expected = "expected a duration such as 30s, 15m, 2h or 7d";

// "90s", "15m", "2h", "7d", or a bare "0"; nothing when the value is not written like that.
std::optional<std::chrono::seconds> parse_duration(const Value& value) {
    if (!value.yaml().IsScalar()) return std::nullopt;
    const std::string_view text = value.yaml().Scalar();
    if (text == "0") return std::chrono::seconds{0};
    if (text.empty()) return std::nullopt;
    constexpr std::pair<char, std::int64_t> units[] = {
        {'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
    const auto unit = std::find_if(std::begin(units), std::end(units),
                                   [&](const auto& u) { return u.first == text.back(); });
    const std::optional<std::uint64_t> number = parse_digits(text.substr(0, text.size() - 1));
    if (unit == std::end(units) || !number) return std::nullopt;
    if (*number > largest_count) value.fail(too_large());
    return std::chrono::seconds{static_cast<std::int64_t>(*number) * unit->second};
}

std::chrono::seconds read_duration(const Value& value) {
    const std::optional<std::chrono::seconds> duration = parse_duration(value);
    if (!duration) value.fail(duration_expected);
    return *duration;
}

// "08:00" as minutes after midnight; 00:00 to 23:59, so 24:00 is refused.
int read_time_of_day(const Value& value) {
    const std::string_view text =
        value.yaml().IsScalar() ? std::string_view(value.yaml().Scalar()) : std::string_view();
    const std::optional<std::uint64_t> hours = parse_digits(text.substr(0, 2));
    const std::optional<std::uint64_t> minutes =
        text.size() == 5 ? parse_digits(text.substr(3, 2)) : std::nullopt;
    if (text.size() != 5 || text[2] != ':' || !hours || !minutes || *hours > 23 || *minutes > 59) {
        value.fail("expected a time of day HH:MM");
    }
    return static_cast<int>(*hours * 60 + *minutes);
}

// Monday first, as CallingWindow::days.
const std::initializer_list<std::string_view> day_names = {"mon", "tue", "wed", "thu",
                                                           "fri", "sat", "sun"};

std::array<bool, 7> read_days(const Value& value) {
    std::array<bool, 7> days{};
    UniqueValues seen("day");
    bool any = false;
    read_list(value, [&](const Value& element) {
        const std::string day = read_one_of(element, day_names);
        seen.add(day, element);
        const auto index = std::find(day_names.begin(), day_names.end(), day) - day_names.begin();
        days[static_cast<std::size_t>(index)] = true;
        any = true;
    });
    if (!any) value.fail("must not be empty (at least one day is required)");
    return days;
}

// Keys not given keep what `window` holds already: a policy's partial window overrides the
// defaults' one key by key.
void read_window(const Value& value, CallingWindow& window) {
    const Member members[] = {
        {"from", [&](const Value& v) { window.start_minute = read_time_of_day(v); }},
        {"to", [&](const Value& v) { window.end_minute = read_time_of_day(v); }},
        {"days", [&](const Value& v) { window.days = read_days(v); }},
    };
    read_section(value, members);
    // Checked on the result, so that a "from" given alone may meet the defaults' "to".
    if (window.start_minute == window.end_minute) {
        value.fail("the window is empty: from and to are the same");
    }
}

// Like the window, key by key over what `survey` holds.
void read_survey(const Value& value, Survey& survey) {
    const Member members[] = {
        {"scale",
         [&](const Value& v) {
             survey.scale = read_one_of(v, {"csat", "nps"});
         }},
        {"question", [&](const Value& v) { survey.question = read_nonempty_string(v); }},
        {"comment_question",
         [&](const Value& v) { survey.comment_question = read_nonempty_string(v); }},
    };
    read_section(value, members);
}

// More attempts than this is a typo, and would keep calling someone who does not answer.
constexpr std::uint32_t most_attempts = 20;

std::uint32_t read_attempts(const Value& value) {
    const std::uint32_t attempts = read_positive(value);
    if (attempts > most_attempts) value.fail("must be at most " + std::to_string(most_attempts));
    return attempts;
}

// The keys followups.defaults and every policy share.
std::vector<Member> shared_policy_members(FollowupPolicy& policy) {
    return {
        {"window", [&](const Value& v) { read_window(v, policy.window); }},
        {"attempts", [&](const Value& v) { policy.attempts = read_attempts(v); }},
        {"retry_after", [&](const Value& v) { policy.retry_after = read_duration(v); }},
        {"survey", [&](const Value& v) { read_survey(v, policy.survey); }},
    };
}

void read_policy_defaults(const Value& value, FollowupPolicy& defaults) {
    read_section(value, shared_policy_members(defaults));
}

void read_delay(const Value& value, FollowupPolicy& policy) {
    policy.next_morning = value.yaml().IsScalar() && value.yaml().Scalar() == "next_morning";
    if (policy.next_morning) {
        policy.delay = std::chrono::seconds{0};
        return;
    }
    const std::optional<std::chrono::seconds> delay = parse_duration(value);
    if (!delay) value.fail(std::string(duration_expected) + ", or next_morning");
    policy.delay = *delay;
}

const std::initializer_list<std::string_view> followup_kinds = {"satisfaction", "callback", "none"};
// A missed call is called back or not; nobody is asked how a call they never had went.
const std::initializer_list<std::string_view> missed_call_kinds = {"callback", "none"};

// A copy of the defaults with the keys given replaced; `kind` is required.
FollowupPolicy read_policy(const Value& value, const FollowupPolicy& defaults,
                           std::initializer_list<std::string_view> kinds) {
    FollowupPolicy policy = defaults;
    bool has_kind = false;
    std::vector<Member> members = {
        {"kind",
         [&](const Value& v) {
             policy.kind = read_one_of(v, kinds);
             has_kind = true;
         }},
        {"delay", [&](const Value& v) { read_delay(v, policy); }},
    };
    for (Member& member : shared_policy_members(policy)) members.push_back(std::move(member));
    read_mapping(value, members);
    if (!has_kind) {
        const auto itself = [](std::string_view kind) { return kind; };
        value.fail_missing("kind",
                           "missing (expected one of: " + comma_separated(kinds, itself) + ")");
    }
    return policy;
}

// Keyed by outcome code; only the codes of the top-level `outcomes` are accepted.
std::map<std::string, FollowupPolicy> read_outcome_policies(
    const Value& value, const std::vector<OutcomeCode>& outcomes, const FollowupPolicy& defaults) {
    std::map<std::string, FollowupPolicy> policies;
    std::vector<Member> members;
    members.reserve(outcomes.size());
    for (const OutcomeCode& outcome : outcomes) {
        members.push_back({outcome.code, [&](const Value& v) {
                               policies[outcome.code] = read_policy(v, defaults, followup_kinds);
                           }});
    }
    read_section(value, members, "unknown outcome code");
    return policies;
}

// A policy the file leaves out: its built-in kind and delay over the file's defaults.
FollowupPolicy built_in_policy(const FollowupPolicy& defaults, const FollowupPolicy& built_in) {
    FollowupPolicy policy = defaults;
    policy.kind = built_in.kind;
    policy.delay = built_in.delay;
    policy.next_morning = built_in.next_morning;
    return policy;
}

std::chrono::seconds read_lease(const Value& value) {
    const std::chrono::seconds lease = read_duration(value);
    if (lease.count() == 0) {
        value.fail("must be longer than 0s (an offer would be withdrawn at once)");
    }
    return lease;
}

// Read once the whole file has been: outcome codes are checked against `outcomes`, and every
// policy starts from followups.defaults, wherever these are written.
void read_followups(const Value& value, const std::vector<OutcomeCode>& outcomes,
                    Followups& followups) {
    std::optional<Value> by_outcome;
    std::optional<Value> on_request;
    std::optional<Value> missed_calls;
    const Member members[] = {
        {"survey_period", [&](const Value& v) { followups.survey_period = read_duration(v); }},
        {"lease", [&](const Value& v) { followups.lease = read_lease(v); }},
        {"overdue_after", [&](const Value& v) { followups.overdue_after = read_duration(v); }},
        {"defaults", [&](const Value& v) { read_policy_defaults(v, followups.defaults); }},
        {"outcomes", [&](const Value& v) { by_outcome.emplace(v); }},
        {"on_request", [&](const Value& v) { on_request.emplace(v); }},
        {"missed_calls", [&](const Value& v) { missed_calls.emplace(v); }},
    };
    read_section(value, members);

    const FollowupPolicy& defaults = followups.defaults;
    const Followups built_in;
    if (by_outcome) followups.by_outcome = read_outcome_policies(*by_outcome, outcomes, defaults);
    followups.on_request = on_request ? read_policy(*on_request, defaults, followup_kinds)
                                      : built_in_policy(defaults, built_in.on_request);
    followups.missed_calls = missed_calls ? read_policy(*missed_calls, defaults, missed_call_kinds)
                                          : built_in_policy(defaults, built_in.missed_calls);
}

// --- the document ---------------------------------------------------------------------------

// --- switches -------------------------------------------------------------------------------

// Names go into the call log and command lines, so they keep to one plain spelling.
std::string read_switch_name(const Value& value) {
    std::string name = read_nonempty_string(value);
    const auto allowed = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    };
    if (!consists_of(name, allowed)) {
        value.fail("expected lowercase letters, digits, _ and - only (like pbx1)");
    }
    if (name == "native") {
        value.fail("\"native\" is the name of the switch port's connections; pick another");
    }
    return name;
}

std::string read_extension_pattern(const Value& value) {
    std::string pattern = read_nonempty_string(value);
    const auto at = pattern.find("{ext}");
    if (at == std::string::npos || pattern.find("{ext}", at + 1) != std::string::npos) {
        value.fail("expected {ext} exactly once (like PJSIP/{ext} or Local/{ext}@from-queue)");
    }
    return pattern;
}

std::chrono::seconds read_positive_duration(const Value& value) {
    const std::chrono::seconds duration = read_duration(value);
    if (duration.count() == 0) value.fail("must be more than 0");
    return duration;
}

SwitchLink read_switch(const Value& element, UniqueValues& names) {
    SwitchLink link;
    bool has_name = false;
    const Member members[] = {
        {"name",
         [&](const Value& v) {
             link.name = read_switch_name(v);
             names.add(link.name, v);
             has_name = true;
         }},
        {"type", [&](const Value& v) { link.type = read_one_of(v, {"ami", "evapi"}); }},
        {"host", [&](const Value& v) { link.host = read_nonempty_string(v); }},
        {"port", [&](const Value& v) { link.port = read_port(v); }},
        {"username", [&](const Value& v) { link.username = read_nonempty_string(v); }},
        {"secret", [&](const Value& v) { link.secret = read_nonempty_string(v); }},
        {"tls", [&](const Value& v) { link.tls = read_bool(v); }},
        {"ca", [&](const Value& v) { link.ca = read_readable_file(v); }},
        {"extension_patterns",
         [&](const Value& v) {
             link.extension_patterns = read_string_list(v, read_extension_pattern);
         }},
        {"inbound_contexts",
         [&](const Value& v) { link.inbound_contexts = read_string_list(v, read_nonempty_string); }},
        {"ping_interval", [&](const Value& v) { link.ping_interval = read_positive_duration(v); }},
        {"reconnect_min", [&](const Value& v) { link.reconnect_min = read_positive_duration(v); }},
        {"reconnect_max", [&](const Value& v) { link.reconnect_max = read_positive_duration(v); }},
    };
    read_mapping(element, members);
    if (!has_name) element.fail_missing("name", "missing (it names the switch in the call log)");
    if (link.type.empty()) element.fail_missing("type", "missing (expected one of: ami, evapi)");
    if (link.host.empty()) element.fail_missing("host", "missing (the switch's address)");
    if (link.type == "ami") {
        if (link.username.empty()) element.fail_missing("username", "missing (the AMI user)");
        if (link.secret.empty()) element.fail_missing("secret", "missing (the AMI user's secret)");
    } else if (!link.username.empty() || !link.secret.empty()) {
        element.fail("username and secret are for type ami only (evapi has no login)");
    }
    if (link.type != "ami" && link.tls)
        element.fail("tls is for type ami only (Kamailio's evapi speaks plain TCP)");
    if (!link.tls && !link.ca.empty()) element.fail("ca is for links with tls: true");
    // Asterisk's usual ports: bindport 5038, tlsbindport 5039.
    if (link.port == 0) link.port = link.type == "ami" ? (link.tls ? 5039 : 5038) : 8448;
    if (link.reconnect_max < link.reconnect_min) {
        element.fail("reconnect_max must not be less than reconnect_min");
    }
    return link;
}

std::vector<SwitchLink> read_switches(const Value& value) {
    std::vector<SwitchLink> links;
    UniqueValues names("switch name");
    read_list(value, [&](const Value& element) { links.push_back(read_switch(element, names)); });
    return links;
}

Config read_config(const Value& root) {
    Config config;
    bool has_outcomes = false;
    std::optional<Value> followups;  // read last: it refers to `outcomes`
    // A file with nothing in it reaches the "outcomes: missing" error below.
    const Member members[] = {
        {"site", [&](const Value& v) { read_site(v, config.site); }},
        {"listen", [&](const Value& v) { read_listen(v, config.listen); }},
        {"storage", [&](const Value& v) { read_storage(v, config.storage); }},
        {"call_log", [&](const Value& v) { read_call_log(v, config.call_log); }},
        {"calls", [&](const Value& v) { read_calls(v, config.calls); }},
        {"sessions", [&](const Value& v) { read_sessions(v, config.sessions); }},
        {"pop", [&](const Value& v) { read_pop(v, config.pop); }},
        {"lines", [&](const Value& v) { config.lines = read_lines(v); }},
        {"outcomes",
         [&](const Value& v) {
             config.outcomes = read_outcomes(v);
             has_outcomes = true;
         }},
        {"followups", [&](const Value& v) { followups.emplace(v); }},
        {"switches", [&](const Value& v) { config.switches = read_switches(v); }},
        {"log", [&](const Value& v) { read_log(v, config.log); }},
    };
    read_section(root, members);
    if (!has_outcomes) root.fail_missing("outcomes", "missing " + std::string(outcomes_required));
    if (followups) read_followups(*followups, config.outcomes, config.followups);
    if (config.storage.daemon_name.empty()) config.storage.daemon_name = host_name();
    return config;
}

// Where the root node of each document starts. yaml-cpp's parser is driven by hand here, a
// few documents at most, because its LoadAll() never returns on a token the parser leaves
// unconsumed ("," or "!," at the top, yaml-cpp issue 1040, still in Debian 12's 0.7): each
// call then yields one more empty document at the same place, and LoadAll() keeps them all.
class DocumentRoots final : public YAML::EventHandler {
  public:
    const std::vector<YAML::Mark>& marks() const { return marks_; }

    void OnDocumentStart(const YAML::Mark&) override { at_root_ = true; }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
    void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  const std::string&) override {
        node(mark);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {
        node(mark);
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {
        node(mark);
    }
    void OnMapEnd() override {}

  private:
    void node(const YAML::Mark& mark) {
        if (at_root_) marks_.push_back(mark);
        at_root_ = false;
    }

    std::vector<YAML::Mark> marks_;
    bool at_root_ = false;
};

// The one document of the file, or a null node when the file holds none (empty, comments).
// A flow collection ("{" or "[") that opens before `end` and is never closed in the whole
// file, if any: yaml-cpp reports a missing "}" where it gave up, often lines later, so the
// error points at the opening instead. A scan, not a parser: quoted text and comments are
// passed over, which is enough for the flow collections of a config file.
std::optional<YAML::Mark> unclosed_flow_collection(std::string_view text, std::size_t end) {
    struct Open {
        char closer;
        YAML::Mark mark;
    };
    std::vector<Open> open;
    std::optional<YAML::Mark> never_closed;  // the latest before `end`
    YAML::Mark at;
    char quote = 0;
    bool comment = false;
    char previous = '\n';
    const auto advance = [&](char c) {
        at.pos += 1;
        if (c == '\n') {
            ++at.line;
            at.column = 0;
        } else {
            ++at.column;
        }
    };
    for (std::size_t index = 0; index < text.size(); ++index) {
        const char c = text[index];
        const bool after_space = previous == '\n' || previous == ' ' || previous == '\t';
        if (comment) {
            comment = c != '\n';
        } else if (quote != 0) {
            if (c == '\\' && quote == '"' && index + 1 < text.size()) {
                advance(c);
                previous = c;
                ++index;
                advance(text[index]);
                continue;
            }
            if (c == quote) quote = 0;
        } else if (c == '#' && after_space) {
            comment = true;
        } else if ((c == '"' || c == '\'') && (after_space || (previous != 0 && std::strchr("[{,:", previous) != nullptr))) {
            quote = c;
        } else if (c == '{' || c == '[') {
            open.push_back({c == '{' ? '}' : ']', at});
        } else if (!open.empty() && c == open.back().closer) {
            open.pop_back();
        }
        previous = c;
        advance(c);
    }
    // What is still open at the end of the file never closed; blame the last one that
    // opened before the parser gave up.
    for (const auto& opened : open) {
        if (static_cast<std::size_t>(opened.mark.pos) < end) never_closed = opened.mark;
    }
    return never_closed;
}

YAML::Node parse_document(const std::string& yaml_text, const std::string& source_name) {
    try {
        std::istringstream input(yaml_text);
        YAML::Parser parser(input);
        DocumentRoots roots;
        // Two documents are one too many; a third shows whether the parser is stuck.
        for (int document = 0; document < 3 && parser.HandleNextDocument(roots); ++document) {
        }
        const auto& marks = roots.marks();
        for (std::size_t index = 1; index < marks.size(); ++index) {
            if (marks[index].pos == marks[index - 1].pos)
                throw_at(source_name, marks[index], {}, "YAML syntax error: unexpected character");
        }
        // yaml-cpp's Load() would silently drop everything after a second "---".
        if (marks.size() > 1) {
            throw_at(source_name, marks[1], {},
                     "expected a single YAML document (found a second one)");
        }
        return YAML::Load(yaml_text);
    } catch (const YAML::ParserException& error) {
        const auto opening =
            unclosed_flow_collection(yaml_text, static_cast<std::size_t>(std::max(0, error.mark.pos)));
        if (opening && opening->line != error.mark.line) {
            const char bracket = yaml_text[static_cast<std::size_t>(opening->pos)];
            throw_at(source_name, *opening, {},
                     std::string("YAML syntax error: this ") + bracket +
                         " is not closed (the parser gave up at " + position(error.mark) + ": " +
                         error.msg + ")");
        }
        throw_at(source_name, error.mark, {}, "YAML syntax error: " + error.msg);
    }
}

// The whole file, or ConfigError naming the system's reason.
std::string read_file(const std::filesystem::path& path) {
    const auto cannot_read = [&](int error) {
        return ConfigError(path.string() + ": cannot read: " + std::strerror(error));
    };
    const int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (descriptor < 0) throw cannot_read(errno);
    std::string text;
    std::array<char, 65536> buffer;
    for (;;) {
        const ssize_t count = ::read(descriptor, buffer.data(), buffer.size());
        if (count == 0) break;
        if (count < 0) {
            if (errno == EINTR) continue;
            const int error = errno;  // a directory fails here, with EISDIR
            ::close(descriptor);
            throw cannot_read(error);
        }
        text.append(buffer.data(), static_cast<std::size_t>(count));
    }
    ::close(descriptor);
    return text;
}

}  // namespace

void Config::fail(std::string_view path, std::string_view message) const {
    const auto place = places.find(path);
    std::string text = source.string();
    if (place != places.end()) text.append(":").append(place->second);
    text.append(": ").append(path).append(": ").append(message);
    throw ConfigError(text);
}

bool Config::has_outcome(const std::string& code) const {
    return std::any_of(outcomes.begin(), outcomes.end(),
                       [&](const OutcomeCode& outcome) { return outcome.code == code; });
}

std::string host_name() {
    std::array<char, 256> name{};
    if (::gethostname(name.data(), name.size() - 1) != 0 || name[0] == '\0') return "callpop";
    return name.data();
}

Config parse_config(const std::string& yaml_text, const std::string& source_name) {
    std::map<std::string, std::string, std::less<>> places;
    const Value root(parse_document(yaml_text, source_name), "", YAML::Mark(), source_name, &places);
    Config config = read_config(root);
    config.source = source_name;
    config.places = std::move(places);
    return config;
}

Config load_config(const std::filesystem::path& path) {
    return parse_config(read_file(path), path.string());
}

}  // namespace callpop::config
