#pragma once
// A thin RAII layer over libpq: every result checked, errors carry the server's message and
// name the statement. Transient ones (the server gone, restarting or full, a serialization
// failure, a deadlock) are marked so, for callers that retry.
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/storage_error.hpp"

struct pg_conn;
struct pg_result;

namespace callpop::storage::postgresql {

struct ResultClearer {
    void operator()(pg_result* result) const;
};
struct ConnectionCloser {
    void operator()(pg_conn* connection) const;
};

// The rows a statement returned.
class Result {
public:
    explicit Result(pg_result* result) : result_(result) {}
    int rows() const;
    bool is_null(int row, int column) const;
    std::string_view text(int row, int column) const;  // NULL → ""
    std::int64_t integer(int row, int column) const;
    // Rows an INSERT, UPDATE or DELETE touched.
    std::int64_t affected() const;
    // What the server says it did: "COMMIT", or "ROLLBACK" for a COMMIT of a failed transaction.
    std::string_view command() const;

private:
    friend class Connection;
    std::unique_ptr<pg_result, ResultClearer> result_;
};

// A statement's parameter: text PostgreSQL converts to the column's type, or NULL.
using Parameter = std::optional<std::string_view>;

// A text[] parameter: every element quoted, so that any text stays one element.
std::string text_array(const std::vector<std::string>& items);

// One statement of a pipeline (Connection::query_pipelined).
struct Statement {
    std::string_view sql;
    std::vector<Parameter> parameters;
};

// A notification a session LISTENing on its channel received (NOTIFY, pg_notify).
struct Notification {
    std::string channel;
    std::string payload;
    int sender_pid = 0;  // the server process of the session that sent it
};

// Appends `text` to `line` as one field of COPY's text format: backslash, tab, newline and
// carriage return escaped. A NUL byte cannot be sent: StorageError.
void append_copy_field(std::string& line, std::string_view text);

// A connection the server dropped is opened again before the next statement. When it was
// dropped inside a transaction, the server rolled that back: every statement is then refused
// (transient) until the caller's ROLLBACK, so that a retry runs the whole transaction again
// and never half of it outside one.
class Connection {
public:
    // A libpq connection string ("host=... port=... dbname=..." or a postgresql:// URI).
    // Failing to connect is transient when no server answered or it is starting or stopping;
    // a server that answered and refused (a wrong database, user or password) is not.
    // A read-only connection refuses every write, in a transaction or not. The server shows
    // `application_name` for the session (pg_stat_activity), unless the string gives one.
    enum class Access { read_write, read_only };
    explicit Connection(const std::string& conninfo, Access access = Access::read_write,
                        std::string application_name = "callpop");

    // SQL without parameters; several statements may run at once (migrations, BEGIN).
    Result exec(std::string_view sql);
    // One statement with $1, $2, ... bound to `parameters`, prepared on its first use on this
    // connection. A parameter cannot hold a NUL byte.
    Result query(std::string_view sql, std::initializer_list<Parameter> parameters = {});
    // Statements sent one after another without waiting for answers, and answered together:
    // one round trip for all (libpq's pipeline mode). Their results, in order. The first that
    // fails throws as query() would; the server runs none after it.
    std::vector<Result> query_pipelined(const std::vector<Statement>& statements);
    // COPY ... FROM STDIN, its rows sent as they come: lines in COPY's text format
    // (append_copy_field() escapes a field), any number a call. The server reads them as
    // they arrive. Until end_copy() or abandon_copy(), any other statement is a
    // std::logic_error. A failure ends the COPY, and with it the transaction.
    void begin_copy(std::string_view sql);
    void put_copy(std::string_view rows);
    void end_copy();
    // Ends the COPY as failed: the server takes none of its rows (nor anything more in the
    // transaction, which is to be rolled back). Never throws.
    void abandon_copy() noexcept;
    bool copying() const { return !copy_sql_.empty(); }
    // For LISTEN: the socket that turns readable when notifications may have come, and
    // those that came, without waiting. A lost connection is an error, transient, and stays
    // lost: a LISTEN holds for one session only, so its owner opens another connection.
    int socket() const;
    std::vector<Notification> notifications();
    // Without waiting, for a connection an event loop drives (the bus), one statement at a
    // time: send() sends one that prepare() or query() prepared before; flush() sends what
    // the socket did not take (false: wait for socket() to turn writable, and flush again);
    // once notifications() has read what came, answered() says whether all of its answer is
    // in, and throws as query() would when the server refused it. A lost connection stays
    // lost. Reading the answer reads the notifications that came after it:
    // parsed_notifications() has them, without reading the socket again.
    void prepare(std::string_view sql) { prepared(sql); }
    void send(std::string_view sql, std::initializer_list<Parameter> parameters);
    bool flush();
    bool answered();
    std::vector<Notification> parsed_notifications();
    // The server's process for this connection (pg_terminate_backend, pg_stat_activity).
    int backend_pid() const;
    // Whether a transaction was open after the last statement.
    bool in_transaction() const { return in_transaction_; }

private:
    void reopen_if_lost();
    // Ends the session (the server rolls back its transaction) and opens another.
    void start_new_session();
    // The name `sql` is prepared under on this connection, preparing it on its first use.
    const std::string& prepared(std::string_view sql);
    [[noreturn]] void fail_to_connect(std::string_view what) const;
    // After each statement: whether a transaction is open, for a loss to know it lost one.
    void note_transaction_state();
    // Ends the COPY, as failed when `error` is not null, and reads its result.
    Result finish_copy(const char* error);

    std::string conninfo_;  // PQreset opens it again with the same settings
    std::string application_name_;
    std::unique_ptr<pg_conn, ConnectionCloser> connection_;
    // Found by the SQL's text without copying it: the store runs statements for every call.
    struct SqlHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view sql) const {
            return std::hash<std::string_view>{}(sql);
        }
    };
    std::unordered_map<std::string, std::string, SqlHash, std::equal_to<>> prepared_;  // → name
    std::string sent_sql_;  // what send() sent and answered() has not yet seen answered
    bool in_transaction_ = false;
    bool transaction_lost_ = false;
    std::string copy_sql_;  // the COPY under way, if any
};

}  // namespace callpop::storage::postgresql
