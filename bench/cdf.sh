#!/usr/bin/env bash
# bench/cdf.sh SAMPLES.csv OUT.png [TITLE]
#
# Plots the latency CDF of one bench run as a PNG: the `--samples FILE` CSV of callpop_bench
# (`call,sent_us,latency_us[,...]`, one line per call; an empty latency is a lost pop), as written
# by `bench/run.sh --samples FILE` (or `--cdf PNG`, which calls this script) and by
# `bench/kamailio.sh`. x: latency in µs, log scale; y: the share of calls popped within that
# time, in percent. Marked: p50 and p99 (nearest rank over the calls popped, as the bench
# reports them) and the design's budget lines, 100 µs and 1 ms. Lost calls are counted in
# the CDF's denominator, so a run that lost pops ends below 100 %.
#
# Needs gnuplot (Debian: gnuplot-nox; scripts/install-deps installs it). No network; the same
# CSV gives the same PNG, byte for byte (no date or path in the image).
set -euo pipefail
if [ $# -lt 2 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
  awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"
  [ $# -ge 2 ] && exit 0
  exit 2
fi
samples=$1
png=$2
title=${3:-pop latency: switch event → pop read by the agent}
command -v gnuplot >/dev/null ||
  { echo "cdf.sh: gnuplot is not installed (apt-get install gnuplot-nox, or scripts/install-deps)" >&2; exit 1; }
[ -r "$samples" ] || { echo "cdf.sh: cannot read $samples" >&2; exit 1; }
head -n 1 "$samples" | grep -q '^call,sent_us,latency_us' ||
  { echo "cdf.sh: $samples is not a callpop_bench --samples CSV (call,sent_us,latency_us)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/callpop-cdf.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The latencies of the calls that popped, sorted; the lost ones only counted. A latency is
# whole µs: 0 is drawn at 1 µs (a log scale has no 0).
awk -F, -v lost_file="$tmp/lost" 'NR > 1 {
    if ($3 == "") lost++; else print ($3 < 1 ? 1 : $3)
  } END { print lost + 0 > lost_file }' "$samples" | LC_ALL=C sort -n >"$tmp/sorted"
popped=$(wc -l <"$tmp/sorted")
lost=$(cat "$tmp/lost")
[ "$popped" -gt 0 ] || { echo "cdf.sh: no popped call in $samples" >&2; exit 1; }

# The curve, at most ~4,000 points (1,000,000 calls would make a slow, huge plot for nothing
# the eye can see): every step-th sample and the last; y over every call, lost ones too.
# Then the figures for the marks and the axis range.
LC_ALL=C awk -v total=$((popped + lost)) -v popped="$popped" -v curve="$tmp/curve" '
  function rank(fraction,   r) { r = int(fraction * popped); if (r < fraction * popped) r++; return r < 1 ? 1 : r }
  { value[NR] = $1 }
  END {
    step = int(popped / 4000); if (step < 1) step = 1
    for (i = 1; i <= popped; i++)
      if (i % step == 0 || i == 1 || i == popped) printf "%d %.4f\n", value[i], 100 * i / total > curve
    p50 = value[rank(0.50)]; p99 = value[rank(0.99)]; max = value[popped]; min = value[1]
    low = min < 50 ? min : 50; high = max > 1000 ? max : 1000  # both budget lines inside
    printf "%d %d %d %g %g\n", p50, p99, max,
      10 ^ int(log(low) / log(10) - (low < 1 ? 1 : 0)), 10 ^ (int(log(high * 1.01) / log(10)) + 1)
  }' "$tmp/sorted" >"$tmp/figures"
read -r p50 p99 max xmin xmax <"$tmp/figures"

subtitle="$((popped + lost)) calls, $lost lost; p50 ${p50} µs, p99 ${p99} µs, max ${max} µs"
gnuplot <<EOF
set terminal pngcairo size 1000,640 font "DejaVu Sans,11" noenhanced
set output "$png"
set title "$title\n$subtitle"
set xlabel "latency (µs, log scale)"
set ylabel "calls popped within (%)"
set logscale x 10
set xrange [$xmin:$xmax]
set yrange [0:100]
set ytics 10
set grid xtics mxtics ytics lc rgb "#dddddd"
set key bottom right box opaque
set format x "%.0f"
# p50 and p99 of this run: where they fall on the curve.
set arrow from $p50, graph 0 to $p50, graph 1 nohead lc rgb "#1f77b4" dt 3 lw 1.5
set arrow from $p99, graph 0 to $p99, graph 1 nohead lc rgb "#d62728" dt 3 lw 1.5
set label "p50 $p50 µs" at $p50, 52 left offset 0.5,0 tc rgb "#1f77b4"
set label "p99 $p99 µs" at $p99, 95 left offset 0.5,0 tc rgb "#d62728"
# The design's budget: p50 within 100 µs, p99 within 1 ms.
set arrow from 100, graph 0 to 100, graph 1 nohead lc rgb "#2ca02c" dt 2 lw 2
set arrow from 1000, graph 0 to 1000, graph 1 nohead lc rgb "#2ca02c" dt 2 lw 2
set label "budget p50 ≤ 100 µs" at 100, 8 right offset -0.5,0 tc rgb "#2ca02c"
set label "budget p99 ≤ 1 ms" at 1000, 8 right offset -0.5,0 tc rgb "#2ca02c"
plot "$tmp/curve" using 1:2 with lines lw 2 lc rgb "#333333" title "this run (CDF)", \
     50 with lines dt 3 lc rgb "#1f77b4" title "50 %", \
     99 with lines dt 3 lc rgb "#d62728" title "99 %"
EOF
echo "cdf.sh: $png: $subtitle" >&2
