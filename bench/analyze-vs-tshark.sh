#!/usr/bin/env bash
# `podspan analyze` vs `podspan streams` (reassembly alone) vs tshark's two-pass analysis, on
# three shapes of traffic recorded once into $BENCH_DIR (outside the clone) by this script:
#   iperf32   32 iperf3 streams, few large flows (bench/record-iperf.sh)
#   http-ka   HTTP/1.1 keep-alive, REQUESTS requests over 50 connections (bench/record-http.sh)
#   http-new  HTTP/1.1, one connection per request, REQUESTS/4 requests (many small flows)
# tshark runs twice: `-2 -z http,tree -q` (its HTTP statistics) and `-2 -T fields` of the
# analysis fields analytics reports (initial RTT, retransmission, zero window, http.time,
# dns.time). Each tool reads from the page cache and writes to tmpfs; tools alternate round by
# round (order rotated). Whole process, start-up included. Prints per run wall time and CPU
# (user+sys) per packet, then medians and ratios per workload. Core only: the reassembly bench
# (bench/native/reassembly_bench.cc) reads the same file with reassembly alone and with the
# Analyzer (connection tracker, HTTP/HTTP2/DNS parsers, every record queued and formatted as its
# JSON line and row when taken, that formatting's CPU printed apart), in the same rounds: what
# analytics adds to the reassembly cost per packet, without Node or files; and with llhttp alone
# on the reassembled bytes (no records): the share of that the parser itself is. `analyze` runs
# under bench/lib/thread_cpu.py: the capture thread's and the main thread's CPU are printed too.
#   sudo bash bench/analyze-vs-tshark.sh [ROUNDS=5] [REQUESTS=200000]
# BASELINE=DIR (another checkout, built: dist/ and the addon) adds its `analyze` and core to the
# same rounds (analyze-base, core-analyze-base): before/after figures from one interleaved run.
# If the environment sets NODE_EXTRA_CA_CERTS, Node parses that file and its own root
# certificates when it starts (~40 ms here, for every Node process, TLS or not): analyze then
# also runs without it ("analyze-noca"), as bench/streams-few-flows.sh does.
# Needs root, iproute2, ethtool, iperf3, tcpdump, tshark, capinfos, hey.
set -euo pipefail
ROUNDS=${1:-5}
REQUESTS=${2:-200000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${BENCH_DIR:-/var/tmp/podspan-bench}
OUT=${OUT_DIR:-/dev/shm/podspan-bench-analyze-$$}
mkdir -p "$DIR" "$OUT"
trap 'rm -rf "$OUT"' EXIT
for tool in iperf3 tcpdump tshark capinfos hey ethtool; do
  command -v $tool >/dev/null || { echo "$tool is not installed"; exit 2; }
done
[ -f "$ROOT/dist/cli/main.js" ] || { echo "build first: npx tsc -p tsconfig.build.json"; exit 2; }
CORE="$ROOT/build/native-bench/podspan_reassembly_bench"
cmake -S "$ROOT/native" -B "$ROOT/build/native-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$ROOT/build/native-bench" -j2 --target podspan_reassembly_bench >/dev/null
BASE=${BASELINE:-}
if [ -n "$BASE" ]; then
  [ -f "$BASE/dist/cli/main.js" ] || { echo "BASELINE=$BASE: build it first"; exit 2; }
  cmake -S "$BASE/native" -B "$BASE/build/native-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BASE/build/native-bench" -j2 --target podspan_reassembly_bench >/dev/null
fi

declare -A CAPS=(
  [iperf32]="$DIR/few-flows-32-320.pcap"
  [http-ka]="$DIR/http-keepalive-$REQUESTS.pcap"
  [http-new]="$DIR/http-close-$((REQUESTS / 4)).pcap"
)
WORKLOADS=(iperf32 http-ka http-new)
[ -s "${CAPS[iperf32]}" ] || bash "$ROOT/bench/record-iperf.sh" "${CAPS[iperf32]}" -P 32 -n 320M
[ -s "${CAPS[http-ka]}" ] || bash "$ROOT/bench/record-http.sh" "${CAPS[http-ka]}" "$REQUESTS" 50 keepalive
[ -s "${CAPS[http-new]}" ] || bash "$ROOT/bench/record-http.sh" "${CAPS[http-new]}" "$((REQUESTS / 4))" 20 close

TIME=(python3 "$ROOT/bench/lib/timed.py" "$OUT/time")  # wall, user, sys in microseconds
THREADS=(python3 "$ROOT/bench/lib/thread_cpu.py" "$OUT/time")  # + THREADS_FILE --: the time line and CPU per thread
run_tool() {  # tool capture -> "wall user sys maxrss_kb"
  local tool=$1 cap=$2 out="$OUT/out-$1"
  rm -rf "$out"; mkdir -p "$out"
  case $tool in
    analyze) "${THREADS[@]}" "$OUT/threads-$tool" -- node "$ROOT/bin/podspan" analyze -r "$cap" -o "$out" >/dev/null 2>"$OUT/log-$tool" ;;
    analyze-noca) "${THREADS[@]}" "$OUT/threads-$tool" -- env -u NODE_EXTRA_CA_CERTS node "$ROOT/bin/podspan" analyze -r "$cap" -o "$out" >/dev/null 2>"$OUT/log-$tool" ;;
    streams) "${TIME[@]}" node "$ROOT/bin/podspan" streams -r "$cap" -o "$out" >/dev/null 2>"$OUT/log-$tool" ;;
    tshark-tree) "${TIME[@]}" tshark -n -2 -r "$cap" -z http,tree -q >"$out/tree.txt" 2>"$OUT/log-$tool" ;;
    core-reassembly) "${TIME[@]}" "$CORE" "$cap" >/dev/null 2>"$OUT/log-$tool" ;;
    core-analyze) "${TIME[@]}" "$CORE" --analyze "$cap" >>"$OUT/core-analyze.txt" 2>"$OUT/log-$tool" ;;
    core-llhttp) "${TIME[@]}" "$CORE" --llhttp "$cap" >/dev/null 2>"$OUT/log-$tool" ;;
    analyze-base) "${THREADS[@]}" "$OUT/threads-$tool" -- node "$BASE/bin/podspan" analyze -r "$cap" -o "$out" >/dev/null 2>"$OUT/log-$tool" ;;
    core-analyze-base) "${TIME[@]}" "$BASE/build/native-bench/podspan_reassembly_bench" --analyze "$cap" >/dev/null 2>"$OUT/log-$tool" ;;
    tshark-fields) "${TIME[@]}" tshark -n -2 -r "$cap" -T fields -e tcp.stream -e tcp.analysis.initial_rtt \
      -e tcp.analysis.retransmission -e tcp.analysis.zero_window -e http.time -e dns.time >"$out/fields.txt" 2>"$OUT/log-$tool" ;;
  esac
  cat "$OUT/time"
}
. "$ROOT/bench/lib/rounds.sh"
after_round() {  # round 1: what analyze found, beside tshark's count of HTTP requests
  [ "$1" = 1 ] || return 0
  local found tsh
  found=$(wc -l <"$OUT/out-analyze/http.jsonl" 2>/dev/null || echo 0)
  tsh=$(awk '/Total HTTP Packets/ {print $4; exit}' "$OUT/out-tshark-tree/tree.txt" 2>/dev/null || echo '?')
  echo "round 1: analyze wrote $found HTTP records, $(wc -l <"$OUT/out-analyze/flows.jsonl" 2>/dev/null || echo 0) flows; tshark's http tree: $tsh HTTP packets"
}

