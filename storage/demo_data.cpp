#include "storage/demo_data.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
#include <string_view>

#include "domain/timestamp.hpp"
#include "storage/followup_schedule.hpp"

namespace callpop::storage {

namespace {

using Clock = std::chrono::system_clock;
using domain::AgentRole;
using domain::AttemptResult;
using domain::FollowupKind;
using domain::FollowupStatus;
using domain::SurveyScale;
using std::chrono::days;
using std::chrono::sys_days;
using std::chrono::year_month_day;

constexpr std::size_t first_customer_number = 1000;  // C-1000 is Pat Doe
constexpr int agent_count = 20;                      // agents 1001..1020

// The same seed gives the same data everywhere: mt19937_64's output is fixed by the
// standard, the standard distributions' are not.
class DemoRandom {
public:
    explicit DemoRandom(std::uint64_t seed) : engine_(seed) {}

    std::size_t below(std::size_t count) { return static_cast<std::size_t>(engine_() % count); }
    int between(int low, int high) {
        return low + static_cast<int>(below(static_cast<std::size_t>(high - low) + 1));
    }
    bool percent(int chance) { return static_cast<int>(below(100)) < chance; }
    template <typename Items>
    const auto& pick(const Items& items) {
        return items[below(std::size(items))];
    }

private:
    std::mt19937_64 engine_;
};

struct Weighted {
    std::string_view value;
    int percent;  // the percentages of one table add up to 100
};

template <std::size_t N>
std::string_view pick_weighted(DemoRandom& random, const Weighted (&table)[N]) {
    int roll = static_cast<int>(random.below(100));
    for (const auto& entry : table) {
        if (roll < entry.percent) return entry.value;
        roll -= entry.percent;
    }
    return table[N - 1].value;
}

// --- what the customers are made of -----------------------------------------------------

struct City {
    std::string_view area_code;
    std::string_view name;
    std::string_view state;
    std::string_view zip_prefix;
    std::string_view timezone;
};

constexpr City cities[] = {
    {"212", "New York", "NY", "100", "America/New_York"},
    {"617", "Boston", "MA", "021", "America/New_York"},
    {"215", "Philadelphia", "PA", "191", "America/New_York"},
    {"305", "Miami", "FL", "331", "America/New_York"},
    {"404", "Atlanta", "GA", "303", "America/New_York"},
    {"313", "Detroit", "MI", "482", "America/Detroit"},
    {"312", "Chicago", "IL", "606", "America/Chicago"},
    {"214", "Dallas", "TX", "752", "America/Chicago"},
    {"512", "Austin", "TX", "787", "America/Chicago"},
    {"612", "Minneapolis", "MN", "554", "America/Chicago"},
    {"303", "Denver", "CO", "802", "America/Denver"},
    {"602", "Phoenix", "AZ", "850", "America/Phoenix"},
    {"415", "San Francisco", "CA", "941", "America/Los_Angeles"},
    {"213", "Los Angeles", "CA", "900", "America/Los_Angeles"},
    {"206", "Seattle", "WA", "981", "America/Los_Angeles"},
    {"503", "Portland", "OR", "972", "America/Los_Angeles"},
    {"702", "Las Vegas", "NV", "891", "America/Los_Angeles"},
    {"907", "Anchorage", "AK", "995", "America/Anchorage"},
    {"808", "Honolulu", "HI", "968", "Pacific/Honolulu"},
};

// Every first name starts with an ASCII letter: it gives the e-mail address its initial.
constexpr std::string_view first_names[] = {
    "Alex",   "Maria",  "James",  "Linda",   "Robert", "Patricia", "Michael", "Jennifer",
    "David",  "Susan",  "Daniel", "Karen",   "Carlos", "Sofia",    "Wei",     "Mei",
    "Ahmed",  "Fatima", "Olga",   "Igor",    "José",   "Zoë",      "Björn",   "Amélie",
    "Kenji",  "Yuki",   "Priya",  "Rahul",   "Grace",  "Samuel",   "Chloe",   "Ethan",
    "Nora",   "Lucas",  "Emma",   "Noah",    "Ava",    "Liam",     "Mia",     "Omar",
};
constexpr std::string_view last_names[] = {
    "Smith",  "Johnson", "Williams", "Brown",    "Jones",   "Garcia", "Miller",  "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas",
    "Taylor", "Moore",   "Jackson",  "Martin",   "Lee",     "Thompson", "White", "Harris",
    "Clark",  "Lewis",   "Robinson", "Walker",   "Young",   "Allen",  "King",    "Wright",
    "Nguyen", "Chen",    "Patel",    "Kim",      "O'Brien", "Schmidt", "Rossi",  "Novak",
};
constexpr std::string_view companies[] = {
    "Acme Corp",           "Globex",           "Initech",          "Umbrella Logistics",
    "Stark Industries",    "Wayne Enterprises", "Hooli",           "Vandelay Industries",
    "Soylent Foods",       "Cyberdyne Systems", "Wonka Confections", "Tyrell Corp",
    "Bluth Company",       "Dunder Mifflin",   "Pied Piper",       "Oceanic Airlines",
    "Smith, Jones & Partners LLP", "Northwind Traders", "Contoso Ltd",  "Fabrikam",
    "Blue Sky Dental",     "Riverside Clinic", "Sunrise Bakery",   "Maple Street School",
    "City of Springfield", "Greenfield Farms", "Lakeside Hotel",   "Summit Legal",
};
constexpr std::string_view streets[] = {
    "Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Elm St", "Pine Rd", "Washington Blvd",
    "Lake Shore Dr", "Park Ave", "Sunset Blvd", "Market St", "2nd Ave", "Hillcrest Rd",
};
constexpr std::string_view email_domains[] = {"example.com", "example.org", "example.net"};

constexpr Weighted tiers[] = {{"bronze", 50}, {"silver", 30}, {"gold", 15}, {"platinum", 5}};
constexpr Weighted segments[] = {{"consumer", 45},     {"small business", 30},
                                 {"enterprise", 15},   {"education", 5},
                                 {"public sector", 5}};
constexpr Weighted languages[] = {{"en", 78}, {"es", 14}, {"fr", 4}, {"de", 2}, {"pt", 2}};

struct Product {
    std::string_view name;
    std::string_view serial_prefix;
    int warranty_years;
};

constexpr Product products[] = {
    {"LaserJet Pro M404", "VNB", 1},   {"OfficeJet Pro 9015", "TH", 1},
    {"ThinkPad T14", "PF", 3},         {"ThinkPad X1 Carbon", "PC", 3},
    {"Latitude 5440", "DL", 3},        {"OptiPlex 7010", "DX", 3},
    {"MacBook Air M2", "C02", 1},      {"iPhone 14", "F2L", 1},
    {"Galaxy S23", "R5C", 2},          {"Surface Pro 9", "SP", 2},
    {"EliteDesk 800 G6", "MXL", 3},    {"UltraSharp U2723QE", "CN", 3},
    {"Nighthawk AX3000 Router", "RT", 2}, {"ScanSnap iX1600", "SS", 1},
};

constexpr std::string_view preferences[] = {
    "call after 6 pm",
    "prefers e-mail follow-ups",
    "speak slowly, hard of hearing",
    "prefers Spanish",
    "no calls on Fridays",
    "call by first name",
    "wants a callback rather than waiting on hold",
    "text before calling",
    "prefers morning appointments",
    "send invoices to accounts payable, not to the contact",
};
constexpr std::string_view notes[] = {
    "VIP: escalate billing issues to a supervisor",
    "had a late delivery in March, be patient",
    "asked about an extended warranty",
    "reorders toner by phone every quarter",
    "disputed an invoice; resolved with a credit",
    "says \"the blue one\" when she means the LaserJet",
    "office closed in August",
    "interested in the business plan upgrade",
    "reported the same fault twice; check the history first",
    "moving offices next year, update the address then",
};
constexpr std::string_view call_notes[] = {
    "walked through the setup",  "sent a replacement part", "explained the invoice",
    "booked a technician visit", "reset the password",      "updated the firmware",
    "customer will call back",   "issued a refund",         "",
};

// --- small helpers ----------------------------------------------------------------------

std::string format_date(sys_days day) {
    const year_month_day date{day};
    char text[16];
    std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(date.year()),
                  static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
    return text;
}

sys_days years_after(sys_days day, int years) {
    year_month_day date = year_month_day{day} + std::chrono::years{years};
    if (!date.ok()) date = date.year() / date.month() / std::chrono::last;  // from 29 February
    return sys_days{date};
}

std::string lowercase_letters(std::string_view text) {
    std::string result;
    for (unsigned char c : text) {
        if (std::isalnum(c)) result += static_cast<char>(std::tolower(c));
    }
    return result;
}

std::string agent_id(int number) { return std::to_string(1000 + number); }

std::string demo_external_id(std::size_t index) {
    return "C-" + std::to_string(first_customer_number + index);
}

// Writes RFC 4180 rows, quoting only the fields that need it.
class CsvWriter {
public:
    CsvWriter(const std::filesystem::path& path, std::initializer_list<std::string_view> header)
        : path_(path), out_(path, std::ios::binary) {
        if (!out_) throw std::runtime_error("cannot write " + path.string());
        row(header);
    }

