#!/usr/bin/env bash
# gRPC forwarding throughput: `podspan capture -r FILE --forward grpc://127.0.0.1:PORT` into a
# local `podspan collector`, for captures of 64-byte and of 1500-byte frames (written by this
# script), several rounds. Reading a file takes the veth and the kernel out, so this measures
# the forwarding path itself: agent batching, encoding, HTTP/2, the collector's decode and pcapng
# writing. Prints frames/s, Gbit/s of frames, frames lost (must be 0), and the agent's CPU.
#   bash bench/grpc-throughput.sh [ROUNDS=3] [FRAMES=2000000]
# STORE=1: the collector also uploads its files as they close (-C 100 --store, to a local S3
# server from scripts/s3-test-env.sh): the ingest rate while uploading.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
FRAMES=${2:-2000000}
work=$(mktemp -d /dev/shm/podspan-grpc-bench.XXXXXX)
cpid=""
s3dir=""
cleanup() {
  [ -n "$cpid" ] && kill -INT "$cpid" 2>/dev/null; wait 2>/dev/null || true
  [ -n "$s3dir" ] && { bash scripts/s3-test-env.sh stop "$s3dir"; rm -rf "$s3dir"; }
  rm -rf "$work"
}
trap cleanup EXIT
store_args=()
if [ -n "${STORE:-}" ]; then
  s3dir=$(mktemp -d /var/tmp/podspan-grpc-bench-s3.XXXXXX) # on disk: the objects are GBs
  bash scripts/s3-test-env.sh start "$s3dir" >/dev/null
  set -a; . "$s3dir/env"; set +a
  store_args=(-C 100 --store s3://podspan/bench)
fi

for size in 64 1500; do
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
    fs.closeSync(fd);' "$work/f$size.pcap" "$FRAMES" "$size"
done
echo "gRPC forwarding: $FRAMES frames per capture, agent and collector on loopback, $ROUNDS rounds, files on $(df --output=fstype "$work" | tail -1)"
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
for size in 64 1500; do
  : > "$work/rates"
  for r in $(seq 1 "$ROUNDS"); do
    rm -rf "$work/out"
    node bin/podspan collector --listen 127.0.0.1:0 --out "$work/out" "${store_args[@]}" 2> "$work/cerr" &
    cpid=$!
    until grep -q 'listening on' "$work/cerr" 2>/dev/null; do sleep 0.05; done
    port=$(grep -Eo '127\.0\.0\.1:[0-9]+' "$work/cerr" | head -1 | cut -d: -f2)
    t0=$(date +%s.%N)
    /usr/bin/time -f '%U %S %M' -o "$work/time" node bin/podspan capture -r "$work/f$size.pcap" --forward "grpc://127.0.0.1:$port" 2> "$work/aerr"
    t1=$(date +%s.%N)
    kill -INT "$cpid"; wait "$cpid" || true; cpid=""
    delivered=$(grep -Eo '[0-9]+ frames delivered' "$work/aerr" | grep -Eo '^[0-9]+')
    written=$(grep -Eo '[0-9]+ frames written' "$work/cerr" | grep -Eo '^[0-9]+')
    read -r u s rss < <(tail -n 1 "$work/time")
    secs=$(echo "$t1 - $t0" | bc -l)
    rate=$(echo "$delivered / $secs" | bc -l)
    echo "$rate" >> "$work/rates"
    printf '%5d-byte frames, round %d: %d delivered, %d written, %d lost, %.2f s, %.0f k frames/s, %.2f Gbit/s, agent CPU %.0f ns/frame, RSS %d MiB\n' \
      "$size" "$r" "$delivered" "$written" "$((FRAMES - delivered))" "$secs" "$(echo "$rate / 1000" | bc -l)" "$(echo "$rate * $size * 8 / 1000000000" | bc -l)" \
      "$(echo "($u + $s) * 1000000000 / $FRAMES" | bc -l)" "$((rss / 1024))"
  done
  m=$(median < "$work/rates")
  printf '%5d-byte frames: median %.0f k frames/s, %.2f Gbit/s\n' "$size" "$(echo "$m / 1000" | bc -l)" "$(echo "$m * $size * 8 / 1000000000" | bc -l)"
done
