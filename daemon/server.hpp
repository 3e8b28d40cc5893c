#pragma once
// The daemon: listeners, the call tracker, caller lookup, pop routing, the call log and
// the supervisors' tail, all on one io_context thread.
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "daemon/agents/agent_session.hpp"
#include "daemon/agents/call_log_feed.hpp"
#include "daemon/agents/failed_logins.hpp"
#include "daemon/agents/pop_router.hpp"
#include "daemon/net/asio.hpp"
#include "daemon/net/session_registry.hpp"
#include "daemon/calls/call_tracker.hpp"
#include "daemon/calls/caller_lookup.hpp"
#include "daemon/followups/followup_desk.hpp"
#include "daemon/login_checker.hpp"
#include "daemon/writer/log_writer.hpp"
#include "daemon/switches/switch_client.hpp"
#include "daemon/switches/switch_session.hpp"
#include "daemon/peers/peer_link.hpp"
#include "daemon/web/web_port.hpp"
#include "protocol/agent_message.hpp"
#include "protocol/metrics.hpp"
#include "protocol/peer_message.hpp"
#include "protocol/switch_event.hpp"
#include "storage/store.hpp"

namespace callpop::daemon {

class Server final : public AgentRequests {
public:
    Server(asio::io_context& io, config::Config config);
    ~Server();

    // Binds both ports (port 0: the system picks) and starts accepting.
    void start();
    // Closes the listeners, says goodbye to every session, lets writes drain.
    void stop();
    bool stopping() const { return stopping_; }
    // SIGHUP: reads the config file again and checks it as a start would. A file that does
    // not pass is logged with its file:line:col and the running configuration is kept.
    // One that passes: log.level applies at once, the JSONL call log is reopened (after
    // logrotate), and other changes are named as waiting for the next start.
    struct Reloaded {
        std::string error;  // "" when the file passed
        bool restart_needed = false;
    };
    Reloaded reload();

    tcp::endpoint switch_endpoint() const { return switch_acceptor_.local_endpoint(); }
    tcp::endpoint agent_endpoint() const { return agent_acceptor_.local_endpoint(); }
    const config::Config& config() const { return config_; }
    // The switches callpop dials (`switches` in the config), in config order.
    const std::vector<std::shared_ptr<SwitchClient>>& switch_clients() const {
        return switch_clients_;
    }

    // Switch side.
    // True when the event started a call: each switch counts its calls for `callpop status`.
    bool on_switch_event(const protocol::SwitchEvent& event, const std::string& switch_name);

    // Agent side (AgentRequests).
    void on_login(const std::shared_ptr<AgentSession>& session, protocol::Login login) override;
    void on_ack(AgentSession& session, std::uint64_t seq) override;
    void on_outcome(const std::shared_ptr<AgentSession>& session,
                    protocol::Outcome outcome) override;
    void on_note(const std::shared_ptr<AgentSession>& session, protocol::AddNote note) override;
    void on_tail(const std::shared_ptr<AgentSession>& session, const protocol::Tail& tail) override;
    void on_next_followup(const std::shared_ptr<AgentSession>& session) override;
    void on_followup_result(const std::shared_ptr<AgentSession>& session,
                            protocol::FollowupResult result) override;
    void on_followup_close(const std::shared_ptr<AgentSession>& session,
                           protocol::FollowupClose request) override;
    void on_status(const std::shared_ptr<AgentSession>& session,
                   const protocol::StatusRequest& request) override;
    std::vector<protocol::AgentPresence> agent_presences() const;

    // The web port (daemon/server_web.cpp): /healthz, /metrics.
    std::optional<tcp::endpoint> web_endpoint() const;
    void on_web_request(const std::string& target, WebRespond respond);
    void on_agent_drained(AgentSession& session) override;
    void on_release_extension(AgentSession& session,
                              const protocol::ReleaseExtension& request) override;
    void on_disconnect(AgentSession& session, const protocol::Disconnect& request) override;
    void on_reload(AgentSession& session) override;
    void on_logout(AgentSession& session) override;
    void on_agent_closed(AgentSession& session) override;

private:
    protocol::DaemonStatus status_now() const;
    // What /healthz and /metrics read from the store, through the writer: a write job that
    // goes through says the store takes writes. `done` runs once, within store_probe_wait.
    struct StoreProbe {
        bool writable = false;
        std::string problem;  // why not writable
        std::optional<storage::FollowupCounts> followups;
    };
    void probe_store(std::function<void(StoreProbe)> done);
    void finish_probe(const StoreProbe& probe);
    std::vector<std::function<void(StoreProbe)>> probe_waiters_;  // while a probe runs
    std::uint64_t probe_generation_ = 0;  // a deadline that fired for an answered probe is stale
    bool probe_in_writer_ = false;        // its job waits in the writer

