# Sourced by bench/run.sh and bench/kamailio.sh.
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
