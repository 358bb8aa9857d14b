#!/usr/bin/env bash
# gRPC forwarding throughput: `podspan capture -r FILE --forward grpc://127.0.0.1:PORT` into a
# local `podspan collector`, for captures of 64-byte and of 1500-byte frames (written by this
# script), several rounds, with TLS off and on (a CA and certificate made by
# scripts/make-collector-certs.sh). Reading a file takes the veth and the kernel out, so this
# measures the forwarding path itself: agent batching, encoding, HTTP/2 (and TLS), the
# collector's decode and pcapng writing. Beside it, in the same rounds: the VXLAN path on the
# same capture (`--forward vxlan://` into the collector's VXLAN listener; UDP, so frames the
# collector could not take are lost, and counted) and iperf3 over loopback (one TCP stream: the
# ceiling of what one connection carries here), both as ratios.
#
# Per run: frames/s, Gbit/s of frames, frames lost (must be 0 for gRPC), CPU per frame of the
# agent (whole process: user + system, Node's start-up included; "run" subtracts the CPU of the
# same command forwarding a one-frame capture) and of the collector (while the run lasted; beside
# it its main thread alone, the event loop that reads every stream: the path each frame waits on), and
# the peak RSS of both (the agent's anonymous memory only: the capture file it maps is not
# its memory). Medians at the end.
#   bash bench/grpc-throughput.sh [ROUNDS=3] [FRAMES=1000000]
# TLS=off|on|both (default both); VXLAN=0 leaves the VXLAN path out; IPERF=0 leaves iperf3 out.
# PODSPAN="bin/podspan /other/tree/bin/podspan": compare builds, interleaved round by round.
# STORE=1: the collector also uploads its files as they close (-C 100 --store, to a local S3
# server from scripts/s3-test-env.sh): the ingest rate while uploading, against the same collector
# writing the same 100 MB files without --store in the same rounds (interleaved; keys "store" and
# "plain"). PIN=C:O (with STORE): the collector on CPUs C, the agent and the S3 server on CPUs O
# (taskset), so that the S3 server's share stays off the collector's cores and what remains is
# the uploader's own cost. Each run also says how long the collector's main thread (the gRPC
# streams' event loop) waited, runnable, for a CPU (schedstat), per frame: what the uploads, or
# anything else on its CPUs, took from it; the medians pair each store run with the plain run of its
# round. PLAIN_DROP=1 deletes the plain runs' closed files as they close, as the store runs'
# uploads delete theirs (see the variant loop); the default where the files are on tmpfs. On a
# disk the collector writes around the page cache and kept files cost it nothing, while the
# deleting loop forks every 0.2 s beside the agent (on its CPUs with PIN) and slows the sender of the plain runs
# (store/plain paired 1.26 with it, 1.01-1.09 without, the same hour), so there it is off. S3_DIR=DIR holds the S3 server's objects
# (default /var/tmp). S3_NICE=N runs the S3 server at that nice value (with PIN it shares
# the agent's CPUs: at 19 it no longer slows the sender, as a remote store would not). The store runs' collector CPU per frame includes its uploads during
# the run (the rest happen while it drains at exit, not counted).
# STREAMS="1 2": the agent's `streams=N` (Mirror.Streams per collector), each count a variant of
# the same build, interleaved round by round (keys "streams=1", "streams=2").
# COLLECTOR_ARGS="...": more arguments for every collector run (e.g. --page-cache).
# OUT=DIR: the collector writes its files in a new folder under DIR (default: tmpfs, beside the
# captures the agent reads; OUT=/var/tmp puts them on disk, as a deployed collector's are).
# WRITES="direct page-cache": the collector writing its files around the page cache (O_DIRECT,
# its default where the file system allows: not on tmpfs) and through it (--page-cache), each a
# variant of the same build, interleaved round by round.
# THREADS=FILE: per run, the collector's CPU and wait for a CPU summed by thread name (its main
# thread as "main", the uploads' threads at nice 19 as NAME@nice19), read from /proc when the
# agent has finished, appended to FILE, each line labelled BUILD/SIZE/TLS/VARIANT/rROUND; with
# STORE also the S3 server's CPU over the same run ("s3-server"). Each store run also prints the
# collector's store summary line (files uploaded, parts held back for ingest).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
FRAMES=${2:-1000000}
TLS=${TLS:-both}
read -r -a bins <<< "${PODSPAN:-bin/podspan}"
case "$TLS" in off) modes=(off) ;; on) modes=(on) ;; both) modes=(off on) ;; *) echo "TLS takes off, on or both" >&2; exit 2 ;; esac
work=$(mktemp -d /dev/shm/podspan-grpc-bench.XXXXXX)
out=$work/out
[ -n "${OUT:-}" ] && out=$(mktemp -d "$OUT/podspan-grpc-bench-out.XXXXXX")
plain_drop=${PLAIN_DROP:-$([ "$(df --output=fstype "$(dirname "$out")" | tail -1)" = tmpfs ] && echo 1 || echo 0)}
cpid=""
ipid=""
s3dir=""
cleanup() {
  [ -n "$cpid" ] && kill -INT "$cpid" 2>/dev/null
  [ -n "$ipid" ] && kill "$ipid" 2>/dev/null
  wait 2>/dev/null || true
  [ -n "$s3dir" ] && { bash scripts/s3-test-env.sh stop "$s3dir"; rm -rf "$s3dir"; }
  rm -rf "$work"
  if [ "$out" != "$work/out" ]; then rm -rf "$out"; fi
}
trap cleanup EXIT
variants=(-)
collector_pin=()
other_pin=()
if [ -n "${PIN:-}" ]; then
  collector_pin=(taskset -c "${PIN%%:*}")
  other_pin=(taskset -c "${PIN##*:}")