    awaitable<void> accept_loop(tcp::acceptor& acceptor, const char* what,
                                std::function<std::shared_ptr<LineSession>(tcp::socket)> make);
    // The agent port: accepts into the LoginGate's line, and starts sessions as it admits.
    awaitable<void> accept_agents();
    awaitable<void> admit_agents();
    void start_agent_session(std::unique_ptr<SessionTransport> transport);
    awaitable<void> sweep_calls();
    // Follow-up duties of each sweep: offers to waiting agents, lease renewal, overdue flags.
    void tend_followups(std::uint64_t sweep);
    void offer_followups();

    // Switch events are acted on in the order they came, each once its caller is looked
    // up; the lookups themselves run ahead, side by side, on the lookup threads.
    struct QueuedEvent {
        protocol::SwitchEvent event;
        std::string switch_name;
        std::optional<CallChange> applied;  // applied to the tracker, waiting for its lookup
        Clock::time_point received = Clock::now();  // for the event → pop latency
        bool mirrored = false;  // another daemon's switch sent it (TrackedCall::mirrored)
    };
    // Another daemon's switch event, or its word that call-log records were committed.
    void on_peer_message(const storage::BusMessage& message);
    // `looked_up`: the caller as the daemon that sent a mirrored event found them.
    void queue_switch_event(const protocol::SwitchEvent& event, const std::string& switch_name,
                            bool mirrored, std::optional<LookupAnswer> looked_up = std::nullopt);
    // A switch event of this daemon's own, once applied, to the other daemons.
    void publish_switch_event(const QueuedEvent& queued);
    // `event` of `call` to the other daemons, the card found here with it.
    void publish_call_event(const protocol::SwitchEvent& event, const std::string& switch_name,
                            const TrackedCall* call);
    // After an outage of the link: tells the others again, and asks them to tell it again.
    void after_peer_outage(Clock::time_point missed_since);
    // Another daemon's link was down: it asks what it may have missed.
    void on_peer_resync(const protocol::PeerResync& resync);
    // The state of this daemon's own calls live since `missed_since`; of those that ended,
    // the ones that rang before `heard_before`. `why`, for the log.
    void tell_peers_what_they_missed(Clock::time_point missed_since, Clock::time_point heard_before,
                                     std::string_view why);
    // What this daemon says, to the other daemons: signed with its name.
    void publish_to_peers(decltype(protocol::PeerMessage::said) said);
    void start_lookup(LookupRequest request);
    void act_on_queued_events();
    // False when the event's call must wait for its lookup: `queued` then holds the change.
    bool apply_switch_event(QueuedEvent& queued);
    void act_on(const CallChange& change, const protocol::SwitchEvent& event);
    // A mirrored call rings at extensions where agents sit here: the daemon that logs it is
    // told who they are, so that its records of their answers name them.
    void tell_peers_who_sits_at(const TrackedCall& call,
                                const std::vector<std::string>& extensions);
    // Another daemon's word of who sits where a call of this daemon's rings.
    void on_peer_seats(const protocol::PeerSeats& seats);

