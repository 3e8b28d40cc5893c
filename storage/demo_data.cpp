#include "storage/demo_data.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <random>
#include <stdexcept>
#include <string_view>

#include "protocol/timestamp.hpp"

namespace callpop::storage {

namespace {

using Clock = std::chrono::system_clock;
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
        return low + static_cast<int>(below(static_cast<std::size_t>(high - low + 1)));
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

std::string external_id(std::size_t index) {
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
    for (auto position = suffix.rbegin(); position != suffix.rend(); ++position) {
        *position = digits[value % 36];
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
            const std::string id = external_id(index);
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
        const std::string id = external_id(0);
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
                        protocol::format_utc(std::chrono::floor<std::chrono::seconds>(created))});
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
    std::int64_t customer_id = 0;
    std::string customer_name;
    std::string caller;
    config::Line line;
    std::string agent;
    bool answered = false;
    std::string outcome;
    std::string notes;
};

std::string queue_of(const config::Line& line) {
    return lowercase_letters(line.name.substr(0, line.name.find(' ')));
}

void append_call(Store& store, const PastCall& call) {
    CallLogRecord record;
    record.call = call.id;
    record.switch_name = "demo";
    record.from = call.caller;
    record.caller_name = call.customer_name;
    record.to = call.line.number;
    record.line = call.line.name;
    record.queue = queue_of(call.line);
    record.customer_id = call.customer_id;
    record.customer_name = call.customer_name;
    record.extension = call.agent;

    auto append = [&](std::string_view kind, Clock::time_point at) {
        record.kind = kind;
        record.at = protocol::format_utc(at);
        store.append_log(record);
    };
    append("ring", call.start);
    if (!call.answered) {
        record.cause = "normal";
        append("hangup", call.start + std::chrono::seconds{25});
        return;
    }
    record.agent = call.agent;
    const auto answered = call.start + std::chrono::seconds{9};
    const auto ended = answered + std::chrono::seconds{240};
    append("answer", answered);
    record.cause = "normal";
    append("hangup", ended);
    record.cause.clear();
    record.outcome = call.outcome;
    record.notes = call.notes;
    append("outcome", ended + std::chrono::seconds{45});
}

class CallPlanner {
public:
    CallPlanner(Store& store, const DemoOptions& options)
        : store_(store),
          // Its own stream, so that the calls do not change when the CSV files do.
          random_(options.seed ^ 0x9e3779b97f4a7c15ull),
          today_(std::chrono::floor<days>(options.now)),
          lines_(options.lines.empty() ? std::vector<config::Line>{{"8005551000",
                                                                     "Support hotline"}}
                                       : options.lines),
          outcomes_(options.outcome_codes.empty()
                        ? std::vector<std::string>{"resolved", "repaired", "callback_requested"}
                        : options.outcome_codes) {}

    std::vector<PastCall> plan(std::size_t customer_count) {
        std::vector<PastCall> calls;
        add_pat_doe_call(calls);
        for (std::size_t index = 1; index < customer_count; ++index) {
            if (!random_.percent(30)) continue;
            const int count = random_.between(1, 3);
            const auto customer = store_.customer_by_external_id(external_id(index));
            if (!customer) continue;
            for (int call = 0; call < count; ++call) calls.push_back(random_call(*customer, calls));
        }
        std::sort(calls.begin(), calls.end(),
                  [](const PastCall& a, const PastCall& b) { return a.start < b.start; });
        return calls;
    }

private:
    void add_pat_doe_call(std::vector<PastCall>& calls) {
        const auto pat = store_.customer_by_external_id(external_id(0));
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

bool has_demo_calls(Store& store) {
    const auto pat = store.customer_by_external_id(external_id(0));
    return pat && !store.card(*pat, 1).history.empty();
}

std::vector<DemoLogin> demo_logins() {
    std::vector<DemoLogin> logins;
    for (int number = 1; number <= agent_count; ++number) {
        const std::string id = agent_id(number);
        logins.push_back({id, "agent", "demo-" + id});
    }
    logins.push_back({"super", "supervisor", "demo-super"});
    return logins;
}

std::string display_name(const DemoLogin& login, std::size_t index) {
    if (login.role == "supervisor") return "Demo Supervisor";
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
    const DemoCsvFiles files{options.csv_directory / "customers.csv",
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
        const auto calls = CallPlanner(store, options).plan(options.customers);
        for (const auto& call : calls) append_call(store, call);
        summary.calls = calls.size();
    }
    summary.logins = demo_logins();
    add_agents(store, summary.logins, options.token_iterations);
    transaction.commit();
    return summary;
}

}  // namespace callpop::storage
