#!/usr/bin/env bash
# Usage: bench/peers.sh [--customers N] [--agents A] [--one-daemon | --floor [--cross] [--log]]
#                       [--fresh] [--keep] [callpop_bench options...]
#
# Step 8's bench: event → pop across two daemons on one PostgreSQL database. Starts a
# PostgreSQL server of its own (initdb once, kept with the prepared data between runs, on
# 127.0.0.1 at a port the system picks), prepares N demo customers (default 1,000,000; the
# import into PostgreSQL is timed) and A agents (default 100; ids 1001..), starts two
# `callpop serve` on it, "east" and "west", and runs callpop_bench with its switch on east
# and its agents on west: every pop crosses from one daemon to the other through the
# database (docs/peers.md). --one-daemon puts both on east: the same store, no crossing.
# --floor runs callpop_io_floor (bench/io_floor.cpp) in place of the daemons: each caller
# looked up with callpop's statement on the same database, and nothing else; --cross also
# sends each pop and `ended` through the database (one bus session to another) before it is
# written, --log writes each switch event to the call log as callpop's writer does: the
# bound under what callpop can do on this database and machine.
# Prints callpop_bench's figures, each daemon's CPU time and peak RSS, and how many records
# the call log got.
#
# Nothing is pinned: the server, both daemons and the bench share the machine's cores.
# Environment: CALLPOP_BUILD_DIR (default build-bench), CALLPOP_BENCH_CACHE (default
# $CALLPOP_BUILD_DIR/bench-data), FLUSH_MS (the daemons' call_log.flush_ms, default 20).
# Everything else is passed to callpop_bench, e.g. --rate 2000 --calls 20000 (its defaults).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${CALLPOP_BUILD_DIR:-$root/build-bench}
customers=1000000
agents=100
one_daemon=0
floor=0
cross=0
log=0
fresh=0
keep=0
bench_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --customers) customers=$2; shift 2 ;;
    --agents) agents=$2; bench_args+=(--agents "$2"); shift 2 ;;
    --one-daemon) one_daemon=1; shift ;;
    --floor) floor=1; shift ;;
    --cross) cross=1; shift ;;
    --log) log=1; shift ;;
    --fresh) fresh=1; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
    *) bench_args+=("$1"); shift ;;
  esac
done

[ "$cross$log" = 00 ] || [ "$floor" = 1 ] || { echo "peers.sh: --cross and --log go with --floor" >&2; exit 2; }
[ "$floor$one_daemon" != 11 ] || { echo "peers.sh: --floor runs in place of the daemons: no --one-daemon" >&2; exit 2; }

# ---- build ----------------------------------------------------------------------------
# write_config DIR: a daemon's configuration (made a PostgreSQL one below); build_bench,
# wait_ready, write_callers.
source "$root/bench/config.sh"
build_bench "$build" peers.sh
if [ "$floor" = 1 ]; then
  { cmake --build "$build" -j "$(nproc)" --target callpop_io_floor | grep -v "^ninja: no work" || true; } >&2
  floor_program=$build/bench/callpop_io_floor
  [ -x "$floor_program" ] || { echo "peers.sh: callpop_io_floor: build failed" >&2; exit 1; }
