#include "daemon/server.hpp"
#include "daemon/startup_checks.hpp"

#include <unistd.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "daemon/net/coroutine.hpp"
#include "daemon/switches/ami_client.hpp"
#include "daemon/switches/evapi_client.hpp"
#include "daemon/switches/switch_session.hpp"
#include "domain/timestamp.hpp"
#include "storage/open_store.hpp"

namespace callpop::daemon {

using domain::AgentRole;
using domain::PoppedCallState;

namespace {

constexpr std::chrono::seconds sweep_interval{1};
// Where daemons sharing a store tell each other of the switch events they get.
constexpr std::string_view peer_events_channel = "callpop_events";
// How often, in sweeps, a daemon writes its row in the store's registry.
constexpr std::uint64_t registry_sweeps = 5;
// How long a stop waits for the answers to what was asked before it.
constexpr std::chrono::seconds drain_max{5};
// How long a connection that has not logged in counts against sessions.logins_at_once.
constexpr std::chrono::milliseconds login_hold{200};
// Agent connections accepted at a time before the loop turns to other work.
constexpr int accepts_at_once = 32;

tcp::endpoint endpoint_of(const config::Endpoint& endpoint) {
    return {asio::ip::make_address(endpoint.address), endpoint.port};
}

void open_acceptor(tcp::acceptor& acceptor, const config::Endpoint& where, const char* what) {
    const auto endpoint = endpoint_of(where);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    boost::system::error_code error;
    acceptor.bind(endpoint, error);
    if (error)
        throw std::runtime_error(fmt::format("cannot listen for {} on {}:{}: {}", what,
                                             where.address, where.port, error.message()));
    acceptor.listen(asio::socket_base::max_listen_connections);
}

// Pop seqs must keep rising across restarts, so that an agent resuming after a restart
// still gets what rang since: start from the clock.
std::uint64_t first_pop_seq() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

std::shared_ptr<SwitchClient> make_switch_client(asio::io_context& io,
                                                 const config::SwitchLink& link,
                                                 SwitchEventSink sink) {
    if (link.type == "ami") return std::make_shared<AmiClient>(io, link, std::move(sink));
    if (link.type == "evapi") return std::make_shared<EvapiClient>(io, link, std::move(sink));
    throw std::runtime_error("switch " + link.name + ": type " + link.type + " is not built yet");
}

// Threads that work beside the loop: one core stays with the loop where there are two.
unsigned cores_beside_the_loop() { return std::max(2u, std::thread::hardware_concurrency()) - 1; }

// SQLite's lookups run on this machine's cores, in batches whose answers wake the loop once.
// A database server reads a batch's callers in one statement (callers_by_numbers): under
// load one round trip and one wake-up of each side carry many lookups, which is what a
// ring costs the server most. Two threads: while one reads a slow number (one thousands of
// customers share), the rings after it are looked up on the other, ready when it is back.
LookupThreads::Shape lookup_shape(const config::Storage& storage) {
    if (storage::store_is_shared(storage)) return {.threads = 2, .batch_max = 32};
    return {.threads = std::min(cores_beside_the_loop(), 4u), .batch_max = 64};
}

std::string join(const std::vector<std::string>& items) {
    std::string joined;
    for (const auto& item : items) joined += (joined.empty() ? "" : ",") + item;
    return joined;
}

// The call's pop as the router sends it and keeps it pending.
PendingPop pop_of(const TrackedCall& call) { return {call.pop_seq, call.id, call.pop}; }

// What a logged-in session holds of its account: a change to any of it ends the session.
std::string account_fingerprint(const storage::AgentAccount& account) {
    return std::string(domain::to_string(account.role)) + "\n" + account.token_hash + "\n" +
           join(account.extensions);
}

// A transfer record's notes: "from extension 1001 (agent 1001) to extension 1002", the
// part callpop does not know left out.
std::string transfer_notes(const TrackedCall& call, const std::vector<std::string>& targets) {
    std::string from;
    if (!call.answered_extension.empty() && !call.answered_agent.empty()) {
        from = "from extension " + call.answered_extension + " (agent " + call.answered_agent +
               ") ";
    } else if (!call.answered_extension.empty()) {
        from = "from extension " + call.answered_extension + " ";
    } else if (!call.answered_agent.empty()) {
        from = "from agent " + call.answered_agent + " ";
    }
    return from + (targets.size() == 1 ? "to extension " : "to extensions ") + join(targets);
}

}  // namespace

Server::Server(asio::io_context& io, config::Config config)
    : io_(io),
      config_(std::move(config)),
      followup_desk_(config_),
      writer_(config_, io_.get_executor(),
              [this](const domain::CallLogRecord& record) { publish(record); },
              [this](JobContext& context, const domain::CallLogRecord& record,
                     FollowOn follow_on, std::int64_t now) {
                  this->follow_on(context, record, follow_on, now);
              }),
      numbers_(config_),
      lookups_(config_, io_.get_executor(), lookup_shape(config_.storage)),
      tracker_(std::chrono::seconds(config_.calls.max_duration_s),
               std::chrono::seconds(config_.calls.ended_keep_s), config_.calls.ended_max),
      router_(config_.sessions.queue_max),
      call_log_feed_(config_.call_log.tail_memory, config_.sessions.queue_max / 2,
                     [this](std::int64_t after_id, std::size_t count,
                            std::function<void(CallLogFeed::Records)> done) {
                         read_log_after(after_id, count, std::move(done));
                     }),
      logins_(config_, storage::open_store(config_.storage)->ticket_key(),
              cores_beside_the_loop()),
      login_gate_(io_.get_executor(), config_.sessions.logins_at_once, login_hold),
      failed_logins_(config_.sessions.login_failures_max,
                     std::chrono::seconds(config_.sessions.login_failures_window_s)),
      switch_acceptor_(io_),
      agent_acceptor_(io_),
      sweep_timer_(io_),
      drain_timer_(io_),
      next_pop_seq_(first_pop_seq()) {
    // Read once at start: the loop keeps no store connection of its own.
    if (config_.listen.agent_tls) agent_tls_.emplace(server_tls_context(*config_.listen.agent_tls));
    agent_security_.tls = agent_tls_ ? &*agent_tls_ : nullptr;
    agent_security_.plain_allow = config_.listen.agent_plain_allow;
    native_switch_port_.secret = config_.listen.switch_secret;
    for (const auto& outcome : config_.outcomes) outcome_choices_.push_back({outcome.code, outcome.label});
    const auto store = storage::open_store(config_.storage, storage::Access::read_only);
    auto recent = store->recent_log(config_.call_log.tail_memory);
    // Where the feed stands: records after it come from the writer.
    const std::int64_t last_id = recent.empty() ? store->last_log_id() : recent.back().id;
    call_log_feed_.load(std::move(recent), last_id);
    calls_left_open_ = store->calls_left_open();
    accounts_revision_ = store->accounts_revision();
    if (storage::store_is_shared(config_.storage)) {
        writer_.share_log(last_id);
        peers_ = std::make_unique<PeerLink>(
            config_.storage,
            std::vector<std::string>{std::string(peer_events_channel),
                                     std::string(storage::log_channel)},
            io_.get_executor(), [this](const storage::BusMessage& message) { on_peer_message(message); },
            // What the others committed while the link was down came with no word on the
            // bus: read the log on from this daemon's cursor, as a word would have it do;
            // and what this daemon's switches said meanwhile the others did not hear.
            [this] {
                on_peer_message({std::string(storage::log_channel), ""});
                if (const auto link = peers_->health(); link.outages > 0 && !stopping_)
                    after_peer_outage(link.missed_since);
            });
    }
    if (config_.calls.resync_s == 0) close_calls_left_open();
}

void Server::read_log_after(std::int64_t after_id, std::size_t count,
                            std::function<void(CallLogFeed::Records)> done) {
    // On the writer, the one thread that touches the store for the loop: it reads what it
    // has committed, in order.
    auto read = [after_id, count](JobContext& context) {
        return context.store.log_after(after_id, count);
    };
    writer_.read(std::move(read), [done = std::move(done)](
                                       const JobOutcome<CallLogFeed::Records>& read_out) {
        if (!read_out.error.empty())
            spdlog::error("a tail catching up could not read the call log: {}", read_out.error);
        done(read_out.error.empty() ? read_out.value : CallLogFeed::Records{});
    });
}

void Server::close_calls_left_open() {
    std::size_t closed = 0;
    const std::string now = domain::utc_now();
    for (auto& record : calls_left_open_) {
        // A switch told of it again: the tracker has it, and it ends as the switch says.
        if (tracker_.find(record.call) != nullptr) continue;
        record.at = now;
        record.cause = "restart";
        write_log(std::move(record));
        ++closed;
    }
    const std::size_t resumed = calls_left_open_.size() - closed;
    calls_left_open_.clear();
    calls_left_open_.shrink_to_fit();
    faults_.calls_closed_at_start += closed;
    if (closed + resumed > 0)
        spdlog::warn("of {} call(s) left open when callpop last stopped, {} came back from the "
                     "switches and {} were closed (cause restart)",
                     closed + resumed, resumed, closed);
}

Server::~Server() {
    lookups_.stop();
    logins_.join();
    writer_.stop();
}

void Server::start() {
    open_acceptor(switch_acceptor_, config_.listen.switch_port, "switches");
    open_acceptor(agent_acceptor_, config_.listen.agent_port, "agents");
    native_switch_port_.status.name = native_switch_name;
    native_switch_port_.status.type = native_switch_name;
    native_switch_port_.status.address =
        switch_endpoint().address().to_string() + ":" + std::to_string(switch_endpoint().port());
    native_switch_port_.status.state = "listening";
    spawn_logged(io_.get_executor(),
                 accept_loop(switch_acceptor_, "switch",
                             [this](tcp::socket socket) -> std::shared_ptr<LineSession> {
                                 if (!switch_allowed(socket)) return nullptr;
                                 return std::make_shared<SwitchSession>(
                                     std::move(socket), native_switch_port_,
                                     [this](const protocol::SwitchEvent& event,
                                            const std::string& name) {
                                         return on_switch_event(event, name);
                                     },
                                     sessions_, config_.sessions);
                             }),
                 "switch listener");
    spawn_logged(io_.get_executor(), accept_agents(), "agent listener");
    spawn_logged(io_.get_executor(), admit_agents(), "agent logins");
    spawn_logged(io_.get_executor(), sweep_calls(), "call sweeper");
    register_daemon();
    if (config_.listen.http) {
        web_.emplace(io_, *config_.listen.http,
                     [this](const std::string& target, WebRespond respond) {
                         on_web_request(target, std::move(respond));
                     },
                     // Admitted as the agent port's connections are: a flood of WebSockets
                     // waits in the same line.
                     [this](std::unique_ptr<SessionTransport> transport) {
                         if (!stopping_) login_gate_.wait_in_line(std::move(transport));
                     });
        web_->start();
        spdlog::info("listening for browsers on {}:{}", web_->endpoint().address().to_string(),
                     web_->endpoint().port());
    }
    for (const auto& link : config_.switches) {
        switch_clients_.push_back(make_switch_client(
            io_, link, [this](const protocol::SwitchEvent& event, const std::string& name) {
                return on_switch_event(event, name);
            }));
        switch_clients_.back()->start();
    }
    spdlog::info("listening for switches on {}:{}, agents on {}:{}",
                 switch_endpoint().address().to_string(), switch_endpoint().port(),
                 agent_endpoint().address().to_string(), agent_endpoint().port());
}

Server::Reloaded Server::reload() {
    config::Config fresh;
    try {
        fresh = config::load_config(config_.source);
        check_what_serve_needs(fresh);
    } catch (const std::exception& error) {
        spdlog::error("reload: {}; the running configuration is kept", error.what());
        return {error.what(), false};
    }
    spdlog::set_level(spdlog::level::from_str(fresh.log.level));
    config_.log = fresh.log;
    writer_.reopen_jsonl();
    // A renewed certificate (certbot, then `systemctl reload`) serves the connections to
    // come; those open keep theirs. The files passed check_what_serve_needs() just now.
    if (agent_tls_ && fresh.listen.agent_tls) {
        agent_tls_.emplace(server_tls_context(*fresh.listen.agent_tls));
        config_.listen.agent_tls = fresh.listen.agent_tls;
    }
    if (web_ && web_->has_tls() && fresh.listen.http && fresh.listen.http->tls &&
        config_.listen.http) {
        web_->reload_tls(*fresh.listen.http->tls);
        config_.listen.http->tls = fresh.listen.http->tls;
    }
    // Everything else is held by listeners, sessions and threads made at the start.
    fresh.places = config_.places;  // where keys are written is no change
    const bool restart_needed = !(fresh == config_);
    if (restart_needed)
        spdlog::warn("reload: {} passed its checks; log.level and the TLS certificates apply "
                     "now, other changes take effect at the next start",
                     fresh.source.string());
    else
        spdlog::info("reload: {} passed its checks; the call log's JSONL file is reopened",
                     fresh.source.string());
    return {"", restart_needed};
}

void Server::on_reload(AgentSession& session) {
    spdlog::info("admin {}: reload", session.agent());
    const Reloaded reloaded = reload();
    if (!reloaded.error.empty()) return session.reject("config_error", reloaded.error);
    session.deliver(protocol::encode_reloaded(config_.source.string(), reloaded.restart_needed));
}

void Server::stop() {
    if (stopping_) return;
    stopping_ = true;
    boost::system::error_code ignored;
    switch_acceptor_.close(ignored);
    agent_acceptor_.close(ignored);
    if (web_) web_->stop();
    // Its socket would hold the loop; nothing more from the others is acted on.
    if (peers_) peers_->stop();
    probe_deadline_.cancel();
    sweep_timer_.cancel();
    login_gate_.close();
    for (const auto& client : switch_clients_) client->stop();
    // Nothing more is read; what was asked before (an outcome being committed) is answered
    // first: the writer answers in order, so once a job queued now completes, every earlier
    // one has. A writer stuck on a locked store does not hold the stop past drain_max.
    sessions_.pause_all();
    auto say_goodbye = [this] {
        if (goodbyes_said_) return;
        goodbyes_said_ = true;
        drain_timer_.cancel();
        sessions_.close_all("shutdown", "callpop is stopping");
    };
    writer_.write([](JobContext&) { return true; },
                  [say_goodbye](const JobOutcome<bool>&) { say_goodbye(); });
    drain_timer_.expires_after(drain_max);
    drain_timer_.async_wait([say_goodbye](const boost::system::error_code& error) {
        if (!error) say_goodbye();
    });
}

bool Server::switch_allowed(tcp::socket& socket) {
    boost::system::error_code error;
    const auto peer = socket.remote_endpoint(error);
    if (error) return false;  // gone already
    const std::string address = peer.address().to_string();
    if (config::any_contains(config_.listen.switch_allow, address)) return true;
    ++faults_.switches_refused;
    spdlog::warn("switch port: connection from {} refused: not in listen.switch.allow", address);
    socket.close(error);
    return false;
}

awaitable<void> Server::accept_loop(tcp::acceptor& acceptor, const char* what,
                                    std::function<std::shared_ptr<LineSession>(tcp::socket)> make) {
    asio::steady_timer backoff(io_);
    while (acceptor.is_open()) {
        boost::system::error_code error;
        tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, error));
        // A connection accepted as the stop began would miss stop()'s goodbyes: drop it.
        if (error == asio::error::operation_aborted || stopping_) break;
        if (error) {
            // Out of file descriptors, say: retrying at once would spin the loop.
            spdlog::warn("accepting a {} connection: {}", what, error.message());
            backoff.expires_after(std::chrono::milliseconds(100));
            co_await backoff.async_wait(asio::redirect_error(use_awaitable, error));
            continue;
        }
        auto session = make(std::move(socket));
        if (!session) continue;  // refused, and said why
        spdlog::debug("{} {}: connected", what, session->peer());
        sessions_.start(session);
    }
}

