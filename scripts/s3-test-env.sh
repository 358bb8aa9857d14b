#!/usr/bin/env bash
# A real S3-compatible object store for the tests, instead of a mock: Versity Gateway
# (github.com/versity/versitygw, Apache-2.0), an S3 server over a POSIX folder. MinIO (AGPL) is
# not used: the project does not take AGPL code, and its module has no tagged versions.
#
#   scripts/s3-test-env.sh build          build versitygw into the cache (once per machine)
#   scripts/s3-test-env.sh bin-dir        print the cache's bin directory (exit 1 if not built)
#   scripts/s3-test-env.sh start DIR      start it on 127.0.0.1 with its data in DIR/data, create
#                                         the bucket "podspan" through the S3 API, write DIR/env
#   scripts/s3-test-env.sh stop DIR       stop it (by its PID file) and wait
#   scripts/s3-test-env.sh restart DIR    stop, then start again on the same port and data
#   scripts/s3-test-env.sh stop-server DIR, start-server DIR: the two halves of restart
#
# DIR/env holds shell lines setting AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY (what the AWS SDKs read). The binary is built from its published Go module
# and cached outside the clone, keyed by version, like scripts/kube-test-env.sh:
# ${PODSPAN_TEST_CACHE:-/var/cache/podspan-test}/versitygw-VERSION/bin.
set -euo pipefail

VERSITYGW_VERSION=1.8.0
CACHE_ROOT="${PODSPAN_TEST_CACHE:-/var/cache/podspan-test}"
CACHE_DIR="$CACHE_ROOT/versitygw-$VERSITYGW_VERSION"
BIN_DIR="$CACHE_DIR/bin"
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
REPO="$(cd "$(dirname "$0")/.." && pwd)"
BUCKET=podspan
REGION=us-east-1

die() { echo "s3-test-env: $*" >&2; exit 1; }

built() { [ -x "$BIN_DIR/versitygw" ]; }

cmd_build() {
  if built; then echo "s3-test-env: cached in $CACHE_DIR"; return 0; fi
  [ -x "$GO" ] || die "no Go toolchain (set GO=/path/to/go)"
  mkdir -p "$CACHE_ROOT"
  exec 9>"$CACHE_ROOT/.build-s3.lock" # one build at a time; one that waited finds the cache built
  flock 9
  if built; then echo "s3-test-env: cached in $CACHE_DIR"; return 0; fi
  rm -rf "$CACHE_ROOT"/.build-s3-* # left by a build that was killed (none runs: we hold the lock)
  tmp="$(mktemp -d "$CACHE_ROOT/.build-s3-XXXXXX")" # global: the EXIT trap runs after this returns
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/mod" "$tmp/out/bin"
  printf 'module podspan.test/s3\n\ngo 1.24.0\n\nrequire github.com/versity/versitygw v%s\n' "$VERSITYGW_VERSION" >"$tmp/mod/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/versity/versitygw/cmd/versitygw"\n' >"$tmp/mod/tools.go"
  local start=$SECONDS
  export GOFLAGS="-trimpath -buildvcs=false" GOMAXPROCS="${GOMAXPROCS:-2}" CGO_ENABLED=0
  echo "s3-test-env: building versitygw v$VERSITYGW_VERSION (a few minutes)"
  (cd "$tmp/mod" && "$GO" mod tidy && "$GO" build -p 2 -ldflags="-s -w" -o "$tmp/out/bin/versitygw" github.com/versity/versitygw/cmd/versitygw) \
    || die "building versitygw v$VERSITYGW_VERSION failed"
  rm -rf "$CACHE_DIR"
  mv "$tmp/out" "$CACHE_DIR"
  echo "s3-test-env: built in $((SECONDS - start)) s into $CACHE_DIR ($(du -sh "$CACHE_DIR" | cut -f1))"
}

cmd_bin_dir() {
  built || die "not built: run scripts/s3-test-env.sh build"
  echo "$BIN_DIR"
}

free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# The PID file's process, only if it is still the one we started: its command line names DIR.
started_pid() { # DIR
  local f="$1/versitygw.pid" pid cmd
  [ -f "$f" ] || return 1
  pid="$(cat "$f")"
  cmd="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" || return 1
  [[ "$cmd" == *"$1/"* ]] && echo "$pid"
}

cmd_stop() { # DIR
  local d pid i; d="$(cd "$1" 2>/dev/null && pwd)" || return 0
  local w; w="$(cat "$d/watchdog.pid" 2>/dev/null)" && [ "${2:-}" != keep-watchdog ] && { kill -TERM "$w" 2>/dev/null || true; rm -f "$d/watchdog.pid"; }
  pid="$(started_pid "$d")" || { rm -f "$d/versitygw.pid"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 200); do started_pid "$d" >/dev/null || break; sleep 0.05; done
  if started_pid "$d" >/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    while started_pid "$d" >/dev/null; do sleep 0.05; done
  fi
  rm -f "$d/versitygw.pid"
}