fi
if [ -n "${STORE:-}" ]; then
  # On disk by default: the objects are GBs. S3_DIR=/dev/shm keeps the S3 server's writes off the
  # disk the collector writes to (in a cluster the store is another machine's disk).
  s3dir=$(mktemp -d "${S3_DIR:-/var/tmp}/podspan-grpc-bench-s3.XXXXXX")
  "${other_pin[@]}" nice -n "${S3_NICE:-0}" bash scripts/s3-test-env.sh start "$s3dir" >/dev/null
  set -a; . "$s3dir/env"; set +a
  variants=(plain store)
fi
if [ -n "${STREAMS:-}" ]; then
  [ -n "${STORE:-}" ] && { echo "STREAMS and STORE do not go together" >&2; exit 2; }
  read -r -a counts <<< "$STREAMS"
  variants=("${counts[@]/#/streams=}")
fi
if [ -n "${WRITES:-}" ]; then
  [ -n "${STORE:-}${STREAMS:-}" ] && { echo "WRITES goes with neither STORE nor STREAMS" >&2; exit 2; }
  read -r -a variants <<< "$WRITES"
fi
vlabel() { [ "$1" = - ] || echo " $1"; }
variant_args() { # VARIANT: the collector's extra arguments
  case "$1" in plain) echo "-C 100" ;; store) echo "-C 100 --store s3://podspan/bench" ;; page-cache) echo "--page-cache" ;; esac
}
if [ "$TLS" != off ]; then
  sh scripts/make-collector-certs.sh --out "$work/pki" --ip 127.0.0.1 >/dev/null 2>&1
fi

write_pcap() { # FILE FRAMES SIZE
  node -e '
    const fs = require("fs"); const [file, n, size] = [process.argv[1], +process.argv[2], +process.argv[3]];
    const fd = fs.openSync(file, "w"); const h = Buffer.alloc(24);
    h.writeUInt32LE(0xa1b2c3d4, 0); h.writeUInt16LE(2, 4); h.writeUInt16LE(4, 6); h.writeUInt32LE(262144, 16); h.writeUInt32LE(1, 20);
    fs.writeSync(fd, h);
    const per = 16 + size, chunk = Buffer.alloc(per * 4096);
    for (let i = 0; i < n; i += 4096) {
      const m = Math.min(4096, n - i);
      for (let k = 0; k < m; k++) {
        const o = k * per, j = i + k;
        chunk.writeUInt32LE(1700000000 + Math.floor(j / 1e6), o); chunk.writeUInt32LE(j % 1e6, o + 4);
        chunk.writeUInt32LE(size, o + 8); chunk.writeUInt32LE(size, o + 12);
        chunk.fill(0, o + 16, o + 16 + size); chunk.writeUInt16BE(0x0800, o + 28); chunk[o + 30] = 0x45;
        chunk.writeUInt16BE(size - 14, o + 32); chunk[o + 39] = 17; chunk.writeUInt32BE(0xc6120000 + (j & 0xff), o + 42);
        chunk.writeUInt32BE(0xc6120101, o + 46); chunk.writeUInt16BE(40000 + (j & 0xff), o + 50); chunk.writeUInt16BE(5000, o + 52);
      }
      fs.writeSync(fd, chunk, 0, m * per);
    }
    fs.closeSync(fd);' "$1" "$2" "$3"
}
for size in 64 1500; do write_pcap "$work/f$size.pcap" "$FRAMES" "$size"; write_pcap "$work/one$size.pcap" 1 "$size"; done

