#!/usr/bin/env bash
# Usage: bench/run.sh [--customers N] [--agents A] [--relogin R] [--chosen-tokens] [--fresh]
#                     [--keep] [--rss-every S] [callpop_bench options...]
#
# Builds callpop and callpop_bench (RelWithDebInfo, like `scripts/build release`) if needed,
# prepares a store with N demo customers (default 100,000) and A agents (default 100; ids
# 1001..), starts `callpop serve` on 127.0.0.1 with ports the system picks, runs
# callpop_bench against it, prints its figures, the daemon's CPU time and peak RSS, and
# checks the call log got every record; then stops the daemon with SIGTERM.
#
# Agents get generated tokens (`callpop agent add ... --print-token`, kept with the store);
# --chosen-tokens gives them the token demo-<id> instead, hashed with PBKDF2 as a token a
# person chose is (each login then costs the daemon ~6.6 ms).
#
# --prepare-only builds and prepares the store (as for a run with these --customers and
# --agents), prints the directory that holds it (callpop.db, tokens.txt, callers.txt) and
# stops: bench/kamailio.sh uses the same stores.
#
# --cdf PNG plots the latency CDF of the run with bench/cdf.sh (gnuplot), from --samples
# FILE when given, else from a temporary one.
#
# --rss-every S samples the daemon's resident memory every S seconds during the bench and
# prints the samples, with the growth over the last half of the run (target 5: memory flat
# under traffic).
#
# --relogin R measures logging back in after a restart: A+R agents are made; all of them
# log in with their tokens (timed: "agents logged in") and keep the tickets of their
# welcomes; the daemon is restarted; A agents log in with tickets and take the calls, and
# R more log in at once with tickets during the calls (--relogin-after S into them,
# --relogin-window W at a time; default all at once): the time until the last welcome,
# and the latency of the pops rung meanwhile.
#
# The daemon and the bench are pinned to different cores when taskset and 2+ cores exist
# (DAEMON_CPUS, default 0, and BENCH_CPUS, default 1; set either to "" not to pin).
# Everything else is passed to callpop_bench, e.g.:
#   bench/run.sh                          # 20,000 calls at 2,000 calls/s, 100 agents
#   bench/run.sh --rate 0 --calls 200000  # as fast as possible
#   bench/run.sh --callers ''             # callers the customer base does not know
#   bench/run.sh --agents 100 --relogin 10000   # 10,000 agents back after a restart
# Environment: DAEMON_WRAP runs the daemon under a profiler, e.g.
# DAEMON_WRAP="valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file=/tmp/cg.%p"
# (it must exec the daemon in its own process, as valgrind does; `perf stat -p` attaches
# instead); CALLPOP_BUILD_DIR (default build-bench), CALLPOP_BENCH_CACHE (where prepared
# stores are kept between runs; default $CALLPOP_BUILD_DIR/bench-data), MISSED_CALLS=callback
# to have every (unanswered) bench call schedule a callback, as a real missed call does
# (default none: the figures are then those of answered traffic); LOGINS_AT_ONCE sets the
# daemon's sessions.logins_at_once; FLUSH_MS its call_log.flush_ms (default 20).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${CALLPOP_BUILD_DIR:-$root/build-bench}
customers=100000
agents=100
relogin=0
rss_every=0
chosen_tokens=0
fresh=0
keep=0
prepare_only=0
cdf_png=
samples_file=
bench_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --customers) customers=$2; shift 2 ;;
    --agents) agents=$2; bench_args+=(--agents "$2"); shift 2 ;;
    --relogin) relogin=$2; shift 2 ;;
    --chosen-tokens) chosen_tokens=1; shift ;;
    --fresh) fresh=1; shift ;;
    --rss-every) rss_every=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --prepare-only) prepare_only=1; shift ;;
    --cdf) cdf_png=$2; shift 2 ;;
    --samples) samples_file=$2; bench_args+=(--samples "$2"); shift 2 ;;
    -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
    *) bench_args+=("$1"); shift ;;
  esac
