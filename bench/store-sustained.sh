#!/usr/bin/env bash
# The collector's ingest while it uploads, sustained (issue 16). trafgen sends 1500-byte UDP frames
# at a fixed rate for SECONDS into a veth whose other end is in a namespace this script makes; an
# agent (`podspan capture -i VETH --forward grpc://...`) mirrors them to a collector writing 100 MB
# files (-C 100) to disk. Each rate runs without and with --store (uploads to a local S3 server,
# scripts/s3-test-env.sh, at nice 19 with its objects on tmpfs: a remote store would not take this
# machine's CPU), interleaved round by round, the order swapped every round. Unlike
# grpc-throughput.sh (as fast as the agent can send, a 1.5 s burst the uploads wait out), here the
# uploads run while ingest goes on at a rate the collector keeps up with: does ingest lose frames
# or CPU to them, and do the uploads keep pace?
# Per run: frames sent, captured, written, lost; the collector's CPU per frame over the ingest
# (its upload threads' apart) and how long its main thread waited for a CPU; for store runs, what
# went up during ingest (MB/s), the spool's peak and what was left to upload when ingest ended, and
# the drain at stop. Medians per rate and variant at the end.
#   sudo bash bench/store-sustained.sh [ROUNDS=3] [SECONDS=20] [RATES="50000 100000"]   (frames/s)
# OUT=DIR: the collector's files under DIR (default /var/tmp: a disk); VARIANTS="plain" (or
# "store") runs one variant only; BUFFER_KIB: the agent's kernel buffer (default 65536).
# Needs root, iproute2, trafgen, Go's build of the S3 server (scripts/s3-test-env.sh build).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${1:-3}
SECS=${2:-20}
read -r -a RATES <<<"${3:-50000 100000}"
for tool in trafgen ip; do command -v $tool >/dev/null || { echo "$tool is not installed"; exit 2; }; done
[ -f "$ROOT/dist/cli/main.js" ] || { echo "build first: npx tsc -p tsconfig.build.json"; exit 2; }
cd "$ROOT"
tag=$$ ns=ssA$$ va=ssa$$ vb=ssb$$
work=$(mktemp -d /dev/shm/podspan-store-sustained.XXXXXX)
out=$(mktemp -d "${OUT:-/var/tmp}/podspan-store-sustained-out.XXXXXX")
s3dir=$(mktemp -d /dev/shm/podspan-store-sustained-s3.XXXXXX)
cpid="" apid="" tpid=""
cleanup() {
  local p
  for p in $tpid $apid $cpid; do kill -INT "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  bash scripts/s3-test-env.sh stop "$s3dir" >/dev/null 2>&1 || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work" "$out" "$s3dir"
}
trap cleanup EXIT

ip netns add "$ns"
ip link add "$vb" type veth peer name "$va" netns "$ns"
# No IPv6 on the pair: its router solicitations and MLD reports would be frames trafgen did not send.
sysctl -qw "net.ipv6.conf.$vb.disable_ipv6=1"
ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$va.disable_ipv6=1"
ip link set "$vb" up
ip netns exec "$ns" ip link set "$va" up
# Frames to a MAC no one has: the host's stack ignores them, the capture (promiscuous) sees all.
# 64 flows (source ports), 14 + 20 + 8 + 1458 = 1500 bytes.
cat >"$work/udp.cfg" <<'EOF'
{ eth(da=02:00:00:00:00:99, sa=02:00:00:00:00:01), ipv4(saddr=198.18.3.1, daddr=198.18.3.2), udp(sport=dinc(10000, 10063), dport=9), fill(0x41, 1458) }
EOF
nice -n 19 bash scripts/s3-test-env.sh start "$s3dir" >/dev/null
set -a; . "$s3dir/env"; set +a
s3pid=$(cat "$s3dir/versitygw.pid")

. "$ROOT/bench/lib/proc-stats.sh" # cpu_of, wait_of, threads_of
spool_mib() { du -sm "$out" 2>/dev/null | cut -f1; } # MiB
. "$ROOT/bench/lib/rounds.sh" # median

