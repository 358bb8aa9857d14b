#!/usr/bin/env bash
# Replay as fast as possible from a capture of REQUESTS HTTP/1.1 requests (SHAPE=keepalive, the
# default: over 50 keep-alive connections; SHAPE=close: each on a connection of its own, 20 at a
# time; recorded once into $BENCH_DIR by bench/record-http.sh) to a local server:
# `podspan shadow -r FILE --speed 0` (comparison on, report to tmpfs) vs GoReplay reading the same
# capture (--input-raw FILE:8080 --input-raw-engine pcap_file --output-http), in the same run,
# tools alternating round by round (order rotated), medians.
#
# The server (bench/http-count-server, built and cached by scripts/bench-tools.sh) runs on the
# loopback of a network namespace made for this run (named after this PID, removed on exit) and
# answers as the recorded server did, so podspan's comparison finds every answer equal. It counts
# what it receives, so requests/s is measured at the server for both tools: requests received /
# (time of the last request received - the tool's start). CPU is the tool's user+sys (whole
# process, start-up included) per request received.
#
# GoReplay (v1.3.2, built by scripts/bench-tools.sh): --output-http-track-response, because
# without it GoReplay never reads a response body and Go's client then opens a new connection for
# every request; --output-http-workers GOR_WORKERS (default 8: Go's default transport keeps 2 idle
# connections per host, so many more workers churn connections). It reads the capture through a
# pipe held open until the server's count stops growing: at end of file GoReplay stops at once
# and drops what it still buffers (about 20,000 requests of 200,000 when reading the file
# directly). It never exits by itself: it is ended (SIGTERM) QUIET seconds after the count stopped.
# Core only: podspan_reassembly_bench --shadow (bench/native) reads the same file through the
# native half (reassembly + shadow extractor, batches taken), no JavaScript, nothing sent; ROUNDS
# runs after the rounds above: what the native side costs per exchange.
#   [SHAPE=keepalive|close] sudo bash bench/shadow-vs-goreplay.sh [ROUNDS=5] [REQUESTS=200000]
# PODSPAN_BEFORE=OTHER_TREE/bin/podspan adds that build as a third tool in the same rounds
# ("before"), to measure a change against the tree before it. "podspan" replays HTTP/1 through
# its native transport; "undici" is the same build with PODSPAN_SHADOW_HTTP1=undici (the
# JavaScript sender), run in the same rounds unless UNDICI=0.
# Needs root, iproute2, tcpdump, hey (to record), curl, Go and libpcap-dev (to build GoReplay).
set -euo pipefail
ROUNDS=${1:-5}
REQUESTS=${2:-200000}
GOR_WORKERS=${GOR_WORKERS:-8}
QUIET=${QUIET:-3}          # seconds without a new request after which a GoReplay run is over
LIMIT=${LIMIT:-300}        # seconds a run may take at most
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${BENCH_DIR:-/var/tmp/podspan-bench}
OUT=${OUT_DIR:-/dev/shm/podspan-bench-shadow-$$}
NS=svg$$ TARGET=http://127.0.0.1:9080 STATS=http://127.0.0.1:9081
SHAPE=${SHAPE:-keepalive}
case $SHAPE in
  keepalive) CONNS=50 SHAPE_TEXT="over 50 keep-alive connections" ;;
  close) CONNS=20 SHAPE_TEXT="each on its own connection, 20 at a time" ;;
  *) echo "SHAPE: keepalive or close, not $SHAPE"; exit 2 ;;
esac
CAP="$DIR/http-$SHAPE-$REQUESTS.pcap"
server_pid="" tool_pid="" feeder_pid=""
cleanup() {
  for p in $feeder_pid $tool_pid $server_pid; do kill "$p" 2>/dev/null || true; done
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$OUT"
}
trap cleanup EXIT
for tool in tcpdump hey curl; do command -v $tool >/dev/null || { echo "$tool is not installed"; exit 2; }; done
[ -f "$ROOT/dist/cli/main.js" ] || { echo "build first: npx tsc -p tsconfig.build.json"; exit 2; }
mkdir -p "$DIR" "$OUT"
CORE="$ROOT/build/native-bench/podspan_reassembly_bench"
cmake -S "$ROOT/native" -B "$ROOT/build/native-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$ROOT/build/native-bench" -j2 --target podspan_reassembly_bench >/dev/null
GOREPLAY=$(bash "$ROOT/scripts/bench-tools.sh" goreplay)
SERVER=$(bash "$ROOT/scripts/bench-tools.sh" http-server)
[ -s "$CAP" ] || bash "$ROOT/bench/record-http.sh" "$CAP" "$REQUESTS" "$CONNS" "$SHAPE"
cat "$CAP" >/dev/null  # page cache

