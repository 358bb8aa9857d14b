#!/usr/bin/env bash
# `podspan streams` vs tcpflow: the same large capture (FLOWS concurrent TCP flows, ~1.1 GB,
# 5% of data segments reordered, 2% retransmitted; bench/make-flows-capture.js) reassembled to
# one file per stream direction on tmpfs, the tools alternating round by round. Prints per run
# wall time, packets/s, CPU (user+sys) per packet and peak RSS, then medians and ratios.
# Round 1 also checks that both tools wrote the same files with the same bytes.
#   bash bench/streams-vs-tcpflow.sh [ROUNDS=3] [FLOWS=8000] [MBYTES=1100]
set -euo pipefail
ROUNDS=${1:-3}
FLOWS=${2:-8000}
MBYTES=${3:-1100}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${BENCH_DIR:-/dev/shm/podspan-bench-streams}
CAP="$WORK/flows-$FLOWS-$MBYTES.pcap"
mkdir -p "$WORK"
trap 'rm -rf "$WORK/out-podspan" "$WORK/out-tcpflow"' EXIT

command -v tcpflow >/dev/null || { echo "tcpflow is not installed (apt-get install tcpflow)"; exit 2; }
[ -f "$ROOT/dist/cli/main.js" ] || { echo "build first: npm ci (or npx tsc -p tsconfig.build.json)"; exit 2; }
[ -f "$CAP" ] || node "$ROOT/bench/make-flows-capture.js" "$CAP" --flows "$FLOWS" --mbytes "$MBYTES"
PACKETS=$(capinfos -c -M "$CAP" | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}')
echo "capture: $CAP, $(du -m "$CAP" | cut -f1) MB, $PACKETS packets, $FLOWS flows; output on $(df --output=fstype "$WORK" | tail -1)"
cat "$CAP" >/dev/null  # page cache

run_tool() {  # tool round -> "wall user sys maxrss_kb"
  local tool=$1 out="$WORK/out-$1"
  rm -rf "$out"; mkdir -p "$out"
  if [ "$tool" = podspan ]; then
    /usr/bin/time -f "%e %U %S %M" -o "$WORK/time" node "$ROOT/bin/podspan" streams -r "$CAP" -o "$out" 2>"$WORK/log-$tool" >/dev/null
  else
    /usr/bin/time -f "%e %U %S %M" -o "$WORK/time" tcpflow -r "$CAP" -o "$out" 2>"$WORK/log-$tool" >/dev/null
  fi
  cat "$WORK/time"
}

declare -A RESULTS
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then order="podspan tcpflow"; else order="tcpflow podspan"; fi
  for tool in $order; do
    RESULTS[$tool-$round]=$(run_tool "$tool" "$round")
    read -r wall user sys rss <<<"${RESULTS[$tool-$round]}"
    awk -v t="$tool" -v r="$round" -v w="$wall" -v u="$user" -v s="$sys" -v m="$rss" -v p="$PACKETS" \
      'BEGIN { printf "round %d %-8s %6.2f s  %7.0f k pkt/s  %5.0f ns CPU/pkt  %5.0f MiB RSS\n", r, t, w, p/w/1000, (u+s)*1e9/p, m/1024 }'
  done
  if [ "$round" = 1 ]; then
    same=0; differ=0
    for f in "$WORK/out-tcpflow"/*; do
      name=$(basename "$f"); [ "$name" = report.xml ] && continue
      if cmp -s "$f" "$WORK/out-podspan/$name"; then same=$((same + 1)); else differ=$((differ + 1)); fi
    done
    echo "round 1 output: $same stream files identical, $differ differ"
  fi
done

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
for tool in podspan tcpflow; do
  wall=$(for r in $(seq 1 "$ROUNDS"); do echo "${RESULTS[$tool-$r]}" | awk '{print $1}'; done | median)
  cpu=$(for r in $(seq 1 "$ROUNDS"); do echo "${RESULTS[$tool-$r]}" | awk '{print $2 + $3}'; done | median)
  rss=$(for r in $(seq 1 "$ROUNDS"); do echo "${RESULTS[$tool-$r]}" | awk '{print $4}'; done | median)
  eval "WALL_$tool=$wall CPU_$tool=$cpu RSS_$tool=$rss"
done
awk -v pw="$WALL_podspan" -v tw="$WALL_tcpflow" -v pc="$CPU_podspan" -v tc="$CPU_tcpflow" -v pr="$RSS_podspan" -v tr="$RSS_tcpflow" -v p="$PACKETS" 'BEGIN {
  printf "median  podspan %.0f k pkt/s, %.0f ns CPU/pkt, %.0f MiB | tcpflow %.0f k pkt/s, %.0f ns CPU/pkt, %.0f MiB\n", p/pw/1000, pc*1e9/p, pr/1024, p/tw/1000, tc*1e9/p, tr/1024
  printf "ratio   packets/s podspan/tcpflow %.2fx, CPU per packet tcpflow/podspan %.2fx\n", tw/pw, tc/pc
}'