awaitable<void> Server::sweep_calls() {
    for (std::uint64_t sweep = 1; !stopping_; ++sweep) {
        sweep_timer_.expires_after(sweep_interval);
        boost::system::error_code error;
        co_await sweep_timer_.async_wait(asio::redirect_error(use_awaitable, error));
        if (stopping_) break;
        const auto now = Clock::now();
        for (TrackedCall* call : tracker_.expire(now)) {
            ++faults_.calls_timed_out;
            spdlog::warn("call {}: no hangup after {} s, closing it as timed out", call->id,
                         config_.calls.max_duration_s);
            auto record = make_record("timeout", *call);
            record.cause = "timeout";
            write_log(std::move(record));
            call->popped_for = router_.call_ended(call->id, "timeout");
            CallTracker::shed_payload(*call);
        }
        tracker_.forget_ended(now);
        failed_logins_.forget_old(now);
        if (!calls_left_open_.empty() &&
            now - started_ >= std::chrono::seconds(config_.calls.resync_s))
            close_calls_left_open();
        call_log_feed_.catch_up_all();
        tend_followups(sweep);
        watch_accounts();
        if (sweep % registry_sweeps == 0) register_daemon();
    }
}

void Server::register_daemon() {
    storage::DaemonSeen me{config_.storage.daemon_name,
                           config::host_name(),
                           static_cast<std::int64_t>(::getpid()),
                           CALLPOP_VERSION,
                           domain::format_utc(started_at_),
                           domain::format_utc(std::chrono::system_clock::now())};
    writer_.write(
        [me = std::move(me)](JobContext& context) {
            context.store.daemon_seen(me);
            return context.store.daemons();
        },
        std::function<void(const JobOutcome<std::vector<storage::DaemonSeen>>&)>(
            [this](const JobOutcome<std::vector<storage::DaemonSeen>>& written) {
                if (!written.error.empty()) return;  // the store's trouble is reported elsewhere
                daemons_seen_.clear();
                for (const auto& seen : written.value)
                    daemons_seen_.push_back({seen.name, seen.host, seen.pid, seen.version,
                                             seen.started_at, seen.last_seen});
            }));
}