TOOLS=(goreplay)
if node "$ROOT/bin/podspan" shadow --help 2>&1 | grep -q -- --target; then TOOLS=(podspan goreplay)
else echo "podspan shadow is not available in this build: GoReplay alone"; fi
[ "${TOOLS[0]}" = podspan ] && [ "${UNDICI:-1}" = 1 ] && TOOLS+=(undici)
[ -n "${PODSPAN_BEFORE:-}" ] && TOOLS+=(before)

ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
# GoReplay's churned connections (if any) must not run out of local ports
ip netns exec "$NS" sysctl -qw net.ipv4.ip_local_port_range="10000 65000" net.ipv4.tcp_tw_reuse=1
ip netns exec "$NS" "$SERVER" -listen "${TARGET#http://}" -stats "${STATS#http://}" 2>"$OUT/server.log" & server_pid=$!
for _ in $(seq 50); do grep -q ready "$OUT/server.log" && break; sleep 0.1; done
grep -q ready "$OUT/server.log" || { echo "the benchmark server did not start: $(cat "$OUT/server.log")"; exit 1; }

stat_of() { ip netns exec "$NS" curl -sf "$STATS/stats" | sed -E "s/.*\"$1\":([0-9]+).*/\1/"; }

# GoReplay until the server has received nothing new for QUIET seconds, then SIGTERM.
run_goreplay() {
  local fifo="$OUT/capture.fifo" last=-1 still=0 n
  rm -f "$fifo"; mkfifo "$fifo"
  exec 7<>"$fifo"  # the pipe stays open (no end of file) until the count settles
  ip netns exec "$NS" /usr/bin/time -f "%e %U %S %M" -o "$OUT/time" "$GOREPLAY" \
    --input-raw "$fifo:8080" --input-raw-engine pcap_file --output-http "$TARGET" \
    --output-http-track-response --output-http-workers "$GOR_WORKERS" >"$OUT/log-goreplay" 2>&1 7>&- & tool_pid=$!
  cat "$CAP" >&7 & feeder_pid=$!
  for ((t = 0; t < LIMIT * 4; t++)); do
    sleep 0.25
    n=$(stat_of requests)
    if [ "$n" = "$last" ] && [ "$n" -gt 0 ]; then still=$((still + 1)); else still=0; last=$n; fi
    [ $still -ge $((QUIET * 4)) ] && break
  done
  kill "$feeder_pid" 2>/dev/null || true; wait "$feeder_pid" 2>/dev/null || true; feeder_pid=""
  exec 7>&-
  pkill -TERM -P "$tool_pid" || true  # GoReplay, the child of /usr/bin/time
  wait "$tool_pid" || true; tool_pid=""
}

run_podspan() {
  rm -rf "$OUT/report"
  ip netns exec "$NS" timeout "$LIMIT" /usr/bin/time -f "%e %U %S %M" -o "$OUT/time" \
    node "${1:-$ROOT/bin/podspan}" shadow -r "$CAP" --target "$TARGET" --speed 0 --report "$OUT/report" \
    >"$OUT/log-podspan" 2>&1 || echo "podspan shadow failed: $(tail -3 "$OUT/log-podspan")" >&2
}

run_before() { run_podspan "$PODSPAN_BEFORE"; }
run_undici() { PODSPAN_SHADOW_HTTP1=undici run_podspan; }

# The server's user+sys CPU so far, in clock ticks (/proc/PID/stat fields 14 and 15; the
# command name in field 2 has no spaces).
server_ticks() { awk '{ print $14 + $15 }' "/proc/$server_pid/stat"; }
TICK=$(getconf CLK_TCK)

