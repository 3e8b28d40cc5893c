#!/usr/bin/env bash
# bench/kamailio.sh — callpop behind a real switch: Kamailio with examples/kamailio/kamailio.cfg,
# SIPp agent phones and callers, callpop connected to Kamailio's evapi, and callpop_bench as
# the agents (--no-switch). Measures pop latency from the switch's own stamp (the ring
# event's ts_us) to the pop read by the agent, checks nothing was lost along the way, and
# reports the CPU of callpop beside Kamailio's and SIPp's.
#
# usage: bench/kamailio.sh [--rate R] [--seconds S | --calls N] [--customers N] [--agents A]
#                          [--ring-ms MS] [--talk-ms MS] [--children C] [--shm MB]
#                          [--samples FILE] [--keep]
#   --rate R        calls per second SIPp places (1000)
#   --seconds S     for S seconds (30); --calls N places N calls instead
#   --customers N   demo customers in the store (100000); the callers are their numbers
#   --agents A      agents 1001..1000+A, one extension each, logged in (100); every extension
#                   is registered with Kamailio by the one SIPp phone that answers
#   --ring-ms MS    the phone rings MS before it answers (100)
#   --talk-ms MS    the caller hangs up MS after the answer (1000)
#   --children C    Kamailio's SIP worker processes (4)
#   --shm MB        Kamailio's shared memory (1024: ~200 KB per call/s, examples/kamailio)
#   --samples FILE  one CSV line per call (call,sent_us,latency_us): bench/cdf.sh plots it
#   --keep          keep the run's directory (logs, call log, SIPp statistics)
#
# Every call is answered: ring, answer, hangup (3 evapi events, 3 call-log records). The
# latency of a call: the pop's read time (CLOCK_REALTIME, in callpop_bench) minus the ts_us
# Kamailio put in the ring event (gettimeofday in the SIP worker, just before it relays the
# INVITE). callpop_bench gets the ts_us by reading evapi as a second client, as callpop does;
# its own read time of the ring is reported too (evapi delivery), which is the part of the
# latency that is Kamailio's. Nothing is pinned: the switch, SIPp, callpop and the agents
# share the machine's cores, as they would on a small all-in-one box.
#
# The store and the agents' tokens are bench/run.sh's (run.sh --prepare-only). Everything
# binds 127.0.0.1 on ports the system picks; every process started here is bounded in time
# and stopped by its pid. Environment: CALLPOP_BUILD_DIR (default build-bench).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${CALLPOP_BUILD_DIR:-$root/build-bench}
rate=1000
seconds=30
calls=
customers=100000
agents=100
ring_ms=100
talk_ms=1000
children=4
shm=1024
samples=
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) rate=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --calls) calls=$2; shift 2 ;;
    --customers) customers=$2; shift 2 ;;
    --agents) agents=$2; shift 2 ;;
    --ring-ms) ring_ms=$2; shift 2 ;;
    --talk-ms) talk_ms=$2; shift 2 ;;
    --children) children=$2; shift 2 ;;
    --shm) shm=$2; shift 2 ;;
    --samples) samples=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
    *) echo "kamailio.sh: unknown option $1 (--help)" >&2; exit 2 ;;
  esac
done
[ -n "$calls" ] || calls=$((rate * seconds))
# A bound on every process started here: the calls, their length, and a margin.
bound_s=$((calls / rate + (ring_ms + talk_ms) / 1000 + 90))

sipp=$(command -v sipp || true)
kamailio=$(command -v kamailio || echo /usr/sbin/kamailio)
[ -x "$kamailio" ] && [ -n "$sipp" ] ||
  { echo "kamailio.sh: needs kamailio, kamailio-extra-modules and sip-tester (scripts/install-deps)" >&2; exit 1; }

