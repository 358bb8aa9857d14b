#!/usr/bin/env bash
# Live shadowing under load: does production's latency change when `podspan shadow -i` mirrors a
# pod's traffic to a candidate, and what CPU does the agent spend per request?
#
# Three network namespaces made for this run (named after this PID, removed on exit): "client"
# runs wrk; "pod" runs the production server (bench/http-count-server) behind a veth pair to the
# client; "candidate" runs a second copy, reached from the pod over another veth pair. wrk sends
# a fixed rate (RATE requests/s over 50 connections, paced by a Lua delay) for DURATION seconds.
# Rounds alternate shadowing off (no agent) and on (`podspan shadow -i` on the pod's veth, to the
# candidate, report to tmpfs), order rotated. Per round: wrk's p50/p99 and requests; with
# shadowing on, the agent's CPU (user+sys from /proc, sampled when wrk starts and once the agent
# has had 2 s to drain after wrk ends: start-up excluded) per request, and what the candidate
# received. The production server's count must equal wrk's: podspan only captures there.
# Medians of off and on at the end. Figures, not a pass/fail test.
#   sudo bash bench/shadow-live.sh [ROUNDS=5] [RATE=5000] [DURATION=10]
# PODSPAN_BEFORE=OTHER_TREE/bin/podspan adds that build's agent as a third mode ("before") in the
# same rounds. The agent runs with its defaults (live: replay at nice 19; AGENT_FLAGS adds flags).
# AGENT=1 adds a mode "agent": `podspan agent` with one session and a shadow: target (its replay
# in a worker thread at nice 19) in place of `podspan shadow -i`. CANDIDATE_NICE=19 runs the
# candidate's server at nice 19: in a cluster the candidate runs on other nodes, and on these
# two shared cores it would otherwise compete with production as the agent's replay does not.
# SHAPE=close: every wrk request on a connection of its own (Connection: close), the many-short-
# connections shape, where each replayed request is also a new connection to the candidate.
# PIN=1: production's side (wrk and the production server) on CPU 0, the agent and the candidate
# on CPU 1: a node with a core to spare, where the agent does not share production's core (the
# kernel's copy of each packet into the capture ring still runs where production's packets do).
# Needs root, iproute2, wrk, curl, Go (to build the server).
set -euo pipefail
ROUNDS=${1:-5}
RATE=${2:-5000}
DURATION=${3:-10}
CONNS=50
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT_DIR:-/dev/shm/podspan-bench-shadow-live-$$}
tag=$$ C=slC$$ P=slP$$ K=slK$$
PROD=198.18.5.2 CAND=198.18.6.2
prod_pid="" cand_pid="" agent_pid=""
cleanup() {
  for p in $agent_pid $prod_pid $cand_pid; do kill "$p" 2>/dev/null || true; done
  for ns in $C $P $K; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$OUT"
}
trap cleanup EXIT
for tool in wrk curl; do command -v $tool >/dev/null || { echo "$tool is not installed"; exit 2; }; done
[ -f "$ROOT/dist/cli/main.js" ] || { echo "build first: npx tsc -p tsconfig.build.json"; exit 2; }
SHADOW=1
node "$ROOT/bin/podspan" shadow --help 2>&1 | grep -q -- --target || { SHADOW=0; echo "podspan shadow is not available in this build: shadowing-off rounds only"; }
SERVER=$(bash "$ROOT/scripts/bench-tools.sh" http-server)
if [ "${PIN:-0}" = 1 ]; then ON_PROD=(taskset -c 0); ON_SIDE=(taskset -c 1); else ON_PROD=(); ON_SIDE=(); fi
mkdir -p "$OUT"

