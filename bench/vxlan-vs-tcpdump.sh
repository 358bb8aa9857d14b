#!/usr/bin/env bash
# VXLAN mirroring under a trafgen flood (64-byte frames, at trafgen's maximum rate) on a veth
# pair: podspan captures on the node side and forwards to a collector namespace holding a kernel
# vxlan device; tcpdump captures the same interface under the same load in alternate rounds.
# Prints, per round: frames the kernel vxlan device received (its RX counter) and frames tcpdump
# captured, podspan's CPU (user+sys) per million frames and its drops; then medians and the
# ratio (goal: vx0 frames / tcpdump frames >= 0.9).
#   sudo bash bench/vxlan-vs-tcpdump.sh [ROUNDS=3] [FRAMES=2000000]
# Needs root, iproute2, netsniff-ng (trafgen), tcpdump, GNU time. Not a test: never fails on timings.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
FRAMES=${2:-2000000}
DURATION=${DURATION:-8}
BUFFER_KIB=${BUFFER_KIB:-65536}
. bench/flood-topology.sh
flood_topology vb 10.203.0
ip -n "$C" link add vx0 type vxlan id 42 dstport 4789 local 10.203.0.2 nolearning
ip -n "$C" link set vx0 up

vx0_rx() { ip -n "$C" -s link show vx0 | awk '/RX:/ {getline; print $2}'; }

# run TOOL -> "frames_out captured drops cpu_s flood_s"
run() {
  local tool=$1 cmd
  if [ "$tool" = podspan ]; then
    cmd=(node bin/podspan capture -i "$VN" -B "$BUFFER_KIB" --forward "vxlan://10.203.0.2:4789?vni=42")
  else
    cmd=(tcpdump -i "$VN" -B "$BUFFER_KIB" -n -q -w /dev/null)
  fi
  local before; before=$(vx0_rx)
  ip netns exec "$N" /usr/bin/time -f '%U %S' -o "$work/time" timeout -s INT "$DURATION" "${cmd[@]}" 2> "$work/err" &
  local pid=$!
  sleep 1.5
  local t0 t1; t0=$(date +%s.%N)
  ip netns exec "$P" trafgen --dev "$VP" --conf "$work/flood.cfg" --num "$FRAMES" --cpus 1 -q >/dev/null 2>&1
  t1=$(date +%s.%N)
  wait "$pid" || true
  sleep 0.5
  local captured drops out
  captured=$(grep -Eo '^[0-9]+ packets captured' "$work/err" | grep -Eo '^[0-9]+' || echo 0)
  drops=$(grep -Eo '^[0-9]+ packets dropped by kernel' "$work/err" | grep -Eo '^[0-9]+' || echo 0)
  out=$(( $(vx0_rx) - before ))
  read -r u s < <(tail -n 1 "$work/time")
  echo "$out $captured $drops $(echo "$u + $s" | bc -l) $(echo "$t1 - $t0" | bc -l)"
}

echo "VXLAN mirroring vs tcpdump: $FRAMES x 64-byte frames per round (256 flows), trafgen on 1 CPU at full rate, $ROUNDS interleaved rounds"
: > "$work/p"; : > "$work/t"
for r in $(seq 1 "$ROUNDS"); do
  for tool in podspan tcpdump; do
    read -r out cap drops cpu flood < <(run "$tool")
    if [ "$tool" = podspan ]; then
      echo "$out $cap $drops $cpu" >> "$work/p"
      printf 'round %d podspan: %d captured, %d kernel drops, %d frames reached vx0, %.0f k frames/s offered, CPU %.2f s per million frames\n' "$r" "$cap" "$drops" "$out" "$(echo "$FRAMES / $flood / 1000" | bc -l)" "$(echo "$cpu / $cap * 1000000" | bc -l)"
    else
      echo "$cap $drops $cpu" >> "$work/t"
      printf 'round %d tcpdump: %d captured, %d kernel drops, CPU %.2f s per million frames\n' "$r" "$cap" "$drops" "$(echo "$cpu / $cap * 1000000" | bc -l)"
    fi
  done
done
pv=$(awk '{print $1}' "$work/p" | median); pc=$(awk '{print $2}' "$work/p" | median); pcpu=$(awk '{print $4/$2*1e6}' "$work/p" | median)
tc=$(awk '{print $1}' "$work/t" | median); tcpu=$(awk '{print $3/$1*1e6}' "$work/t" | median)
printf 'median: podspan %d captured, %d reached vx0, %.2f CPU-s per million frames | tcpdump %d captured, %.2f CPU-s per million frames\n' "$pc" "$pv" "$pcpu" "$tc" "$tcpu"
printf 'ratio: frames delivered to vx0 / frames tcpdump captured = %.3f (goal >= 0.9)\n' "$(echo "$pv / $tc" | bc -l)"
