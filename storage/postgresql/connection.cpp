#include "storage/postgresql/connection.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <stdexcept>
#include <vector>

namespace callpop::storage::postgresql {

namespace {

// SQLSTATEs worth a retry: the connection (class 08), the server shutting down or starting
// (57P01-57P03), out of connections or resources (53), a serialization failure or deadlock
// (40001, 40P01), a lock not available now (55P03).
bool transient_state(std::string_view state) {
    return state.starts_with("08") || state.starts_with("53") || state == "57P01" ||
           state == "57P02" || state == "57P03" || state == "40001" || state == "40P01" ||
           state == "55P03";
}

// libpq's messages end with a newline and may span lines, the next indented with a tab
// ("server closed the connection unexpectedly\n\tThis probably means..."): one line for our
// logs and `callpop status`, with one space where a line broke.
std::string one_line(std::string_view text) {
    std::string line;
    for (std::size_t index = 0; index < text.size(); ++index) {
        if (text[index] != '\n') {
            line += text[index];
            continue;
        }
        line += ' ';
        while (index + 1 < text.size() && text[index + 1] == '\t') ++index;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    return line;
}

[[noreturn]] void fail(pg_conn* connection, const pg_result* result, std::string_view what) {
    const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
    const char* message =
        result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(connection);
    const bool lost = PQstatus(connection) != CONNECTION_OK;
    const char* unique_key = state != nullptr && std::string_view(state) == "23505"
                                 ? PQresultErrorField(result, PG_DIAG_CONSTRAINT_NAME)
                                 : nullptr;
    throw StorageError("PostgreSQL: " + std::string(what) + ": " + one_line(message),
                       lost || (state != nullptr && transient_state(state)),
                       unique_key != nullptr ? unique_key : "");
}

// The statement as errors name it: short, on one line.
std::string describe(std::string_view sql) {
    std::size_t shown = std::min<std::size_t>(sql.size(), 120);
    // Not inside a UTF-8 character: back up over its continuation bytes.
    while (shown < sql.size() && shown > 0 && (static_cast<unsigned char>(sql[shown]) & 0xC0) == 0x80)
        --shown;
    std::string text = one_line(sql.substr(0, shown));
    if (sql.size() > shown) text += "...";
    return "\"" + text + "\"";
}

[[noreturn]] void throw_transaction_lost(std::string_view sql) {
    throw StorageError("PostgreSQL: " + describe(sql) +
                           ": the connection was lost inside a transaction, which the server "
                           "rolled back: roll back and run the transaction again",
                       true);
}

}  // namespace

void ResultClearer::operator()(pg_result* result) const { PQclear(result); }

void ConnectionCloser::operator()(pg_conn* connection) const { PQfinish(connection); }

int Result::rows() const { return PQntuples(result_.get()); }

bool Result::is_null(int row, int column) const {
    return PQgetisnull(result_.get(), row, column) != 0;
}

std::string_view Result::text(int row, int column) const {
    return {PQgetvalue(result_.get(), row, column),
            static_cast<std::size_t>(PQgetlength(result_.get(), row, column))};
}

std::int64_t Result::integer(int row, int column) const {
    const auto digits = text(row, column);
    std::int64_t value = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (error != std::errc() || end != digits.data() + digits.size())
        throw StorageError("PostgreSQL: \"" + std::string(digits) + "\" in column " +
                           std::to_string(column) + " is not an integer");
    return value;
}

std::int64_t Result::affected() const {
    const std::string_view digits = PQcmdTuples(result_.get());
    std::int64_t value = 0;
    std::from_chars(digits.data(), digits.data() + digits.size(), value);
    return value;
}

std::string_view Result::command() const { return PQcmdStatus(result_.get()); }

namespace {

// Settings every session starts with, given with the connection rather than run after it,
// so that they hold again after a reconnect: times are written and compared as UTC text,
// text is UTF-8, and the server's notices and warnings (a table already there, a ROLLBACK
// with nothing to roll back) are not ours to print.
// The caller's string is expanded in place of dbname: it overrides the keywords before it,
// and those after it override it. A server that does not answer at all (a host gone) fails
// a connect (and the ping after it) in 10 s unless the string says otherwise, rather than
// never: a daemon stopping waits for its connections.
// TCP keepalives, unless the string says otherwise: a connection whose server or network
// went away without a word (a host powered off, a firewall that forgot the connection) is
// found dead after 10 s of silence and 3 probes 5 s apart, rather than after the kernel's
// two hours. The bus waits on its socket for notifications and would otherwise hear nothing
// from the other daemons all that time, and a lookup or writer connection would learn of
// the loss only from its next statement. (Over a Unix socket libpq ignores them.)
// Generic plans: every statement is prepared once and runs for every call with parameters of
// one shape (a number, an id, a limit), so one plan serves them all. Left to choose, the
// server planned the caller lookup (its LIMITs are parameters) anew on every run, at more
// than its execution's cost: 2,181 lookups/s against 5,574 with the generic plan (pgbench,
// 1,000,000 customers, 2 cores).
constexpr std::array<const char*, 10> connect_keywords = {
    "connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
    "keepalives_count", "application_name", "dbname", "options",
    "client_encoding", nullptr};

std::array<const char*, 10> connect_values(const std::string& conninfo,
                                           Connection::Access access,
                                           const std::string& application_name) {
    const char* options =
        access == Connection::Access::read_only
            ? "-c TimeZone=UTC -c client_min_messages=error -c plan_cache_mode=force_generic_plan "
              "-c default_transaction_read_only=on"
            : "-c TimeZone=UTC -c client_min_messages=error -c plan_cache_mode=force_generic_plan";
    return {"10", "1", "10", "5", "3", application_name.c_str(), conninfo.c_str(), options,
            "UTF8", nullptr};
}

pg_conn* connect(const std::string& conninfo, Connection::Access access,
                 const std::string& application_name) {
    return PQconnectdbParams(connect_keywords.data(),
                             connect_values(conninfo, access, application_name).data(), 1);
}

}  // namespace

Connection::Connection(const std::string& conninfo, Access access, std::string application_name)
    : conninfo_(conninfo),
      application_name_(std::move(application_name)),
      connection_(connect(conninfo, access, application_name_)) {
    if (!connection_) throw StorageError("PostgreSQL: out of memory opening a connection", true);
    // What libpq would print on stderr (a server ending the session between statements):
    // the next statement's error says it, where its caller can act on it.
    PQsetNoticeProcessor(connection_.get(), [](void*, const char*) {}, nullptr);
    if (PQstatus(connection_.get()) != CONNECTION_OK) fail_to_connect("connecting");
}

void Connection::fail_to_connect(std::string_view what) const {
    // libpq gives no SQLSTATE for a failed connection: ask the server whether it is there.
    const PGPing ping = PQpingParams(connect_keywords.data(),
                                     connect_values(conninfo_, Connection::Access::read_write,
                                                    application_name_)
                                         .data(),
                                     1);
    const bool transient = ping == PQPING_NO_RESPONSE || ping == PQPING_REJECT;
    throw StorageError("PostgreSQL: " + std::string(what) + ": " +
                           one_line(PQerrorMessage(connection_.get())),
                       transient);
}

void Connection::reopen_if_lost() {
    // libpq would take the statement as rows of the COPY, or fail it half-sent.
    if (copying())
        throw std::logic_error("PostgreSQL: a statement was sent during " + describe(copy_sql_));
    if (PQstatus(connection_.get()) == CONNECTION_OK) return;
    start_new_session();
}

void Connection::start_new_session() {
    prepared_.clear();
    if (in_transaction_) transaction_lost_ = true;
    in_transaction_ = false;
    PQreset(connection_.get());
    if (PQstatus(connection_.get()) != CONNECTION_OK) fail_to_connect("connecting again");
}

void Connection::note_transaction_state() {
    switch (PQtransactionStatus(connection_.get())) {
        case PQTRANS_IDLE: in_transaction_ = false; break;
        case PQTRANS_INTRANS:
        case PQTRANS_INERROR:
        case PQTRANS_ACTIVE: in_transaction_ = true; break;
        case PQTRANS_UNKNOWN: break;  // the connection is gone: keep what was known
    }
}

Result Connection::exec(std::string_view sql) {
    reopen_if_lost();
    if (transaction_lost_) {
        // The server rolled it back with the connection: the caller's ROLLBACK has nothing
        // left to do, and a BEGIN starts afresh.
        if (sql == "ROLLBACK") {
            transaction_lost_ = false;
            return Result(PQmakeEmptyPGresult(connection_.get(), PGRES_COMMAND_OK));
        }
        if (!sql.starts_with("BEGIN")) throw_transaction_lost(sql);
        transaction_lost_ = false;
    }
    const std::string text(sql);
    Result result(PQexec(connection_.get(), text.c_str()));
    note_transaction_state();
    const auto status = PQresultStatus(result.result_.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
        fail(connection_.get(), result.result_.get(), describe(sql));
    return result;
}

namespace {

// libpq reads parameters as C strings: each copied, with its terminating NUL.
class ParameterValues {
public:
    template <typename Parameters>
    ParameterValues(const Parameters& parameters, std::string_view sql) {
        texts_.reserve(parameters.size());
        values_.reserve(parameters.size());
        for (const auto& parameter : parameters) {
            if (!parameter) {
                values_.push_back(nullptr);
                continue;
            }
            if (parameter->find('\0') != std::string_view::npos)
                throw StorageError("PostgreSQL: " + describe(sql) + ": parameter " +
                                   std::to_string(values_.size() + 1) + " holds a NUL byte");
            texts_.emplace_back(*parameter);
            values_.push_back(texts_.back().c_str());
        }
    }
    int count() const { return static_cast<int>(values_.size()); }
    const char* const* values() const { return values_.data(); }

private:
    std::vector<std::string> texts_;  // reserved: the pointers into it stay valid
    std::vector<const char*> values_;
};

}  // namespace

const std::string& Connection::prepared(std::string_view sql) {
    auto found = prepared_.find(sql);
    if (found == prepared_.end()) {
        const std::string name = "callpop_" + std::to_string(prepared_.size() + 1);
        const std::string text(sql);
        const Result prepared(
            PQprepare(connection_.get(), name.c_str(), text.c_str(), 0, nullptr));
        if (PQresultStatus(prepared.result_.get()) != PGRES_COMMAND_OK)
            fail(connection_.get(), prepared.result_.get(), "preparing " + describe(sql));
        found = prepared_.emplace(text, name).first;
    }
    return found->second;
}

Result Connection::query(std::string_view sql, std::initializer_list<Parameter> parameters) {
    reopen_if_lost();
    if (transaction_lost_) throw_transaction_lost(sql);
    const std::string& name = prepared(sql);
    const ParameterValues values(parameters, sql);
    Result result(PQexecPrepared(connection_.get(), name.c_str(), values.count(), values.values(),
                                 nullptr, nullptr, 0));
    note_transaction_state();
    const auto status = PQresultStatus(result.result_.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
        fail(connection_.get(), result.result_.get(), describe(sql));
    return result;
}

std::vector<Result> Connection::query_pipelined(const std::vector<Statement>& statements) {
    reopen_if_lost();
    std::vector<Result> results;
    if (statements.empty()) return results;
    if (transaction_lost_) throw_transaction_lost(statements.front().sql);
    // Prepared (and parameters checked) before the pipeline starts: a failure then has
    // sent nothing.
    std::vector<ParameterValues> values;
    values.reserve(statements.size());
    for (const auto& statement : statements) {
        prepared(statement.sql);
        values.emplace_back(statement.parameters, statement.sql);
    }
    pg_conn* connection = connection_.get();
    if (PQenterPipelineMode(connection) != 1) fail(connection, nullptr, "entering pipeline mode");
    bool sent = true;
    for (std::size_t index = 0; sent && index < statements.size(); ++index)
        sent = PQsendQueryPrepared(connection, prepared_.find(statements[index].sql)->second.c_str(),
                                   values[index].count(), values[index].values(), nullptr,
                                   nullptr, 0) == 1;
    sent = sent && PQpipelineSync(connection) == 1;
    if (!sent) {
        const std::string why = one_line(PQerrorMessage(connection));
        // Usually the connection is gone. If not (libpq out of memory), what was queued may
        // or may not have reached the server, and the session stays in pipeline mode until
        // it is all read: a new session starts from a known state instead, the old one's
        // transaction rolled back with it, and the caller runs it again.
        start_new_session();
        throw StorageError("PostgreSQL: sending " + describe(statements.front().sql) + ": " + why,
                           true);
    }
    // Each statement's result, then a null; after them all, the sync's. A statement that
    // failed is followed by PGRES_PIPELINE_ABORTED for each one after it.
    results.reserve(statements.size());
    std::optional<std::size_t> failed;
    for (std::size_t index = 0; index < statements.size(); ++index) {
        Result result(PQgetResult(connection));
        if (!result.result_) break;  // the connection is gone
        while (pg_result* end = PQgetResult(connection)) PQclear(end);
        const auto status = PQresultStatus(result.result_.get());
        if (!failed && status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) failed = index;
        results.push_back(std::move(result));
    }
    if (results.size() == statements.size()) {
        const Result sync(PQgetResult(connection));
        PQexitPipelineMode(connection);
    }
    note_transaction_state();
    if (failed)
        fail(connection, results[*failed].result_.get(), describe(statements[*failed].sql));
    if (results.size() != statements.size())
        fail(connection, nullptr, describe(statements[results.size()].sql));
    return results;
}

// A text[] literal: every element quoted, so that any text (a number as given, an outcome
// code) stays one element.
std::string text_array(const std::vector<std::string>& items) {
    std::size_t size = 2;
    for (const auto& item : items) size += item.size() + 3;
    std::string literal;
    literal.reserve(size + size / 8);
    literal += '{';
    for (const auto& item : items) {
        if (literal.size() > 1) literal += ',';
        literal += '"';
        // What needs no escape goes in whole: the bus's messages are JSON, full of quotes
        // but mostly runs of plain text.
        std::string_view rest = item;
        for (std::size_t special; (special = rest.find_first_of("\"\\")) != std::string_view::npos;
             rest.remove_prefix(special + 1)) {
            literal += rest.substr(0, special);
            literal += '\\';
            literal += rest[special];
        }
        literal += rest;
        literal += '"';
    }
    literal += '}';
    return literal;
}

void append_copy_field(std::string& line, std::string_view text) {
    for (const char c : text) {
        switch (c) {
            case '\\': line += "\\\\"; break;
            case '\t': line += "\\t"; break;
            case '\n': line += "\\n"; break;
            case '\r': line += "\\r"; break;
            case '\0': throw StorageError("PostgreSQL: a value for COPY holds a NUL byte");
            default: line += c;
        }
    }
}

void Connection::begin_copy(std::string_view sql) {
    reopen_if_lost();
    if (transaction_lost_) throw_transaction_lost(sql);
    const std::string text(sql);
    const Result started(PQexec(connection_.get(), text.c_str()));
    if (PQresultStatus(started.result_.get()) != PGRES_COPY_IN)
        fail(connection_.get(), started.result_.get(), describe(sql));
    copy_sql_ = text;
}

void Connection::put_copy(std::string_view rows) {
    // libpq takes at most INT_MAX bytes a call.
    constexpr std::size_t piece = std::size_t{1} << 30;
    for (std::size_t offset = 0; offset < rows.size(); offset += piece) {
        const std::size_t size = std::min(piece, rows.size() - offset);
        if (PQputCopyData(connection_.get(), rows.data() + offset, static_cast<int>(size)) != 1) {
            // Read before the COPY is ended, which has libpq's message say that instead.
            const std::string error = "PostgreSQL: " + describe(copy_sql_) + ": " +
                                      one_line(PQerrorMessage(connection_.get()));
            const bool lost = PQstatus(connection_.get()) != CONNECTION_OK;
            finish_copy("callpop could not send the rows");
            throw StorageError(error, lost);
        }
    }
}

void Connection::end_copy() {
    const std::string what = describe(copy_sql_);
    const Result finished = finish_copy(nullptr);
    if (PQresultStatus(finished.result_.get()) != PGRES_COMMAND_OK)
        fail(connection_.get(), finished.result_.get(), what);
}

void Connection::abandon_copy() noexcept {
    if (copying()) finish_copy("callpop abandoned the rows");
}

Result Connection::finish_copy(const char* error) {
    copy_sql_.clear();
    if (PQputCopyEnd(connection_.get(), error) != 1)
        return Result(PQmakeEmptyPGresult(connection_.get(), PGRES_FATAL_ERROR));
    // The COPY's own result, then none.
    Result finished(PQgetResult(connection_.get()));
    while (pg_result* extra = PQgetResult(connection_.get())) PQclear(extra);
    note_transaction_state();
    return finished;
}

int Connection::socket() const { return PQsocket(connection_.get()); }

std::vector<Notification> Connection::notifications() {
    if (PQstatus(connection_.get()) != CONNECTION_OK || PQconsumeInput(connection_.get()) == 0)
        fail(connection_.get(), nullptr, "reading notifications");
    return parsed_notifications();
}

std::vector<Notification> Connection::parsed_notifications() {
    std::vector<Notification> received;
    while (PGnotify* note = PQnotifies(connection_.get())) {
        received.push_back({note->relname, note->extra, note->be_pid});
        PQfreemem(note);
    }
    return received;
}

void Connection::send(std::string_view sql, std::initializer_list<Parameter> parameters) {
    pg_conn* connection = connection_.get();
    const auto prepared_as = prepared_.find(sql);
    if (prepared_as == prepared_.end() || !sent_sql_.empty())
        throw std::logic_error("PostgreSQL: " + describe(sql) +
                               " sent without waiting before query() prepared it, or while "
                               "another waits for its answer");
    const ParameterValues values(parameters, sql);
    // PQexec and PQexecPrepared still wait in this mode: query() keeps working.
    if (PQstatus(connection) != CONNECTION_OK || PQsetnonblocking(connection, 1) != 0 ||
        PQsendQueryPrepared(connection, prepared_as->second.c_str(), values.count(),
                            values.values(), nullptr, nullptr, 0) != 1)
        fail(connection, nullptr, describe(sql));
    sent_sql_ = sql;
}

bool Connection::flush() {
    const int left = PQflush(connection_.get());
    if (left < 0) fail(connection_.get(), nullptr, "sending " + describe(sent_sql_));
    return left == 0;
}

bool Connection::answered() {
    pg_conn* connection = connection_.get();
    while (!sent_sql_.empty() && PQisBusy(connection) == 0) {
        // Its result, then nothing: the statement is done.
        const Result result(PQgetResult(connection));
        if (result.result_ == nullptr) {
            sent_sql_.clear();
            break;
        }
        const auto status = PQresultStatus(result.result_.get());
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
            fail(connection, result.result_.get(), describe(sent_sql_));
    }
    return sent_sql_.empty();
}

int Connection::backend_pid() const { return PQbackendPID(connection_.get()); }

}  // namespace callpop::storage::postgresql
