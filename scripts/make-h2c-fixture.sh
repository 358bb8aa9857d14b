#!/usr/bin/env bash
# Writes fixtures/h2c-curl-go.pcap: real HTTP/2 without TLS between curl (built with nghttp2) and
# an h2c server on Go's golang.org/x/net/http2/h2c (test/helpers/h2c-server), on the loopback
# of a network namespace made for the purpose: an h2c Upgrade with two requests, a
# prior-knowledge connection, a gRPC-shaped POST whose trailers carry grpc-status 5, and an
# HTTP/1.1 HEAD. Needs root, Go (x/net from the module cache or proxy), curl, tcpdump.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(pwd)/fixtures/h2c-curl-go.pcap"
work="$(mktemp -d)"
ns="podspan-h2c-$$"
cleanup() {
  [ -n "${srv:-}" ] && kill "$srv" 2>/dev/null || true
  [ -n "${dump:-}" ] && kill "$dump" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
(cd test/helpers/h2c-server && go build -o "$work/h2c-server" .)
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" tcpdump -i lo -s 0 -w "$work/cap.pcap" tcp port 8080 2>/dev/null &
dump=$!
ip netns exec "$ns" "$work/h2c-server" 127.0.0.1:8080 &
srv=$!
sleep 1.5
url=http://127.0.0.1:8080
ip netns exec "$ns" curl -s --http2 "$url/items/1?x=1" "$url/items/2" >/dev/null
ip netns exec "$ns" curl -s --http2-prior-knowledge "$url/b/2" >/dev/null
printf '\0\0\0\0\0' >"$work/grpc.bin"
ip netns exec "$ns" curl -s --http2-prior-knowledge -X POST -H 'content-type: application/grpc' -H 'te: trailers' \
  --data-binary @"$work/grpc.bin" "$url/shop.Cart/Add" >/dev/null
ip netns exec "$ns" curl -s --http1.1 -I "$url/head/3" >/dev/null
sleep 1
kill "$dump"; wait "$dump" 2>/dev/null || true
dump=
cp "$work/cap.pcap" "$out"
echo "wrote $out"
