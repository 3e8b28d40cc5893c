# Sourced by bench/run.sh, bench/peers.sh, bench/floor.sh and bench/kamailio.sh.

# build_bench DIR NAME: builds callpop and callpop_bench into DIR (RelWithDebInfo, like
# `scripts/build release`) and sets $callpop and $bench; NAME says who failed.
build_bench() {
  if [ ! -f "$1/build.ninja" ]; then
    local launcher=()
    command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    cmake -S "$root" -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" >/dev/null
  fi
  { cmake --build "$1" -j "$(nproc)" --target callpop callpop_bench | grep -v "^ninja: no work" || true; } >&2
  callpop=$1/callpop  # where the README has it; older trees built it in daemon/
  [ -x "$callpop" ] || callpop=$1/daemon/callpop
  bench=$1/bench/callpop_bench
  [ -x "$callpop" ] && [ -x "$bench" ] || { echo "$2: build failed" >&2; exit 1; }
}

# wait_ready PID READY_FILE LOG WHO: waits up to 60 s for the server PID to write its
# --ready-file, and sets $switch_port_of_last and $agent_port_of_last from it. A server that
# exits first, or never gets ready, stops the script with its LOG shown, under the name WHO.
wait_ready() {
  for _ in $(seq 1 6000); do
    [ -s "$2" ] && break
    kill -0 "$1" 2>/dev/null || { echo "$4 exited:" >&2; cat "$3" >&2; exit 1; }
    sleep 0.01
  done
  [ -s "$2" ] || { echo "$4 did not become ready" >&2; exit 1; }
  switch_port_of_last=$(grep -o '"switch_port":[0-9]*' "$2" | cut -d: -f2)
  agent_port_of_last=$(grep -o '"agent_port":[0-9]*' "$2" | cut -d: -f2)
}

# write_callers CUSTOMERS_CSV OUT: callers the customer base knows, the first phone of each
# customer, in a shuffled order (the same every time).
write_callers() {
  python3 - "$1" "$2" <<'PY'
import csv, random, sys
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    # docs/csv.md: numbers are separated by ";" or "|".
    phones = [row["phones"].replace("|", ";").split(";")[0].strip() for row in csv.DictReader(f)]
phones = [p for p in phones if p]
random.Random(1).shuffle(phones)
with open(sys.argv[2], "w", encoding="utf-8") as out:
    out.write("\n".join(phones) + "\n")
PY
}

# The structure of config/callpop.yaml, on loopback, everything in the temp dir.
write_config() {  # $1: directory holding the store
  cat <<EOF
site:
  name: callpop bench
  region: US
  international_prefixes: ["00"]
  timezone: America/New_York
listen:
  switch: {address: 127.0.0.1, port: 0}
  agent: {address: 127.0.0.1, port: 0}
storage:
  backend: sqlite
  path: $1/callpop.db
call_log:
  jsonl: $1/calls.jsonl
  batch_max: 1000
  flush_ms: ${FLUSH_MS:-20}
  tail_memory: 10000
calls:
  max_duration_s: 14400
  ended_keep_s: 3600
sessions:
  login_timeout_s: 10
  heartbeat_s: 15
  queue_max: 1024
${LOGINS_AT_ONCE:+  logins_at_once: $LOGINS_AT_ONCE
}pop:
  history: 5
  candidates: 5
  asset_keys: [serial, service_tag, asset]
  account_keys: [account, account_number, customer_id]
lines:
  - {number: "8005551000", name: Support hotline}
  - {number: "8005552000", name: Sales}
outcomes:
  - {code: resolved, label: Resolved on the call}
  - {code: repaired, label: Repaired}
  - {code: callback_requested, label: Customer asked to be called back}
followups:
  # The bench's calls ring and hang up unanswered: each would schedule a callback.
  missed_calls: {kind: ${MISSED_CALLS:-none}}
log:
  level: warn
EOF
}
