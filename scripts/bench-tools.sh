#!/usr/bin/env bash
# Prints the path of a benchmark tool built from Go, building it first if the cache lacks it.
#
#   scripts/bench-tools.sh goreplay      GoReplay (github.com/buger/goreplay), the reference for
#                                        `podspan shadow`
#   scripts/bench-tools.sh http-server   bench/http-count-server: a keep-alive server that counts
#                                        the requests it receives
#
# Each is built once per machine into ${PODSPAN_TEST_CACHE:-/var/cache/podspan-test}/NAME-KEY/bin
# (outside the clone) through scripts/build-cache.sh, as kube-test-env.sh builds kube-apiserver.
# GoReplay's key is its version and patch: the module as published (`go build` with its own go.mod
# and go.sum, nothing upgraded) plus bench/goreplay/offline-stats.patch, without which v1.3.2
# panics one second into reading a pcap file. It needs libpcap-dev (gopacket's pcap package is
# cgo). v1.3.2 is the newest version the Go module proxy serves; its --help says 1.3.0 (the
# release did not update version.go). The server's key is a digest of its sources.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_ROOT="${PODSPAN_TEST_CACHE:-/var/cache/podspan-test}"
GOREPLAY_VERSION=1.3.2
GOREPLAY_PATCH="$ROOT/bench/goreplay/offline-stats.patch"
SERVER_SRC="$ROOT/bench/http-count-server"
. "$ROOT/scripts/build-cache.sh" # cache_build, GO

export GOFLAGS="-trimpath -buildvcs=false" GOMAXPROCS="${GOMAXPROCS:-2}"

has_goreplay() { [ -x "$1/bin/goreplay" ]; } # CACHE_DIR
build_goreplay() { # OUT WORK
  [ -f /usr/include/pcap.h ] || [ -f /usr/include/pcap/pcap.h ] \
    || { echo "goreplay: libpcap's headers are missing (apt-get install libpcap-dev)" >&2; return 1; }
  echo "goreplay: building github.com/buger/goreplay v$GOREPLAY_VERSION with $(basename "$GOREPLAY_PATCH") (about 30 s)" >&2
  local src
  src="$(cd "$2" && "$GO" mod download -json "github.com/buger/goreplay@v$GOREPLAY_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -d "$src" ] || { echo "goreplay: the Go module proxy did not give github.com/buger/goreplay v$GOREPLAY_VERSION" >&2; return 1; }
  cp -r "$src" "$2/goreplay" && chmod -R u+w "$2/goreplay"
  patch -s -d "$2/goreplay" -p1 <"$GOREPLAY_PATCH" || { echo "goreplay: $GOREPLAY_PATCH does not apply" >&2; return 1; }
  (cd "$2/goreplay" && CGO_ENABLED=1 "$GO" build -ldflags="-s -w" -o "$1/bin/goreplay" . >&2)
}

has_server() { [ -x "$1/bin/http-count-server" ]; } # CACHE_DIR
build_server() { # OUT WORK
  (cd "$SERVER_SRC" && CGO_ENABLED=0 "$GO" build -ldflags="-s -w" -o "$1/bin/http-count-server" . >&2)
}

case "${1:-}" in
  goreplay)
    dir="$CACHE_ROOT/goreplay-$GOREPLAY_VERSION-$(sha256sum <"$GOREPLAY_PATCH" | cut -c1-8)"
    cache_build goreplay "$dir" has_goreplay build_goreplay
    echo "$dir/bin/goreplay" ;;
  http-server)
    key="$(cat "$SERVER_SRC/go.mod" "$SERVER_SRC/main.go" | sha256sum | cut -c1-12)"
    dir="$CACHE_ROOT/http-count-server-$key"
    cache_build http-count-server "$dir" has_server build_server
    echo "$dir/bin/http-count-server" ;;
  *) echo "usage: $0 goreplay|http-server" >&2; exit 2 ;;
esac