TOOLS=(analyze streams tshark-tree tshark-fields core-reassembly core-llhttp core-analyze)
[ -n "${NODE_EXTRA_CA_CERTS:-}" ] && TOOLS+=(analyze-noca)
[ -n "$BASE" ] && TOOLS+=(analyze-base core-analyze-base)
for w in "${WORKLOADS[@]}"; do
  cap=${CAPS[$w]}
  packets=$(capinfos -c -M "$cap" | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}')
  echo "== $w: $(du -m "$cap" | cut -f1) MB, $packets packets"
  cat "$cap" >/dev/null
  declare -A R=()
  rm -f "$OUT"/threads-* "$OUT/core-analyze.txt"
  interleaved_rounds "$cap" "$packets" 13
  declare -A WALL=() CPU=()
  for tool in "${TOOLS[@]}"; do
    WALL[$tool]=$(for r in $(seq 1 "$ROUNDS"); do echo "${R[$tool-$r]}" | awk '{print $1}'; done | median)
    CPU[$tool]=$(for r in $(seq 1 "$ROUNDS"); do echo "${R[$tool-$r]}" | awk '{print $2 + $3}'; done | median)
    awk -v t="$tool" -v w="${WALL[$tool]}" -v c="${CPU[$tool]}" -v p="$packets" \
      'BEGIN { printf "median %-13s %7.3f s  %7.0f k pkt/s  %6.0f ns CPU/pkt\n", t, w, p/w/1000, c*1e9/p }'
  done
  awk -v w="$w" -v a="${WALL[analyze]}" -v s="${WALL[streams]}" -v tt="${WALL[tshark-tree]}" -v tf="${WALL[tshark-fields]}" \
      -v ac="${CPU[analyze]}" -v sc="${CPU[streams]}" 'BEGIN {
    printf "ratio %s: analyze packets/s %.1fx tshark -z http,tree, %.1fx tshark -T fields | analyze CPU/pkt %+.0f%% vs streams (whole process)\n",
      w, tt/a, tf/a, (ac/sc - 1) * 100 }'
  if [ -n "${WALL[analyze-noca]:-}" ]; then
    awk -v w="$w" -v a="${WALL[analyze-noca]}" -v tt="${WALL[tshark-tree]}" -v tf="${WALL[tshark-fields]}" 'BEGIN {
      printf "ratio %s: without NODE_EXTRA_CA_CERTS, analyze packets/s %.1fx tshark -z http,tree, %.1fx tshark -T fields\n", w, tt/a, tf/a }'
  fi
  awk -v w="$w" -v r="${CPU[core-reassembly]}" -v a="${CPU[core-analyze]}" -v l="${CPU[core-llhttp]}" 'BEGIN {
    printf "ratio %s: core only, analytics adds %+.0f%% to the reassembly CPU per packet (llhttp alone, no records: %+.0f%%)\n", w, (a/r - 1) * 100, (l/r - 1) * 100 }'
  for tool in analyze analyze-noca analyze-base; do  # the capture thread's and the main thread's CPU, medians
    [ -s "$OUT/threads-$tool" ] || continue
    awk -v t="$tool" -v p="$packets" -v c="$(awk '{print $1}' "$OUT/threads-$tool" | median)" -v m="$(awk '{print $2}' "$OUT/threads-$tool" | median)" \
      'BEGIN { printf "threads %-13s capture thread %6.0f ns CPU/pkt, main thread %6.0f ns CPU/pkt\n", t, c*1e9/p, m*1e9/p }'
  done
  fmt=$(sed -n 's/.*format_cpu_s=\([0-9.]*\).*/\1/p' "$OUT/core-analyze.txt" | median)
  awk -v w="$w" -v c="${CPU[core-analyze]}" -v f="$fmt" -v p="$packets" 'BEGIN {
    printf "core %s: analytics %.0f ns CPU/pkt, of which formatting taken batches %.0f, the rest (the capture thread'"'"'s part) %.0f\n", w, c*1e9/p, f*1e9/p, (c-f)*1e9/p }'
  if [ -n "$BASE" ]; then  # (as an `&&` list it left the script's exit status 1 without a baseline)
    awk -v w="$w" -v a="${CPU[analyze]}" -v b="${CPU[analyze-base]}" -v ca="${CPU[core-analyze]}" -v cb="${CPU[core-analyze-base]}" \
        -v wa="${WALL[analyze]}" -v wb="${WALL[analyze-base]}" 'BEGIN {
      printf "ratio %s: against BASELINE, analyze wall %+.0f%%, CPU/pkt %+.0f%%; core analytics CPU/pkt %+.0f%%\n", w, (wa/wb - 1) * 100, (a/b - 1) * 100, (ca/cb - 1) * 100 }'
  fi
done