    void row(std::initializer_list<std::string_view> fields) {
        bool first = true;
        for (const auto field : fields) {
            if (!first) out_ << ',';
            first = false;
            write_field(field);
        }
        out_ << "\r\n";
    }

    void close() {
        out_.close();
        if (!out_) throw std::runtime_error("cannot write " + path_.string());
    }

private:
    void write_field(std::string_view field) {
        if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
            out_ << field;
            return;
        }
        out_ << '"';
        for (const char c : field) {
            if (c == '"') out_ << '"';
            out_ << c;
        }
        out_ << '"';
    }

    std::filesystem::path path_;
    std::ofstream out_;
};

// Distinct ten-digit numbers per area code: the fictional 555-0100..555-0299 first, then
// plausible numbers in other exchanges once a big demo has used those up.
class NumberPool {
public:
    std::string next(const City& city) {
        const std::size_t serial = issued_[static_cast<std::size_t>(&city - cities)]++;
        if (serial < fictional_count)
            return std::string(city.area_code) + "555" + four_digits(100 + serial);
        const std::size_t beyond = serial - fictional_count;
        return std::string(city.area_code) + std::to_string(exchange(beyond / 10000)) +
               four_digits(beyond % 10000);
    }

private:
    static constexpr std::size_t fictional_count = 200;

    static std::string four_digits(std::size_t value) {
        char text[8];
        std::snprintf(text, sizeof text, "%04zu", value % 10000);
        return text;
    }

    // The block-th exchange from 201 up, skipping service codes (N11) and 555.
    static int exchange(std::size_t block) {
        int candidate = 200;
        for (std::size_t found = 0; found <= block;) {
            ++candidate;
            if (candidate % 100 != 11 && candidate != 555) ++found;
        }
        return candidate;
    }

