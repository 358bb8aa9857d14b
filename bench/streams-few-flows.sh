#!/usr/bin/env bash
# `podspan streams` vs tcpflow vs gopacket's file-writing reassembly on few large flows: iperf3
# -P STREAMS between two namespaces this script creates (TSO/GSO/GRO off, so the capture holds
# MSS-size segments), recorded once with tcpdump and cached in $BENCH_DIR (outside the clone).
# Each tool reads it from the page cache and writes one file per stream direction to tmpfs; the
# tools alternate round by round (order rotated). Whole process: start-up is included.
# Prints per run wall time, CPU (user+sys) per packet and peak RSS, then medians and ratios.
# Round 1 checks that podspan wrote the same bytes per direction as tcpflow.
#   sudo [ANCHORS=DIR] bash bench/streams-few-flows.sh [ROUNDS=5] [STREAMS=32] [MBYTES=320]
# Needs root, iproute2, ethtool, iperf3, tcpdump, tcpflow, capinfos, and for gopacket: golang-go
# golang-github-google-gopacket-dev golang-golang-x-net-dev golang-golang-x-sys-dev.
set -euo pipefail
ROUNDS=${1:-5}
STREAMS=${2:-32}
MBYTES=${3:-320}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${BENCH_DIR:-/var/tmp/podspan-bench}
OUT=${OUT_DIR:-/dev/shm/podspan-bench-few-flows-$$}
CAP="$DIR/few-flows-$STREAMS-$MBYTES.pcap"
GOPKT="$ROOT/build/bench/gopacket-reassembly"
ANCHORS=${ANCHORS:-$ROOT/../shared/anchors}  # the gopacket anchor's sources
mkdir -p "$DIR" "$OUT" "$ROOT/build/bench"
trap 'rm -rf "$OUT"' EXIT

for tool in iperf3 tcpdump tcpflow ethtool capinfos; do
  command -v $tool >/dev/null || { echo "$tool is not installed"; exit 2; }
done
[ -f "$ROOT/dist/cli/main.js" ] || { echo "build first: npx tsc -p tsconfig.build.json"; exit 2; }
[ -x "$GOPKT" ] || bash "$ANCHORS/gopacket-reassembly/build.sh" "$GOPKT"

# -n is the total for all streams
[ -s "$CAP" ] || bash "$ROOT/bench/record-iperf.sh" "$CAP" -P "$STREAMS" -n "${MBYTES}M"
PACKETS=$(capinfos -c -M "$CAP" | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}')
echo "capture: $CAP, $(du -m "$CAP" | cut -f1) MB, $PACKETS packets, $STREAMS iperf3 streams; output on $(df --output=fstype "$OUT" | tail -1)"
cat "$CAP" >/dev/null  # page cache

run_tool() {  # tool -> "wall user sys maxrss_kb"
  local tool=$1 out="$OUT/out-$1"
  rm -rf "$out"; mkdir -p "$out"
  case $tool in
    podspan) /usr/bin/time -f "%e %U %S %M" -o "$OUT/time" node "$ROOT/bin/podspan" streams -r "$CAP" -o "$out" >/dev/null 2>"$OUT/log-$tool" ;;
    tcpflow) /usr/bin/time -f "%e %U %S %M" -o "$OUT/time" tcpflow -r "$CAP" -o "$out" >/dev/null 2>"$OUT/log-$tool" ;;
    gopacket) /usr/bin/time -f "%e %U %S %M" -o "$OUT/time" "$GOPKT" -o "$out" "$CAP" >/dev/null 2>"$OUT/log-$tool" ;;
  esac
  cat "$OUT/time"
}

# the multiset of file sizes (bytes per stream direction) of one tool's output
sizes() { find "$1" -type f ! -name report.xml ! -name index.jsonl -printf '%s\n' | sort -n | tr '\n' ' '; }

TOOLS=(podspan tcpflow gopacket)
declare -A RESULTS
for round in $(seq 1 "$ROUNDS"); do
  shift_by=$(( (round - 1) % 3 ))
  order=("${TOOLS[@]:shift_by}" "${TOOLS[@]:0:shift_by}")
  for tool in "${order[@]}"; do
    RESULTS[$tool-$round]=$(run_tool "$tool")
    read -r wall user sys rss <<<"${RESULTS[$tool-$round]}"
    awk -v t="$tool" -v r="$round" -v w="$wall" -v u="$user" -v s="$sys" -v m="$rss" -v p="$PACKETS" \
      'BEGIN { printf "round %d %-8s %6.2f s  user %5.2f sys %5.2f  %5.0f ns CPU/pkt  %5.0f MiB RSS\n", r, t, w, u, s, (u+s)*1e9/p, m/1024 }'
    if [ "$round" = 1 ]; then eval "SIZES_$tool=\"\$(sizes \"\$OUT/out-$tool\")\""; fi
  done
  if [ "$round" = 1 ]; then
    [ "$SIZES_podspan" = "$SIZES_tcpflow" ] && echo "round 1: podspan's file sizes equal tcpflow's" || echo "round 1: podspan's file sizes DIFFER from tcpflow's"
    [ "$SIZES_podspan" = "$SIZES_gopacket" ] && echo "round 1: podspan's file sizes equal gopacket's" || echo "round 1: podspan's file sizes DIFFER from gopacket's"
  fi
done

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
for tool in "${TOOLS[@]}"; do
  wall=$(for r in $(seq 1 "$ROUNDS"); do echo "${RESULTS[$tool-$r]}" | awk '{print $1}'; done | median)
  cpu=$(for r in $(seq 1 "$ROUNDS"); do echo "${RESULTS[$tool-$r]}" | awk '{print $2 + $3}'; done | median)
  rss=$(for r in $(seq 1 "$ROUNDS"); do echo "${RESULTS[$tool-$r]}" | awk '{print $4}'; done | median)
  awk -v t="$tool" -v w="$wall" -v c="$cpu" -v m="$rss" -v p="$PACKETS" \
    'BEGIN { printf "median %-8s %6.3f s  %7.0f k pkt/s  %5.0f ns CPU/pkt  %5.0f MiB RSS\n", t, w, p/w/1000, c*1e9/p, m/1024 }'
  eval "WALL_$tool=$wall CPU_$tool=$cpu"
done
awk -v p="$WALL_podspan" -v t="$WALL_tcpflow" -v g="$WALL_gopacket" -v pc="$CPU_podspan" -v tc="$CPU_tcpflow" -v gc="$CPU_gopacket" 'BEGIN {
  printf "ratio   wall time: %.2fx gopacket, %.2fx tcpflow | CPU per packet: %.2fx gopacket, %.2fx tcpflow\n", g/p, t/p, gc/pc, tc/pc
}'