    domain::CallLogRecord make_record(const char* kind, const TrackedCall& call);
    // Hands the record to the writer; once committed it joins the tail stream.
    // Calls the store holds with no end, from before this start, that no switch has spoken
    // of since are closed as `timeout` with cause `restart` (calls.resync_s after the start).
    void close_calls_left_open();
    // A tail behind what memory holds reads the store through the writer.
    void read_log_after(std::int64_t after_id, std::size_t count,
                        std::function<void(CallLogFeed::Records)> done);
    void write_log(domain::CallLogRecord record, FollowOn follow_on = FollowOn::none);
    // The follow-up work a record asks for, in its transaction on the writer thread.
    void follow_on(JobContext& context, const domain::CallLogRecord& record, FollowOn follow_on,
                   std::int64_t now);
    void publish(const domain::CallLogRecord& record);
    void release_followups(std::vector<FollowupLease> leases);
    // Tells the agent how its attempt or close went, once committed.
    void reply_to_followup_change(AgentSession& session, std::int64_t id,
                                  const JobOutcome<FollowupUpdate>& written,
                                  const char* not_saved);
    // Whether a switch may connect from the socket's peer (listen.switch.allow); a refused
    // one is closed, logged and counted.
    bool switch_allowed(tcp::socket& socket);
    void finish_login(const std::shared_ptr<AgentSession>& session, const LoginVerdict& verdict,
                      const protocol::Login& login);
    // Reads the accounts again when their revision moved, and closes the sessions of those
    // removed or changed.
    void watch_accounts();
    // Writes this daemon's row in the store's registry and reads every daemon's back, for
    // `callpop status`.
    void register_daemon();
    std::vector<protocol::DaemonPeer> daemons_seen_;
    void close_sessions_of_changed_accounts(const std::vector<storage::AgentAccount>& accounts);

    asio::io_context& io_;
    config::Config config_;
    FollowupDesk followup_desk_;  // writer jobs only, on the writer thread; its policy read anywhere
    LogWriter writer_;
    NumberBook numbers_;
    LookupThreads lookups_;
    CallTracker tracker_;
    PopRouter router_;
    CallLogFeed call_log_feed_;
    LoginChecker logins_;  // account lookups and token hashes stay off the loop
    LoginGate login_gate_;  // how many agent connections log in at once
    FailedLogins failed_logins_;
    std::vector<std::shared_ptr<SwitchClient>> switch_clients_;
    NativeSwitchPort native_switch_port_;
    std::optional<asio::ssl::context> agent_tls_;  // listen.agent.tls
    ListenerSecurity agent_security_;
    // For `callpop status`: the wall-clock start to show, the steady one to measure uptime.
    std::chrono::system_clock::time_point started_at_ = std::chrono::system_clock::now();
    Clock::time_point started_ = Clock::now();
    tcp::acceptor switch_acceptor_;
    tcp::acceptor agent_acceptor_;
    asio::steady_timer sweep_timer_;
    asio::steady_timer drain_timer_;  // bounds a stop's wait for the writer's answers
    bool goodbyes_said_ = false;
    protocol::FaultCounts faults_;  // for `callpop status`
    // Each as the record that closes it, until calls.resync_s after the start.
    std::vector<domain::CallLogRecord> calls_left_open_;
    SessionRegistry sessions_;
    // Follow-up work belongs to the session that asked for it: a new session of the same
    // agent starts afresh.
    std::deque<std::weak_ptr<AgentSession>> followup_waiters_;  // first come, first served
    // Logged-in sessions by agent, with their account as it was at login: a session whose
    // account is removed or changed since (`callpop agent`, from any process) is closed.
    struct AccountSession {
        std::weak_ptr<AgentSession> session;
        std::string account;  // account_fingerprint()
    };
    std::unordered_multimap<std::string, AccountSession> sessions_by_agent_;
    std::int64_t accounts_revision_ = 0;
    bool accounts_reading_ = false;
    struct HeldFollowup {
        std::string agent;
        const AgentSession* session = nullptr;  // identity only
    };
    std::map<std::int64_t, HeldFollowup> held_followups_;  // offered, not yet reported
    bool offering_followups_ = false;                      // an offer job is with the writer
    std::deque<QueuedEvent> switch_events_;
    std::unordered_map<std::string, std::size_t> queued_events_by_call_;
    struct CallerLookupState {
        LookupRequest request;
        std::optional<LookupAnswer> answer;  // empty while the lookup runs
        std::uint64_t id = 0;
    };
    std::uint64_t lookups_started_ = 0;
    std::unordered_map<std::string, CallerLookupState> lookups_by_call_;
    std::uint64_t next_pop_seq_ = 1;
    // On a shared store: the other daemons, told of every switch event this one gets.
    std::unique_ptr<PeerLink> peers_;
    std::vector<protocol::OutcomeChoice> outcome_choices_;  // for each welcome
    bool stopping_ = false;
    protocol::LatencyHistogram event_to_pop_;
    std::optional<WebPort> web_;  // listen.http
    asio::steady_timer probe_deadline_{io_};
};

}  // namespace callpop::daemon