// ---- switch side ----------------------------------------------------------------------

namespace {

// The records a call's switch events make, as opposed to what agents write about it.
bool is_call_event(std::string_view kind) {
    return kind == "ring" || kind == "answer" || kind == "transfer" || kind == "hangup" ||
           kind == "timeout";
}

bool pops(protocol::SwitchEventKind kind) {
    using protocol::SwitchEventKind;
    return kind == SwitchEventKind::ring || kind == SwitchEventKind::answer ||
           kind == SwitchEventKind::transfer;
}

bool pops(CallChange::Kind kind) {
    return kind == CallChange::Kind::rang || kind == CallChange::Kind::answered ||
           kind == CallChange::Kind::transferred;
}

LookupRequest lookup_request(const TrackedCall& call) {
    return {call.id, call.caller_raw, call.caller_name, call.dialed, call.queue, call.data};
}

// What the lookup will read of the call once the tracker has merged the event in.
LookupRequest lookup_request(const TrackedCall* call, const protocol::SwitchEvent& event) {
    LookupRequest request;
    if (call != nullptr) {
        request = lookup_request(*call);
    } else {
        request.call = event.call;
    }
    merge_details(request, event);
    return request;
}

}  // namespace

namespace {

// The card another daemon found for a call it published (publish_switch_event), or nullopt
// when it sent none or one this daemon cannot use: then it looks the caller up itself.
std::optional<LookupAnswer> card_of(const std::optional<protocol::PeerCard>& card,
                                    const std::string& call) {
    // One line, as encode_pop ends it: what is sent to the agents as it is.
    if (!card || !card->pop.ends_with('\n') || card->pop.find('\n') != card->pop.size() - 1)
        return std::nullopt;
    LookupAnswer answer{call, card->pop, card->caller_number, card->line, card->customer_id,
                        card->customer_name};
    try {
        // Sent on under this daemon's own seq: it must be a pop line.
        answer.pop_line = protocol::with_pop_seq(std::move(answer.pop_line), 0);
    } catch (const std::invalid_argument&) {
        return std::nullopt;
    }
    return answer;
}

}  // namespace

bool Server::on_switch_event(const protocol::SwitchEvent& event, const std::string& switch_name) {
    const TrackedCall* call = tracker_.find(event.call);
    const bool first = call == nullptr && !queued_events_by_call_.contains(event.call);
    queue_switch_event(event, switch_name, false);
    return first;
}

void Server::publish_to_peers(decltype(protocol::PeerMessage::said) said) {
    protocol::PeerMessage message{config_.storage.daemon_name, std::move(said)};
    std::string payload = protocol::encode_peer_message(message);
    // A card too long for the bus: the others look the caller up themselves.
    if (auto* call_event = std::get_if<protocol::PeerCallEvent>(&message.said);
        call_event != nullptr && call_event->card &&
        payload.size() > storage::StoreBus::max_payload_bytes) {
        call_event->card.reset();
        payload = protocol::encode_peer_message(message);
    }
    peers_->publish(std::string(peer_events_channel), std::move(payload));
}

void Server::publish_switch_event(const QueuedEvent& queued) {
    if (!peers_ || !queued.applied) return;
    publish_call_event(queued.event, queued.switch_name, queued.applied->call);
}

void Server::publish_call_event(const protocol::SwitchEvent& event, const std::string& switch_name,
                                const TrackedCall* call) {
    protocol::PeerCallEvent said{switch_name, event, std::nullopt};
    // Published as applied, in order, after the call's lookup: the others pop the card found
    // here rather than each reading the store again for it (one lookup a call, not one a
    // daemon: on a busy database the lookups are most of its work).
    if (call != nullptr && pops(event.kind) && call->looked_up && call->pop)
        said.card = protocol::PeerCard{*call->pop, call->caller_number, call->line_name,
                                       call->customer_id, call->customer_name};
    publish_to_peers(std::move(said));
}

namespace {

// The daemons share the wall clock; each measures time in its own steady one.
std::chrono::system_clock::time_point wall_time_of(Clock::time_point at) {
    return std::chrono::system_clock::now() -
           std::chrono::duration_cast<std::chrono::system_clock::duration>(Clock::now() - at);
}

Clock::time_point steady_time_of(std::chrono::system_clock::time_point at) {
    return Clock::now() -
           std::chrono::duration_cast<Clock::duration>(std::chrono::system_clock::now() - at);
}

}  // namespace

void Server::after_peer_outage(Clock::time_point missed_since) {
    // What this daemon's switches said meanwhile, to the daemons listening now ...
    tell_peers_what_they_missed(missed_since, missed_since,
                                "once its own link came back");
    // ... and what theirs said, asked of them: each daemon's link comes back on its own, and
    // what one told again before this one was listening did not reach it. Since when, in
    // the wall clock the daemons share: a dead connection is found by its keepalives, some
    // 25 s after the last notification came.
    const auto since = wall_time_of(missed_since) - std::chrono::seconds(30);
    publish_to_peers(protocol::PeerResync{
        std::chrono::duration_cast<std::chrono::milliseconds>(since.time_since_epoch()).count()});
}

void Server::on_peer_resync(const protocol::PeerResync& resync) {
    const std::chrono::system_clock::time_point since{std::chrono::milliseconds(resync.since_ms)};
    // Any call that rang before it asked may have been missed by it.
    tell_peers_what_they_missed(steady_time_of(since), Clock::now(),
                                "as a daemon whose link came back asked");
}