echo "store-sustained: ${SECS} s of 1500-byte frames per run, rates ${RATES[*]} frames/s, $ROUNDS rounds, collector files on $(df --output=fstype "$out" | tail -1), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$work/results"
for r in $(seq 1 "$ROUNDS"); do
  for rate in "${RATES[@]}"; do
    read -r -a order <<<"${VARIANTS:-plain store}"
    [ $((r % 2)) = 0 ] && [ "${#order[@]}" = 2 ] && order=("${order[1]}" "${order[0]}")
    for variant in "${order[@]}"; do
      rm -rf "$out"; mkdir -p "$out"
      extra=(-C 100)
      [ "$variant" = store ] && extra+=(--store s3://podspan/sustained --store-drain-timeout 300)
      node bin/podspan collector --listen 127.0.0.1:0 --out "$out" "${extra[@]}" 2>"$work/cerr" &
      cpid=$!
      until grep -q 'listening on' "$work/cerr" 2>/dev/null; do sleep 0.05; done
      port=$(grep -Eo 'listening on 127\.0\.0\.1:[0-9]+' "$work/cerr" | head -1 | cut -d: -f2)
      node bin/podspan capture -i "$vb" -B "${BUFFER_KIB:-65536}" --forward "grpc://127.0.0.1:$port" 2>"$work/aerr" &
      apid=$!
      until grep -q 'listening on' "$work/aerr" 2>/dev/null; do sleep 0.05; done
      sleep 1 # the collector's start-up done before its CPU is read
      c0=$(cpu_of "$cpid") w0=$(wait_of "$cpid")
      threads_of "$cpid" >"$work/threads0"
      count=$((rate * SECS))
      t0=$(date +%s.%N)
      ip netns exec "$ns" trafgen --dev "$va" --conf "$work/udp.cfg" --num "$count" --cpus 1 --rate "${rate}pps" -q >/dev/null 2>&1 &
      tpid=$!
      peak=0
      while kill -0 "$tpid" 2>/dev/null; do
        m=$(spool_mib); [ "${m:-0}" -gt "$peak" ] && peak=$m
        sleep 0.5
      done
      wait "$tpid" || true; tpid=""
      t1=$(date +%s.%N)
      sleep 1 # the last frames through the agent and the collector
      left=$(spool_mib)
      c1=$(cpu_of "$cpid") w1=$(wait_of "$cpid")
      # The collector's CPU over the ingest by thread name (threads started meanwhile count whole),
      # and of it the nice-19 upload threads' (the index reads' threads that ended are in c only).
      threads_of "$cpid" | awk -v t="$(getconf CLK_TCK)" 'NR == FNR {c[$1] = $3; next} {cpu[$2] += ($3 - c[$1]) / t}
        END {for (n in cpu) { if (n ~ /@nice19$/) u += cpu[n]; if (cpu[n] >= 0.005) s = s sprintf("%s%s %.2f s", s == "" ? "" : ", ", n, cpu[n]) } print u + 0; print s}' "$work/threads0" - >"$work/threads1"
      u=$(head -1 "$work/threads1") by_thread=$(tail -1 "$work/threads1")
      kill -INT "$apid"; wait "$apid" || true; apid=""
      d0=$(date +%s.%N)
      kill -INT "$cpid"; wait "$cpid" || true; cpid=""
      d1=$(date +%s.%N)
      captured=$(grep -Eo '[0-9]+ packets captured' "$work/aerr" | grep -Eo '^[0-9]+' | head -1 || echo 0)
      kdrop=$(grep -Eo '[0-9]+ packets dropped by kernel' "$work/aerr" | grep -Eo '^[0-9]+' | head -1 || echo 0)
      # The agent's own losses: its forwarding queue full (the collector not reading fast enough).
      qdrop=$(grep -Eo '[0-9]+ dropped \(queue full\)' "$work/aerr" | grep -Eo '^[0-9]+' | head -1 || echo 0)
      written=$(grep -Eo '[0-9]+ frames written' "$work/cerr" | head -1 | grep -Eo '^[0-9]+' || echo 0)
      uploaded=$(grep -Eo 'store: [0-9]+ files \([0-9]+ bytes\) uploaded' "$work/cerr" | grep -Eo '\([0-9]+' | tr -d '(' || echo 0)
      held=$(grep -Eo 'parts held back [0-9.]+ s' "$work/cerr" | grep -Eo '[0-9.]+' || echo 0)
      rm -rf "$s3dir/data/podspan/sustained" # the run's objects: kept, they would fill tmpfs run after run
      awk -v r="$r" -v rate="$rate" -v v="$variant" -v n="$count" -v cap="$captured" -v kd="$kdrop" -v qd="$qdrop" -v wr="$written" \
          -v t0="$t0" -v t1="$t1" -v c="$(echo "$c1 - $c0" | bc -l)" -v u="$u" -v w="$((w1 - w0))" \
          -v peak="$peak" -v left="${left:-0}" -v up="${uploaded:-0}" -v drain="$(echo "$d1 - $d0" | bc -l)" -v held="$held" -v threads="$by_thread" -v out="$work/results" 'BEGIN {
        secs = t1 - t0; lost = n - wr
        line = sprintf("round %d %6d/s %-5s: %d sent in %.1f s, %d captured, %d kernel drops, %d dropped by the agent (queue full), %d written, %d lost; collector %.0f ns CPU/frame (of it uploads %.0f), main thread waited %.0f ns/frame",
          r, rate, v, n, secs, cap, kd, qd, wr, lost, c * 1e9 / wr, u * 1e9 / wr, w / wr)
        if (v == "store") {
          during = up - left * 1048576; if (during < 0) during = 0
          line = line sprintf("; uploaded %.0f MB/s during ingest, spool peak %d MiB, %d MiB left at its end, drain %.1f s, held %s s", during / secs / 1e6, peak, left, drain, held)
        }
        print line
        print "  collector threads over the ingest: " threads
        printf "%s %s %d %.1f %.1f %.1f %.1f %d %d %.2f\n", rate, v, lost, c * 1e9 / wr, u * 1e9 / wr, w / wr, (v == "store" ? during / secs / 1e6 : 0), peak, left, drain >> out
      }'
    done
  done
done
echo "medians:"
for rate in "${RATES[@]}"; do
  for v in ${VARIANTS:-plain store}; do
    col() { awk -v r="$rate" -v v="$v" -v k="$1" '$1 == r && $2 == v {print $k}' "$work/results" | median; }
    line="$rate/s $v: lost $(col 3), collector $(col 4) ns CPU/frame (uploads $(col 5)), main thread waited $(col 6) ns/frame"
    [ "$v" = store ] && line="$line; uploaded $(col 7) MB/s during ingest, spool peak $(col 8) MiB, $(col 9) MiB left, drain $(col 10) s"
    echo "$line"
  done
done
