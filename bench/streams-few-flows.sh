#!/usr/bin/env bash
# `podspan streams` vs tcpflow vs gopacket's file-writing reassembly on few large flows: iperf3
# -P STREAMS between two namespaces this script creates (TSO/GSO/GRO off, so the capture holds
# MSS-size segments), recorded once with tcpdump and cached in $BENCH_DIR (outside the clone).
# Each tool reads it from the page cache and writes one file per stream direction to tmpfs; the
# tools alternate round by round (order rotated). Whole process: start-up is included.
# Prints per run wall time, CPU (user+sys) per packet and peak RSS (bench/lib/timed.py: in
# microseconds, where GNU time rounds to hundredths), then medians and ratios.
# Round 1 checks that podspan wrote the same bytes per direction as tcpflow.
# Core only: each round also runs every tool on the capture's first 20 packets; a tool's median
# there (start-up and exit) is taken from its median on the whole capture.
# If the environment sets NODE_EXTRA_CA_CERTS, Node parses that file and its own root
# certificates when it starts (~60 ms of CPU before any JavaScript runs, for every Node process,
# whether or not it uses TLS): podspan then also runs without it ("podspan-noca").
# FILES=1 adds "podspan-files-noca": the same without the CLI's bundle and code cache (the
# compiled modules loaded one by one, as before scripts/bundle-cli.js), to show what they save.
# BASELINE=DIR (another checkout, built: dist/ and the addon) adds "podspan-base-noca", its
# `streams` without the CA file, to the same rounds: before/after figures from one interleaved run.
#   sudo [ANCHORS=DIR] [FILES=1] bash bench/streams-few-flows.sh [ROUNDS=5] [STREAMS=32] [MBYTES=320]
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
TINY="$OUT/first-20.pcap"
tcpdump -r "$CAP" -c 20 -w "$TINY" 2>/dev/null

timed() { python3 "$ROOT/bench/lib/timed.py" "$@"; }  # GNU time's figures, in microseconds
run_tool() {  # tool [capture] -> "wall user sys maxrss_kb"
  local tool=$1 cap=${2:-$CAP} out="$OUT/out-$1"
  rm -rf "$out"; mkdir -p "$out"
  case $tool in
    podspan) timed "$OUT/time" node "$ROOT/bin/podspan" streams -r "$cap" -o "$out" >/dev/null 2>"$OUT/log-$tool" ;;
    podspan-noca) timed "$OUT/time" env -u NODE_EXTRA_CA_CERTS node "$ROOT/bin/podspan" streams -r "$cap" -o "$out" >/dev/null 2>"$OUT/log-$tool" ;;
    # The compiled modules as they are, without the bundle and its code cache (dist/cli/start.js).
    podspan-files-noca) timed "$OUT/time" env -u NODE_EXTRA_CA_CERTS node -e 'require(process.argv[1]).main([process.execPath, "podspan", ...process.argv.slice(2)])' "$ROOT/dist/cli/main.js" streams -r "$cap" -o "$out" >/dev/null 2>"$OUT/log-$tool" ;;
    podspan-base-noca) timed "$OUT/time" env -u NODE_EXTRA_CA_CERTS node "$BASELINE/bin/podspan" streams -r "$cap" -o "$out" >/dev/null 2>"$OUT/log-$tool" ;;
    tcpflow) timed "$OUT/time" tcpflow -r "$cap" -o "$out" >/dev/null 2>"$OUT/log-$tool" ;;
    gopacket) timed "$OUT/time" "$GOPKT" -o "$out" "$cap" >/dev/null 2>"$OUT/log-$tool" ;;
  esac
  cat "$OUT/time"
}

# the multiset of file sizes (bytes per stream direction) of one tool's output
sizes() { find "$1" -type f ! -name report.xml ! -name index.jsonl -printf '%s\n' | sort -n | tr '\n' ' '; }

TOOLS=(podspan tcpflow gopacket)
[ -n "${NODE_EXTRA_CA_CERTS:-}" ] && TOOLS+=(podspan-noca)
[ "${FILES:-0}" = 1 ] && TOOLS+=(podspan-files-noca)
BASELINE=${BASELINE:-}
if [ -n "$BASELINE" ]; then
  [ -f "$BASELINE/dist/cli/main.js" ] || { echo "BASELINE=$BASELINE: build it first"; exit 2; }
  TOOLS+=(podspan-base-noca)
