# Sourced by the flood benchmarks (vxlan-vs-tcpdump.sh, encap-vs-vxlan.sh): three namespaces, a
# "pod" (P) whose veth to the "node" (N) trafgen floods, and the node's uplink to a "collector"
# (C) at SUBNET.1 / SUBNET.2, IPv6 off so nothing of the kernel's own crosses; a work folder with
# the flood's trafgen config (UDP frames of 64 bytes, or 42 + FILL bytes, 256 flows); everything
# removed on exit.
#   flood_topology PREFIX SUBNET   sets P N C VP VN VU VC and work
flood_topology() {
  local prefix=$1 subnet=$2 tag=$$
  P="${prefix}P$tag"; N="${prefix}N$tag"; C="${prefix}C$tag"
  VP="${prefix}p$tag"; VN="${prefix}n$tag"; VU="${prefix}u$tag"; VC="${prefix}c$tag"
  work=$(mktemp -d)
  # a benchmark's collector (PID in $collector) goes before its namespace
  trap '[ -n "${collector:-}" ] && kill "$collector" 2>/dev/null; for ns in "$P" "$N" "$C"; do ip netns del "$ns" 2>/dev/null || true; done; rm -rf "$work"' EXIT
  for ns in "$P" "$N" "$C"; do
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  done
  ip link add "$VP" netns "$P" type veth peer name "$VN" netns "$N"
  ip link add "$VU" netns "$N" type veth peer name "$VC" netns "$C"
  ip -n "$P" link set "$VP" up; ip -n "$N" link set "$VN" up; ip -n "$N" link set "$VU" up; ip -n "$C" link set "$VC" up
  ip -n "$N" addr add "$subnet.1/24" dev "$VU"; ip -n "$C" addr add "$subnet.2/24" dev "$VC"
  echo '{ eth(da=02:00:00:00:00:02, sa=02:00:00:00:00:01), ipv4(saddr=198.18.0.1, daddr=198.18.0.2), udp(sport=dinc(40000, 40255), dport=5000), fill(0x41, '"${FILL:-22}"') }' > "$work/flood.cfg"
}

# The median of numbers on standard input, one per line.
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