void Server::tell_peers_what_they_missed(Clock::time_point missed_since,
                                         Clock::time_point heard_before, std::string_view why) {
    std::vector<const TrackedCall*> calls;
    for (const TrackedCall* call : tracker_.live_and_ended_since(missed_since)) {
        // Not the others' calls; not one whose lookup is still out: it is published as it
        // rang once that is back. Nor one that rang and ended after the others could have
        // heard of it: no ended call is left behind on them for a call they never knew.
        if (call->mirrored || !call->looked_up) continue;
        if (call->state == CallState::ended && call->started >= heard_before) continue;
        calls.push_back(call);
    }
    std::sort(calls.begin(), calls.end(),
              [](const TrackedCall* a, const TrackedCall* b) { return a->started < b->started; });
    for (const TrackedCall* call : calls) {
        // Each call as it stands now, in one event: one still ringing rings at every
        // extension it rang at (an agent seated at one on another daemon gets its pop), an
        // answered one is answered where it is, and one that ended meanwhile ends (no
        // other daemon keeps popping it until its timeout). A daemon that heard the events
        // before the outage takes this one as a duplicate.
        protocol::SwitchEvent event;
        event.call = call->id;
        event.from = call->caller_raw;
        event.name = call->caller_name;
        event.to = call->dialed;
        event.queue = call->queue;
        event.data = call->data;
        if (call->state == CallState::ringing) {
            event.kind = protocol::SwitchEventKind::ring;
            event.extensions.assign(call->rung_extensions.begin(), call->rung_extensions.end());
        } else if (call->state == CallState::answered) {
            event.kind = protocol::SwitchEventKind::answer;
            if (!call->answered_extension.empty()) event.extensions = {call->answered_extension};
            event.agent = call->answered_agent;
        } else {
            event.kind = protocol::SwitchEventKind::hangup;
        }
        publish_call_event(event, call->switch_name, call);
    }
    if (!calls.empty())
        spdlog::info("peers: told the other daemons again of {} calls of this daemon's switches, "
                     "{}",
                     calls.size(), why);
}

void Server::queue_switch_event(const protocol::SwitchEvent& event,
                                const std::string& switch_name, bool mirrored,
                                std::optional<LookupAnswer> looked_up) {
    const TrackedCall* call = tracker_.find(event.call);
    if (pops(event.kind) && (call == nullptr || !call->looked_up) &&
        !lookups_by_call_.contains(event.call)) {
        if (looked_up)
            lookups_by_call_[event.call] = {lookup_request(call, event), std::move(looked_up), 0};
        else
            start_lookup(lookup_request(call, event));
    }
    ++queued_events_by_call_[event.call];
    QueuedEvent queued{event, switch_name, std::nullopt};
    queued.mirrored = mirrored;
    switch_events_.push_back(std::move(queued));
    act_on_queued_events();
}

void Server::on_peer_message(const storage::BusMessage& message) {
    if (stopping_) return;
    if (message.channel == storage::log_channel) {
        // This daemon's writer reads the log after each of its own commits.
        if (message.payload != config_.storage.daemon_name) writer_.follow_shared_log();
        return;
    }
    if (message.channel != peer_events_channel) return;
    // Anyone who may use the database may NOTIFY: what is not a well-formed message is
    // logged and dropped.
    auto parsed = protocol::parse_peer_message(message.payload);
    if (auto* error = std::get_if<protocol::ProtocolError>(&parsed)) {
        spdlog::warn("peers: a message that is not well formed ({}): {}", error->message,
                     message.payload.substr(0, 200));
        return;
    }
    auto& said = std::get<protocol::PeerMessage>(parsed).said;
    if (const auto* seats = std::get_if<protocol::PeerSeats>(&said)) {
        on_peer_seats(*seats);
        return;
    }
    if (const auto* resync = std::get_if<protocol::PeerResync>(&said)) {
        on_peer_resync(*resync);
        return;
    }
    auto& call_event = std::get<protocol::PeerCallEvent>(said);
    const auto& event = call_event.event;
    const TrackedCall* call = tracker_.find(event.call);
    // A call a switch of this daemon's own tells of is this daemon's to log.
    if (call != nullptr && !call->mirrored) return;
    // The end of a call this daemon never heard of (nor holds an event of, waiting behind a
    // lookup): nothing popped here to withdraw, and the daemon it rang on logs it. (An
    // answer to a resync tells of every call that ended since the asker may have started
    // missing events, some of which it never heard ring: each would be kept here as an
    // ended call for nothing.)
    if (call == nullptr && event.kind == protocol::SwitchEventKind::hangup &&
        !queued_events_by_call_.contains(event.call))
        return;
    queue_switch_event(event, call_event.switch_name, true, card_of(call_event.card, event.call));
}

void Server::tell_peers_who_sits_at(const TrackedCall& call,
                                    const std::vector<std::string>& extensions) {
    if (!peers_ || !call.mirrored) return;
    protocol::PeerSeats seats{call.id, {}};
    for (const auto& extension : extensions) {
        if (auto agent = router_.agent_at(extension); !agent.empty())
            seats.agents.emplace_back(extension, std::move(agent));
    }
    if (!seats.agents.empty()) publish_to_peers(std::move(seats));
}

void Server::on_peer_seats(const protocol::PeerSeats& seats) {
    // Published after the call's event reached the other daemon: this daemon has it, unless
    // it forgot it since.
    TrackedCall* call = tracker_.find(seats.call);
    if (call == nullptr) return;
    for (const auto& [extension, agent] : seats.agents) {
        spdlog::debug("call {}: agent {} sits at {} on another daemon", call->id, agent, extension);
        call->seated_elsewhere.emplace_back(extension, agent);
    }
}

void Server::start_lookup(LookupRequest request) {
    spdlog::debug("call {}: looking the caller up", request.call);
    const std::uint64_t id = ++lookups_started_;
    lookups_by_call_[request.call] = {request, std::nullopt, id};
    lookups_.look_up(std::move(request), [this, id](LookupAnswer answer) {
        auto found = lookups_by_call_.find(answer.call);
        // A lookup started again for newer details replaces this one.
        if (found == lookups_by_call_.end() || found->second.id != id) return;
        found->second.answer = std::move(answer);
        act_on_queued_events();
    });
}

void Server::act_on_queued_events() {
    while (!switch_events_.empty()) {
        QueuedEvent& head = switch_events_.front();
        const auto lookup = lookups_by_call_.find(head.event.call);
        // The head's call is being looked up: everything after it waits, so that the call
        // log and the agents see events in the order the switches sent them.
        if (lookup != lookups_by_call_.end() && !lookup->second.answer) return;
        if (!apply_switch_event(head)) return;
        if (!head.mirrored) publish_switch_event(head);
        if (head.applied && head.applied->kind == CallChange::Kind::rang) {
            event_to_pop_.observe(static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - head.received)
                    .count()));
        }
        auto count = queued_events_by_call_.find(head.event.call);
        if (count != queued_events_by_call_.end() && --count->second == 0)
            queued_events_by_call_.erase(count);
        switch_events_.pop_front();
    }
}

bool Server::apply_switch_event(QueuedEvent& queued) {
    if (!queued.applied) {
        queued.applied = tracker_.apply(queued.event, queued.switch_name, Clock::now());
        // Mirrored while only other daemons' switches tell of the call. Once a switch of this
        // daemon's own tells of it too (one switch connected to several daemons, for
        // redundancy) it is this daemon's to log as well: the store keeps each record once.
        // Another daemon's copy of an event never makes the call mirrored again.
        if (queued.applied->created) {
            queued.applied->call->mirrored = queued.mirrored;
        } else if (!queued.mirrored) {
            queued.applied->call->mirrored = false;
        }
    }
    CallChange& change = *queued.applied;
    TrackedCall& call = *change.call;
    if (pops(change.kind) && !call.looked_up) {
        auto lookup = lookups_by_call_.find(call.id);
        // Looked up ahead of time from what the switch had said then; a later event that
        // told more (an IVR field) means looking up again.
        if (lookup == lookups_by_call_.end() || lookup->second.request != lookup_request(call)) {
            start_lookup(lookup_request(call));
            return false;
        }
        LookupAnswer& answer = *lookup->second.answer;
        call.looked_up = true;
        // Numbered here, as it is sent: an agent's pops arrive in seq order.
        call.pop_seq = next_pop_seq_++;
        call.pop = std::make_shared<const std::string>(
            protocol::with_pop_seq(std::move(answer.pop_line), call.pop_seq));
        call.caller_number = std::move(answer.caller_number);
        call.line_name = std::move(answer.line_name);
        call.customer_id = answer.customer_id;
        call.customer_name = std::move(answer.customer_name);
    }
    // The answer is used, or no event needs it any more (its ring came after the hangup).
    if (call.looked_up || !pops(change.kind)) {
        auto lookup = lookups_by_call_.find(call.id);
        if (lookup != lookups_by_call_.end() && lookup->second.answer) lookups_by_call_.erase(lookup);
    }
    act_on(change, queued.event);
    return true;
}