# cpu_of, wait_of, threads_of (bench/lib/proc-stats.sh); peak RSS (KiB) of a running process.
. bench/lib/proc-stats.sh
# CPU seconds of a process's main thread alone (the collector's: the gRPC streams' event loop).
main_cpu_of() { awk '{print ($14 + $15) / '"$(getconf CLK_TCK)"'}' "/proc/$1/task/$1/stat"; }
# ... and its system share alone (the kernel's side of its writes: page allocation, the copy).
main_sys_of() { awk '{print $15 / '"$(getconf CLK_TCK)"'}' "/proc/$1/task/$1/stat"; }
hwm_of() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; } # the collector maps no file

# start_collector BIN MODE [ARGS...]: sets cpid, port (gRPC), vport (VXLAN), ccpu0
start_collector() {
  local bin=$1 mode=$2; shift 2
  local tls=()
  [ "$mode" = on ] && tls=(--tls-cert "$work/pki/tls.crt" --tls-key "$work/pki/tls.key")
  rm -rf "$out" "$work/cerr" # the previous run's "listening on" must not be taken for this one's
  # shellcheck disable=SC2086 # COLLECTOR_ARGS splits on purpose
  "${collector_pin[@]}" node "$bin" collector --listen 127.0.0.1:0 --out "$out" "${tls[@]}" ${COLLECTOR_ARGS:-} "$@" 2> "$work/cerr" &
  cpid=$!
  until grep -q 'listening on' "$work/cerr" 2>/dev/null; do sleep 0.05; done
  sleep 0.2 # let its start-up finish before its CPU is read
  port=$(grep -Eo 'listening on 127\.0\.0\.1:[0-9]+' "$work/cerr" | head -1 | cut -d: -f2)
  vport=$(grep -Eo 'VXLAN on 127\.0\.0\.1:[0-9]+' "$work/cerr" | head -1 | cut -d: -f2 || true)
  ccpu0=$(cpu_of "$cpid")
  cwait0=$(wait_of "$cpid")
  cmain0=$(main_cpu_of "$cpid")
  csys0=$(main_sys_of "$cpid")
  if [ -n "${THREADS:-}" ]; then
    threads_of "$cpid" > "$work/threads0"
    [ -n "$s3dir" ] && s3cpu0=$(cpu_of "$(cat "$s3dir/versitygw.pid")")
  fi
  return 0
}
stop_collector() { # sets ccpu, chwm
  ccpu=$(echo "$(cpu_of "$cpid") - $ccpu0" | bc -l)
  cwait=$(( $(wait_of "$cpid") - cwait0 ))
  cmain=$(echo "$(main_cpu_of "$cpid") - $cmain0" | bc -l)
  csys=$(echo "$(main_sys_of "$cpid") - $csys0" | bc -l)
  chwm=$(hwm_of "$cpid")
  if [ -n "${THREADS:-}" ]; then
    threads_of "$cpid" | awk -v label="${run_label:-}" -v tick="$(getconf CLK_TCK)" 'NR == FNR {c[$1] = $3; w[$1] = $4; next}
      NF == 4 {cpu[$2] += ($3 - c[$1]) / tick; wait[$2] += ($4 - w[$1]) / 1e6}
      END {for (n in cpu) printf "%s %s %.3f s cpu %.1f ms waited\n", label, n, cpu[n], wait[n]}' "$work/threads0" - >> "$THREADS"
    # The S3 server's CPU over the same run (on the agent's CPUs with PIN): what a store run's
    # sender shares its core with.
    [ -n "$s3dir" ] && printf '%s s3-server %.3f s cpu\n' "$run_label" "$(echo "$(cpu_of "$(cat "$s3dir/versitygw.pid")") - $s3cpu0" | bc -l)" >> "$THREADS"
  fi
  kill -INT "$cpid"; wait "$cpid" || true; cpid=""
}
target() { # MODE PORT [VARIANT]
  local q=""
  case "${3:-}" in streams=*) q="$3" ;; esac
  if [ "$1" = on ]; then echo "grpc://127.0.0.1:$2?tls=1&ca=$work/pki/ca.crt${q:+&$q}"; else echo "grpc://127.0.0.1:$2${q:+?$q}"; fi
}
# agent_cpu BIN FILE TARGET: runs the agent; sets asecs, acpu and arss, its peak anonymous RSS
# in KiB (sampled every 100 ms: the capture file is mapped, and its pages would count in VmHWM).
# The sampling forks nothing once the agent's PID is known (bash builtins only, and a `read -t`
# on a pipe nobody writes to as its sleep): on two cores, a sampler forking pgrep, awk and sleep
# 20 times a second took CPU from the two processes it measured.
agent_cpu() {
  local tpid apid="" key value sleeper
  exec {sleeper}<> <(:)
  /usr/bin/time -f '%e %U %S' -o "$work/time" "${other_pin[@]}" node "$1" capture -r "$2" --forward "$3" 2> "$work/aerr" &
  tpid=$!
  arss=0
  while kill -0 "$tpid" 2>/dev/null; do
    [ -z "$apid" ] && apid=$(pgrep -P "$tpid" | head -1 || true)
    if [ -n "$apid" ]; then
      while read -r key value _; do
        if [ "$key" = RssAnon: ]; then [ "$value" -gt "$arss" ] && arss=$value; break; fi
      done < "/proc/$apid/status" 2>/dev/null || true
    fi
    read -r -t 0.1 -u "$sleeper" _ || true
  done
  exec {sleeper}>&-
  wait "$tpid"
  # The agent's own wall time (10 ms steps), not this loop's: it notices the end only at its
  # next 0.1 s poll, which made every rate a step of 0.1 s (7% of a 1.5 s run).
  read -r asecs u s < <(tail -n 1 "$work/time")
  acpu=$(echo "$u + $s" | bc -l)
}

