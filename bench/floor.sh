#!/usr/bin/env bash
# Usage: bench/floor.sh [--hop] [callpop_bench options...]
#
# The floor under callpop's CPU per call: callpop_io_floor (bench/io_floor.cpp) routes the
# bench's rings to its agents as fixed pops, with no lookup and no call log, pinned and
# measured as bench/run.sh pins and measures the daemon (CPU 0, the bench on CPU 1, CPU
# time from /proc). --hop hands every ring to a second thread and back, as the lookups are.
# Default load: 50 agents, 20,000 calls at 1,000/s, as issue 16's target 3.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${CALLPOP_BUILD_DIR:-$root/build-bench}

floor_args=()
bench_args=()
for arg in "$@"; do
  if [ "$arg" = --hop ]; then floor_args+=(--hop); else bench_args+=("$arg"); fi
done
[ ${#bench_args[@]} -gt 0 ] || bench_args=(--agents 50 --rate 1000 --calls 20000)

if [ ! -f "$build/build.ninja" ]; then
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" >/dev/null
fi
{ cmake --build "$build" -j "$(nproc)" --target callpop_io_floor callpop_bench | grep -v "^ninja: no work" || true; } >&2

work=$(mktemp -d "${TMPDIR:-/tmp}/callpop-floor.XXXXXX")
floor_pid=
cleanup() {
  [ -n "$floor_pid" ] && kill "$floor_pid" 2>/dev/null && wait "$floor_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# wait_ready
source "$root/bench/config.sh"
taskset -c "${DAEMON_CPUS-0}" "$build/bench/callpop_io_floor" "${floor_args[@]}" --ready-file "$work/ready.json" \
  2>"$work/floor.log" &
floor_pid=$!
wait_ready "$floor_pid" "$work/ready.json" "$work/floor.log" "floor.sh: callpop_io_floor"
switch_port=$switch_port_of_last
agent_port=$agent_port_of_last

cpu_ticks() { awk '{print $14 + $15}' "/proc/$floor_pid/stat"; }
ticks_start=$(cpu_ticks)
taskset -c "${BENCH_CPUS-1}" "$build/bench/callpop_bench" --switch-port "$switch_port" \
  --agent-port "$agent_port" "${bench_args[@]}" | tee "$work/bench.out"
ticks_end=$(cpu_ticks)
calls=$(grep -o '^calls sent *[0-9]*' "$work/bench.out" | grep -o '[0-9]*$')
awk -v ticks=$((ticks_end - ticks_start)) -v hz="$(getconf CLK_TCK)" -v calls="$calls" \
  'BEGIN { printf "floor CPU           %.2f s (user+sys) during the bench: %.1f µs a call\n", ticks / hz, ticks / hz / calls * 1e6 }'