run_tool() {  # tool -> "wall_to_last_request requests user sys maxrss_kb wall_process connections err_requests server_cpu_s"
  local tool=$1 start ticks0
  ip netns exec "$NS" curl -sf -X POST "$STATS/reset"
  ticks0=$(server_ticks)
  start=$(date +%s%N)
  "run_$tool"
  local requests last_ns conns err server_s
  requests=$(stat_of requests); last_ns=$(stat_of last_ns); conns=$(stat_of connections); err=$(stat_of err)
  server_s=$(awk -v a="$ticks0" -v b="$(server_ticks)" -v t="$TICK" 'BEGIN { print (b - a) / t }')
  read -r wall user sys rss < <(tail -1 "$OUT/time")
  awk -v s="$start" -v l="$last_ns" -v n="$requests" -v u="$user" -v y="$sys" -v m="$rss" -v w="$wall" -v c="$conns" -v e="$err" -v v="$server_s" \
    'BEGIN { printf "%.3f %d %s %s %s %s %d %d %s\n", (l > 0 ? (l - s) / 1e9 : w), n, u, y, m, w, c, e, v }'
}
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo "capture: $CAP, $(du -m "$CAP" | cut -f1) MB, $REQUESTS requests $SHAPE_TEXT; $ROUNDS interleaved rounds"
echo "goreplay: $GOREPLAY --output-http-workers $GOR_WORKERS --output-http-track-response"
declare -A R=()
for round in $(seq 1 "$ROUNDS"); do
  s=$(( (round - 1) % ${#TOOLS[@]} ))
  for tool in "${TOOLS[@]:s}" "${TOOLS[@]:0:s}"; do
    R[$tool-$round]=$(run_tool "$tool")
    read -r wall n user sys rss pwall conns err server_s <<<"${R[$tool-$round]}"
    awk -v t="$tool" -v r="$round" -v w="$wall" -v n="$n" -v u="$user" -v s="$sys" -v m="$rss" -v p="$pwall" -v c="$conns" -v e="$err" -v want="$REQUESTS" -v v="$server_s" \
      'BEGIN { printf "round %d %-8s %6d requests received (%s, %d of them /err/)  %6.2f s to the last  %7.0f req/s  %5.1f us CPU/req  %4.0f MiB RSS  %5.1f s process  %d connections  server %4.1f us CPU/req\n",
               r, t, n, (n == want ? "all" : sprintf("%+d", n - want)), e, w, n / w, (u + s) * 1e6 / (n ? n : 1), m / 1024, p, c, v * 1e6 / (n ? n : 1) }'
    if [ "$tool" != goreplay ] && [ "$round" = 1 ] && [ -f "$OUT/report/summary.json" ]; then
      node -e 'const s = require(process.argv[1]); console.log(`round 1 ${process.argv[2]} report: requests ${s.requests}, compared ${s.compared}, matched ${s.matched}, differed ${s.differed}, errors ${s.errors}, skipped ${JSON.stringify(s.skipped)}`)' "$OUT/report/summary.json" "$tool"
    fi
  done
done

declare -A RATE=() CPU=() SERVER=()
for tool in "${TOOLS[@]}"; do
  RATE[$tool]=$(for r in $(seq 1 "$ROUNDS"); do echo "${R[$tool-$r]}" | awk '{ print $2 / $1 }'; done | median)
  CPU[$tool]=$(for r in $(seq 1 "$ROUNDS"); do echo "${R[$tool-$r]}" | awk '{ print ($3 + $4) * 1e6 / ($2 ? $2 : 1) }'; done | median)
  SERVER[$tool]=$(for r in $(seq 1 "$ROUNDS"); do echo "${R[$tool-$r]}" | awk '{ print $9 * 1e6 / ($2 ? $2 : 1) }'; done | median)
  n=$(for r in $(seq 1 "$ROUNDS"); do echo "${R[$tool-$r]}" | awk '{ print $2 }'; done | median)
  awk -v t="$tool" -v q="${RATE[$tool]}" -v c="${CPU[$tool]}" -v n="$n" -v v="${SERVER[$tool]}" \
    'BEGIN { printf "median %-8s %7.0f req/s  %5.1f us CPU/req  %d requests received  server %4.1f us CPU/req\n", t, q, c, n, v }'
done
# What twice GoReplay's rate would take of this machine: the tool's and the server's CPU per
# request (both on the same cores here) at that rate, in CPUs, against the CPUs there are.
for tool in "${TOOLS[@]}"; do
  [ "$tool" = goreplay ] && continue
  awk -v t="$tool" -v g="${RATE[goreplay]}" -v c="${CPU[$tool]}" -v v="${SERVER[$tool]}" -v n="$(nproc)" \
    'BEGIN { printf "at 2x GoReplay (%.0f req/s), %s and the server at their CPU per request need %.2f CPUs of %d\n", 2 * g, t, 2 * g * (c + v) / 1e6, n }'
done
for tool in "${TOOLS[@]}"; do
  [ "$tool" = goreplay ] && continue
  awk -v t="$tool" -v pq="${RATE[$tool]}" -v gq="${RATE[goreplay]}" -v pc="${CPU[$tool]}" -v gc="${CPU[goreplay]}" \
    'BEGIN { printf "ratio %s/GoReplay: requests/s %.2fx, CPU per request %.2fx\n", t, pq / gq, pc / gc }'
done
core=$(for r in $(seq 1 "$ROUNDS"); do
  /usr/bin/time -f "%U %S" -o "$OUT/time" "$CORE" --shadow "$CAP" >"$OUT/core.txt"
  awk -v t="$(cat "$OUT/time")" '{ split(t, c, " "); for (i = 1; i <= NF; i++) if ($i ~ /^exchanges=/) n = substr($i, 11)
    print (c[1] + c[2]) * 1e6 / n }' "$OUT/core.txt"
done | median)
awk -v c="$core" -v x="$(grep -o 'exchanges=[0-9]*' "$OUT/core.txt" | head -1)" \
  'BEGIN { printf "core only (native reassembly + shadow extractor, no JavaScript, nothing sent): %.2f us CPU per exchange (median of the runs), %s\n", c, x }'