# Start-up cost of each build and mode: the agent forwarding a one-frame capture.
declare -A startup
for bin in "${bins[@]}"; do
  for mode in "${modes[@]}"; do
    start_collector "$bin" "$mode"
    agent_cpu "$bin" "$work/one64.pcap" "$(target "$mode" "$port")"
    startup["$bin/$mode"]=$acpu
    run_label="start-up/$mode"
    stop_collector
  done
done

iperf() { # prints Gbit/s of one TCP stream over loopback for 3 s
  local p=$((20000 + RANDOM % 20000))
  iperf3 -s -1 -p "$p" >/dev/null 2>&1 &
  ipid=$!
  sleep 0.3
  iperf3 -c 127.0.0.1 -p "$p" -t 3 -J 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log((JSON.parse(s).end.sum_received.bits_per_second/1e9).toFixed(2)))'
  wait "$ipid" 2>/dev/null || true; ipid=""
}

echo "gRPC forwarding: $FRAMES frames per capture, agent and collector on loopback, $ROUNDS rounds, captures on $(df --output=fstype "$work" | tail -1), files on $(df --output=fstype "$(dirname "$out")" | tail -1), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
rotated() {  # ROUND ITEMS...: the items, starting at the (ROUND-1)-th, wrapping around
  local r=$1; shift
  local n=$# i
  for ((i = 0; i < n; i++)); do local k=$(((r - 1 + i) % n + 1)); echo "${!k}"; done
}
median() { sort -g | awk '{a[NR]=$1} END {if (!NR) exit; if (NR%2) printf "%.6f\n", a[(NR+1)/2]; else printf "%.6f\n", (a[NR/2]+a[NR/2+1])/2}'; }
: > "$work/results"
for r in $(seq 1 "$ROUNDS"); do
  if [ "${IPERF:-1}" != 0 ] && command -v iperf3 >/dev/null; then
    g=$(iperf)
    echo "iperf3 over loopback, round $r: $g Gbit/s"
    echo "iperf - - $g" >> "$work/results"
  fi
  for size in 64 1500; do
    # Builds and TLS modes take turns going first: on a VM whose freed memory goes back to its host,
    # the run after a small one pays for fetching its pages again (~3 s per GB of system time),
    # the run after a large one reuses the pages that run has just freed.
    for bin in $(rotated "$r" "${bins[@]}"); do
      for mode in $(rotated "$r" "${modes[@]}"); do
       # Plain first in odd rounds, store first in even ones; after a store run the S3 server
       # finishes writing its objects (SETTLE seconds) before the next run starts.
       order=("${variants[@]}")
       [ $((r % 2)) = 0 ] && [ "${#variants[@]}" = 2 ] && order=("${variants[1]}" "${variants[0]}")
       for variant in "${order[@]}"; do
        # shellcheck disable=SC2046 # the variant's arguments split on purpose
        start_collector "$bin" "$mode" $(variant_args "$variant")
        dropper=""
        if [ "$variant" = plain ] && [ "$plain_drop" != 0 ]; then
          # Closed files deleted as the store run's uploads delete them: on a VM whose freed memory
          # goes back to the host, a run that keeps 1.5 GB of new tmpfs pages pays for every first
          # touch, and one that frees and reuses them does not (PLAIN_DROP=0 keeps them).
          "${other_pin[@]}" bash -c 'while kill -0 "$1" 2>/dev/null; do ls -t "$2"/*.pcapng 2>/dev/null | tail -n +2 | xargs -r rm -f; sleep 0.2; done' _ "$cpid" "$out" &
          dropper=$!
        fi
        agent_cpu "$bin" "$work/f$size.pcap" "$(target "$mode" "$port" "$variant")"
        run_label="$bin/$size/$mode/$variant/r$r"
        stop_collector
        [ -n "$dropper" ] && wait "$dropper"
        if [ "$variant" = store ]; then
          sleep "${SETTLE:-5}"
          # The run's objects go once stored: kept, they pile up (1.5 GB a 1500-byte run; on
          # S3_DIR=/dev/shm, memory) and every later run meets a fuller machine than the one before.
          rm -rf "$s3dir/data/podspan/bench"
        fi
        key="$bin/$size/$mode"
        [ "$variant" != - ] && key="$key/$variant"
        delivered=$(grep -Eo '[0-9]+ frames delivered' "$work/aerr" | grep -Eo '^[0-9]+' || echo 0)
        written=$(grep -Eo '[0-9]+ frames written' "$work/cerr" | head -1 | grep -Eo '^[0-9]+' || echo 0)
        rate=$(echo "$written / $asecs" | bc -l)
        run_ns=$(echo "($acpu - ${startup["$bin/$mode"]}) * 1000000000 / $FRAMES" | bc -l)
        printf '%s %5d-byte frames, TLS %-3s%s round %d: %d delivered, %d written, %d lost, %.2f s, %.0f k frames/s, %.2f Gbit/s; agent CPU %.0f ns/frame (run %.0f), RSS %d MiB; collector CPU %.0f ns/frame (main thread %.0f, of it system %.0f), RSS %d MiB, main thread waited %.0f ns/frame for a CPU\n' \
          "$bin" "$size" "$mode" "$(vlabel "$variant")" "$r" "$delivered" "$written" "$((FRAMES - written))" "$asecs" "$(echo "$rate / 1000" | bc -l)" "$(echo "$rate * $size * 8 / 1000000000" | bc -l)" \
          "$(echo "$acpu * 1000000000 / $FRAMES" | bc -l)" "$run_ns" "$((arss / 1024))" "$(echo "$ccpu * 1000000000 / $FRAMES" | bc -l)" "$(echo "$cmain * 1000000000 / $FRAMES" | bc -l)" "$(echo "$csys * 1000000000 / $FRAMES" | bc -l)" "$((chwm / 1024))" "$(echo "$cwait / $FRAMES" | bc -l)"
        # What the spool did meanwhile: files uploaded during the run and its drain, and how long
        # its parts were held while ingest saturated the collector's event loop.
        [ "$variant" = store ] && echo "  $(grep -Eo '^store: .*' "$work/cerr" | head -1)"
        echo "grpc $key $rate $(echo "$acpu * 1000000000 / $FRAMES" | bc -l) $run_ns $((arss / 1024)) $(echo "$ccpu * 1000000000 / $FRAMES" | bc -l) $((chwm / 1024)) $((FRAMES - written)) $(echo "$cmain * 1000000000 / $FRAMES" | bc -l) $(echo "$cwait / $FRAMES" | bc -l) $r" >> "$work/results"
       done
      done
    done
    if [ "${VXLAN:-1}" != 0 ]; then
      start_collector "${bins[0]}" off --vxlan-listen 127.0.0.1:0
      agent_cpu "${bins[0]}" "$work/f$size.pcap" "vxlan://127.0.0.1:$vport?vni=42"
      stop_collector
      written=$(grep -Eo 'VXLAN: [0-9]+ datagrams, [0-9]+ frames written' "$work/cerr" | grep -Eo '[0-9]+ frames' | grep -Eo '^[0-9]+' || echo 0)
      rate=$(echo "$written / $asecs" | bc -l)
      printf 'VXLAN %5d-byte frames, round %d: %d written, %d lost, %.2f s, %.0f k frames/s, %.2f Gbit/s; agent CPU %.0f ns/frame, collector CPU %.0f ns/frame\n' \
        "$size" "$r" "$written" "$((FRAMES - written))" "$asecs" "$(echo "$rate / 1000" | bc -l)" "$(echo "$rate * $size * 8 / 1000000000" | bc -l)" \
        "$(echo "$acpu * 1000000000 / $FRAMES" | bc -l)" "$(echo "$ccpu * 1000000000 / $FRAMES" | bc -l)"
      echo "vxlan -/$size $rate" >> "$work/results"
    fi
  done