done

# ---- build ----------------------------------------------------------------------------
# write_config DIR: the daemon's configuration for a bench run; build_bench, wait_ready,
# write_callers.
source "$root/bench/config.sh"
build_bench "$build" run.sh

pin_daemon=()
pin_bench=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  [ -n "${DAEMON_CPUS-0}" ] && pin_daemon=(taskset -c "${DAEMON_CPUS-0}")
  [ -n "${BENCH_CPUS-1}" ] && pin_bench=(taskset -c "${BENCH_CPUS-1}")
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/callpop-bench.XXXXXX")
daemon_pid=
cleanup() {
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then kill -KILL "$daemon_pid" 2>/dev/null || true; fi
  if [ "$keep" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
calc() { awk "BEGIN { printf \"%.1f\", $1 }"; }


# ---- the store: demo customers and agents, kept between runs --------------------------
cache_root=${CALLPOP_BENCH_CACHE:-$build/bench-data}
# A rebuilt callpop may have a new schema or generator: prepare again.
stamp=$(stat -c %Y "$callpop")
all_agents=$((agents + relogin))
tokens_kind=generated
[ "$chosen_tokens" = 1 ] && tokens_kind=chosen
cache=$cache_root/c$customers-a$all_agents-$tokens_kind-$stamp
if [ "$fresh" = 1 ] || [ ! -f "$cache/ready" ]; then
  # Stores for older binaries are ~1 KiB a customer: keep one per size.
  rm -rf "$cache" "$cache_root/c$customers-a$all_agents-$tokens_kind-"*
  mkdir -p "$cache"
  write_config "$cache" >"$cache/callpop.yaml"
  start=$(date +%s.%N)
  have_demo=0
  if "$callpop" demo-data --help >/dev/null 2>&1; then
    echo "preparing $customers demo customers (callpop demo-data) ..." >&2
    if "$callpop" demo-data --config "$cache/callpop.yaml" --customers "$customers" >"$cache/demo-data.log" 2>&1; then
      have_demo=1
    else
      echo "run.sh: callpop demo-data failed (see below); going on without customers" >&2
      tail -n 5 "$cache/demo-data.log" >&2
    fi
  fi
  last=$((1000 + all_agents))
  if [ "$chosen_tokens" = 1 ]; then
    # demo-data makes 1001..1020 with demo-<id>; the rest one process each (~20 ms: the
    # PBKDF2 hash).
    first_missing=1001
    [ "$have_demo" = 1 ] && first_missing=1021
    if [ "$first_missing" -le "$last" ]; then
      echo "adding agents $first_missing..$last with chosen tokens (callpop agent add --token) ..." >&2
      # One at a time: SQLite allows one writer, and each is quick.
      for id in $(seq "$first_missing" "$last"); do
        "$callpop" agent add "$id" --config "$cache/callpop.yaml" --token "demo-$id" >/dev/null
      done
    fi
  else
    # Every agent, demo-data's 1001..1020 too, with a generated token: one process, one
    # transaction. The tokens are printed once; keep them as "ID TOKEN" for the bench.
    echo "adding agents 1001..$last with generated tokens (callpop agent add --print-token) ..." >&2
    seq 1001 "$last" >"$cache/ids.txt"
    # shellcheck disable=SC2046  # one argument per id
    "$callpop" agent add $(cat "$cache/ids.txt") --config "$cache/callpop.yaml" --print-token \
      >"$cache/printed-tokens.txt"
    paste -d ' ' "$cache/ids.txt" "$cache/printed-tokens.txt" >"$cache/tokens.txt"
    rm -f "$cache/ids.txt" "$cache/printed-tokens.txt"
  fi
  # Callers the customer base knows: the first phone of each customer, in a shuffled order.
  if [ "$have_demo" = 1 ] && [ -f "$cache/demo-csv/customers.csv" ] && command -v python3 >/dev/null; then
    write_callers "$cache/demo-csv/customers.csv" "$cache/callers.txt"
  fi
  rm -f "$cache/calls.jsonl"
  echo "$have_demo" >"$cache/ready"
  echo "store prepared in $(calc "$(date +%s.%N) - $start") s" >&2
fi
have_demo=$(cat "$cache/ready")
if [ "$prepare_only" = 1 ]; then echo "$cache"; exit 0; fi
if [ -n "$cdf_png" ] && [ -z "$samples_file" ]; then
  samples_file=$work/samples.csv
  bench_args+=(--samples "$samples_file")
fi

cp "$cache/callpop.db" "$work/callpop.db"
[ -f "$cache/callers.txt" ] && cp "$cache/callers.txt" "$work/callers.txt"
tokens_arg=()
[ -f "$cache/tokens.txt" ] && tokens_arg=(--tokens "$cache/tokens.txt")
write_config "$work" >"$work/callpop.yaml"

# ---- serve --------------------------------------------------------------------------
start_daemon() {
  rm -f "$work/ready.json"
  # shellcheck disable=SC2086  # DAEMON_WRAP is a command line
  "${pin_daemon[@]}" ${DAEMON_WRAP:-} "$callpop" serve --config "$work/callpop.yaml" --ready-file "$work/ready.json" \
    2>>"$work/daemon.log" &
  daemon_pid=$!
  wait_ready "$daemon_pid" "$work/ready.json" "$work/daemon.log" "run.sh: callpop serve"
  switch_port=$switch_port_of_last
  agent_port=$agent_port_of_last
}
stop_daemon() {  # sets daemon_status
  kill -TERM "$daemon_pid"
  for _ in $(seq 1 3000); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.01; done
  if kill -0 "$daemon_pid" 2>/dev/null; then
    echo "run.sh: callpop serve did not stop within 30 s of SIGTERM; killing it" >&2
    kill -KILL "$daemon_pid"
  fi
  daemon_status=0
  wait "$daemon_pid" 2>/dev/null || daemon_status=$?
  daemon_pid=
}
start_daemon

relogin_args=()
if [ "$relogin" -gt 0 ]; then
  # Everyone logs in with a token and keeps a ticket; then the daemon restarts.
  echo "logging in all $all_agents agents with their tokens, keeping their tickets ..." >&2
  login_only_args=()
  for arg in "${bench_args[@]}"; do [ "$arg" = --json ] && login_only_args+=(--json); done
  "${pin_bench[@]}" "$bench" --switch-port "$switch_port" --agent-port "$agent_port" \
    "${tokens_arg[@]}" --agents "$all_agents" --login-only --login-window 64 \
    --save-tickets "$work/tickets.txt" "${login_only_args[@]}" >&2
  echo "restarting the daemon ..." >&2
  stop_daemon
  start_daemon
  relogin_args=(--relogin "$relogin" --tickets "$work/tickets.txt")
fi

cpu_ticks() { awk '{print $14 + $15}' "/proc/$daemon_pid/stat"; }
ticks_per_s=$(getconf CLK_TCK)
rss_before=$(awk '/VmRSS/ {print $2}' "/proc/$daemon_pid/status")
callers_arg=()
[ -f "$work/callers.txt" ] && callers_arg=(--callers "$work/callers.txt")

echo "daemon pid $daemon_pid (${pin_daemon[*]:-not pinned}), switch port $switch_port, agent port $agent_port;" \
  "bench ${pin_bench[*]:-not pinned}; $([ "$have_demo" = 1 ] && echo "$customers customers" || echo "no customers")," \
  "RelWithDebInfo" >&2
ticks_start=$(cpu_ticks)
sampler_pid=
if [ "$rss_every" != 0 ]; then
  # Seconds since the bench started, and VmRSS in KiB.
  (
    begin=$(date +%s)
    while kill -0 "$daemon_pid" 2>/dev/null; do
      echo "$(($(date +%s) - begin)) $(awk '/VmRSS/ {print $2}' "/proc/$daemon_pid/status")"
      sleep "$rss_every"
    done
  ) >"$work/rss.txt" 2>/dev/null &
  sampler_pid=$!
fi
set +e
"${pin_bench[@]}" "$bench" --switch-port "$switch_port" --agent-port "$agent_port" \
  "${callers_arg[@]}" "${tokens_arg[@]}" "${relogin_args[@]}" "${bench_args[@]}" | tee "$work/bench.out"
bench_status=${PIPESTATUS[0]}
set -e
ticks_end=$(cpu_ticks)
if [ -n "$sampler_pid" ]; then kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; fi
vm_hwm=$(awk '/VmHWM/ {print $2}' "/proc/$daemon_pid/status")
vm_rss=$(awk '/VmRSS/ {print $2}' "/proc/$daemon_pid/status")
threads=$(awk '/Threads/ {print $2}' "/proc/$daemon_pid/status")

# ---- stop -----------------------------------------------------------------------------
stop_daemon

records=0
[ -f "$work/calls.jsonl" ] && records=$(wc -l <"$work/calls.jsonl")
warnings=$(grep -c -E '\] \[(warning|error|critical)\]' "$work/daemon.log" || true)
# With --json, stdout carries the bench's JSON object alone.
summary_fd=1
for arg in "${bench_args[@]}"; do [ "$arg" = --json ] && summary_fd=2; done
{
  echo "daemon CPU          $(calc "($ticks_end - $ticks_start) / $ticks_per_s") s (user+sys) during the bench"
  echo "daemon memory       peak RSS (VmHWM) $(calc "$vm_hwm / 1024") MiB;" \
    "RSS $(calc "$rss_before / 1024") MiB at start, $(calc "$vm_rss / 1024") MiB at the end; $threads threads"
  echo "call log            $records records in calls.jsonl after SIGTERM (a ring and a hangup per call sent${MISSED_CALLS:+, and its callback}; callbacks are one per number)"
  echo "daemon              exit status $daemon_status; $warnings warning/error lines in its log"
  if [ -s "$work/rss.txt" ]; then
    awk '{ printf "%s%s s %.1f", (NR > 1 ? ", " : "rss samples (MiB)   "), $1, $2 / 1024 } END { print "" }' "$work/rss.txt"
    # Growth over the second half of the samples: flat means bounded.
    awk '{ t[NR] = $1; r[NR] = $2 } END { h = int(NR / 2) + 1;
      lo = r[h]; hi = r[h]; for (i = h; i <= NR; i++) { if (r[i] < lo) lo = r[i]; if (r[i] > hi) hi = r[i] }
      printf "rss, last half      %s..%s s: %.1f to %.1f MiB (min %.1f, max %.1f)\n", t[h], t[NR], r[h] / 1024, r[NR] / 1024, lo / 1024, hi / 1024 }' "$work/rss.txt"
  fi
} >&"$summary_fd"
if [ "$warnings" -gt 0 ]; then grep -E '\] \[(warning|error|critical)\]' "$work/daemon.log" | head -n 5 >&2; fi
# Every call sent is a ring and a hangup in the call log (callbacks come on top).
sent=$(awk '/^calls sent/ {print $3; exit}' "$work/bench.out")
if [ -n "$sent" ] && [ "$records" -lt $((2 * sent)) ]; then
  echo "run.sh: $records call-log records for $sent calls: records were lost" >&2
  [ "$bench_status" = 0 ] && bench_status=4
fi
if [ -n "$cdf_png" ]; then
  "$root/bench/cdf.sh" "$samples_file" "$cdf_png" >&2 || { [ "$bench_status" = 0 ] && bench_status=5; }
fi
exit "$bench_status"
