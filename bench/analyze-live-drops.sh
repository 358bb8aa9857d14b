#!/usr/bin/env bash
# Kernel drops live: `podspan analyze -i` (alerts: with --alerts, detection on; capture: `podspan
# capture -w /dev/null`, the same capture without analytics) on the server's veth of a namespace
# pair this script makes, while hey sends REQUESTS HTTP requests over 50 connections to a small
# Node server, or iperf3 -P 8 runs for 3 s (offloads on: the veth carries TSO-sized frames at full
# speed), or trafgen sends REQUESTS SYNs from random sources as fast as it can (flood). Prints the
# tool's drop lines (and, with alerts, what fired).
#   [RATE=PPS] sudo bash bench/analyze-live-drops.sh REQUESTS analyze|alerts|capture http|iperf|flood   (RATE: the flood's SYNs a second; default as fast as trafgen goes)
# Needs root, iproute2, hey, iperf3, trafgen.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
tag=$$ A=laA$$ B=laB$$ spid="" apid="" ipidfile=$(mktemp -u)
cleanup() { [ -f "$ipidfile" ] && kill "$(cat "$ipidfile")" 2>/dev/null; rm -f "$ipidfile"; [ -n "$spid" ] && kill $spid 2>/dev/null; [ -n "$apid" ] && kill $apid 2>/dev/null; ip netns del $A 2>/dev/null; ip netns del $B 2>/dev/null; true; }
trap cleanup EXIT
ip netns add $A; ip netns add $B
ip link add la$tag netns $A type veth peer name lb$tag netns $B
ip netns exec $A ip addr add 198.18.2.1/30 dev la$tag; ip netns exec $B ip addr add 198.18.2.2/30 dev lb$tag
for ns in $A $B; do ip netns exec $ns ip link set lo up; done
ip netns exec $A ip link set la$tag up; ip netns exec $B ip link set lb$tag up
ip netns exec $B node -e 'const b="x".repeat(300);require("http").createServer((q,r)=>{r.writeHead(200);r.end(b)}).listen(8080,"198.18.2.2")' & spid=$!
# iperf3 daemonises: its pid file lets cleanup end it (an unused one-shot server would wait forever)
[ "$3" = iperf ] && ip netns exec $B iperf3 -s -1 -D -I "$ipidfile" >/dev/null
sleep 0.5
out=/dev/shm/la$tag; err=$(mktemp); rm -rf $out
case $2 in
  capture) ip netns exec $B node $ROOT/bin/podspan capture -i lb$tag -w /dev/null 2>$err & apid=$! ;;
  alerts) ip netns exec $B node $ROOT/bin/podspan analyze -i lb$tag -o $out --top 0 --alerts 2>$err & apid=$! ;;
  *) ip netns exec $B node $ROOT/bin/podspan analyze -i lb$tag -o $out --top 0 2>$err & apid=$! ;;
esac
for _ in $(seq 50); do grep -q 'listening on' $err && break; sleep 0.1; done
[ "$3" = http ] && ip netns exec $A timeout 120 hey -n ${1:-100000} -c 50 http://198.18.2.2:8080/fast/1 | grep -E 'Requests/sec'
[ "$3" = iperf ] && ip netns exec $A timeout 30 iperf3 -c 198.18.2.2 -P 8 -t 3 | tail -3 | head -1
if [ "$3" = flood ]; then
  mac=$(ip netns exec $B cat /sys/class/net/lb$tag/address)
  cfg=$(mktemp); echo "{ eth(da=$mac), ipv4(saddr=drnd(), daddr=198.18.2.2), tcp(sport=drnd(), dport=8080, syn), fill(0x41, 0) }" >$cfg
  start=$(date +%s.%N)
  ip netns exec $A timeout 60 trafgen --dev la$tag --conf $cfg --num ${1:-1000000} --cpus 1 ${RATE:+--rate ${RATE}pps} -q 2>/dev/null | grep -E "packets outgoing" || true
  awk -v n=${1:-1000000} -v a=$start -v b=$(date +%s.%N) 'BEGIN { printf "flood: %d SYNs in %.2f s\n", n, b - a }'; rm -f $cfg
fi
sleep 1; kill -INT $apid; wait $apid || true; apid=""
grep -vE '^…' $err; rm -rf $out
