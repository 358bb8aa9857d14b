#!/usr/bin/env bash
# Reading compressed captures: `podspan streams -r FILE.gz` (and .zst) against the same command on
# the uncompressed file, and against tcpflow fed by `gzip -dc FILE.gz |` (tcpflow reads no
# compressed file itself), every tool writing its stream files to tmpfs; tools alternating round
# by round, medians. Whole process (start-up included): wall and CPU (user+sys) per packet, the
# decompressor's CPU included (it is a child of podspan; in the pipe, of the shell timed).
# Two captures: the keep-alive HTTP capture of bench/shadow-vs-goreplay.sh (compresses ~8x) and
# the few-flows iperf3 capture (random payload: barely compresses).
#   bash bench/compressed-input.sh [ROUNDS=3]
set -euo pipefail
ROUNDS=${1:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${BENCH_DIR:-/var/tmp/podspan-bench}
OUT=${OUT_DIR:-/dev/shm/podspan-bench-compressed-$$}
mkdir -p "$OUT"
trap 'rm -rf "$OUT"' EXIT
for tool in gzip zstd tcpflow capinfos; do command -v $tool >/dev/null || { echo "$tool is not installed"; exit 2; }; done
[ -f "$ROOT/dist/cli/main.js" ] || { echo "build first: npx tsc -p tsconfig.build.json"; exit 2; }
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

for cap in "$DIR/http-keepalive-200000.pcap" "$DIR/few-flows-32-320.pcap"; do
  [ -s "$cap" ] || { echo "missing $cap: run bench/shadow-vs-goreplay.sh and bench/streams-few-flows.sh first"; continue; }
  [ -s "$cap.gz" ] || gzip -c "$cap" >"$cap.gz"
  [ -s "$cap.zst" ] || zstd -q -c "$cap" >"$cap.zst"
  packets=$(capinfos -c -M "$cap" | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}')
  echo "$(basename "$cap"): $packets packets, $(du -m "$cap" | cut -f1) MB; gzip $(du -m "$cap.gz" | cut -f1) MB, zstd $(du -m "$cap.zst" | cut -f1) MB"
  cat "$cap" "$cap.gz" "$cap.zst" >/dev/null  # page cache
  TOOLS=(plain gz zst tcpflow-gz)
  declare -A R=()
  for round in $(seq 1 "$ROUNDS"); do
    s=$(( (round - 1) % ${#TOOLS[@]} ))
    for tool in "${TOOLS[@]:s}" "${TOOLS[@]:0:s}"; do
      rm -rf "$OUT/o"; mkdir -p "$OUT/o"
      case $tool in
        plain) /usr/bin/time -f "%e %U %S" -o "$OUT/t" env -u NODE_EXTRA_CA_CERTS node "$ROOT/bin/podspan" streams -r "$cap" -o "$OUT/o" >/dev/null 2>&1 ;;
        gz) /usr/bin/time -f "%e %U %S" -o "$OUT/t" env -u NODE_EXTRA_CA_CERTS node "$ROOT/bin/podspan" streams -r "$cap.gz" -o "$OUT/o" >/dev/null 2>&1 ;;
        zst) /usr/bin/time -f "%e %U %S" -o "$OUT/t" env -u NODE_EXTRA_CA_CERTS node "$ROOT/bin/podspan" streams -r "$cap.zst" -o "$OUT/o" >/dev/null 2>&1 ;;
        tcpflow-gz) (cd "$OUT/o" && /usr/bin/time -f "%e %U %S" -o "$OUT/t" sh -c 'gzip -dc "$0" | tcpflow -r /dev/stdin -o .' "$cap.gz" >/dev/null 2>&1) ;;
      esac
      R[$tool-$round]=$(cat "$OUT/t")
      echo "  round $round $tool: $(cat "$OUT/t")"
    done
  done
  for tool in "${TOOLS[@]}"; do
    wall=$(for r in $(seq 1 "$ROUNDS"); do echo "${R[$tool-$r]}" | awk '{print $1}'; done | median)
    cpu=$(for r in $(seq 1 "$ROUNDS"); do echo "${R[$tool-$r]}" | awk '{print $2 + $3}'; done | median)
    awk -v t="$tool" -v w="$wall" -v c="$cpu" -v p="$packets" 'BEGIN { printf "  median %-10s %6.2f s  %6.0f ns CPU/pkt\n", t, w, c*1e9/p }'
  done
  unset R
done