fi
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$pg_bin" ] || { echo "peers.sh: PostgreSQL is not installed (scripts/install-deps)" >&2; exit 1; }
# PostgreSQL refuses to run as root: its programs run as its own user then.
as_postgres=()
[ "$(id -u)" = 0 ] && as_postgres=(runuser -u postgres --)
calc() { awk "BEGIN { printf \"%.1f\", $1 }"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/callpop-peers.XXXXXX")
# The server's log and socket, where its user may write (and reach).
chmod 711 "$work"
mkdir -p "$work/server"
[ "$(id -u)" = 0 ] && chown postgres: "$work/server"
cache_root=${CALLPOP_BENCH_CACHE:-$build/bench-data}
cache=$cache_root/postgres-c$customers-a$agents
pids=()
server_up=0
huge_pages_before=
cleanup() {
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  [ "$server_up" = 1 ] && "${as_postgres[@]}" "$pg_bin/pg_ctl" -D "$cache/data" -m fast stop >/dev/null 2>&1 || true
  [ -n "$huge_pages_before" ] && sysctl -q -w vm.nr_hugepages="$huge_pages_before" || true
  if [ "$keep" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# ---- the server -----------------------------------------------------------------------
[ "$fresh" = 1 ] && rm -rf "$cache"
mkdir -p "$cache"
if [ ! -f "$cache/data/PG_VERSION" ]; then
  rm -rf "$cache/data"
  mkdir -p "$cache/data"
  [ "$(id -u)" = 0 ] && chown postgres: "$cache/data"
  "${as_postgres[@]}" "$pg_bin/initdb" -D "$cache/data" -U callpop -A trust -E UTF8 --no-locale >/dev/null
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Settings a site running a million customers would give it: the bench measures callpop,
# not a checkpoint every minute.
server_settings="-c shared_buffers=4GB -c max_wal_size=8GB -c max_connections=200"
# Its shared memory in huge pages, as such a site runs it. In 4 KiB pages every new session
# (each daemon's lookup, writer and bus connections) faults in each page of the 4 GB it
# touches for the first time: at 1,000 calls/s that took more of the server's CPU than
# the statements (12.5 s against 8.0 s of CPU for 10,000 calls) and held the first pops
# for up to 0.3 s. As root the bench reserves the pages for the run and gives them back.
huge_pages_needed=$("${as_postgres[@]}" "$pg_bin/postgres" -D "$cache/data" $server_settings \
  -C shared_memory_size_in_huge_pages)
huge_pages_now=$(cat /proc/sys/vm/nr_hugepages)
if [ "$(id -u)" = 0 ] && [ "$huge_pages_now" -lt "$huge_pages_needed" ]; then
  huge_pages_before=$huge_pages_now
  sysctl -q -w vm.nr_hugepages="$huge_pages_needed"
fi
[ "$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)" -ge "$huge_pages_needed" ] \
  || echo "peers.sh: fewer than $huge_pages_needed huge pages free: PostgreSQL runs without them" >&2
"${as_postgres[@]}" "$pg_bin/pg_ctl" -D "$cache/data" -l "$work/server/postgres.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$work/server $server_settings -c huge_pages=try" \
  start >/dev/null
server_up=1
conninfo="host=127.0.0.1 port=$port user=callpop dbname=callpop"

# daemon_config DIR NAME: bench/config.sh's, on the database.
daemon_config() {
  write_config "$1" | awk -v conninfo="$conninfo" -v name="$2" '
    /^  backend: sqlite$/ { print "  backend: postgresql"; print "  conninfo: \"" conninfo "\""; print "  daemon_name: " name; next }
    { print }'
}

# ---- the store: demo customers and agents, kept with the server's data ----------------
if [ ! -f "$cache/ready" ]; then
  "${as_postgres[@]}" "$pg_bin/psql" -q -h 127.0.0.1 -p "$port" -U callpop -d postgres \
    -c "DROP DATABASE IF EXISTS callpop" -c "CREATE DATABASE callpop" >/dev/null
  mkdir -p "$cache/prepare"
  daemon_config "$cache/prepare" prepare >"$cache/prepare/callpop.yaml"
  echo "preparing $customers demo customers (callpop demo-data) ..." >&2
  "$callpop" demo-data --config "$cache/prepare/callpop.yaml" --customers "$customers" \
    >"$cache/demo-data.log" 2>&1
  # The import alone, timed on its own, into a database of its own: target ≤ 20 s.
  "${as_postgres[@]}" "$pg_bin/psql" -q -h 127.0.0.1 -p "$port" -U callpop -d postgres \
    -c "DROP DATABASE IF EXISTS import_timed" -c "CREATE DATABASE import_timed" >/dev/null
  daemon_config "$cache/prepare" prepare | sed "s/dbname=callpop/dbname=import_timed/" \
    >"$cache/prepare/import.yaml"
  "$callpop" import --config "$cache/prepare/import.yaml" --customers /dev/null >/dev/null 2>&1 || true
  start=$(date +%s.%N)
  "$callpop" import --config "$cache/prepare/import.yaml" \
    --customers "$cache/prepare/demo-csv/customers.csv" >"$cache/import.log" 2>&1
  echo "import of $customers customers into PostgreSQL: $(calc "$(date +%s.%N) - $start") s" \
    | tee "$cache/import-time.txt" >&2
  "${as_postgres[@]}" "$pg_bin/psql" -q -h 127.0.0.1 -p "$port" -U callpop -d postgres \
    -c "DROP DATABASE import_timed" >/dev/null
  last=$((1000 + agents))
  seq 1001 "$last" >"$cache/ids.txt"
  # shellcheck disable=SC2046  # one argument per id
  "$callpop" agent add $(cat "$cache/ids.txt") --config "$cache/prepare/callpop.yaml" --print-token \
    >"$cache/printed-tokens.txt"
  paste -d ' ' "$cache/ids.txt" "$cache/printed-tokens.txt" >"$cache/tokens.txt"
  write_callers "$cache/prepare/demo-csv/customers.csv" "$cache/callers.txt"
  rm -rf "$cache/prepare/demo-csv"
  # As autovacuum leaves a site some time after its import: freshly written rows would
  # otherwise be read and hinted on the first calls.
  "${as_postgres[@]}" "$pg_bin/psql" -q -h 127.0.0.1 -p "$port" -U callpop -d callpop \
    -c "VACUUM (ANALYZE)" >/dev/null
  touch "$cache/ready"
fi
[ -f "$cache/import-time.txt" ] && cat "$cache/import-time.txt"
# A database server that has run for a while holds what lookups read in its buffers; one
# started for this run does not. Read it in first: the run measures callpop, not a cold cache.
"${as_postgres[@]}" "$pg_bin/psql" -q -h 127.0.0.1 -p "$port" -U callpop -d callpop \
  -c "CREATE EXTENSION IF NOT EXISTS pg_prewarm" \
  -c "SELECT sum(pg_prewarm(c.oid)) FROM pg_class c WHERE c.relname IN ('customers', 'phones',
      'notes', 'assets', 'calls', 'followups') OR c.oid IN (SELECT indexrelid FROM pg_index i
      JOIN pg_class t ON t.oid = i.indrelid WHERE t.relname IN ('customers', 'phones', 'notes',
      'assets', 'calls', 'followups'))" >/dev/null

# ---- two daemons ------------------------------------------------------------------------
start_daemon() {  # $1: name; sets $switch_port_of_last and $agent_port_of_last
  mkdir -p "$work/$1"
  daemon_config "$work/$1" "$1" >"$work/$1/callpop.yaml"
  "$callpop" serve --config "$work/$1/callpop.yaml" --ready-file "$work/$1/ready.json" \
    2>>"$work/$1/daemon.log" &
  pids+=($!)
  wait_ready "${pids[-1]}" "$work/$1/ready.json" "$work/$1/daemon.log" "peers.sh: $1"
}
west_pid=
east_pid=
floor_pid=
if [ "$floor" = 1 ]; then
  floor_args=(--postgres "$conninfo")
  [ "$cross" = 1 ] && floor_args+=(--cross)
  [ "$log" = 1 ] && floor_args+=(--log)
  "$floor_program" "${floor_args[@]}" --ready-file "$work/floor-ready.json" 2>"$work/floor.log" &
  pids+=($!)
  floor_pid=$!
  wait_ready "$floor_pid" "$work/floor-ready.json" "$work/floor.log" "peers.sh: callpop_io_floor"
  switch_port=$switch_port_of_last
  agent_port=$agent_port_of_last
else
  start_daemon east
  east_pid=${pids[-1]}
  switch_port=$switch_port_of_last
  agent_port=$agent_port_of_last
  if [ "$one_daemon" = 0 ]; then
    start_daemon west
    west_pid=${pids[-1]}
    agent_port=$agent_port_of_last
  fi
fi
# The server's CPU: every process of its own, the daemons' sessions included, in clock ticks.
server_ticks() {
  local total=0 pid
  for pid in $(pgrep -u postgres); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
server_ticks_before=$(server_ticks)
log_before=$("${as_postgres[@]}" "$pg_bin/psql" -qtA -h 127.0.0.1 -p "$port" -U callpop -d callpop \
  -c "SELECT coalesce(max(id), 0) FROM call_log")
if [ "$floor" = 1 ]; then
  echo "callpop_io_floor$([ "$cross" = 1 ] && echo " --cross")$([ "$log" = 1 ] && echo " --log") on ports $switch_port, $agent_port; $customers customers in PostgreSQL 15" >&2
else
  echo "switch on east ($switch_port), agents on $([ "$one_daemon" = 1 ] && echo east || echo west) ($agent_port); $customers customers in PostgreSQL 15" >&2
fi
"$bench" --switch-port "$switch_port" --agent-port "$agent_port" --callers "$cache/callers.txt" \
  --tokens "$cache/tokens.txt" --call-prefix "peers-$(date +%s)-" "${bench_args[@]}" | tee "$work/bench.out" \
  || bench_status=$?
# A floor that died says why before anything else.
if [ -n "$floor_pid" ] && ! kill -0 "$floor_pid" 2>/dev/null; then
  echo "peers.sh: callpop_io_floor exited during the run:" >&2
  cat "$work/floor.log" >&2
  exit 1
fi
[ "${bench_status:-0}" = 0 ] || exit "$bench_status"
for name in east west floor; do
  pid=$east_pid
  [ "$name" = west ] && pid=$west_pid
  [ "$name" = floor ] && pid=${floor_pid:-}
  [ -n "$pid" ] || continue
  ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  peak=$(grep VmHWM "/proc/$pid/status" | awk '{print $2}')
  echo "$name: CPU $(calc "$ticks / $(getconf CLK_TCK)") s, peak RSS $(calc "$peak / 1024") MiB"
done
echo "PostgreSQL: CPU $(calc "($(server_ticks) - $server_ticks_before) / $(getconf CLK_TCK)") s (its processes, the daemons' sessions included)"
kill -TERM "${pids[@]}"
wait "${pids[@]}" 2>/dev/null || true
pids=()
if [ "$floor" = 1 ]; then
  cat "$work/floor.log"
  [ "$log" = 1 ] || exit 0
fi
logged=$("${as_postgres[@]}" "$pg_bin/psql" -qtA -h 127.0.0.1 -p "$port" -U callpop -d callpop \
  -c "SELECT count(*) FROM call_log WHERE id > $log_before")
echo "call log: $logged records written by this run"