void Server::act_on(const CallChange& change, const protocol::SwitchEvent& event) {
    TrackedCall& call = *change.call;
    switch (change.kind) {
        case CallChange::Kind::ignored:
            spdlog::debug("call {}: {} ignored: {}", event.call, protocol::to_string(event.kind),
                          change.reason);
            return;
        case CallChange::Kind::rang: {
            auto record = make_record("ring", call);
            record.extension = join(change.new_extensions);
            write_log(std::move(record));
            tell_peers_who_sits_at(call, change.new_extensions);
            router_.pop_at(change.new_extensions, pop_of(call));
            return;
        }
        case CallChange::Kind::answered: {
            if (call.answered_agent.empty())
                call.answered_agent = router_.agent_at(call.answered_extension);
            write_log(make_record("answer", call));
            const std::string by =
                call.answered_agent.empty() ? call.answered_extension : call.answered_agent;
            // The answering agent keeps the pop; an answer without a ring still pops.
            if (!call.answered_agent.empty()) router_.pop_for(call.answered_agent, pop_of(call));
            // After a transfer, the agent who handed the call on learns who took it; the
            // others who got the pop learn who has it now, as at a first answer.
            const std::string& handed_on_by = change.handed_on_by_agent;
            if (change.took_transfer && !handed_on_by.empty() &&
                handed_on_by != call.answered_agent)
                router_.tell_agent(call.id, handed_on_by, PoppedCallState::transferred, by, "");
            router_.tell_agents(call.id, PoppedCallState::answered, by, "",
                                {call.answered_agent, handed_on_by});
            return;
        }
        case CallChange::Kind::transferred: {
            call.pop_seq = next_pop_seq_++;
            call.pop = std::make_shared<const std::string>(
                protocol::with_pop_seq(*call.pop, call.pop_seq));
            auto record = make_record("transfer", call);
            record.extension = join(change.new_extensions);
            // Who the call goes to, when one agent can be named: the switch's word first.
            record.agent = event.agent;
            if (record.agent.empty() && change.new_extensions.size() == 1) {
                record.agent = router_.agent_at(change.new_extensions.front());
                if (record.agent.empty())
                    record.agent = call.agent_seated_elsewhere(change.new_extensions.front());
            }
            record.notes = transfer_notes(call, change.new_extensions);
            write_log(std::move(record));
            // The call's pop rings there. An agent there who saw the call ring earlier (and
            // was told it was answered) gets it again; the agent who has the call keeps it.
            const PendingPop pop = pop_of(call);
            tell_peers_who_sits_at(call, change.new_extensions);
            router_.ring_at(change.new_extensions, pop);
            const auto pop_again = [&](const std::string& agent) {
                if (agent != call.answered_agent) router_.pop_again_for(agent, pop);
            };
            for (const auto& extension : change.new_extensions) {
                for (const auto& agent : router_.agents_at(extension)) pop_again(agent);
            }
            if (!event.agent.empty()) pop_again(event.agent);
            return;
        }
        case CallChange::Kind::answered_after_end:
            if (call.answered_agent.empty())
                call.answered_agent = router_.agent_at(call.answered_extension);
            // A transfer's target answering late: the call was answered before, no
            // callback was scheduled at its hangup.
            write_log(make_record("answer", call),
                      change.took_transfer ? FollowOn::none : FollowOn::late_answer);
            return;
        case CallChange::Kind::ended: {
            auto record = make_record("hangup", call);
            record.cause = event.cause.empty() ? "normal" : event.cause;
            const std::string cause = record.cause;
            // Nobody took it: the caller is owed a call back. After a lost switch link
            // ("unknown") nobody knows whether someone did. A call answered once and then
            // transferred to nobody who took it was not missed.
            const bool missed =
                !call.ever_answered && cause != "transferred" && cause != "unknown";
            write_log(std::move(record), missed && followup_desk_.schedules_missed_calls()
                                             ? FollowOn::missed_call
                                             : FollowOn::none);
            call.popped_for = router_.call_ended(call.id, cause);
            CallTracker::shed_payload(call);
            return;
        }
    }
}

domain::CallLogRecord Server::make_record(const char* kind, const TrackedCall& call) {
    domain::CallLogRecord record;
    record.at = domain::utc_now();
    record.kind = kind;
    record.call = call.id;
    record.switch_name = call.switch_name;
    record.from = call.looked_up ? (call.caller_number.empty() ? call.caller_raw : call.caller_number)
                                 : numbers_.normalize(call.caller_raw);
    record.caller_name = call.caller_name;
    record.to = call.dialed;
    record.line = call.looked_up ? call.line_name : numbers_.line_name(call.dialed);
    record.queue = call.queue;
    record.extension = call.answered_extension;
    // The agent this daemon knows at the extension, else one another daemon has seated there.
    record.agent = call.answered_agent.empty()
                       ? call.agent_seated_elsewhere(call.answered_extension)
                       : call.answered_agent;
    record.customer_id = call.customer_id;
    record.customer_name = call.customer_name;
    return record;
}

void Server::write_log(domain::CallLogRecord record, FollowOn follow_on) {
    if (is_call_event(record.kind)) {
        TrackedCall* call = tracker_.find(record.call);
        // Counted on a mirrored call too: should a switch of this daemon's own tell of the
        // call later, its records are numbered as the other daemons number theirs.
        record.occurrence =
            call != nullptr ? call->next_record_occurrence(record.kind, record.extension) : 1;
        // The daemon whose switch sent a mirrored call's events logs them, and what follows.
        if (call != nullptr && call->mirrored) return;
    }
    writer_.write(
        LoggedEvent{std::move(record), follow_on, now_seconds().time_since_epoch().count()});
}

void Server::follow_on(JobContext& context, const domain::CallLogRecord& record,
                       FollowOn follow_on, std::int64_t at_seconds) {
    const storage::Instant now{std::chrono::seconds(at_seconds)};
    switch (follow_on) {
        case FollowOn::missed_call:
            followup_desk_.after_missed_call(context, record, now);
            return;
        case FollowOn::late_answer:
            followup_desk_.after_late_answer(context, record.call, now);
            return;
        case FollowOn::none:
            return;
    }
}

void Server::publish(const domain::CallLogRecord& record) { call_log_feed_.publish(record); }

// ---- agent side -----------------------------------------------------------------------

awaitable<void> Server::accept_agents() {
    asio::steady_timer backoff(io_);
    agent_acceptor_.non_blocking(true);
    while (agent_acceptor_.is_open()) {
        boost::system::error_code error;
        tcp::socket socket =
            co_await agent_acceptor_.async_accept(asio::redirect_error(use_awaitable, error));
        // A connection accepted as the stop began would miss stop()'s goodbyes: drop it.
        if (error == asio::error::operation_aborted || stopping_) break;
        if (error) {
            // Out of file descriptors, say: retrying at once would spin the loop.
            spdlog::warn("accepting an agent connection: {}", error.message());
            backoff.expires_after(std::chrono::milliseconds(100));
            co_await backoff.async_wait(asio::redirect_error(use_awaitable, error));
            continue;
        }
        login_gate_.wait_in_line(socket_transport(std::move(socket), &agent_security_));
        // Those waiting behind it, without a trip around the loop each: the kernel's
        // backlog must drain, or a storm's connections are refused and retried a second
        // later.
        for (int more = 0; more < accepts_at_once; ++more) {
            tcp::socket next(io_);
            agent_acceptor_.accept(next, error);  // non-blocking: would_block when none waits
            if (error) break;  // any other error, the next async_accept reports
            login_gate_.wait_in_line(socket_transport(std::move(next), &agent_security_));
        }
    }
}

awaitable<void> Server::admit_agents() {
    while (!login_gate_.closed()) {
        co_await login_gate_.next();
        while (auto connection = login_gate_.take()) start_agent_session(std::move(connection));
    }
}

void Server::start_agent_session(std::unique_ptr<SessionTransport> transport) {
    auto session = std::make_shared<AgentSession>(std::move(transport), *this, config_.sessions);
    spdlog::debug("agent {}: connected", session->peer());
    login_gate_.entered(session.get());
    sessions_.start(session);
}

