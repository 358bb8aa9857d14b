#!/usr/bin/env bash
# `podspan streams --console` vs `tcpflow -c`: every stream printed on standard output (into
# /dev/null), for two shapes of traffic, the tools alternating round by round (order rotated):
#   few:  the 32-stream iperf3 capture of bench/streams-few-flows.sh (recorded by it, or here);
#   many: 8,000 concurrent connections from bench/make-flows-capture.js (5% reordered, 2% sent
#         twice), MANY_MBYTES of payload.
# Whole process (start-up included) and core (each tool's median on the capture's first 20
# packets taken off): wall, CPU (user+sys) per packet, peak RSS; medians and ratios.
#   sudo bash bench/streams-console.sh [ROUNDS=5] [MANY_MBYTES=300]
# Needs root (to record the few-flows capture), iproute2, ethtool, iperf3, tcpdump, tcpflow, capinfos.
set -euo pipefail
ROUNDS=${1:-5}
MANY_MBYTES=${2:-300}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${BENCH_DIR:-/var/tmp/podspan-bench}
OUT=${OUT_DIR:-/dev/shm/podspan-bench-console-$$}
mkdir -p "$DIR" "$OUT"
trap 'rm -rf "$OUT"' EXIT
for tool in tcpdump tcpflow capinfos; do command -v $tool >/dev/null || { echo "$tool is not installed"; exit 2; }; done
[ -f "$ROOT/dist/cli/main.js" ] || { echo "build first: npx tsc -p tsconfig.build.json"; exit 2; }

FEW="$DIR/few-flows-32-320.pcap"
MANY="$DIR/flows-8000-$MANY_MBYTES.pcap"
[ -s "$FEW" ] || bash "$ROOT/bench/record-iperf.sh" "$FEW" -P 32 -n 320M
[ -s "$MANY" ] || node "$ROOT/bench/make-flows-capture.js" "$MANY" --flows 8000 --mbytes "$MANY_MBYTES" >/dev/null
# podspan runs without NODE_EXTRA_CA_CERTS (Node parses that file at every start; see BENCHMARKS.md)
run() {  # tool capture -> "wall user sys maxrss_kb"
  case $1 in
    podspan) /usr/bin/time -f "%e %U %S %M" -o "$OUT/time" env -u NODE_EXTRA_CA_CERTS node "$ROOT/bin/podspan" streams --console -r "$2" >/dev/null 2>"$OUT/log" ;;
    tcpflow) (cd "$OUT" && /usr/bin/time -f "%e %U %S %M" -o "$OUT/time" tcpflow -c -r "$2" >/dev/null 2>"$OUT/log") ;;
  esac
  cat "$OUT/time"
}
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

TOOLS=(podspan tcpflow)
for shape in few many; do
  cap=$FEW; [ $shape = many ] && cap=$MANY
  cat "$cap" >/dev/null  # page cache
  tiny="$OUT/$shape-first-20.pcap"
  tcpdump -r "$cap" -c 20 -w "$tiny" 2>/dev/null
  packets=$(capinfos -c -M "$cap" | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}')
  echo "$shape: $cap, $(du -m "$cap" | cut -f1) MB, $packets packets; $ROUNDS interleaved rounds"
  declare -A R=()
  for round in $(seq 1 "$ROUNDS"); do
    s=$(( (round - 1) % ${#TOOLS[@]} ))
    for tool in "${TOOLS[@]:s}" "${TOOLS[@]:0:s}"; do
      R[$tool-$round]=$(run "$tool" "$cap")
      R[$tool-tiny-$round]=$(run "$tool" "$tiny")
      read -r wall user sys rss <<<"${R[$tool-$round]}"
      awk -v t="$tool" -v r="$round" -v w="$wall" -v u="$user" -v y="$sys" -v m="$rss" -v p="$packets" \
        'BEGIN { printf "  round %d %-8s %6.2f s  user %5.2f sys %5.2f  %5.0f ns CPU/pkt  %5.0f MiB RSS\n", r, t, w, u, y, (u+y)*1e9/p, m/1024 }'
    done
  done
  col() { for r in $(seq 1 "$ROUNDS"); do echo "${R[$1-$r]}" | awk "{print $2}"; done | median; }
  for tool in "${TOOLS[@]}"; do
    wall=$(col "$tool" '$1') cpu=$(col "$tool" '$2 + $3') rss=$(col "$tool" '$4') wall0=$(col "$tool-tiny" '$1') cpu0=$(col "$tool-tiny" '$2 + $3')
    awk -v t="$tool" -v w="$wall" -v c="$cpu" -v m="$rss" -v w0="$wall0" -v c0="$cpu0" -v p="$packets" \
      'BEGIN { printf "  median %-8s %6.3f s  %5.0f ns CPU/pkt  %5.0f MiB RSS | 20 packets %5.3f s | core %6.3f s, %5.0f ns CPU/pkt\n", t, w, c*1e9/p, m/1024, w0, w-w0, (c-c0)*1e9/p }'
    eval "W_$tool=$wall C_$tool=$cpu W0_$tool=$wall0 C0_$tool=$cpu0"
  done
  awk -v p="$W_podspan" -v t="$W_tcpflow" -v pc="$C_podspan" -v tc="$C_tcpflow" -v p0="$W0_podspan" -v t0="$W0_tcpflow" -v pc0="$C0_podspan" -v tc0="$C0_tcpflow" \
    -v s="$shape" 'BEGIN { printf "  ratio %s (tcpflow / podspan): whole wall %.2fx, CPU %.2fx | core wall %.2fx, CPU %.2fx\n", s, t/p, tc/pc, (t-t0)/(p-p0), (tc-tc0)/(pc-pc0) }'
  unset R
done
