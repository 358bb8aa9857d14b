#!/usr/bin/env bash
# Records HTTP/1.1 traffic between two network namespaces made for it (named after this PID,
# removed on exit): a small Node HTTP server in one (routes /fast/<id> answering at once with a
# few hundred bytes, /err/<id> answering 503), `hey` in the other for a fixed number of requests,
# tcpdump -s 0 on the server side. Bounded: hey runs under `timeout 300`.
#   bash bench/record-http.sh OUT.pcap REQUESTS CONNECTIONS [keepalive|close]
set -euo pipefail
out=${1:?usage: record-http.sh OUT.pcap REQUESTS CONNECTIONS [keepalive|close]}
requests=${2:?requests}; conns=${3:?connections}; mode=${4:-keepalive}
tag=$$ A=rhA$$ B=rhB$$ part="$out.part" server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  ip netns del "$A" 2>/dev/null || true; ip netns del "$B" 2>/dev/null || true
  rm -f "$part"
}
trap cleanup EXIT
ip netns add "$A"; ip netns add "$B"
ip link add ha$tag netns "$A" type veth peer name hb$tag netns "$B"
ip netns exec "$A" ip addr add 198.18.1.1/30 dev ha$tag; ip netns exec "$B" ip addr add 198.18.1.2/30 dev hb$tag
for ns in "$A" "$B"; do ip netns exec "$ns" ip link set lo up; done
ip netns exec "$A" ip link set ha$tag up; ip netns exec "$B" ip link set hb$tag up
# many short connections: let the client reuse ports quickly
ip netns exec "$A" sysctl -qw net.ipv4.ip_local_port_range="10000 65000" net.ipv4.tcp_tw_reuse=1
ip netns exec "$B" node -e '
  const body = "x".repeat(300);
  require("http").createServer((req, res) => {
    if (req.url.startsWith("/err/")) { res.writeHead(503, { "content-type": "text/plain" }); res.end("unavailable"); return; }
    res.writeHead(200, { "content-type": "text/plain" }); res.end(body);
  }).listen(8080, "198.18.1.2", () => console.log("ready"));
' > "$part.server" & server_pid=$!
for _ in $(seq 50); do grep -q ready "$part.server" 2>/dev/null && break; sleep 0.1; done
rm -f "$part.server"
ip netns exec "$B" tcpdump -i hb$tag -s 0 -B 262144 -w "$part" tcp 2>/dev/null & td=$!
sleep 1
extra=(); [ "$mode" = close ] && extra=(-disable-keepalive)
# nine requests in ten to /fast, one to /err (hey sends one URL: run two)
fast=$(( requests * 9 / 10 )); err=$(( requests - fast ))
ip netns exec "$A" timeout 300 hey -n "$fast" -c "$conns" "${extra[@]}" http://198.18.1.2:8080/fast/12345 >/dev/null || true
ip netns exec "$A" timeout 300 hey -n "$err" -c "$conns" "${extra[@]}" http://198.18.1.2:8080/err/6789 >/dev/null || true
sleep 1; kill -INT $td; wait $td || true
mv "$part" "$out"