void Server::on_login(const std::shared_ptr<AgentSession>& session, protocol::Login login) {
    const std::string address = session->peer_address();
    if (const auto wait = failed_logins_.blocked_for(address, Clock::now()); wait.count() > 0) {
        ++faults_.logins_throttled;
        const auto seconds = std::chrono::ceil<std::chrono::seconds>(wait).count();
        spdlog::warn("client {}: login of agent \"{}\" refused unchecked: too many failed "
                     "logins from {}",
                     session->peer(), login.agent, address);
        session->deliver(protocol::encode_error(
            {"too_many_failures", "too many failed logins from " + address + ": try again in " +
                                      std::to_string(seconds) + " s"}));
        return;
    }
    session->login_started();
    Credentials credentials{login.agent, login.token, login.ticket};
    // The account lookup and the token's hash (slow on purpose for a chosen token) happen
    // on the checker's threads; the verdict comes back to the loop.
    logins_.check_later(
        std::move(credentials),
        // Clients that gave up while queued (a reconnect storm) cost no check.
        [session] { return !session->finished(); },
        [this, session, login = std::move(login)](LoginVerdict verdict) mutable {
            asio::post(io_, [this, session, verdict = std::move(verdict),
                             login = std::move(login)] {
                if (!session->open()) return;
                if (stopping_) {
                    session->close_with("shutdown", "callpop is stopping");
                    return;
                }
                if (verdict.account) {
                    finish_login(session, verdict, login);
                } else if (verdict.store_failed) {
                    spdlog::error("{}: login of agent \"{}\" not checked: {}",
                                  "client " + session->peer(), login.agent, verdict.refusal);
                    session->deliver(protocol::encode_error(
                        {"storage_error", "the login could not be checked: try again"}));
                } else {
                    ++faults_.logins_refused;
                    failed_logins_.failed(session->peer_address(), Clock::now());
                    spdlog::warn("{}: {} for agent \"{}\"", "client " + session->peer(),
                                 verdict.refusal, login.agent);
                    session->deliver(protocol::encode_error(
                        {"bad_login", login.ticket.empty() ? "unknown agent or wrong token"
                                                           : "unknown agent or bad ticket"}));
                }
                session->login_finished();
            });
        });
}

void Server::finish_login(const std::shared_ptr<AgentSession>& session, const LoginVerdict& verdict,
                          const protocol::Login& login) {
    const storage::AgentAccount& account = *verdict.account;
    const AgentRole role = account.role;
    // A login at no extension (the CLI's status, tail, followups, a supervisor who watches)
    // may share the account with other terminals and never displaces the one at the phone;
    // anyone at a phone has one live session, the latest.
    const bool takes_calls = !login.extensions.empty();
    if (takes_calls) {
        // An account limited to some extensions (`callpop agent add --extensions`).
        for (const auto& extension : login.extensions) {
            if (account.extensions.empty() ||
                std::find(account.extensions.begin(), account.extensions.end(), extension) !=
                    account.extensions.end())
                continue;
            spdlog::warn("client {}: agent {} refused at extension {}: not one of its own ({})",
                         session->peer(), account.id, extension, join(account.extensions));
            ++faults_.logins_refused;
            session->deliver(protocol::encode_error(
                {"extension_not_allowed", "agent " + account.id + " may log in at " +
                                              join(account.extensions) + " only, not at " +
                                              extension}));
            return;
        }
        // Refused before anything changes: the agent at the phone keeps it, and is not
        // disturbed by a login it did not make.
        if (const auto held = router_.holder_besides(account.id, login.extensions)) {
            spdlog::warn("client {}: agent {} refused at extension {}: agent {} holds it",
                         session->peer(), account.id, held->extension, held->agent);
            ++faults_.logins_refused;
            session->deliver(protocol::encode_error(
                {"extension_taken", "extension " + held->extension + " is held by agent " +
                                        held->agent + " until it logs out"}));
            return;
        }
    }
    session->logged_in_as(account.id, role);
    sessions_by_agent_.emplace(account.id, AccountSession{session, account_fingerprint(account)});
    login_gate_.settled(session.get());
    if (takes_calls) {
        if (auto previous = router_.attach(account.id, login.extensions, session))
            previous->close_with("replaced", "logged in again from " + session->peer());
    }
    spdlog::info("{}: logged in at {}{}", "agent " + account.id + " (" + session->peer() + ")",
                 login.extensions.empty() ? std::string("no extension") : join(login.extensions),
                 login.ticket.empty() ? "" : " (resume ticket)");
    // The welcome and every missed pop as one message: a replay as long as the queue limit
    // must not count as a slow consumer.
    std::string welcome =
        protocol::encode_welcome(account.id, role, static_cast<int>(config_.sessions.heartbeat_s),
                                 next_pop_seq_ - 1, verdict.ticket, outcome_choices_);
    // Pops are for the terminal at the phone: a connection at no extension acking them would
    // take them from it.
    if (takes_calls) {
        std::size_t pops = 0;
        for (const auto& pop : router_.pending_after(account.id, login.resume_after.value_or(0))) {
            welcome += *pop.message;
            ++pops;
        }
        for (const auto& pop : router_.ringing_for_new_seat(account.id, login.extensions)) {
            welcome += *pop.message;
            ++pops;
        }
        router_.count_welcome_pops(pops);
    }
    session->deliver(std::move(welcome));
}

void Server::on_ack(AgentSession& session, std::uint64_t seq) { router_.ack(session.agent(), seq); }

void Server::watch_accounts() {
    if (accounts_reading_ || sessions_by_agent_.empty()) return;
    accounts_reading_ = true;
    auto revision = [](JobContext& context) { return context.store.accounts_revision(); };
    writer_.read(std::move(revision), [this](const JobOutcome<std::int64_t>& read) {
        if (!read.error.empty() || read.value == accounts_revision_) {
            accounts_reading_ = false;
            return;
        }
        accounts_revision_ = read.value;
        auto accounts = [](JobContext& context) { return context.store.agents(); };
        writer_.read(std::move(accounts),
                     [this](const JobOutcome<std::vector<storage::AgentAccount>>& read_all) {
                         accounts_reading_ = false;
                         if (read_all.error.empty())
                             close_sessions_of_changed_accounts(read_all.value);
                     });
    });
}

void Server::close_sessions_of_changed_accounts(
    const std::vector<storage::AgentAccount>& accounts) {
    std::unordered_map<std::string, std::string> now;
    for (const auto& account : accounts) now.emplace(account.id, account_fingerprint(account));
    // Closed after the walk: closing changes the map.
    std::vector<std::pair<std::shared_ptr<AgentSession>, bool>> to_close;  // removed?
    for (auto it = sessions_by_agent_.begin(); it != sessions_by_agent_.end();) {
        auto session = it->second.session.lock();
        if (!session) {
            it = sessions_by_agent_.erase(it);
            continue;
        }
        const auto found = now.find(it->first);
        if (found == now.end() || found->second != it->second.account)
            to_close.emplace_back(std::move(session), found == now.end());
        ++it;
    }
    for (const auto& [session, removed] : to_close) {
        spdlog::warn("agent {} ({}): closed, its account was {}", session->agent(),
                     session->peer(), removed ? "removed" : "changed");
        ++faults_.sessions_closed_for_account;
        if (removed) {
            session->close_with("account_removed", "agent " + session->agent() + " was removed");
        } else {
            session->close_with("account_changed",
                                "agent " + session->agent() +
                                    "'s token, role or extensions changed: log in again");
        }
    }
}

void Server::on_logout(AgentSession& session) {
    router_.remove(session.agent());
    spdlog::info("agent {}: logged out", session.agent());
    session.close_with("logged_out", "logged out");
}

void Server::on_agent_closed(AgentSession& session) {
    login_gate_.settled(&session);
    call_log_feed_.forget(&session);
    if (session.logged_in()) {
        router_.detach(session.agent(), &session);
        // This session's entry, and any of the agent's whose session is gone.
        auto [it, last] = sessions_by_agent_.equal_range(session.agent());
        while (it != last) {
            const auto held = it->second.session.lock();
            it = !held || held.get() == &session ? sessions_by_agent_.erase(it) : std::next(it);
        }
    }
    std::erase_if(followup_waiters_, [&](const auto& waiter) {
        const auto waiting = waiter.lock();
        return !waiting || waiting.get() == &session;
    });
    std::vector<FollowupLease> held;
    std::erase_if(held_followups_, [&](const auto& entry) {
        if (entry.second.session != &session) return false;
        held.push_back({entry.first, entry.second.agent, ""});
        return true;
    });
    if (!held.empty()) release_followups(std::move(held));
    sessions_.remove(session);
}

