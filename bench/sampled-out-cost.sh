#!/usr/bin/env bash
# What counting sampled-out packets costs: a capture with 1-in-100 flow sampling of UDP
# (bench-only CaptureSession script below) on a veth pair, trafgen flooding thousands of flows,
# alternating rounds with the counting chain on (sampledFilter) and off. Prints per round the
# packets that arrived, kept and sampled out, the whole machine's CPU during the flood (the
# kernel's ring copy of a stub is charged to the sender's softirq on a veth) and the capture
# process's CPU; then the cost per sampled-out packet from the medians.
#   sudo bash bench/sampled-out-cost.sh [ROUNDS=3] [FRAMES=3000000]
# Needs root, iproute2, netsniff-ng (trafgen). Not a test: never fails on timings.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
FRAMES=${2:-3000000}
tag=$$
A="soA$tag"; B="soB$tag"
work=$(mktemp -d)
cleanup() { ip netns del "$A" 2>/dev/null || true; ip netns del "$B" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$A"; ip netns add "$B"
ip link add sa$tag netns "$A" type veth peer name sb$tag netns "$B"
ip -n "$A" link set sa$tag up; ip -n "$B" link set sb$tag up
echo '{ eth(da=02:00:00:00:00:02, sa=02:00:00:00:00:01), ipv4(saddr=198.18.0.1, daddr=198.18.0.2), udp(sport=dinc(1024, 65000), dport=5000), fill(0x41, 58) }' > "$work/flows.cfg"
cat > "$work/capture.js" <<'JS'
const { CaptureSession } = require(process.argv[2] + '/dist/capture/session.js');
const [, , , iface, mode, ms] = process.argv;
const sample = '((ip[12:4] ^ ip[16:4] ^ ip[((ip[0] & 0xf) << 2) : 2] ^ ip[((ip[0] & 0xf) << 2) + 2 : 2]) % 100 = 0)';
const s = CaptureSession.open({ source: { kind: 'live', interfaces: [iface] }, filter: `udp and ${sample}`, sampledFilter: mode === 'counted' ? 'udp' : undefined,
  snaplen: 262144, promisc: true, immediate: false, timeoutMs: 100, bufferKiB: 65536, output: { path: '/dev/null', format: 'pcap' } });
const done = s.start();
setTimeout(() => s.stop(), Number(ms));
done.then((r) => { const u = process.cpuUsage(); const st = r.stats[0]; console.log(`${st.received} ${st.captured} ${st.sampledOut} ${(u.user + u.system) / 1e6}`); });
JS
jiffies() { awk '/^cpu / {print $2+$3+$4+$7+$8}' /proc/stat; }
hz=$(getconf CLK_TCK)
declare -A ALL PROC OUT
for round in $(seq 1 "$ROUNDS"); do
  for mode in plain counted; do
    ip netns exec "$B" node "$work/capture.js" "$PWD" sb$tag $mode 6000 > "$work/out" &
    pid=$!
    sleep 1.5
    j0=$(jiffies)
    ip netns exec "$A" trafgen --dev sa$tag --conf "$work/flows.cfg" --num "$FRAMES" --cpus 1 -q >/dev/null 2>&1
    j1=$(jiffies)
    wait $pid
    read -r received kept out cpu < "$work/out"
    all=$(awk -v j=$((j1 - j0)) -v hz="$hz" 'BEGIN { print j / hz }')
    ALL[$mode-$round]=$all; PROC[$mode-$round]=$cpu; OUT[$mode-$round]=$out
    echo "round $round $mode: $received arrived (kernel filter passed), $kept kept, $out sampled out; machine CPU ${all} s, capture process ${cpu} s"
  done
done
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
m() { for r in $(seq 1 "$ROUNDS"); do eval "echo \${$1[$2-$r]}"; done | median; }
awk -v ap="$(m ALL plain)" -v ac="$(m ALL counted)" -v pp="$(m PROC plain)" -v pc="$(m PROC counted)" -v n="$(m OUT counted)" 'BEGIN {
  printf "median: machine CPU %.2f s plain, %.2f s counted (+%.0f%%); per sampled-out packet: %.0f ns machine, %.1f ns capture process\n", ap, ac, (ac / ap - 1) * 100, (ac - ap) * 1e9 / n, (pc - pp) * 1e9 / n
}'