# Starts the gateway on DIR/port (chosen once, kept across restarts) and waits until it answers.
run_server() { # DIR
  local d="$1" port; port="$(cat "$d/port")"
  ROOT_ACCESS_KEY="$(cat "$d/access-key")" ROOT_SECRET_KEY="$(cat "$d/secret-key")" \
    "$BIN_DIR/versitygw" --port "127.0.0.1:$port" --region "$REGION" posix "$d/data" >>"$d/versitygw.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$d/versitygw.pid"; disown
  local i
  for i in $(seq 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    # (not started_pid: until the fork has exec'd, its command line is this script's)
    kill -0 "$pid" 2>/dev/null || die "versitygw exited: $(tail -2 "$d/versitygw.log" | tr '\n' ' ')"
    sleep 0.1
  done
  cmd_stop "$d"; die "versitygw not answering on 127.0.0.1:$port after 30 s (see $d/versitygw.log)"
}

write_env() { # DIR
  local d="$1"
  {
    echo "export AWS_ENDPOINT_URL=http://127.0.0.1:$(cat "$d/port")"
    echo "export AWS_REGION=$REGION"
    echo "export AWS_ACCESS_KEY_ID=$(cat "$d/access-key")"
    echo "export AWS_SECRET_ACCESS_KEY=$(cat "$d/secret-key")"
  } >"$d/env"
}

create_bucket() { # DIR: through the S3 API, with the SDK the project uses
  # shellcheck disable=SC1091
  (set -a; . "$1/env"; export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true; cd "$REPO" && node -e '
    const { S3Client, CreateBucketCommand } = require("@aws-sdk/client-s3");
    new S3Client({ forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: process.argv[1] }))
      .catch((e) => { if (e.name !== "BucketAlreadyOwnedByYou") { console.error(e.name + ": " + e.message); process.exit(1); } });' "$BUCKET") \
    || { echo "s3-test-env: creating the bucket $BUCKET failed" >&2; return 1; }
}

cmd_start() { # DIR
  [ -n "${1:-}" ] || die "usage: $0 start DIR"
  built || die "not built: run scripts/s3-test-env.sh build"
  mkdir -p "$1/data"; local d; d="$(cd "$1" && pwd)"
  started_pid "$d" >/dev/null && die "already running in $d"
  [ -f "$d/port" ] || free_port >"$d/port"
  [ -f "$d/access-key" ] || { openssl rand -hex 10 >"$d/access-key"; openssl rand -hex 20 >"$d/secret-key"; chmod 600 "$d/secret-key"; }
  : >"$d/versitygw.log"
  run_server "$d"
  write_env "$d"
  create_bucket "$d" || { cmd_stop "$d"; exit 1; } # the server goes with the failure
  # Stop the server if the process that asked for it dies without stopping it.
  if [ -n "${PODSPAN_S3_OWNER_PID:-}" ] && [ ! -f "$d/watchdog.pid" ]; then
    (
      trap 'exit 0' TERM
      while kill -0 "$PODSPAN_S3_OWNER_PID" 2>/dev/null; do sleep 1 & wait $!; done
      rm -f "$d/watchdog.pid"
      cmd_stop "$d"
    ) </dev/null >/dev/null 2>&1 &
    echo $! >"$d/watchdog.pid"
  fi
  cat "$d/env"
}

# The server alone, stopped and started again on the same port, keys and data (the bucket and its
# objects stay): what a client sees of an object store outage.
cmd_stop_server() { local d; d="$(cd "$1" && pwd)" || die "no such DIR: $1"; cmd_stop "$d" keep-watchdog; }
cmd_start_server() {
  local d; d="$(cd "$1" && pwd)" || die "no such DIR: $1"
  started_pid "$d" >/dev/null && die "already running in $d"
  run_server "$d"
}

case "${1:-}" in
  build) cmd_build ;;
  bin-dir) cmd_bin_dir ;;
  start) cmd_start "${2:-}" ;;
  stop) [ -n "${2:-}" ] || die "usage: $0 stop DIR"; cmd_stop "$2" ;;
  restart) [ -n "${2:-}" ] || die "usage: $0 restart DIR"; cmd_stop_server "$2"; cmd_start_server "$2" ;;
  stop-server) [ -n "${2:-}" ] || die "usage: $0 stop-server DIR"; cmd_stop_server "$2" ;;
  start-server) [ -n "${2:-}" ] || die "usage: $0 start-server DIR"; cmd_start_server "$2" ;;
  *) die "usage: $0 build | bin-dir | start DIR | stop DIR | restart DIR | stop-server DIR | start-server DIR" ;;
esac