for ns in $C $P $K; do ip netns add "$ns"; ip netns exec "$ns" ip link set lo up; done
ip link add sc$tag netns $C type veth peer name sp$tag netns $P   # client <-> pod: the pod's veth
ip link add sk$tag netns $P type veth peer name sq$tag netns $K   # pod <-> candidate
ip netns exec $C ip addr add 198.18.5.1/30 dev sc$tag; ip netns exec $P ip addr add $PROD/30 dev sp$tag
ip netns exec $P ip addr add 198.18.6.1/30 dev sk$tag; ip netns exec $K ip addr add $CAND/30 dev sq$tag
ip netns exec $C ip link set sc$tag up; ip netns exec $P ip link set sp$tag up
ip netns exec $P ip link set sk$tag up; ip netns exec $K ip link set sq$tag up
ip netns exec $P "${ON_PROD[@]}" "$SERVER" -listen $PROD:8080 -stats 127.0.0.1:8081 2>"$OUT/prod.log" & prod_pid=$!
ip netns exec $K "${ON_SIDE[@]}" nice -n "${CANDIDATE_NICE:-0}" "$SERVER" -listen $CAND:8080 -stats 127.0.0.1:8081 2>"$OUT/cand.log" & cand_pid=$!
for _ in $(seq 50); do grep -q ready "$OUT/prod.log" && grep -q ready "$OUT/cand.log" && break; sleep 0.1; done
grep -q ready "$OUT/prod.log" && grep -q ready "$OUT/cand.log" || { echo "the servers did not start"; exit 1; }