fi
declare -A RESULTS
for round in $(seq 1 "$ROUNDS"); do
  shift_by=$(( (round - 1) % ${#TOOLS[@]} ))
  order=("${TOOLS[@]:shift_by}" "${TOOLS[@]:0:shift_by}")
  for tool in "${order[@]}"; do
    RESULTS[$tool-$round]=$(run_tool "$tool")
    read -r wall user sys rss <<<"${RESULTS[$tool-$round]}"
    awk -v t="$tool" -v r="$round" -v w="$wall" -v u="$user" -v s="$sys" -v m="$rss" -v p="$PACKETS" \
      'BEGIN { printf "round %d %-8s %6.3f s  user %5.3f sys %5.3f  %5.0f ns CPU/pkt  %5.0f MiB RSS\n", r, t, w, u, s, (u+s)*1e9/p, m/1024 }'
    if [ "$round" = 1 ]; then eval "SIZES_${tool//-/_}=\"\$(sizes \"\$OUT/out-$tool\")\""; fi
  done
  for tool in "${order[@]}"; do RESULTS[$tool-tiny-$round]=$(run_tool "$tool" "$TINY"); done
  if [ "$round" = 1 ]; then
    [ "$SIZES_podspan" = "$SIZES_tcpflow" ] && echo "round 1: podspan's file sizes equal tcpflow's" || echo "round 1: podspan's file sizes DIFFER from tcpflow's"
    [ "$SIZES_podspan" = "$SIZES_gopacket" ] && echo "round 1: podspan's file sizes equal gopacket's" || echo "round 1: podspan's file sizes DIFFER from gopacket's"
  fi
done

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
col() {  # key-prefix field-expression -> median over the rounds
  for r in $(seq 1 "$ROUNDS"); do echo "${RESULTS[$1-$r]}" | awk "{print $2}"; done | median
}
for tool in "${TOOLS[@]}"; do
  wall=$(col "$tool" '$1') cpu=$(col "$tool" '$2 + $3') rss=$(col "$tool" '$4')
  wall0=$(col "$tool-tiny" '$1') cpu0=$(col "$tool-tiny" '$2 + $3')
  awk -v t="$tool" -v w="$wall" -v c="$cpu" -v m="$rss" -v w0="$wall0" -v c0="$cpu0" -v p="$PACKETS" \
    'BEGIN { printf "median %-12s %6.3f s  %7.0f k pkt/s  %5.0f ns CPU/pkt  %5.0f MiB RSS | 20 packets: %5.3f s, CPU %5.3f s | core: %5.3f s, %5.0f ns CPU/pkt\n", t, w, p/w/1000, c*1e9/p, m/1024, w0, c0, w-w0, (c-c0)*1e9/p }'
  eval "WALL_${tool//-/_}=$wall CPU_${tool//-/_}=$cpu WALL0_${tool//-/_}=$wall0 CPU0_${tool//-/_}=$cpu0"
done
ratios() {  # label podspan-variable-suffix
  local v=$2
  eval "local p=\$WALL_$v pc=\$CPU_$v p0=\$WALL0_$v pc0=\$CPU0_$v"
  awk -v l="$1" -v p="$p" -v t="$WALL_tcpflow" -v g="$WALL_gopacket" -v pc="$pc" -v tc="$CPU_tcpflow" -v gc="$CPU_gopacket" \
    -v p0="$p0" -v t0="$WALL0_tcpflow" -v g0="$WALL0_gopacket" -v pc0="$pc0" -v tc0="$CPU0_tcpflow" -v gc0="$CPU0_gopacket" 'BEGIN {
    printf "ratio %-12s whole: wall %.2fx gopacket, %.2fx tcpflow; CPU %.2fx gopacket, %.2fx tcpflow | core: wall %.2fx gopacket, %.2fx tcpflow; CPU %.2fx gopacket, %.2fx tcpflow\n", l, g/p, t/p, gc/pc, tc/pc, (g-g0)/(p-p0), (t-t0)/(p-p0), (gc-gc0)/(pc-pc0), (tc-tc0)/(pc-pc0)
  }'
}
ratios podspan podspan
[ -n "${NODE_EXTRA_CA_CERTS:-}" ] && ratios podspan-noca podspan_noca
[ "${FILES:-0}" = 1 ] && ratios podspan-files-noca podspan_files_noca
[ -n "$BASELINE" ] && ratios podspan-base-noca podspan_base_noca
true
