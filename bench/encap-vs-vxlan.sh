#!/usr/bin/env bash
# Every mirror encapsulation under the same trafgen flood (64-byte frames at trafgen's maximum
# rate, 256 flows) on a veth pair: podspan captures on the node side and forwards as VXLAN,
# GENEVE, GRE, ERSPAN II and ERSPAN III to a "collector" namespace; tcpdump captures the same
# interface under the same load in the same interleaved rounds. The kernel here has no geneve,
# gretap or erspan device, so delivery is counted for every encapsulation alike at the collector's
# interface (its RX counter): the outer packets go to an address the collector namespace routes to
# but does not own, so they are counted and dropped silently (no ICMP answer disturbs the sender).
# Prints per round and encapsulation: frames podspan captured, outer packets delivered, kernel
# drops, CPU (user+sys) per million frames; then medians and, per encapsulation, delivered /
# tcpdump's captured frames and CPU against VXLAN's.
#   sudo bash bench/encap-vs-vxlan.sh [ROUNDS=3] [FRAMES=1000000]
#   FILL=1358 sudo bash bench/encap-vs-vxlan.sh 3 300000      # 1400-byte frames instead of 64
#   KINDS="vxlan grpc grpcs" sudo bash bench/encap-vs-vxlan.sh  # gRPC, plain and TLS, beside VXLAN
# grpc / grpcs: a `podspan collector` in the collector namespace (grpcs: TLS, certificates from
# scripts/make-collector-certs.sh); delivered is what it wrote (frames, not packets at its interface).
# Needs root, iproute2, netsniff-ng (trafgen), tcpdump, GNU time, bc. Not a test: never fails on timings.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
FRAMES=${2:-1000000}
DURATION=${DURATION:-8}
BUFFER_KIB=${BUFFER_KIB:-65536}
KINDS=${KINDS:-"vxlan geneve gre erspan2 erspan3"}
. bench/flood-topology.sh
flood_topology eb 10.206.0
# The sender's UDP GSO super-packets are split before the wire, as a NIC would.
ip netns exec "$N" ethtool -K "$VU" tx-udp-segmentation off >/dev/null 2>&1 || true
# 10.206.0.3: reached through the collector's MAC, owned by nobody there (counted, then dropped).
mac=$(ip -n "$C" link show "$VC" | awk '/link\/ether/ {print $2}')
ip -n "$N" neigh add 10.206.0.3 lladdr "$mac" dev "$VU"

rx() { ip -n "$C" -s link show "$VC" | awk '/RX:/ {getline; print $2}'; }
url() {
  case $1 in
    vxlan) echo "vxlan://10.206.0.3:4789?vni=42" ;;
    geneve) echo "geneve://10.206.0.3:6081?vni=42&session=7" ;;
    gre) echo "gre://10.206.0.3?key=42&seq=1" ;;
    erspan2) echo "erspan://10.206.0.3?session=7" ;;
    erspan3) echo "erspan://10.206.0.3?session=7&version=3&hwid=1" ;;
    grpc) echo "grpc://10.206.0.2:50051" ;;
    grpcs) echo "grpc://10.206.0.2:50051?tls=1&ca=$work/pki/ca.crt" ;;
  esac
}
case " $KINDS " in *" grpcs "*) sh scripts/make-collector-certs.sh --out "$work/pki" --ip 10.206.0.2 >/dev/null 2>&1 ;; esac

# A collector in the collector namespace for the grpc kinds; sets collector (its PID).
start_collector() {
  local tls=()
  [ "$1" = grpcs ] && tls=(--tls-cert "$work/pki/tls.crt" --tls-key "$work/pki/tls.key")
  rm -rf "$work/out" "$work/cerr"
  ip netns exec "$C" node bin/podspan collector --listen 10.206.0.2:50051 --out "$work/out" "${tls[@]}" 2> "$work/cerr" &
  collector=$!
  until grep -q 'listening on' "$work/cerr" 2>/dev/null; do sleep 0.05; done
}

