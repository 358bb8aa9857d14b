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
tag=$$
P="vbP$tag"; N="vbN$tag"; C="vbC$tag"; VP="vbp$tag"; VN="vbn$tag"; VU="vbu$tag"; VC="vbc$tag"
work=$(mktemp -d)
cleanup() { for ns in "$P" "$N" "$C"; do ip netns del "$ns" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

for ns in "$P" "$N" "$C"; do
  ip netns add "$ns"
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip link add "$VP" netns "$P" type veth peer name "$VN" netns "$N"
ip link add "$VU" netns "$N" type veth peer name "$VC" netns "$C"
ip -n "$P" link set "$VP" up; ip -n "$N" link set "$VN" up; ip -n "$N" link set "$VU" up; ip -n "$C" link set "$VC" up
ip -n "$N" addr add 10.203.0.1/24 dev "$VU"; ip -n "$C" addr add 10.203.0.2/24 dev "$VC"
ip -n "$C" link add vx0 type vxlan id 42 dstport 4789 local 10.203.0.2 nolearning
ip -n "$C" link set vx0 up
echo '{ eth(da=02:00:00:00:00:02, sa=02:00:00:00:00:01), ipv4(saddr=198.18.0.1, daddr=198.18.0.2), udp(sport=dinc(40000, 40255), dport=5000), fill(0x41, 22) }' > "$work/flood.cfg"

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

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
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
