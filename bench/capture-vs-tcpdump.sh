#!/usr/bin/env bash
# podspan capture vs tcpdump on a veth pair flooded by trafgen (64-byte frames), in one run,
# interleaved. Same kernel buffer (-B) for both. Prints per-run figures, then medians and
# podspan/tcpdump ratios for: packets captured, kernel drops, capture rate, CPU per packet
# (user+sys of the capture process, net of an idle run of the same length) and peak RSS.
#   bash bench/capture-vs-tcpdump.sh [ROUNDS] [PACKETS]
# Needs root, iproute2, netsniff-ng (trafgen), tcpdump, GNU time. Not a test: never fails on timings.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
PACKETS=${2:-3000000}
BUFFER_KIB=65536
DURATION=${DURATION:-8}   # each capture process runs this long; the flood fits inside it
# TRAFGEN_CPUS=2 floods from both cores: faster, and the capture competes with the generator.
tag=$$
A=pbA$tag; B=pbB$tag; VA=pba$tag; VB=pbb$tag
work=$(mktemp -d /var/tmp/podspan-bench.XXXXXX)
cleanup() { ip netns del "$A" 2>/dev/null || true; ip netns del "$B" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

ip netns add "$A"; ip netns add "$B"
for ns in "$A" "$B"; do ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1; done
ip link add "$VA" netns "$A" type veth peer name "$VB" netns "$B"
ip netns exec "$A" ip link set "$VA" up
ip netns exec "$B" ip link set "$VB" up
# 64-byte frames: 14 Ethernet + 20 IPv4 + 8 UDP + 22 payload.
echo '{ eth(da=02:00:00:00:00:02, sa=02:00:00:00:00:01), ipv4(saddr=198.18.0.1, daddr=198.18.0.2), udp(sport=40000, dport=5000), fill(0x41, 22) }' > "$work/flood.cfg"

podspan=(node bin/podspan capture -i "$VB" -B "$BUFFER_KIB")
tcpdump=(tcpdump -i "$VB" -B "$BUFFER_KIB" -n -q)

# run TOOL MODE PACKETS -> "captured drops cpu_s rss_kb flood_s"
run() {
  local tool=$1 mode=$2 n=$3 out
  case $mode in devnull) out=/dev/null ;; file) out="$work/$tool.pcap" ;; esac
  local -a cmd
  if [ "$tool" = podspan ]; then cmd=("${podspan[@]}" -w "$out"); else cmd=("${tcpdump[@]}" -w "$out"); fi
  ip netns exec "$B" /usr/bin/time -f '%U %S %M' -o "$work/time" timeout -s INT "$DURATION" "${cmd[@]}" 2> "$work/err" &
  local pid=$!
  sleep 1.5
  local t0 t1 flood=0
  if [ "$n" -gt 0 ]; then
    t0=$(date +%s.%N)
    ip netns exec "$A" trafgen --dev "$VA" --conf "$work/flood.cfg" --num "$n" --cpus "${TRAFGEN_CPUS:-1}" -q >/dev/null 2>&1
    t1=$(date +%s.%N)
    flood=$(echo "$t1 - $t0" | bc -l)
  fi
  wait "$pid" || true
  local captured drops
  captured=$(grep -Eo '^[0-9]+ packets captured' "$work/err" | grep -Eo '^[0-9]+' || echo 0)
  drops=$(grep -Eo '^[0-9]+ packets dropped by kernel' "$work/err" | grep -Eo '^[0-9]+' || echo 0)
  read -r u s rss < <(tail -n 1 "$work/time")
  rm -f "$work/$tool.pcap"
  echo "$captured $drops $(echo "$u + $s" | bc -l) $rss $flood"
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

echo "podspan vs tcpdump: $PACKETS x 64-byte frames per run, trafgen on ${TRAFGEN_CPUS:-1} CPU(s), -B $BUFFER_KIB KiB, $ROUNDS interleaved rounds, ${DURATION}s per capture process"
echo "machine: $(nproc) cores, $(uname -r), $(tcpdump --version 2>&1 | head -1), $(node bin/podspan version | tail -1)"
declare -A idle
for tool in podspan tcpdump; do
  idle[$tool]=$(run "$tool" devnull 0 | awk '{print $3}')
  echo "idle $tool: ${idle[$tool]} s CPU in ${DURATION} s (startup + waiting), subtracted below"
done

for mode in devnull file; do
  declare -A rows=()
  for ((r = 1; r <= ROUNDS; r++)); do
    for tool in podspan tcpdump; do
      line=$(run "$tool" "$mode" "$PACKETS")
      rows[$tool]+="$line"$'\n'
      read -r c d cpu rss flood <<< "$line"
      ns=$(echo "($cpu - ${idle[$tool]}) * 1000000000 / ($c + ($c == 0))" | bc -l)
      printf '%-8s %-7s round %d: captured %9d  dropped %8d  %6.0f kpps  CPU %5.2f s  %5.0f ns/pkt (net)  RSS %6d KiB\n' \
        "$tool" "$mode" "$r" "$c" "$d" "$(echo "$c / $flood / 1000" | bc -l)" "$cpu" "$ns" "$rss"
    done
  done
  declare -A med=()
  for tool in podspan tcpdump; do
    data=$(printf '%s' "${rows[$tool]}")
    med[$tool.c]=$(echo "$data" | awk '{print $1}' | median)
    med[$tool.d]=$(echo "$data" | awk '{print $2}' | median)
    med[$tool.rate]=$(echo "$data" | awk '{print $1/$5/1000}' | median)
    med[$tool.ns]=$(echo "$data" | awk -v idle="${idle[$tool]}" '{c=$1?$1:1; print ($3-idle)*1e9/c}' | median)
    med[$tool.rss]=$(echo "$data" | awk '{print $4}' | median)
  done
  echo "== $mode: medians (podspan | tcpdump | ratio podspan/tcpdump)"
  printf '  packets captured   %10.0f | %10.0f | %.3f\n' "${med[podspan.c]}" "${med[tcpdump.c]}" "$(echo "${med[podspan.c]} / ${med[tcpdump.c]}" | bc -l)"
  printf '  kernel drops       %10.0f | %10.0f\n' "${med[podspan.d]}" "${med[tcpdump.d]}"
  printf '  capture kpps       %10.0f | %10.0f | %.3f\n' "${med[podspan.rate]}" "${med[tcpdump.rate]}" "$(echo "${med[podspan.rate]} / ${med[tcpdump.rate]}" | bc -l)"
  printf '  CPU ns per packet  %10.0f | %10.0f | %.3f\n' "${med[podspan.ns]}" "${med[tcpdump.ns]}" "$(echo "${med[podspan.ns]} / ${med[tcpdump.ns]}" | bc -l)"
  printf '  peak RSS KiB       %10.0f | %10.0f\n' "${med[podspan.rss]}" "${med[tcpdump.rss]}"
  unset rows med
done