# run KIND|tcpdump -> "delivered captured drops cpu_s"
run() {
  local kind=$1 cmd
  if [ "$kind" = tcpdump ]; then
    cmd=(tcpdump -i "$VN" -B "$BUFFER_KIB" -n -q -w /dev/null)
  else
    cmd=(node bin/podspan capture -i "$VN" -B "$BUFFER_KIB" --forward "$(url "$kind")")
  fi
  collector=""
  case $kind in grpc|grpcs) start_collector "$kind" ;; esac
  local before; before=$(rx)
  ip netns exec "$N" /usr/bin/time -f '%U %S' -o "$work/time" timeout -s INT "$DURATION" "${cmd[@]}" 2> "$work/err" &
  local pid=$!
  sleep 1.5
  ip netns exec "$P" trafgen --dev "$VP" --conf "$work/flood.cfg" --num "$FRAMES" --cpus 1 -q >/dev/null 2>&1
  wait "$pid" || true
  sleep 0.5
  local captured drops
  captured=$(grep -Eo '^[0-9]+ packets captured' "$work/err" | grep -Eo '^[0-9]+' || echo 0)
  drops=$(grep -Eo '^[0-9]+ packets dropped by kernel' "$work/err" | grep -Eo '^[0-9]+' || echo 0)
  read -r u s < <(tail -n 1 "$work/time")
  local delivered=$(( $(rx) - before ))
  if [ -n "$collector" ]; then
    kill -INT "$collector"; wait "$collector" || true
    delivered=$(grep -Eo '[0-9]+ frames written' "$work/cerr" | head -1 | grep -Eo '^[0-9]+' || echo 0)
  fi
  echo "$delivered $captured $drops $(echo "$u + $s" | bc -l)"
}

echo "mirror encapsulations vs tcpdump: $FRAMES x $((42 + ${FILL:-22}))-byte frames per round (256 flows), trafgen on 1 CPU at full rate, $ROUNDS interleaved rounds"
for r in $(seq 1 "$ROUNDS"); do
  for kind in $KINDS tcpdump; do
    read -r out cap drops cpu < <(run "$kind")
    echo "$out $cap $drops $cpu" >> "$work/$kind"
    if [ "$kind" = tcpdump ]; then
      printf 'round %d tcpdump: %d captured, %d kernel drops, CPU %.2f s per million frames\n' "$r" "$cap" "$drops" "$(echo "$cpu / ($cap + 1) * 1000000" | bc -l)"
    else
      printf 'round %d %-8s: %d captured, %d delivered, %d kernel drops, CPU %.2f s per million frames\n' "$r" "$kind" "$cap" "$out" "$drops" "$(echo "$cpu / ($cap + 1) * 1000000" | bc -l)"
    fi
  done
done
tc=$(awk '{print $2}' "$work/tcpdump" | median)
tcpu=$(awk '{print $4/($2+1)*1e6}' "$work/tcpdump" | median)
vcpu=""
[ -f "$work/vxlan" ] && vcpu=$(awk '{print $4/($2+1)*1e6}' "$work/vxlan" | median)
printf 'median tcpdump: %d captured, %.2f CPU-s per million frames\n' "$tc" "$tcpu"
for kind in $KINDS; do
  d=$(awk '{print $1}' "$work/$kind" | median); c=$(awk '{print $2}' "$work/$kind" | median)
  cpu=$(awk '{print $4/($2+1)*1e6}' "$work/$kind" | median)
  printf 'median %-8s: %d captured, %d delivered = %.3f of tcpdump'"'"'s captured; %.2f CPU-s per million frames' \
    "$kind" "$c" "$d" "$(echo "$d / ($tc + 1)" | bc -l)" "$cpu"
  [ -n "$vcpu" ] && printf ' (%.2fx VXLAN'"'"'s)' "$(echo "$cpu / ($vcpu + 0.000001)" | bc -l)"  # only when VXLAN ran
  echo
done
