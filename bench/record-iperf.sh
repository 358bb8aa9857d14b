#!/usr/bin/env bash
# Records iperf3 traffic between two network namespaces made for it (named after this PID,
# removed on exit), TSO/GSO/GRO off on the veths so the capture holds MSS-size segments, with
# tcpdump -s 0 on the server side. The client runs under `timeout 60`.
#   bash bench/record-iperf.sh OUT.pcap IPERF3_CLIENT_ARGS...    e.g. -P 32 -t 2
set -euo pipefail
out=${1:?usage: record-iperf.sh OUT.pcap IPERF3_CLIENT_ARGS...}; shift
tag=$$ A=riA$$ B=riB$$ part="$out.part" pidfile=$(mktemp -u)
cleanup() {
  [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  ip netns del "$A" 2>/dev/null || true; ip netns del "$B" 2>/dev/null || true
  rm -f "$part" "$pidfile"
}
trap cleanup EXIT
ip netns add "$A"; ip netns add "$B"
ip link add ra$tag netns "$A" type veth peer name rb$tag netns "$B"
ip netns exec "$A" ip addr add 198.18.0.1/30 dev ra$tag; ip netns exec "$B" ip addr add 198.18.0.2/30 dev rb$tag
for ns in "$A" "$B"; do ip netns exec "$ns" ip link set lo up; done
ip netns exec "$A" ip link set ra$tag up; ip netns exec "$B" ip link set rb$tag up
ip netns exec "$A" ethtool -K ra$tag tso off gso off gro off >/dev/null
ip netns exec "$B" ethtool -K rb$tag tso off gso off gro off >/dev/null
ip netns exec "$B" iperf3 -s -1 -D -I "$pidfile" >/dev/null
ip netns exec "$B" tcpdump -i rb$tag -s 0 -B 262144 -w "$part" tcp 2>/dev/null & td=$!
sleep 1
ip netns exec "$A" timeout 60 iperf3 -c 198.18.0.2 "$@" >/dev/null || true
sleep 1; kill -INT $td; wait $td || true
mv "$part" "$out"