done

echo
echo "medians over $ROUNDS rounds:"
pick() { awk -v kind="$1" -v key="$2" -v c="$3" '$1 == kind && $2 == key {print $c}' "$work/results" | median; }
ceiling=$(awk '$1 == "iperf" {print $4}' "$work/results" | median)
[ -n "$ceiling" ] && echo "iperf3, one TCP stream over loopback: $ceiling Gbit/s"
for size in 64 1500; do
  vx=$(pick vxlan "-/$size" 3)
  for bin in "${bins[@]}"; do
    for mode in "${modes[@]}"; do
     for variant in "${variants[@]}"; do
      key="$bin/$size/$mode"
      [ "$variant" != - ] && key="$key/$variant"
      rate=$(pick grpc "$key" 3)
      gbit=$(echo "$rate * $size * 8 / 1000000000" | bc -l)
      printf '%s %5d-byte frames, TLS %-3s%s: %.0f k frames/s, %.2f Gbit/s' "$bin" "$size" "$mode" "$(vlabel "$variant")" "$(echo "$rate / 1000" | bc -l)" "$gbit"
      if [ "$variant" = store ]; then
        # Paired by round: the store run's rate over the plain run's, and how much longer the
        # collector's main thread waited for a CPU per frame (what the uploads took from ingest).
        paired=$(awk -v s="$key" -v p="$bin/$size/$mode/plain" '$1 == "grpc" && $2 == s {sr[$12] = $3; sw[$12] = $11} $1 == "grpc" && $2 == p {pr[$12] = $3; pw[$12] = $11}
          END {for (r in sr) if (r in pr) print sr[r] / pr[r], sw[r] - pw[r]}' "$work/results")
        printf ' (%.2f of plain; paired by round: %.2f, main thread waited %+.0f ns/frame more)' "$(echo "$rate / $(pick grpc "$bin/$size/$mode/plain" 3)" | bc -l)" \
          "$(cut -d' ' -f1 <<< "$paired" | median)" "$(cut -d' ' -f2 <<< "$paired" | median)"
      fi
      [ -n "$ceiling" ] && printf ', %.2f of iperf3' "$(echo "$gbit / $ceiling" | bc -l)"
      [ -n "$vx" ] && printf ', %.2f of VXLAN (%.0f k frames/s)' "$(echo "$rate / $vx" | bc -l)" "$(echo "$vx / 1000" | bc -l)"
      printf '; agent %.0f ns/frame (run %.0f), RSS %.0f MiB; collector %.0f ns/frame (main thread %.0f), RSS %.0f MiB; lost %s\n' \
        "$(pick grpc "$key" 4)" "$(pick grpc "$key" 5)" "$(pick grpc "$key" 6)" "$(pick grpc "$key" 7)" "$(pick grpc "$key" 10)" "$(pick grpc "$key" 8)" "$(awk -v key="$key" '$1 == "grpc" && $2 == key {s += $9} END {print s + 0}' "$work/results")"
     done
    done
  done
done