void Server::on_outcome(const std::shared_ptr<AgentSession>& session, protocol::Outcome outcome) {
    if (!config_.has_outcome(outcome.code)) {
        std::string known;
        for (const auto& code : config_.outcomes) known += (known.empty() ? "" : ", ") + code.code;
        session->deliver(protocol::encode_error(
            {"unknown_outcome", "outcome code \"" + outcome.code + "\" is not one of: " + known}));
        return;
    }
    domain::CallLogRecord record;
    const TrackedCall* call = tracker_.find(outcome.call);
    if (call != nullptr) {
        record = make_record("outcome", *call);
    } else {
        record.at = domain::utc_now();
        record.kind = "outcome";
        record.call = outcome.call;
    }
    record.agent = session->agent();
    record.outcome = outcome.code;
    record.notes = outcome.notes;
    // The outcome and the follow-up it schedules commit together, before the agent is told.
    struct Saved {
        protocol::ProtocolError refusal;  // empty code: saved
        FollowupDecision followup;
    };
    // Checked against the call's row on the writer, where the records before this one have
    // landed: who answered is what the store says, in memory or not.
    const bool popped_here = call != nullptr && (router_.popped_for(call->id, session->agent()) ||
                                                 call->popped_for.contains(session->agent()));
    auto save = [this, record = std::move(record), forgotten = call == nullptr, popped_here,
                 supervisor = domain::supervises(session->role()),
                 requested = outcome.satisfaction_call](JobContext& context) {
        Saved saved;
        const auto row = context.store.call_summary(record.call);
        if (!row) {
            saved.refusal = {"unknown_call",
                             "no call \"" + record.call + "\" to record an outcome for"};
            return saved;
        }
        // An agent's own calls: the one it answered, or one nobody answered that popped
        // for it (a missed call it calls back), while callpop remembers whom it popped for.
        const bool own = row->answered_agent == record.agent ||
                         (row->answered_agent.empty() && popped_here);
        // Nor may it undo a supervisor's correction. (After a transfer the agent who answered
        // last may replace the first agent's outcome: a correction, marked as one.)
        const auto corrected_by = [&] {
            if (row->outcome_agent.empty() || row->outcome_agent == record.agent) return false;
            const auto author = context.store.agent(row->outcome_agent);
            return author && domain::supervises(author->role);
        };
        if (!supervisor && own && corrected_by()) {
            saved.refusal = {"not_your_call", "call " + record.call +
                                                  "'s outcome was corrected by supervisor " +
                                                  row->outcome_agent};
            return saved;
        }
        if (!supervisor && !own) {
            saved.refusal = {"not_your_call",
                             row->answered_agent.empty()
                                 ? "call " + record.call + " was not answered by you"
                                 : "call " + record.call + " was answered by agent " +
                                       row->answered_agent + ", not by you"};
            return saved;
        }
        domain::CallLogRecord full = record;
        // A call ended long ago is no longer in memory; its row still knows who called.
        if (forgotten) {
            full.switch_name = row->switch_name;
            full.from = row->caller;
            full.caller_name = row->caller_name;
            full.to = row->dialed;
            full.line = row->entry.line;
            full.queue = row->queue;
            full.extension = row->extension;
            full.customer_id = row->customer_id;
            full.customer_name = row->customer_name;
        }
        // A supervisor's replacing another's outcome is marked; the earlier outcome record
        // stays in the log.
        if (!row->outcome_agent.empty() && row->outcome_agent != record.agent)
            full.cause = "correction";
        context.log(full);
        if (full.cause.empty())
            saved.followup = followup_desk_.after_outcome(context, full, requested, now_seconds());
        return saved;
    };
    writer_.write(std::move(save), [this, session, call = outcome.call](
                                       const JobOutcome<Saved>& result) {
        if (!result.error.empty()) {
            ++faults_.writes_failed;
            session->deliver(protocol::encode_error(
                {"storage_error", "the outcome was not saved: " + result.error}));
            return;
        }
        const Saved& saved = result.value;
        if (!saved.refusal.code.empty()) {
            if (saved.refusal.code == "not_your_call") {
                ++faults_.outcomes_refused;
                spdlog::warn("agent {}: outcome for call {} refused: {}", session->agent(), call,
                             saved.refusal.message);
            }
            session->deliver(protocol::encode_error({saved.refusal.code, saved.refusal.message}));
            return;
        }
        session->deliver(protocol::encode_outcome_saved(call, saved.followup.scheduled,
                                                        saved.followup.no_followup_reason));
    });
}

void Server::on_note(const std::shared_ptr<AgentSession>& session, protocol::AddNote note) {
    NoteWrite write;
    write.customer_id = note.customer;
    write.note.kind = note.kind;
    write.note.text = note.text;
    write.note.author = session->agent();
    write.note.created_at = domain::utc_now();
    writer_.write(std::move(write), [this, session, note = std::move(note)](const WriteResult& result) {
        if (!result.accepted || !result.new_id) {
            if (!result.error.empty()) ++faults_.writes_failed;
            session->deliver(protocol::encode_error(
                {result.error.empty() ? "unknown_customer" : "storage_error",
                 result.error.empty() ? "no customer " + std::to_string(note.customer)
                                      : "the note was not saved: " + result.error}));
            return;
        }
        session->deliver(protocol::encode_note_saved(note.customer, *result.new_id));
        domain::CallLogRecord record;
        record.at = domain::utc_now();
        record.kind = note.kind;
        record.call = note.call;
        record.agent = session->agent();
        record.customer_id = note.customer;
        record.notes = note.text;
        write_log(std::move(record));
    });
}

void Server::on_tail(const std::shared_ptr<AgentSession>& session, const protocol::Tail& tail) {
    if (!tail.since) return call_log_feed_.tail(session, tail);
    // Where `since` begins is the store's to say; from there on it is a tail `after`.
    auto find = [since = *tail.since](JobContext& context) {
        return context.store.last_log_id_before(since);
    };
    writer_.read(std::move(find), [this, session, tail](const JobOutcome<std::int64_t>& found) {
        if (!session->open()) return;
        if (!found.error.empty()) {
            spdlog::error("{}: tail since {}: {}", session->describe(), *tail.since, found.error);
            session->deliver(protocol::encode_error(
                {"storage_error", "tail: the call log could not be read: try again"}));
            return;
        }
        protocol::Tail from_there = tail;
        from_there.since.reset();
        from_there.after = found.value;
        call_log_feed_.tail(session, from_there);
    });
}

void Server::on_status(const std::shared_ptr<AgentSession>& session,
                       const protocol::StatusRequest& request) {
    auto status = status_now();
    if (request.agents) status.agents = agent_presences();
    session->deliver(protocol::encode_status(status));
}

std::vector<protocol::AgentPresence> Server::agent_presences() const {
    // Looked up, not scanned per agent: a wallboard asks every few seconds, and a floor
    // can have thousands of agents with hundreds waiting.
    std::unordered_set<const AgentSession*> waiting;
    for (const auto& waiter : followup_waiters_)
        if (const auto session = waiter.lock()) waiting.insert(session.get());
    std::unordered_map<std::string_view, std::int64_t> held_by_agent;
    for (const auto& [id, held] : held_followups_) held_by_agent[held.agent] = id;

    std::vector<protocol::AgentPresence> presences;
    for (auto& seated : router_.seated()) {
        protocol::AgentPresence presence;
        presence.agent = std::move(seated.agent);
        presence.extensions = std::move(seated.extensions);
        presence.connected = seated.session != nullptr;
        presence.waiting_for_followup = waiting.contains(seated.session.get());
        if (const auto held = held_by_agent.find(presence.agent); held != held_by_agent.end())
            presence.followup = held->second;
        presences.push_back(std::move(presence));
    }
    std::ranges::sort(presences, {}, &protocol::AgentPresence::agent);
    return presences;
}