# each connection waits CONNS/RATE s between requests: RATE requests/s in all (less the latency)
cat >"$OUT/pace.lua" <<LUA
function delay() return $(awk -v c=$CONNS -v r="$RATE" 'BEGIN { printf "%.3f", c * 1000 / r }') end
LUA
stat_of() { ip netns exec "$1" curl -sf http://127.0.0.1:8081/stats | sed -E "s/.*\"$2\":([0-9]+).*/\1/"; }
reset() { ip netns exec "$1" curl -sf -X POST http://127.0.0.1:8081/reset; }
# user+sys ticks of a process and its children (the agent's replay runs in a child process)
cpu_ticks() {
  local t=0 p
  for p in "$1" $(pgrep -P "$1" || true); do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo $t
}
to_ms() { awk '{ v = $1; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
  print (u == "us" ? v / 1000 : u == "s" ? v * 1000 : u == "m" ? v * 60000 : v) }'; }

run_round() {  # off|on -> "p50_ms p99_ms requests agent_cpu_s candidate_requests production_requests"
  local mode=$1 cpu0=0 cpu1=0
  reset $P; reset $K
  if [ "$mode" != off ]; then
    rm -rf "$OUT/report"
    local bin="$ROOT/bin/podspan"; [ "$mode" = before ] && bin=$PODSPAN_BEFORE
    if [ "$mode" = agent ]; then
      rm -rf "$OUT/agent-reports"
      printf '%s\n' 'sessions:' '  - name: bench' "    sources: { interfaces: [sp$tag] }" '    filter: { bpf: "tcp port 8080" }' \
        "    targets: [ { shadow: { target: \"http://$CAND:8080\", serverPorts: [8080], reportDir: \"$OUT/agent-reports\" } } ]" >"$OUT/agent.yaml"
      ip netns exec $P "${ON_SIDE[@]}" node "$bin" agent --config "$OUT/agent.yaml" >"$OUT/agent.log" 2>&1 & agent_pid=$!
    else
    # shellcheck disable=SC2086
    ip netns exec $P "${ON_SIDE[@]}" node "$bin" shadow ${AGENT_FLAGS:-} -i sp$tag --server-port 8080 \
      --target "http://$CAND:8080" --report "$OUT/report" >"$OUT/agent.log" 2>&1 & agent_pid=$!
    fi
    for _ in $(seq 100); do grep -qiE 'listening|capturing|shadowing|running 1 captures' "$OUT/agent.log" && break; sleep 0.1; done
    cpu0=$(cpu_ticks $agent_pid)
  fi
  local shape=(); [ "${SHAPE:-keepalive}" = close ] && shape=(-H 'Connection: close')
  ip netns exec $C "${ON_PROD[@]}" timeout $((DURATION + 30)) wrk -t 2 -c $CONNS -d "${DURATION}s" --latency -s "$OUT/pace.lua" "${shape[@]}" \
    "http://$PROD:8080/fast/1" >"$OUT/wrk.txt" 2>&1 || true
  if [ "$mode" != off ]; then
    sleep 2  # the agent drains what it captured last
    cpu1=$(cpu_ticks $agent_pid)
    kill -INT $agent_pid; wait $agent_pid || true; agent_pid=""
  fi
  local p50 p99 n
  p50=$(awk '$1 == "50%" { print $2 }' "$OUT/wrk.txt" | to_ms)
  p99=$(awk '$1 == "99%" { print $2 }' "$OUT/wrk.txt" | to_ms)
  n=$(awk '/requests in/ { print $1 }' "$OUT/wrk.txt")
  echo "$p50 $p99 $n $(awk -v a="$cpu0" -v b="$cpu1" -v t="$(getconf CLK_TCK)" 'BEGIN { print (b - a) / t }') $(stat_of $K requests) $(stat_of $P requests)"
}
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

MODES=(off); [ $SHADOW = 1 ] && MODES=(off on) && [ -n "${PODSPAN_BEFORE:-}" ] && MODES+=(before)
[ $SHADOW = 1 ] && [ "${AGENT:-0}" = 1 ] && MODES+=(agent)
echo "wrk: $RATE requests/s over $CONNS connections (${SHAPE:-keepalive}) for $DURATION s per round; $ROUNDS interleaved rounds"
declare -A R=()
for round in $(seq 1 "$ROUNDS"); do
  s=$(( (round - 1) % ${#MODES[@]} ))
  for mode in "${MODES[@]:s}" "${MODES[@]:0:s}"; do
    R[$mode-$round]=$(run_round "$mode")
    read -r p50 p99 n cpu cand prod <<<"${R[$mode-$round]}"
    awk -v m="$mode" -v r="$round" -v a="$p50" -v b="$p99" -v n="$n" -v c="$cpu" -v k="$cand" -v p="$prod" \
      'BEGIN { printf "round %d shadowing %-6s wrk p50 %6.3f ms p99 %6.3f ms  %7d requests (production received %d)", r, m, a, b, n, p;
               if (m != "off") printf "  candidate received %d  agent %5.1f us CPU/req", k, c * 1e6 / (n ? n : 1); printf "\n" }'
    report="$OUT/report/summary.json"; [ "$mode" = agent ] && report="$OUT/agent-reports/bench/sp$tag/summary.json"
    if [ "$mode" != off ] && [ -f "$report" ]; then
      node -e 'const s = require(process.argv[1]); console.log(`round ${process.argv[2]} podspan report: requests ${s.requests}, compared ${s.compared}, matched ${s.matched}, differed ${s.differed}, errors ${s.errors}, skipped ${JSON.stringify(s.skipped)}`)' "$report" "$round"
    fi
  done
done
for mode in "${MODES[@]}"; do
  p99=$(for r in $(seq 1 "$ROUNDS"); do echo "${R[$mode-$r]}" | awk '{ print $2 }'; done | median)
  p50=$(for r in $(seq 1 "$ROUNDS"); do echo "${R[$mode-$r]}" | awk '{ print $1 }'; done | median)
  cpu=$(for r in $(seq 1 "$ROUNDS"); do echo "${R[$mode-$r]}" | awk '{ print $4 * 1e6 / ($3 ? $3 : 1) }'; done | median)
  awk -v m="$mode" -v a="$p50" -v b="$p99" -v c="$cpu" \
    'BEGIN { printf "median shadowing %-6s wrk p50 %6.3f ms  p99 %6.3f ms", m, a, b; if (m != "off") printf "  agent %5.1f us CPU/req", c; printf "\n" }'
  eval "P99_$mode=$p99"
done
[ $SHADOW = 1 ] && awk -v a="$P99_off" -v b="$P99_on" 'BEGIN { printf "ratio wrk p99 on/off: %.2fx\n", b / a }'
[ -n "${PODSPAN_BEFORE:-}" ] && awk -v a="$P99_off" -v b="$P99_before" 'BEGIN { printf "ratio wrk p99 before/off: %.2fx\n", b / a }'
true
