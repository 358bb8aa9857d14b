#!/usr/bin/env bash
# The native core alone (read + decode + reassembly, no output) vs gopacket's reassembly package
# (the engine inside Kubeshark's worker) on the same captures, interleaved, from the page cache.
# Captures are recorded once into $BENCH_DIR (default /var/tmp/podspan-bench):
#   iperf32.pcap   iperf3 -P 32 between two namespaces, TSO/GSO/GRO off, tcpdump -s 0
#   small.pcap     the same with 200-byte writes (TCP_NODELAY), so segments carry ~200 bytes
#   reorder10.pcap iperf32.pcap with 10% of the data segments swapped with their successor
#   bash bench/reassembly-vs-gopacket.sh [ROUNDS]
# Needs root, iproute2, ethtool, iperf3, tcpdump, and for gopacket: golang-go
# golang-github-google-gopacket-dev golang-golang-x-net-dev golang-golang-x-sys-dev.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
DIR=${BENCH_DIR:-/var/tmp/podspan-bench}
SECONDS_PER_CAPTURE=${SECONDS_PER_CAPTURE:-2}
mkdir -p "$DIR" build/bench

[ -x build/bench/gopacket-reassembly ] || bash ../shared/anchors/gopacket-reassembly/build.sh build/bench/gopacket-reassembly
cmake -S native -B build/native-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/native-bench -j2 --target podspan_reassembly_bench >/dev/null
ours=build/native-bench/podspan_reassembly_bench
gopkt=build/bench/gopacket-reassembly

record() {  # record FILE IPERF_ARGS...
  local file=$1; shift
  bash bench/record-iperf.sh "$file" -P 32 -t "$SECONDS_PER_CAPTURE" "$@"
}
[ -s "$DIR/iperf32.pcap" ] || record "$DIR/iperf32.pcap"
[ -s "$DIR/small.pcap" ] || record "$DIR/small.pcap" -l 200 -N
[ -s "$DIR/reorder10.pcap" ] || node bench/reorder.js "$DIR/iperf32.pcap" "$DIR/reorder10.pcap" 10

field() { sed -E "s/.*$1=([0-9.]+).*/\1/"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo "core alone vs gopacket reassembly; $ROUNDS interleaved rounds; medians; files read from the page cache"
for cap in iperf32 small reorder10; do
  f="$DIR/$cap.pcap"
  cat "$f" > /dev/null  # into the page cache
  o=(); g=()
  for ((r = 1; r <= ROUNDS; r++)); do
    o+=("$($ours "$f")"); g+=("$($gopkt "$f")")
  done
  op=$(printf '%s\n' "${o[@]}" | field pkts_per_s | median); gp=$(printf '%s\n' "${g[@]}" | field pkts_per_s | median)
  ob=$(printf '%s\n' "${o[@]}" | field payload_bytes | head -1); gb=$(printf '%s\n' "${g[@]}" | field payload_bytes | head -1)
  og=$(printf '%s\n' "${o[@]}" | field gbit_per_s | median); gg=$(printf '%s\n' "${g[@]}" | field gbit_per_s | median)
  n=$(printf '%s\n' "${o[@]}" | field packets | head -1)
  printf '%-10s %8d packets %5.0f MB | podspan %5.2f Mpkt/s %6.1f Gbit/s | gopacket %5.2f Mpkt/s %6.1f Gbit/s | ratio %.2f | payload bytes podspan %d gopacket %d\n' \
    "$cap" "$n" "$(echo "$(stat -c%s "$f") / 1000000" | bc -l)" "$(echo "$op / 1000000" | bc -l)" "$og" "$(echo "$gp / 1000000" | bc -l)" "$gg" "$(echo "$op / $gp" | bc -l)" "$ob" "$gb"
done
