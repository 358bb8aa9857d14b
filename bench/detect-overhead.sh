#!/usr/bin/env bash
# What detection adds to `podspan analyze`: the same capture read by `podspan analyze` and by
# `podspan analyze --alerts` (the detector on every packet, the pre-trigger ring holding copies
# of them, evidence files when alerts fire), rounds interleaved with the order alternating.
# Whole process, start-up included: wall time, CPU (user+sys) per packet, peak RSS, then medians
# and the added CPU per packet in % per workload. Core only, in the same rounds: the reassembly
# bench (bench/native) reads the file with the Analyzer (--analyze) and with the Analyzer and the
# Detector (--detect; no ring, no files, no Node): what the detector itself costs. Workloads (recorded once into $BENCH_DIR, outside
# the clone, as bench/analyze-vs-tshark.sh records them):
#   iperf32   32 iperf3 streams (few large flows)
#   http-ka   HTTP/1.1 keep-alive, REQUESTS requests over 50 connections
#   http-new  HTTP/1.1, one connection per request, REQUESTS/4 requests
#   synflood  FLOOD SYNs at 100,000/s from 1,000,000 spoofed sources after a quiet minute (bench/make-syn-flood-capture.js)
#   sudo bash bench/detect-overhead.sh [ROUNDS=3] [REQUESTS=200000] [FLOOD=5000000]
# Needs iperf3, tcpdump, hey, capinfos (the recordings) and GNU time.
set -euo pipefail
ROUNDS=${1:-3}
REQUESTS=${2:-200000}
FLOOD=${3:-5000000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${BENCH_DIR:-/var/tmp/podspan-bench}
OUT=${OUT_DIR:-/dev/shm/podspan-bench-detect-$$}
mkdir -p "$DIR" "$OUT"
trap 'rm -rf "$OUT"' EXIT
[ -f "$ROOT/dist/cli/main.js" ] || { echo "build first: npx tsc -p tsconfig.build.json"; exit 2; }
CORE="$ROOT/build/native-bench/podspan_reassembly_bench"
cmake -S "$ROOT/native" -B "$ROOT/build/native-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$ROOT/build/native-bench" -j2 --target podspan_reassembly_bench >/dev/null

declare -A CAPS=(
  [iperf32]="$DIR/few-flows-32-320.pcap"
  [http-ka]="$DIR/http-keepalive-$REQUESTS.pcap"
  [http-new]="$DIR/http-close-$((REQUESTS / 4)).pcap"
  [synflood]="$DIR/synflood-$FLOOD.pcap"
)
WORKLOADS=(iperf32 http-ka http-new synflood)
[ -s "${CAPS[iperf32]}" ] || bash "$ROOT/bench/record-iperf.sh" "${CAPS[iperf32]}" -P 32 -n 320M
[ -s "${CAPS[http-ka]}" ] || bash "$ROOT/bench/record-http.sh" "${CAPS[http-ka]}" "$REQUESTS" 50 keepalive
[ -s "${CAPS[http-new]}" ] || bash "$ROOT/bench/record-http.sh" "${CAPS[http-new]}" "$((REQUESTS / 4))" 20 close
[ -s "${CAPS[synflood]}" ] || node "$ROOT/bench/make-syn-flood-capture.js" "${CAPS[synflood]}" --packets "$FLOOD"

TIME=(/usr/bin/time -f "%e %U %S %M" -o "$OUT/time")
run_tool() {  # tool capture -> "wall user sys maxrss_kb"
  local tool=$1 cap=$2 out="$OUT/out-$1"
  rm -rf "$out"; mkdir -p "$out"
  case $tool in
    analyze) "${TIME[@]}" node "$ROOT/bin/podspan" analyze -r "$cap" -o "$out" --top 0 >/dev/null 2>"$OUT/log-$tool" ;;
    alerts) "${TIME[@]}" node "$ROOT/bin/podspan" analyze -r "$cap" -o "$out" --top 0 --alerts >/dev/null 2>"$OUT/log-$tool" ;;
    core-analyze) "${TIME[@]}" "$CORE" --analyze "$cap" >/dev/null 2>"$OUT/log-$tool" ;;
    core-detect) "${TIME[@]}" "$CORE" --detect "$cap" >/dev/null 2>"$OUT/log-$tool" ;;
  esac
  cat "$OUT/time"
}
. "$ROOT/bench/lib/rounds.sh"
after_round() {  # round 1: what --alerts found
  [ "$1" = 1 ] || return 0
  grep -E '^alert .* fired|alerts \(' "$OUT/log-alerts" | head -5 || true
}

TOOLS=(analyze alerts core-analyze core-detect)
for w in "${WORKLOADS[@]}"; do
  cap=${CAPS[$w]}
  packets=$(capinfos -c -M "$cap" | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}')
  echo "== $w: $(du -m "$cap" | cut -f1) MB, $packets packets"
  cat "$cap" >/dev/null
  declare -A R=()
  interleaved_rounds "$cap" "$packets" 12
  declare -A MED=()
  for tool in "${TOOLS[@]}"; do
    MED[$tool-cpu]=$(for r in $(seq 1 "$ROUNDS"); do read -r _ u s _ <<<"${R[$tool-$r]}"; echo "$u $s" | awk -v p="$packets" '{ print ($1+$2)*1e9/p }'; done | median)
    MED[$tool-wall]=$(for r in $(seq 1 "$ROUNDS"); do read -r wall _ <<<"${R[$tool-$r]}"; echo "$wall"; done | median)
    MED[$tool-rss]=$(for r in $(seq 1 "$ROUNDS"); do read -r _ _ _ m <<<"${R[$tool-$r]}"; echo "$m"; done | median)
  done
  awk -v w="$w" -v a="${MED[analyze-cpu]}" -v d="${MED[alerts-cpu]}" -v aw="${MED[analyze-wall]}" -v dw="${MED[alerts-wall]}" \
      -v ar="${MED[analyze-rss]}" -v dr="${MED[alerts-rss]}" \
    'BEGIN { printf "median %-8s analyze %.2f s %.0f ns/pkt %.0f MiB | --alerts %.2f s %.0f ns/pkt %.0f MiB | detection adds %+.1f%% CPU per packet\n", w, aw, a, ar/1024, dw, d, dr/1024, (d-a)*100/a }'
  awk -v w="$w" -v a="${MED[core-analyze-cpu]}" -v d="${MED[core-detect-cpu]}" \
    'BEGIN { printf "median %-8s core: analyzer %.0f ns/pkt, with the detector %.0f ns/pkt: %+.1f%%\n", w, a, d, (d-a)*100/a }'
done