    std::size_t issued_[std::size(cities)] = {};
};

// One number spelt the ways CRM users type them, so the demo exercises normalization.
std::string spell_number(std::string_view digits, DemoRandom& random) {
    const std::string area(digits.substr(0, 3));
    const std::string exchange(digits.substr(3, 3));
    const std::string line(digits.substr(6));
    switch (random.below(6)) {
        case 0: return "+1 (" + area + ") " + exchange + "-" + line;
        case 1: return area + "-" + exchange + "-" + line;
        case 2: return "(" + area + ") " + exchange + " " + line;
        case 3: return std::string(digits);
        case 4: return "1 " + area + " " + exchange + " " + line;
        default: return "+1" + std::string(digits);
    }
}

// Unique 6-character serial suffixes that look random: multiplying by a number prime to 36
// permutes the residues modulo 36^6, so distinct counters never give the same serial.
std::string make_serial(std::string_view prefix, std::uint64_t counter) {
    constexpr std::uint64_t modulus = 36ull * 36 * 36 * 36 * 36 * 36;
    constexpr char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    std::uint64_t value = (counter * 1'234'567'891ull + 7919) % modulus;
    std::string suffix(6, '0');
    for (std::size_t position = suffix.size(); position-- > 0;) {
        suffix[position] = digits[value % 36];
        value /= 36;
    }
    return std::string(prefix) + suffix;
}

// --- the CSV files ----------------------------------------------------------------------

class DemoCsvWriter {
public:
    DemoCsvWriter(const DemoOptions& options, const DemoCsvFiles& files)
        : random_(options.seed),
          today_(std::chrono::floor<days>(options.now)),
          now_(options.now),
          customers_(files.customers, {"external_id", "name", "company", "tier", "segment",
                                       "language", "timezone", "phones", "email", "address",
                                       "do_not_call"}),
          assets_(files.assets, {"customer", "product", "serial", "purchased", "warranty_end"}),
          notes_(files.notes, {"customer", "kind", "text", "author", "created_at"}) {
        // Each company has a main line that several of its people give as one of theirs,
        // so the demo has numbers shared by several customers.
        for (std::size_t index = 0; index < std::size(companies); ++index)
            company_lines_.push_back(numbers_.next(cities[index % std::size(cities)]));
    }

    void write(std::size_t customer_count) {
        write_pat_doe();
        for (std::size_t index = 1; index < customer_count; ++index) {
            const std::string id = demo_external_id(index);
            write_customer(id);
            write_assets(id);
            write_notes(id);
        }
        customers_.close();
        assets_.close();
        notes_.close();
    }

private:
    void write_pat_doe() {
        const std::string id = demo_external_id(0);
        customers_.row({id, "Pat Doe", "Doe Print & Copy", "gold", "small business", "en",
                        "America/Chicago", "+1 (555) 010-2000", "pat.doe@example.com",
                        "12 Main St, Springfield, IL 62701", "no"});
        assets_.row({id, "LaserJet Pro M404", "7XK2Q1", "2025-03-14", "2026-03-14"});
        notes_.row({id, "preference", "tea, not coffee", agent_id(1), "2025-03-20T15:00:00Z"});
        notes_.row({id, "note", "owns a print shop; the LaserJet is business-critical",
                    agent_id(1), "2025-03-14T16:30:00Z"});
    }

    void write_customer(const std::string& id) {
        const std::string_view first = random_.pick(first_names);
        const std::string_view last = random_.pick(last_names);
        const std::string_view segment = pick_weighted(random_, segments);
        const std::size_t company = random_.below(std::size(companies));
        const bool has_company = segment != "consumer";
        const City& city = random_.pick(cities);
        const std::string email = random_.percent(90)
                                      ? lowercase_letters(first.substr(0, 1)) + "." +
                                            lowercase_letters(last) + id.substr(2) + "@" +
                                            std::string(random_.pick(email_domains))
                                      : "";
        customers_.row({id, std::string(first) + " " + std::string(last),
                        has_company ? companies[company] : "", pick_weighted(random_, tiers),
                        segment, pick_weighted(random_, languages), city.timezone,
                        phones(city, has_company ? &company_lines_[company] : nullptr), email,
                        address(city), random_.percent(3) ? "yes" : "no"});
    }

    // One to three numbers; people at a company sometimes give its main line.
    std::string phones(const City& city, const std::string* company_line) {
        const int count = random_.between(1, 3);
        const std::string_view separator = random_.percent(80) ? "; " : " | ";
        std::string list = spell_number(numbers_.next(city), random_);
        for (int extra = 1; extra < count; ++extra) {
            const bool main_line = company_line != nullptr && random_.percent(30);
            list += separator;
            list += spell_number(main_line ? *company_line : numbers_.next(random_.pick(cities)),
                                 random_);
        }
        return list;
    }

    std::string address(const City& city) {
        return std::to_string(random_.between(1, 9999)) + " " +
               std::string(random_.pick(streets)) + ", " + std::string(city.name) + ", " +
               std::string(city.state) + " " + std::string(city.zip_prefix) +
               std::to_string(random_.between(10, 99));
    }

    void write_assets(const std::string& id) {
        const int count = random_.percent(25) ? 0 : random_.between(1, 3);
        for (int asset = 0; asset < count; ++asset) {
            const Product& product = random_.pick(products);
            const sys_days purchased = purchase_date();
            // Some CRMs know neither the serial nor the warranty of what they sold.
            const std::string serial =
                random_.percent(90) ? make_serial(product.serial_prefix, serials_++) : "";
            const std::string warranty_end =
                random_.percent(80) ? format_date(years_after(purchased, product.warranty_years))
                                    : "";
            assets_.row({id, product.name, serial, format_date(purchased), warranty_end});
        }
    }

    sys_days purchase_date() {
        const sys_days first_day = sys_days{std::chrono::year{2019} / 1 / 1};
        const auto span = std::max<long>(1, static_cast<long>((today_ - first_day).count()));
        return first_day + days{random_.below(static_cast<std::size_t>(span))};
    }

    void write_notes(const std::string& id) {
        write_some_of(id, "preference", preferences, random_.between(0, 2));
        write_some_of(id, "note", notes, random_.between(0, 1));
    }

    template <std::size_t N>
    void write_some_of(const std::string& id, std::string_view kind,
                       const std::string_view (&texts)[N], int count) {
        // Consecutive entries from a random start: never the same text twice for one customer.
        const std::size_t start = random_.below(N);
        for (int offset = 0; offset < count; ++offset) {
            const auto created = now_ - days{random_.between(1, 720)} -
                                 std::chrono::minutes{random_.between(0, 24 * 60)};
            notes_.row({id, kind, texts[(start + static_cast<std::size_t>(offset)) % N],
                        agent_id(random_.between(1, agent_count)),
                        domain::format_utc(std::chrono::floor<std::chrono::seconds>(created))});
        }
    }

    DemoRandom random_;
    sys_days today_;
    Clock::time_point now_;
    NumberPool numbers_;
    std::vector<std::string> company_lines_;
    std::uint64_t serials_ = 0;
    CsvWriter customers_;
    CsvWriter assets_;
    CsvWriter notes_;
};

// --- past calls ---------------------------------------------------------------------------

struct PastCall {
    std::string id;
    Clock::time_point start;
    std::int64_t customer_id = 0;  // 0: a caller who is not a customer
    std::string customer_name;
    std::string caller;
    config::Line line;
    std::string agent;
    bool answered = false;
    std::string cause = "normal";  // of the hangup of an unanswered call
    std::string outcome;
    std::string notes;
};

// How long the demo's calls take.
constexpr std::chrono::seconds ring_time{9};         // until an answer
constexpr std::chrono::seconds unanswered_ring{25};  // until the caller gives up
constexpr std::chrono::seconds talk_time{240};       // answer to hangup
constexpr std::chrono::seconds wrap_up{45};          // hangup to the outcome

Clock::time_point hangup_time(const PastCall& call) {
    return call.start + (call.answered ? ring_time + talk_time : unanswered_ring);
}

Clock::time_point outcome_time(const PastCall& call) { return hangup_time(call) + wrap_up; }

std::vector<config::Line> site_lines(const DemoOptions& options) {
    return options.lines.empty() ? std::vector<config::Line>{{"8005551000", "Support hotline"}}
                                 : options.lines;
}

std::string queue_of(const config::Line& line) {
    return lowercase_letters(line.name.substr(0, line.name.find(' ')));
}

// The call's records as the daemon logs them: ring, answer, hangup, outcome.
void add_call_records(const PastCall& call, std::vector<CallLogRecord>& log) {
    CallLogRecord record;
    record.call = call.id;
    record.switch_name = "demo";
    record.from = call.caller;
    record.caller_name = call.customer_name;
    record.to = call.line.number;
    record.line = call.line.name;
    record.queue = queue_of(call.line);
    if (call.customer_id != 0) record.customer_id = call.customer_id;
    record.customer_name = call.customer_name;
    record.extension = call.agent;

    auto add = [&](std::string_view kind, Clock::time_point at) {
        record.kind = kind;
        record.at = domain::format_utc(at);
        log.push_back(record);
    };
    add("ring", call.start);
    if (!call.answered) {
        record.cause = call.cause;
        add("hangup", hangup_time(call));
        return;
    }
    record.agent = call.agent;
    add("answer", call.start + ring_time);
    record.cause = "normal";
    add("hangup", hangup_time(call));
    record.cause.clear();
    record.outcome = call.outcome;
    record.notes = call.notes;
    add("outcome", outcome_time(call));
}

class CallPlanner {
public:
    CallPlanner(Store& store, const DemoOptions& options)
        : store_(store),
          // Its own stream, so that the calls do not change when the CSV files do.
          random_(options.seed ^ 0x9e3779b97f4a7c15ull),
          today_(std::chrono::floor<days>(options.now)),
          lines_(site_lines(options)),
          outcomes_(options.outcome_codes.empty()
                        ? std::vector<std::string>{"resolved", "repaired", "callback_requested"}
                        : options.outcome_codes) {}

    std::vector<PastCall> plan(std::size_t customer_count) {
        std::vector<PastCall> calls;
        add_pat_doe_call(calls);
        for (std::size_t index = 1; index < customer_count; ++index) {
            if (!random_.percent(30)) continue;
            const int count = random_.between(1, 3);
            const auto customer = store_.customer_by_external_id(demo_external_id(index));
            if (!customer) continue;
            for (int call = 0; call < count; ++call) calls.push_back(random_call(*customer, calls));
        }
        std::sort(calls.begin(), calls.end(),
                  [](const PastCall& a, const PastCall& b) { return a.start < b.start; });
        return calls;
    }

private:
    void add_pat_doe_call(std::vector<PastCall>& calls) {
        const auto pat = store_.customer_by_external_id(demo_external_id(0));
        if (!pat) return;
        PastCall call = new_call(*pat, calls);
        call.start = today_ - days{9} + std::chrono::hours{15} + std::chrono::minutes{5};
        call.line = lines_.front();
        call.agent = agent_id(1);
        call.answered = true;
        const bool has_repaired =
            std::find(outcomes_.begin(), outcomes_.end(), "repaired") != outcomes_.end();
        call.outcome = has_repaired ? "repaired" : outcomes_.front();
        call.notes = "paper jam; replaced the pickup roller over the phone";
        calls.push_back(std::move(call));
    }

    PastCall random_call(const Customer& customer, const std::vector<PastCall>& calls) {
        PastCall call = new_call(customer, calls);
        // Within the last year, in US business hours (13:00 to 23:59 UTC).
        call.start = today_ - days{random_.between(1, 365)} +
                     std::chrono::hours{random_.between(13, 23)} +
                     std::chrono::minutes{random_.between(0, 59)} +
                     std::chrono::seconds{random_.between(0, 59)};
        call.line = random_.pick(lines_);
        call.agent = agent_id(random_.between(1, agent_count));
        call.answered = random_.percent(88);
        if (call.answered) {
            call.outcome = random_.pick(outcomes_);
            call.notes = random_.pick(call_notes);
        }
        return call;
    }

    static PastCall new_call(const Customer& customer, const std::vector<PastCall>& calls) {
        PastCall call;
        call.id = "demo-" + std::to_string(calls.size() + 1);
        call.customer_id = customer.id;
        call.customer_name = customer.name;
        call.caller = customer.phones.empty() ? "anonymous" : customer.phones.front();
        return call;
    }

    Store& store_;
    DemoRandom random_;
    sys_days today_;
    std::vector<config::Line> lines_;
    std::vector<std::string> outcomes_;
};

// --- follow-ups -------------------------------------------------------------------------
// As the daemon would have made them (daemon/followup_desk.cpp) under config/callpop.yaml.

// The demo's customers live in the cities' zones, the site (site.timezone) in New York;
// due times are placed as the daemon places them (storage/followup_schedule.hpp).
const FollowupSchedule& demo_schedule() {
    static const FollowupSchedule schedule([] {
        config::Site site;
        site.timezone = "America/New_York";
        return site;
    }());
    return schedule;
}

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

// followups.defaults.window: 08:00 to 21:00, Monday to Saturday, for every policy here.
const config::CallingWindow& demo_window() {
    static const config::CallingWindow window{8 * 60, 21 * 60,
                                              {true, true, true, true, true, true, false}};
    return window;
}

// The first moment at or after `from` inside the window.
Clock::time_point next_in_window(const ZoneChoice& zone, Clock::time_point from) {
    return demo_schedule().next_in_window(demo_window(), std::chrono::floor<seconds>(from),
                                          zone.zone);
}

std::string format_local(const ZoneChoice& zone, Clock::time_point at) {
    return storage::format_local(std::chrono::floor<seconds>(at), zone.zone);
}

ZoneChoice zone_for(std::string_view customer_zone, std::string_view number) {
    return demo_schedule().zone_for(customer_zone, number);
}

// What customers say in the survey, with a high, middling and low score.
struct Remarks {
    std::span<const std::string_view> praise;
    std::span<const std::string_view> mixed;
    std::span<const std::string_view> complaints;
};

constexpr std::string_view repair_praise[] = {
    "the technician was quick and friendly",  "works like new, thank you",
    "fixed on the first call, great service", "the agent explained everything clearly",
    "much better than last time",             "no paper jams since, all good",
};
constexpr std::string_view repair_mixed[] = {
    "fine now, but it took two calls to get it sorted",
    "the fan is still a bit loud under load",
    "good in the end; the hold time was long",
    "works, but the technician left a mess",
};
constexpr std::string_view repair_complaints[] = {
    "the technician came three hours late",
    "nobody showed up for the first appointment",
    "the fan is loud again after a week",
    "still noisy, the fan rattles at startup",
    "billed for a repair that was under warranty",
    "paper jams are back",
};
constexpr std::string_view sale_praise[] = {
    "arrived a day early and set up in minutes",
    "great advice on which model to pick",
    "the agent found us a better price",
    "smooth order, no surprises",
};
constexpr std::string_view sale_mixed[] = {
    "good product, but delivery took a week longer than promised",
    "the setup instructions could be clearer",
    "fine, though the fan is louder than on the old one",
};
constexpr std::string_view sale_complaints[] = {
    "billed twice for the same order",
    "the invoice has a fee nobody mentioned",
    "delivery was late and nobody told us",
    "the new laptop's fan is noisy",
    "still waiting for the shipping charge to be refunded",
};

// followups.outcomes in config/callpop.yaml that ask for a survey; the comment question is
// followups.defaults'.
struct SurveyPolicy {
    std::string_view outcome;
    days delay;
    SurveyScale scale;
    std::string_view question;
    Remarks remarks;
};

constexpr SurveyPolicy survey_policies[] = {
    {"repaired", days{7}, SurveyScale::csat, "How satisfied are you with the repair?",
     {repair_praise, repair_mixed, repair_complaints}},
    {"sale", days{3}, SurveyScale::nps,
     "How likely are you to recommend us to a friend or colleague?",
     {sale_praise, sale_mixed, sale_complaints}},
};
constexpr std::string_view comment_question = "Anything we could have done better?";
constexpr std::uint32_t attempts_max = 3;
constexpr seconds retry_after{2 * 3600};
constexpr days survey_period{7};
constexpr minutes overdue_after{30};

struct ScoreShare {
    int score;
    int percent;  // the percentages of one table add up to 100
};

constexpr ScoreShare csat_scores[] = {{5, 50}, {4, 32}, {3, 8}, {2, 6}, {1, 4}};
// The customers of two agents are less happy, so that the report by agent shows a spread.
constexpr ScoreShare csat_scores_unhappy[] = {{5, 22}, {4, 30}, {3, 20}, {2, 16}, {1, 12}};
constexpr ScoreShare nps_scores[] = {{10, 30}, {9, 25}, {8, 16}, {7, 10}, {6, 5}, {5, 4},
                                     {4, 3},   {3, 2},  {2, 2},  {1, 1},  {0, 2}};
constexpr ScoreShare nps_scores_unhappy[] = {{10, 14}, {9, 16}, {8, 16}, {7, 14}, {6, 10},
                                             {5, 9},   {4, 6},  {3, 5},  {2, 4},  {1, 3},
                                             {0, 3}};
constexpr std::string_view unhappy_agents[] = {"1006", "1015"};

template <std::size_t N>
int pick_score(DemoRandom& random, const ScoreShare (&table)[N]) {
    int roll = static_cast<int>(random.below(100));
    for (const auto& entry : table) {
        if (roll < entry.percent) return entry.score;
        roll -= entry.percent;
    }
    return table[N - 1].score;
}

std::string first_e164(const Customer& customer) {
    for (const auto& phone : customer.phones)
        if (phone.size() > 1 && phone.front() == '+') return phone;
    return {};
}

class FollowupPlanner {
public:
    FollowupPlanner(Store& store, const DemoOptions& options, DemoFollowups& counts)
        : store_(store),
          // Its own stream: the customers and calls stay as they were without follow-ups.
          random_(options.seed ^ 0xc2b2ae3d27d4eb4full),
          now_(std::chrono::floor<seconds>(options.now)),
          customer_count_(options.customers),
          lines_(site_lines(options)),
          counts_(counts) {}

    // Surveys for the past calls (in time order); then a few unanswered calls of the last
    // hours, added to `calls`, with their callbacks. The follow-ups go to the store, their
    // call-log records to `log`.
    void plan(std::vector<PastCall>& calls, std::vector<CallLogRecord>& log) {
        for (const auto& call : calls) {
            if (!call.answered) continue;
            for (const auto& policy : survey_policies)
                if (call.outcome == policy.outcome) plan_survey(call, policy, log);
        }
        plan_callbacks(calls, log);
    }

private:
    struct Planned {
        Followup followup;
        std::vector<FollowupAttempt> attempts;
        std::vector<CallLogRecord> records;  // their followup_id is set once it is stored
    };

    void plan_survey(const PastCall& call, const SurveyPolicy& policy,
                     std::vector<CallLogRecord>& log) {
        const auto customer = store_.customer_by_id(call.customer_id);
        if (!customer || customer->do_not_call) return;
        const std::string number = first_e164(*customer);
        if (number.empty()) return;
        const Clock::time_point created = outcome_time(call);
        auto& last_survey = last_survey_[customer->id];
        if (last_survey && created - *last_survey < survey_period) return;
        last_survey = created;

        const ZoneChoice zone = zone_for(customer->timezone, number);
        Planned planned;
        Followup& followup = planned.followup;
        start_followup(followup, FollowupKind::satisfaction, call, &*customer, number, zone,
                       created);
        followup.reason = call.outcome;
        followup.survey = {{"scale", domain::to_string(policy.scale)},
                           {"question", std::string(policy.question)},
                           {"comment_question", std::string(comment_question)}};
        const Clock::time_point due = next_in_window(zone, created + policy.delay);
        followup.due_at = domain::format_utc(due);
        planned.records.push_back(created_record(followup, zone, due, call.agent, created));
        if (due <= now_) call_back(planned, policy, zone, due, call.agent);
        save(planned, log);
    }

    // The survey calls since it fell due: most customers answer, some never pick up, a few
    // will not take the survey. Attempts that would come after now are not made yet.
    void call_back(Planned& planned, const SurveyPolicy& policy, const ZoneChoice& zone,
                   Clock::time_point due, const std::string& call_agent) {
        Followup& followup = planned.followup;
        const int fate = static_cast<int>(random_.below(100));
        const bool unreachable = fate < 12;
        const bool refuses = !unreachable && fate < 17;
        const std::uint32_t failures =
            unreachable ? attempts_max : (random_.percent(65) ? 0 : random_.percent(70) ? 1 : 2);
        for (;;) {
            const Clock::time_point at = next_in_window(
                zone, due + minutes{random_.between(2, 150)} + seconds{random_.between(0, 59)});
            if (at > now_) return;
            FollowupAttempt attempt;
            attempt.at = domain::format_utc(at);
            attempt.agent = agent_id(random_.between(1, agent_count));
            if (followup.attempts_made < failures) {
                attempt.result =
                    random_.percent(70) ? AttemptResult::no_answer : AttemptResult::busy;
            } else if (refuses) {
                attempt.result = AttemptResult::refused;
            } else {
                attempt.result = AttemptResult::reached;
                answer(attempt, policy, call_agent);
            }
            ++followup.attempts_made;
            followup.last_result = attempt.result;

            auto attempted = event("followup_attempted", followup, attempt.agent, at);
            attempted.outcome = domain::to_string(attempt.result);
            attempted.notes = attempt.comment;
            if (attempt.score)
                attempted.notes = "score " + std::to_string(*attempt.score) +
                                  (attempt.comment.empty() ? "" : ": " + attempt.comment);
            planned.records.push_back(std::move(attempted));

            const bool answered = attempt.result == AttemptResult::reached ||
                                  attempt.result == AttemptResult::refused;
            if (answered || followup.attempts_made >= followup.attempts_max) {
                followup.status =
                    answered ? FollowupStatus::completed : FollowupStatus::unreachable;
                followup.score = attempt.score;
                followup.comment = attempt.comment;
                followup.closed_at = attempt.at;
                followup.closed_by = attempt.agent;
                auto closing = event(answered ? "followup_completed" : "followup_unreachable",
                                     followup, attempt.agent, at);
                closing.notes = "after " + std::to_string(followup.attempts_made) + " attempt" +
                                (followup.attempts_made == 1 ? "" : "s") +
                                ", last: " + std::string(domain::to_string(attempt.result));
                planned.records.push_back(std::move(closing));
                planned.attempts.push_back(std::move(attempt));
                return;
            }
            planned.attempts.push_back(std::move(attempt));
            due = next_in_window(zone, at + retry_after);
            followup.due_at = domain::format_utc(due);
        }
    }

    // A score, and for about a third a remark that goes with it.
    void answer(FollowupAttempt& attempt, const SurveyPolicy& policy,
                const std::string& call_agent) {
        const bool unhappy = std::find(std::begin(unhappy_agents), std::end(unhappy_agents),
                                       call_agent) != std::end(unhappy_agents);
        const bool nps = policy.scale == SurveyScale::nps;
        const int score = nps ? pick_score(random_, unhappy ? nps_scores_unhappy : nps_scores)
                              : pick_score(random_, unhappy ? csat_scores_unhappy : csat_scores);
        attempt.score = score;
        const bool high = nps ? score >= 9 : score >= 4;
        const bool low = nps ? score <= 6 : score <= 2;
        if (!random_.percent(high ? 25 : low ? 65 : 40)) return;
        const auto& remarks = policy.remarks;
        attempt.comment = std::string(random_.pick(high  ? remarks.praise
                                                   : low ? remarks.complaints
                                                         : remarks.mixed));
    }

    // Unanswered calls of the last hours, most from customers, some from numbers no customer
    // has; each waits for its callback (followups.missed_calls: at once, in the window). The
    // first of each kind came in hours ago and is overdue by now.
    void plan_callbacks(std::vector<PastCall>& calls, std::vector<CallLogRecord>& log) {
        struct Plan {
            bool customer;
            bool overdue;
        };
        constexpr Plan plans[] = {{true, true},   {false, true},  {true, false}, {true, false},
                                  {false, false}, {true, false},  {false, false}, {true, false}};
        for (const auto& plan : plans) {
            PastCall call;
            call.id = "demo-" + std::to_string(calls.size() + 1);
            std::optional<Customer> customer;
            if (plan.customer) customer = callback_customer();
            if (customer) {
                call.customer_id = customer->id;
                call.customer_name = customer->name;
                call.caller = first_e164(*customer);
            } else {
                call.caller = unknown_number();
                if (call.caller.empty()) continue;
            }
            used_numbers_.push_back(call.caller);
            call.line = random_.pick(lines_);
            call.cause = random_.percent(60) ? "abandoned" : "no_answer";
            if (call.cause == "no_answer") call.agent = agent_id(random_.between(1, agent_count));

            const ZoneChoice zone = zone_for(customer ? customer->timezone : "", call.caller);
            Clock::time_point hangup = now_ - minutes{random_.between(3, 25)} -
                                       seconds{random_.between(0, 59)};
            if (plan.overdue) {
                // Hours ago; earlier still when the window has not been open long enough
                // since then for it to be overdue.
                hangup = now_ - hours{random_.between(2, 5)} - minutes{random_.between(0, 59)};
                while (next_in_window(zone, hangup) + overdue_after + minutes{10} > now_)
                    hangup -= minutes{30};
            }
            call.start = hangup - unanswered_ring;

            Planned planned;
            Followup& followup = planned.followup;
            start_followup(followup, FollowupKind::callback, call, customer ? &*customer : nullptr,
                           call.caller, zone, hangup);
            followup.reason = call.cause == "abandoned" ? "abandoned" : "missed";
            const Clock::time_point due = next_in_window(zone, hangup);
            followup.due_at = domain::format_utc(due);
            planned.records.push_back(created_record(followup, zone, due, "", hangup));
            if (due + overdue_after <= now_) {
                const Clock::time_point flagged =
                    std::min(now_, due + overdue_after + seconds{random_.between(0, 9)});
                followup.overdue_at = domain::format_utc(flagged);
                auto overdue = event("followup_overdue", followup, "", flagged);
                overdue.notes = "callback due " + format_local(zone, due) + " is " +
                                std::to_string(std::chrono::floor<minutes>(flagged - due).count()) +
                                " min late";
                planned.records.push_back(std::move(overdue));
            }
            if (save(planned, log)) calls.push_back(std::move(call));
        }
    }

    // A customer with a number of their own to call back, not Pat Doe (whose history the
    // README walkthrough shows) and not on the do-not-call list.
    std::optional<Customer> callback_customer() {
        for (int tries = 0; tries < 100 && customer_count_ > 1; ++tries) {
            auto customer = store_.customer_by_external_id(
                demo_external_id(1 + random_.below(customer_count_ - 1)));
            if (!customer || customer->do_not_call) continue;
            const std::string number = first_e164(*customer);
            if (number.empty() || number_used(number)) continue;
            return customer;
        }
        return std::nullopt;
    }

    // +1 555 010 xxxx, fictional, that no customer has.
    std::string unknown_number() {
        for (int tries = 0; tries < 100; ++tries) {
            std::string number = "+1555010" + std::to_string(random_.between(3000, 9999));
            if (!number_used(number) && store_.customers_by_number(number, 1).empty())
                return number;
        }
        return {};
    }

    bool number_used(const std::string& number) const {
        return std::find(used_numbers_.begin(), used_numbers_.end(), number) !=
               used_numbers_.end();
    }

    static void start_followup(Followup& followup, FollowupKind kind, const PastCall& call,
                               const Customer* customer, const std::string& number,
                               const ZoneChoice& zone, Clock::time_point created) {
        followup.kind = kind;
        followup.status = FollowupStatus::open;
        if (customer != nullptr) {
            followup.customer_id = customer->id;
            followup.customer_name = customer->name;
        }
        followup.number = number;
        followup.call = call.id;
        followup.timezone = zone.zone;
        followup.timezone_source = zone.source;
        followup.window = window_to_json(demo_window());
        followup.attempts_max = attempts_max;
        followup.retry_after_s = retry_after.count();
        followup.created_at = domain::format_utc(created);
    }

    static CallLogRecord event(std::string_view kind, const Followup& followup,
                               const std::string& agent, Clock::time_point at) {
        return domain::followup_event(std::string(kind), followup, agent, domain::format_utc(at));
    }

    static CallLogRecord created_record(const Followup& followup, const ZoneChoice& zone,
                                        Clock::time_point due, const std::string& agent,
                                        Clock::time_point at) {
        auto record = event("followup_created", followup, agent, at);
        record.notes = std::string(domain::to_string(followup.kind)) + " due " +
                       format_local(zone, due) + " (" + followup.timezone + ", from the " +
                       zone.source + ")" + (zone.note.empty() ? "" : "; " + zone.note);
        return record;
    }

    bool save(Planned& planned, std::vector<CallLogRecord>& log) {
        const auto id = store_.create_followup(planned.followup);
        if (!id) return false;  // an open callback for the number exists already
        for (const auto& attempt : planned.attempts) store_.add_followup_attempt(*id, attempt);
        for (auto& record : planned.records) {
            record.followup_id = *id;
            log.push_back(std::move(record));
        }
        const Followup& followup = planned.followup;
        ++(followup.kind == FollowupKind::callback ? counts_.callbacks : counts_.surveys);
        counts_.attempts += planned.attempts.size();
        if (followup.status == FollowupStatus::open) ++counts_.open;
        if (followup.status == FollowupStatus::completed) ++counts_.completed;
        if (followup.status == FollowupStatus::unreachable) ++counts_.unreachable;
        if (followup.score) ++counts_.scored;
        return true;
    }

    Store& store_;
    DemoRandom random_;
    Clock::time_point now_;
    std::size_t customer_count_;
    std::vector<config::Line> lines_;
    DemoFollowups& counts_;
    std::map<std::int64_t, std::optional<Clock::time_point>> last_survey_;
    std::vector<std::string> used_numbers_;
};

// One log in time order, as the daemon writes it; records of the same moment keep their order.
void append_in_time_order(Store& store, const std::vector<CallLogRecord>& log) {
    std::vector<const CallLogRecord*> in_order;
    in_order.reserve(log.size());
    for (const auto& record : log) in_order.push_back(&record);
    std::stable_sort(in_order.begin(), in_order.end(),
                     [](const CallLogRecord* a, const CallLogRecord* b) { return a->at < b->at; });
    for (const auto* record : in_order) store.append_log(*record);
}

bool has_demo_calls(Store& store) {
    const auto pat = store.customer_by_external_id(demo_external_id(0));
    return pat && !store.card(*pat, 1).history.empty();
}

std::vector<DemoLogin> demo_logins() {
    std::vector<DemoLogin> logins;
    for (int number = 1; number <= agent_count; ++number) {
        const std::string id = agent_id(number);
        logins.push_back({id, AgentRole::agent, "demo-" + id});
    }
    logins.push_back({"super", AgentRole::supervisor, "demo-super"});
    return logins;
}

std::string display_name(const DemoLogin& login, std::size_t index) {
    if (login.role == AgentRole::supervisor) return "Demo Supervisor";
    return std::string(first_names[index % std::size(first_names)]) + " " +
           std::string(last_names[(index * 7) % std::size(last_names)]);
}

void add_agents(Store& store, const std::vector<DemoLogin>& logins, int token_iterations) {
    for (std::size_t index = 0; index < logins.size(); ++index) {
        const auto& login = logins[index];
        store.put_agent({login.id, display_name(login, index), login.role,
                         hash_token(login.token, token_iterations)});
    }
}

}  // namespace

DemoCsvFiles write_demo_csv(const DemoOptions& options) {
    if (options.customers == 0) throw std::invalid_argument("the demo needs at least 1 customer");
    std::filesystem::create_directories(options.csv_directory);
    DemoCsvFiles files{options.csv_directory / "customers.csv",
                             options.csv_directory / "assets.csv",
                             options.csv_directory / "notes.csv"};
    DemoCsvWriter(options, files).write(options.customers);
    return files;
}

DemoSummary make_demo_data(Store& store, const PhoneNormalizer& normalizer,
                           const DemoOptions& options) {
    const DemoCsvFiles files = write_demo_csv(options);
    DemoSummary summary;
    summary.customers = import_customers(store, files.customers, normalizer);
    summary.assets = import_assets(store, files.assets);
    summary.notes = import_notes(store, files.notes);

    StoreTransaction transaction(store);
    if (!has_demo_calls(store)) {
        auto calls = CallPlanner(store, options).plan(options.customers);
        std::vector<CallLogRecord> followup_records;
        FollowupPlanner(store, options, summary.followups).plan(calls, followup_records);
        std::vector<CallLogRecord> log;
        log.reserve(calls.size() * 4 + followup_records.size());
        for (const auto& call : calls) add_call_records(call, log);
        // After the calls': a follow-up's first record comes after the outcome that made it.
        std::move(followup_records.begin(), followup_records.end(), std::back_inserter(log));
        append_in_time_order(store, log);
        summary.calls = calls.size();
    }
    summary.logins = demo_logins();
    add_agents(store, summary.logins, options.token_iterations);
    transaction.commit();
    return summary;
}

}  // namespace callpop::storage