# ---- build and store: bench/run.sh's ---------------------------------------------------
cache=$(CALLPOP_BUILD_DIR=$build "$root/bench/run.sh" --prepare-only --customers "$customers" --agents "$agents")
callpop=$build/callpop
[ -x "$callpop" ] || callpop=$build/daemon/callpop
bench=$build/bench/callpop_bench
[ -f "$cache/tokens.txt" ] && [ -f "$cache/callers.txt" ] ||
  { echo "kamailio.sh: $cache has no tokens.txt or callers.txt" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/callpop-kamailio.XXXXXX")
pids=()  # everything started here, stopped in reverse order
stop_pid() {  # $1: pid; SIGTERM, up to 10 s, then SIGKILL (its process group when it leads one)
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "kamailio.sh: pid $pid still running 10 s after SIGTERM: SIGKILL" >&2
    if [ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ]; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
# SIPp runs under `timeout`, which bounds it and passes a SIGTERM on to its process group.
cleanup() {
  local index
  for ((index = ${#pids[@]} - 1; index >= 0; index--)); do stop_pid "${pids[$index]}"; done
  if [ "$keep" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
say() { echo "[kamailio.sh $(date +%T)] $*" >&2; }

free_port() {  # udp|tcp: a port on 127.0.0.1 nobody holds now (the kernel's pick for port 0)
  python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "$1"
}
listening() {  # udp|tcp PORT
  if [ "$1" = udp ]; then ss -Hlnu "sport = :$2" | grep -q .; else ss -Hlnt "sport = :$2" | grep -q .; fi
}
wait_for() {  # SECONDS WHAT COMMAND...: polls COMMAND every 50 ms
  local seconds=$1 what=$2
  shift 2
  for _ in $(seq 1 $((seconds * 20))); do "$@" && return 0; sleep 0.05; done
  echo "kamailio.sh: waited $seconds s for $what" >&2
  return 1
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }  # utime+stime, all threads
kamailio_ticks() {  # the main process and every child it forked
  local sum=0 pid
  for pid in "$kamailio_pid" $(ps -o pid= --ppid "$kamailio_pid"); do sum=$((sum + $(ticks "$pid"))); done
  echo "$sum"
}
machine_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $5 + $6 + $7 + $8, $5 + $6}' /proc/stat; }  # all, idle+iowait
hz=$(getconf CLK_TCK)
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }

sip_port=$(free_port udp)
evapi_port=$(free_port tcp)
phone_port=$(free_port udp)

# ---- Kamailio: the project's configuration, on ports of its own -------------------------
say "kamailio $("$kamailio" -v | awk 'NR == 1 {print $3}') on udp 127.0.0.1:$sip_port, evapi $evapi_port ($children children, ${shm} MB)"
mkdir -p "$work/kamailio-run"
# setsid: its own process group, so that its children can be stopped with it.
setsid "$kamailio" -f "$root/examples/kamailio/kamailio.cfg" -DD -E -m "$shm" -M 16 \
  -Y "$work/kamailio-run" -P "$work/kamailio.pid" \
  --substdef "!SIP_LISTEN!udp:127.0.0.1:$sip_port!" --substdef "!EVAPI_BIND!127.0.0.1:$evapi_port!" \
  -A "CHILDREN=$children" >"$work/kamailio.log" 2>&1 &
kamailio_pid=$!
pids+=("$kamailio_pid")
kamailio_up() {
  kill -0 "$kamailio_pid" 2>/dev/null || { echo "kamailio exited:" >&2; tail -n 20 "$work/kamailio.log" >&2; exit 1; }
  listening udp "$sip_port" && listening tcp "$evapi_port"
}
wait_for 15 "kamailio to listen" kamailio_up

# ---- the agents' phone: one SIPp that answers for every extension ------------------------
timeout --kill-after=5 "$bound_s" "$sipp" -sf "$root/examples/kamailio/sipp/phone_answers.xml" \
  -i 127.0.0.1 -p "$phone_port" -cp "$(free_port udp)" -mi 127.0.0.1 -d "$ring_ms" \
  -nostdin -timeout "${bound_s}s" -trace_err -error_file "$work/phone.errors" >"$work/phone.log" 2>&1 &
phone_wrapper=$!
pids+=("$phone_wrapper")
wait_for 10 "the SIPp phone to listen" listening udp "$phone_port"
phone_pid=$(ps -o pid= --ppid "$phone_wrapper" | tr -d ' ')
{
  echo SEQUENTIAL
  for id in $(seq 1001 $((1000 + agents))); do echo "$id;$phone_port"; done
} >"$work/phones.csv"
if ! timeout 60 "$sipp" "127.0.0.1:$sip_port" -sf "$root/examples/kamailio/sipp/register.xml" \
  -inf "$work/phones.csv" -i 127.0.0.1 -p "$(free_port udp)" -cp "$(free_port udp)" \
  -m "$agents" -r 500 -nostdin -timeout 50s -timeout_error \
  -trace_err -error_file "$work/register.errors" >"$work/register.log" 2>&1; then
  echo "kamailio.sh: the extensions did not all register:" >&2
  tail -n 20 "$work/register.log" >&2
  exit 1
fi
say "extensions 1001..$((1000 + agents)) registered at the SIPp phone on udp $phone_port"

# ---- callpop, with Kamailio as its switch ------------------------------------------------
cp "$cache/callpop.db" "$work/callpop.db"
# bench/run.sh's configuration, with Kamailio as the switch.
source "$root/bench/config.sh"
{
  write_config "$work"
  printf 'switches:\n  - {name: kamailio, type: evapi, host: 127.0.0.1, port: %s}\n' "$evapi_port"
} >"$work/callpop.yaml"
"$callpop" serve --config "$work/callpop.yaml" --ready-file "$work/ready.json" 2>>"$work/daemon.log" &
daemon_pid=$!
pids+=("$daemon_pid")
daemon_up() {
  kill -0 "$daemon_pid" 2>/dev/null || { echo "callpop serve exited:" >&2; cat "$work/daemon.log" >&2; exit 1; }
  [ -s "$work/ready.json" ]
}
wait_for 30 "callpop serve to be ready" daemon_up
agent_port=$(grep -o '"agent_port":[0-9]*' "$work/ready.json" | cut -d: -f2)
# Kamailio logs each evapi client it accepted (and greets it): events before that are not
# sent to it.
evapi_clients() { grep -c "evapi client 127.0.0.1:[0-9]* connected" "$work/kamailio.log" || true; }
callpop_linked() { [ "$(evapi_clients)" -ge 1 ]; }
wait_for 15 "callpop's evapi link" callpop_linked

# ---- the agents: callpop_bench, recording evapi as a second client -------------------------
bench_args=(--no-switch --agent-port "$agent_port" --evapi-port "$evapi_port" --agents "$agents"
  --tokens "$cache/tokens.txt" --calls "$calls" --max-seconds "$bound_s" --drain-seconds 5
  --ready-file "$work/bench.ready")
[ -n "$samples" ] && bench_args+=(--samples "$samples")
"$bench" "${bench_args[@]}" >"$work/bench.out" 2>"$work/bench.err" &
bench_pid=$!
pids+=("$bench_pid")
bench_up() {
  kill -0 "$bench_pid" 2>/dev/null || { echo "callpop_bench exited:" >&2; cat "$work/bench.err" >&2; exit 1; }
  [ -s "$work/bench.ready" ]
}
wait_for 60 "the agents to log in" bench_up
[ "$(evapi_clients)" -ge 2 ] || { echo "kamailio.sh: the recording evapi client is not connected" >&2; exit 1; }

# ---- the callers ----------------------------------------------------------------------
# The customers' numbers as SIP users (digits, a leading +), each call to the next agent.
awk -v agents="$agents" -v calls="$calls" 'BEGIN { print "SEQUENTIAL" }
  NR > calls { exit }
  { number = $0; gsub(/[^0-9+]/, "", number); if (number == "") next
    printf "%s;Bench Caller;8005551000;%d\n", number, 1001 + (n++ % agents) }' \
  "$cache/callers.txt" >"$work/callers.csv"
# Concurrent calls: rate x (ring + talk), with room for retransmissions.
limit=$((rate * (ring_ms + talk_ms + 500) * 3 / 1000 + 1000))
say "$calls calls at $rate calls/s from $(($(wc -l <"$work/callers.csv") - 1)) customers' numbers to $agents agents (ring ${ring_ms} ms, talk ${talk_ms} ms)"
# How busy the machine was just before (anything else running skews every figure).
read -r before_all_0 before_idle_0 <<<"$(machine_ticks)"
sleep 1
read -r machine_all_0 machine_idle_0 <<<"$(machine_ticks)"
busy_before=$(calc "100 - 100 * ($machine_idle_0 - $before_idle_0) / ($machine_all_0 - $before_all_0)" 0)
daemon_ticks_0=$(ticks "$daemon_pid")
kamailio_ticks_0=$(kamailio_ticks)
phone_ticks_0=$(ticks "$phone_pid")
start_s=$(date +%s.%N)
timeout --kill-after=5 "$bound_s" /usr/bin/time -f "%U %S %e" -o "$work/callers.time" \
  "$sipp" "127.0.0.1:$sip_port" -sf "$root/bench/kamailio/caller.xml" \
  -inf "$work/callers.csv" -i 127.0.0.1 -p "$(free_port udp)" -cp "$(free_port udp)" -mi 127.0.0.1 \
  -m "$calls" -r "$rate" -l "$limit" -d "$talk_ms" -nostdin -timeout "${bound_s}s" -timeout_error \
  -trace_stat -stf "$work/callers.stat.csv" -fd 1 -trace_err -error_file "$work/callers.errors" \
  >"$work/callers.log" 2>&1 &
callers_pid=$!
pids+=("$callers_pid")
callers_status=0
wait "$callers_pid" || callers_status=$?
callers_done_s=$(date +%s.%N)
say "the callers are done (SIPp exit status $callers_status) after $(calc "$callers_done_s - $start_s" 1) s; waiting for the last pops"
# The bench stops once every pop and hangup arrived, or 5 s after the last news.
for _ in $(seq 1 600); do kill -0 "$bench_pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$bench_pid" 2>/dev/null && kill -TERM "$bench_pid"
bench_status=0
wait "$bench_pid" || bench_status=$?
end_s=$(date +%s.%N)
read -r machine_all_1 machine_idle_1 <<<"$(machine_ticks)"
daemon_ticks_1=$(ticks "$daemon_pid")
kamailio_ticks_1=$(kamailio_ticks)
phone_ticks_1=$(ticks "$phone_pid")
kamailio_processes=$(($(ps -o pid= --ppid "$kamailio_pid" | wc -l) + 1))
daemon_rss=$(awk '/VmHWM/ {print $2}' "/proc/$daemon_pid/status")

stop_pid "$daemon_pid"  # its writer commits what is queued before it exits
stop_pid "$phone_wrapper"
stop_pid "$kamailio_pid"

# ---- what happened --------------------------------------------------------------------
stat_field() {  # the last row's value of a column of SIPp's -trace_stat CSV
  awk -F';' -v name="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) column = i; next }
    { value = $column } END { print (column ? value : "?") }' "$work/callers.stat.csv"
}
records() { grep -c "\"kind\":\"$1\"" "$work/calls.jsonl" || true; }
# /usr/bin/time's last line (a first one says when SIPp's exit status was not 0); nothing
# when `timeout` had to stop it.
callers_user=0
callers_sys=0
if [ -s "$work/callers.time" ]; then read -r callers_user callers_sys _ < <(tail -n 1 "$work/callers.time") || true; fi
window_s=$(calc "$end_s - $start_s")
per_call() { calc "$1 / $hz / $calls * 1000000" 0; }
cpu_line() {  # name ticks
  printf "  %-22s %6s s  %5s µs a call  (%s %% of one core)\n" "$1" "$(calc "$2 / $hz")" "$(per_call "$2")" \
    "$(calc "100 * $2 / $hz / $window_s" 0)"
}
bench_cpu=$(awk '/^bench CPU/ {print $3}' "$work/bench.out")
{
  echo "calls placed (SIPp)  $(stat_field 'OutgoingCall(C)') of $calls: $(stat_field 'SuccessfulCall(C)') successful," \
    "$(stat_field 'FailedCall(C)') failed, $(stat_field 'Retransmissions(C)') retransmissions;" \
    "$(calc "$callers_done_s - $start_s" 1) s for the callers (rate asked $rate/s)"
  grep -v '^agents logged in' "$work/bench.out" | sed 's/^/bench: /'
  echo "call log             $(records ring) ring, $(records answer) answer, $(records hangup) hangup records in calls.jsonl (after SIGTERM)"
  echo "CPU over $window_s s (the callers' start to the last pop), per call of $calls:"
  cpu_line "callpop (all threads)" $((daemon_ticks_1 - daemon_ticks_0))
  cpu_line "kamailio ($kamailio_processes procs)" $((kamailio_ticks_1 - kamailio_ticks_0))
  cpu_line "sipp callers" "$(calc "($callers_user + $callers_sys) * $hz" 0)"
  cpu_line "sipp phone" $((phone_ticks_1 - phone_ticks_0))
  cpu_line "callpop_bench (agents)" "$(calc "${bench_cpu:-0} * $hz" 0)"
  echo "machine              $(nproc) cores, $busy_before % busy in the second before the calls, $(calc "100 - 100 * ($machine_idle_1 - $machine_idle_0) / ($machine_all_1 - $machine_all_0)" 0) % busy over the window;" \
    "callpop peak RSS $(calc "$daemon_rss / 1024" 1) MiB"
  echo "warnings             callpop: $(grep -c -E '\] \[(warning|error|critical)\]' "$work/daemon.log" || true) lines;" \
    "kamailio: $(grep -v 'evapi client' "$work/kamailio.log" | grep -c -E 'WARNING|ERROR|CRITICAL' || true) lines;" \
    "SIPp errors: $(cat "$work"/*.errors 2>/dev/null | grep -c . || true) lines"
}
[ "$callers_status" = 0 ] && [ "$bench_status" = 0 ] || exit 3