protocol::DaemonStatus Server::status_now() const {
    protocol::DaemonStatus status;
    status.name = config_.storage.daemon_name;
    status.version = CALLPOP_VERSION;
    status.started_at = started_at_;
    status.at = std::chrono::system_clock::now();
    status.uptime_s = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started_).count());
    status.live_calls = tracker_.live_calls();
    status.ended_calls = tracker_.ended_calls();
    const auto headcount = router_.headcount();
    status.agents_logged_in = headcount.connected;
    status.agents_away = headcount.away;
    status.tail_followers = call_log_feed_.followers();
    status.followup_waiters = static_cast<std::size_t>(
        std::count_if(followup_waiters_.begin(), followup_waiters_.end(),
                      [](const auto& waiter) { return !waiter.expired(); }));
    status.followups_held = held_followups_.size();
    const WriterBacklog backlog = writer_.backlog();
    status.writer_queue = backlog.queued;
    status.writer_spooled = backlog.spooled;
    const StoreState store = writer_.store_state();
    status.store = {store.up, store.outages, store.last_error};
    if (peers_) {
        const PeerLink::Health link = peers_->health();
        status.peer_link = protocol::PeerLinkHealth{link.connected, link.outages, link.dropped,
                                                    link.last_error};
    }
    status.lookups = lookups_started_;
    status.faults = faults_;
    status.faults.writes_spilled = backlog.spilled_total;
    status.faults.tail_fell_behind = call_log_feed_.fell_behind();
    status.faults.switch_hellos_refused = native_switch_port_.hellos_refused;
    status.faults.plain_refused = agent_security_.plain_refused;
    status.faults.tls_failed = agent_security_.tls_failed;
    for (const auto& client : switch_clients_) status.switches.push_back(client->status());
    status.switches.push_back(native_switch_port_.status);
    status.switches.back().sessions = native_switch_port_.sessions;
    status.daemons = daemons_seen_;
    return status;
}

// ---- follow-ups ------------------------------------------------------------------------

void Server::on_next_followup(const std::shared_ptr<AgentSession>& session) {
    const bool waiting = std::ranges::any_of(
        followup_waiters_, [&](const auto& waiter) { return waiter.lock() == session; });
    if (!waiting) followup_waiters_.push_back(session);
    session->deliver(protocol::encode_followup_waiting(followup_waiters_.size()));
    offer_followups();
}

void Server::offer_followups() {
    if (offering_followups_ || stopping_) return;
    std::vector<std::shared_ptr<AgentSession>> sessions;
    std::vector<std::string> agents;
    for (const auto& waiter : followup_waiters_) {
        if (auto session = waiter.lock(); session && session->open()) {
            agents.push_back(session->agent());
            sessions.push_back(std::move(session));
        }
    }
    if (sessions.empty()) return;
    offering_followups_ = true;
    auto offer = [this, agents = std::move(agents)](JobContext& context) {
        return followup_desk_.offer_due(context, agents, now_seconds());
    };
    writer_.write(std::move(offer), [this, sessions = std::move(sessions)](
                                        const JobOutcome<std::vector<FollowupOfferMade>>& result) {
        offering_followups_ = false;
        if (!result.error.empty()) return;  // logged by the writer; the next sweep tries again
        const auto& offers = result.value;
        std::vector<FollowupLease> undelivered;
        // The i-th offer went to the i-th session that was waiting.
        for (std::size_t index = 0; index < offers.size(); ++index) {
            const auto& session = sessions[index];
            std::erase_if(followup_waiters_,
                          [&](const auto& waiter) { return waiter.lock() == session; });
            if (!session->open()) {
                undelivered.push_back(offers[index].lease);
                continue;
            }
            held_followups_[offers[index].lease.followup_id] = {offers[index].lease.agent,
                                                                session.get()};
            session->deliver(std::make_shared<const std::string>(offers[index].message));
        }
        // Left while the offer was being made: free it for the next agent now.
        if (!undelivered.empty()) release_followups(std::move(undelivered));
    });
}

void Server::release_followups(std::vector<FollowupLease> leases) {
    writer_.write([this, leases = std::move(leases)](JobContext& context) {
        followup_desk_.release(context, leases);
    });
}

void Server::tend_followups(std::uint64_t sweep) {
    // Leases run out only for agents that are gone; keep those of connected agents fresh,
    // ahead of this sweep's offers.
    const auto lease_s = static_cast<std::uint64_t>(config_.followups.lease.count());
    if (!held_followups_.empty() && sweep % std::max<std::uint64_t>(1, lease_s / 3) == 0) {
        std::vector<FollowupLease> held;
        for (const auto& [id, holder] : held_followups_) held.push_back({id, holder.agent, ""});
        writer_.write([this, held = std::move(held)](JobContext& context) {
            followup_desk_.renew_leases(context, held, now_seconds());
        });
    }
    offer_followups();
    constexpr std::uint64_t overdue_check_every = 10;
    if (sweep % overdue_check_every == 0) {
        writer_.write([this](JobContext& context) {
            followup_desk_.flag_overdue(context, now_seconds());
        });
    }
}

void Server::on_followup_result(const std::shared_ptr<AgentSession>& session,
                                protocol::FollowupResult result) {
    auto save = [this, agent = session->agent(), result](JobContext& context) {
        return followup_desk_.record_attempt(context, agent, result, now_seconds());
    };
    writer_.write(std::move(save), [this, session, id = result.followup](
                                       const JobOutcome<FollowupUpdate>& written) {
        reply_to_followup_change(*session, id, written, "the attempt was not saved");
    });
}

void Server::on_agent_drained(AgentSession& session) { call_log_feed_.drained(&session); }

void Server::on_release_extension(AgentSession& session,
                                  const protocol::ReleaseExtension& request) {
    const std::string holder = router_.release(request.extension);
    if (holder.empty()) {
        session.reject("not_found", "nobody holds extension " + request.extension);
        return;
    }
    spdlog::info("supervisor {}: released extension {} from agent {}", session.agent(), request.extension,
                 holder);
    const std::string released =
        protocol::encode_extension_released(request.extension, holder, session.agent());
    if (auto held_by = router_.session(holder)) held_by->deliver(released);
    session.deliver(released);
}

void Server::on_disconnect(AgentSession& session, const protocol::Disconnect& request) {
    std::vector<std::shared_ptr<AgentSession>> sessions;
    auto [it, last] = sessions_by_agent_.equal_range(request.agent);
    for (; it != last; ++it) {
        if (auto held = it->second.session.lock(); held && held->open() && held.get() != &session)
            sessions.push_back(std::move(held));
    }
    if (sessions.empty()) {
        session.reject("not_found", "agent " + request.agent + " has no session");
        return;
    }
    spdlog::warn("admin {}: disconnected agent {} ({} session(s))", session.agent(), request.agent,
                 sessions.size());
    for (const auto& held : sessions)
        held->close_with("disconnected", "an admin (" + session.agent() + ") closed this session");
    session.deliver(protocol::encode_disconnected(request.agent, sessions.size()));
}

void Server::on_followup_close(const std::shared_ptr<AgentSession>& session,
                               protocol::FollowupClose request) {
    auto close = [this, by = session->agent(), request](JobContext& context) {
        return followup_desk_.close(context, by, request, now_seconds());
    };
    writer_.write(std::move(close), [this, session, id = request.followup](
                                        const JobOutcome<FollowupUpdate>& written) {
        reply_to_followup_change(*session, id, written, "the follow-up was not closed");
    });
}

void Server::reply_to_followup_change(AgentSession& session, std::int64_t id,
                                      const JobOutcome<FollowupUpdate>& written,
                                      const char* not_saved) {
    if (!written.error.empty()) {
        ++faults_.writes_failed;
        session.deliver(protocol::encode_error(
            {"storage_error", std::string(not_saved) + ": " + written.error}));
        return;
    }
    const FollowupUpdate& update = written.value;
    if (!update.error_code.empty()) {
        session.deliver(protocol::encode_error({update.error_code, update.error}));
        return;
    }
    held_followups_.erase(id);
    session.deliver(protocol::encode_followup_saved(id, update.status, update.next_due));
}

}  // namespace callpop::daemon
