#!/usr/bin/env bash
# A real Kubernetes API server (kube-apiserver + etcd) for the tests, instead of a fake one.
#
#   scripts/kube-test-env.sh build        build kube-apiserver, kubectl and etcd into the cache (once)
#   scripts/kube-test-env.sh bin-dir      print the cache's bin directory (exit 1 if not built)
#   scripts/kube-test-env.sh start DIR    start etcd + kube-apiserver with their state in DIR
#   scripts/kube-test-env.sh stop DIR     stop what `start DIR` started (by its PID files) and wait
#   scripts/kube-test-env.sh stop-apiserver DIR, start-apiserver DIR: restart kube-apiserver alone
#
# The binaries are built from the published Go modules and cached outside the clone, keyed by
# version: ${PODSPAN_TEST_CACHE:-/var/cache/podspan-test}/kube-K8S-etcd-ETCD/bin. A build goes into
# a temporary directory that is renamed into place only when complete, so an interrupted build never
# leaves a half cache behind.
set -euo pipefail

K8S_VERSION=1.34.4     # k8s.io/kubernetes; its staging modules (k8s.io/api ...) are v0.34.4
# go.etcd.io/etcd/server/v3; kube-apiserver 1.34 is built against etcd 3.6. Debian 12's etcd-server
# (3.4.23) also passes these tests, but 3.4 is out of support and lacks --unsafe-no-fsync; building
# etcd costs about 3 of the build's minutes.
ETCD_VERSION=3.6.16
CACHE_ROOT="${PODSPAN_TEST_CACHE:-/var/cache/podspan-test}"
CACHE_DIR="$CACHE_ROOT/kube-$K8S_VERSION-etcd-$ETCD_VERSION"
BIN_DIR="$CACHE_DIR/bin"
. "$(dirname "${BASH_SOURCE[0]}")/build-cache.sh" # cache_build, GO

die() { echo "kube-test-env: $*" >&2; exit 1; }

# kubernetes' own go.mod points its staging modules (k8s.io/api, k8s.io/client-go, ...) at local
# paths, which do not exist in the published module, so a main module of ours requires
# k8s.io/kubernetes and points each staging module at its published version instead.
STAGING_MODULES="api apiextensions-apiserver apimachinery apiserver cli-runtime client-go
  cloud-provider cluster-bootstrap code-generator component-base component-helpers
  controller-manager cri-api cri-client csi-translation-lib dynamic-resource-allocation
  endpointslice externaljwt kms kube-aggregator kube-controller-manager kube-proxy kube-scheduler
  kubectl kubelet metrics mount-utils pod-security-admission sample-apiserver sample-cli-plugin
  sample-controller"

write_kube_module() { # DIR
  local staging_version="0.${K8S_VERSION#1.}"
  {
    echo "module podspan.test/kube"
    echo
    echo "go 1.24.0"
    echo
    echo "require k8s.io/kubernetes v$K8S_VERSION"
    echo
    echo "replace ("
    for m in $STAGING_MODULES; do echo "	k8s.io/$m => k8s.io/$m v$staging_version"; done
    echo ")"
  } >"$1/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kube-apiserver"\n\t_ "k8s.io/kubernetes/cmd/kubectl"\n)\n' >"$1/tools.go"
}

write_etcd_module() { # DIR
  printf 'module podspan.test/etcd\n\ngo 1.24.0\n\nrequire go.etcd.io/etcd/server/v3 v%s\n' "$ETCD_VERSION" >"$1/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >"$1/tools.go"
}

go_build() { # MODULE_DIR OUTPUT LDFLAGS PACKAGE... (OUTPUT: a file, or a directory ending in /)
  local mod="$1" out="$2" ldflags="$3"; shift 3
  (cd "$mod" && "$GO" mod tidy && "$GO" build -p 2 -ldflags="-s -w $ldflags" -o "$out" "$@")
}

# What the release build stamps in (hack/lib/version.sh), so /version and `kubectl version` say
# v1.34.4 rather than v0.0.0-master.
kube_version_ldflags() {
  local minor="${K8S_VERSION#1.}"; minor="${minor%%.*}" f=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f+=" -X $pkg.gitVersion=v$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  echo "$f"
}

built() { [ -x "$BIN_DIR/kube-apiserver" ] && [ -x "$BIN_DIR/kubectl" ] && [ -x "$BIN_DIR/etcd" ]; }
built_in() { [ -x "$1/bin/kube-apiserver" ] && [ -x "$1/bin/kubectl" ] && [ -x "$1/bin/etcd" ]; } # CACHE_DIR

build_into() { # OUT WORK
  local out="$1" work="$2"
  mkdir -p "$work/kube" "$work/etcd" "$out/bin"
  write_kube_module "$work/kube"
  write_etcd_module "$work/etcd"
  export GOFLAGS="-trimpath -buildvcs=false" GOMAXPROCS="${GOMAXPROCS:-2}" CGO_ENABLED=0
  echo "kube-test-env: building etcd v$ETCD_VERSION, kube-apiserver and kubectl v$K8S_VERSION (several minutes)"
  go_build "$work/etcd" "$out/bin/etcd" "" go.etcd.io/etcd/server/v3 || die "building etcd v$ETCD_VERSION failed"
  go_build "$work/kube" "$out/bin/" "$(kube_version_ldflags)" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl \
    || die "building kube-apiserver/kubectl v$K8S_VERSION failed"
}

cmd_build() { cache_build kube-test-env "$CACHE_DIR" built_in build_into; }

# ---- start / stop -----------------------------------------------------------------------------

# N: N free TCP ports on 127.0.0.1, below the kernel's ephemeral range (ip_local_port_range), so
# no outgoing connection is ever given one: kube-apiserver can take its port again after a restart.
free_ports() {
  node -e '
    const fs = require("fs"); const net = require("net"); const n = Number(process.argv[1]); const ports = [];
    const low = Number(fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    const start = 10000, span = Math.max(1000, low - start);
    (function next() {
      if (ports.length === n) { console.log(ports.join(" ")); return; }
      const port = start + Math.floor(Math.random() * span);
      if (ports.includes(port)) return next();
      const s = net.createServer();
      s.once("error", next); // taken: another
      s.listen(port, "127.0.0.1", () => { ports.push(port); s.close(next); });
    })();' "$1"
}

# Certificates and keys: a self-signed serving certificate for 127.0.0.1 (also the kubeconfigs'
# CA) and the service-account signing key kube-apiserver requires. EC keys: fast to make.
make_credentials() { # DIR
  local d="$1"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3 \
    -subj "/CN=podspan-test-apiserver" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$d/serving.key" -out "$d/serving.crt" 2>/dev/null || die "openssl could not make the serving certificate"
  openssl ecparam -name prime256v1 -genkey -noout -out "$d/sa.key" 2>/dev/null || die "openssl could not make the service-account key"
  openssl ec -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null || die "openssl could not write the service-account public key"
  local admin agent
  admin="$(openssl rand -hex 24)"; agent="$(openssl rand -hex 24)"
  # token,user,uid,"groups": the agent is its ServiceAccount exactly as deploy/rbac.yaml binds it.
  {
    echo "$admin,podspan-test-admin,podspan-test-admin,\"system:masters\""
    echo "$agent,system:serviceaccount:podspan:podspan-agent,podspan-agent-uid,\"system:serviceaccounts,system:serviceaccounts:podspan\""
  } >"$d/tokens.csv"
  chmod 600 "$d/tokens.csv" "$d/serving.key" "$d/sa.key"
  echo "$admin" >"$d/admin.token"; echo "$agent" >"$d/agent.token"
}

write_kubeconfig() { # FILE SERVER CA USER TOKEN
  cat >"$1" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: podspan-test
  cluster:
    server: $2
    certificate-authority: $3
users:
- name: $4
  user:
    token: $5
contexts:
- name: $4
  context:
    cluster: podspan-test
    user: $4
current-context: $4
KUBECONFIG
  chmod 600 "$1"
}

# A PID file's process, only if it is still the one we started: its command line names DIR.
started_pid() { # DIR NAME
  local f="$1/$2.pid" pid cmd
  [ -f "$f" ] || return 1
  pid="$(cat "$f")"
  cmd="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" || return 1
  [[ "$cmd" == *"$1/"* || "$cmd" == *"$1 "* ]] && echo "$pid"
}

stop_one() { # DIR NAME SIGNAL: the signal, up to 10 s to exit, then SIGKILL
  local pid i
  pid="$(started_pid "$1" "$2")" || { rm -f "$1/$2.pid"; return 0; }
  kill "-$3" "$pid" 2>/dev/null || true
  # Gone once its command line is (a zombie has none: nothing waits for it, its parent has exited).
  for i in $(seq 200); do started_pid "$1" "$2" >/dev/null || break; sleep 0.05; done
  if started_pid "$1" "$2" >/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    while started_pid "$1" "$2" >/dev/null; do sleep 0.05; done
  fi
  rm -f "$1/$2.pid"
}

cmd_stop() { # DIR
  local d; d="$(cd "$1" 2>/dev/null && pwd)" || return 0
  local w; w="$(started_pid "$d" watchdog)" && kill -TERM "$w" 2>/dev/null; rm -f "$d/watchdog.pid"
  # kube-apiserver's graceful shutdown takes seconds and its state dies with DIR anyway: SIGKILL.
  stop_one "$d" kube-apiserver KILL
  stop_one "$d" etcd TERM
}

# kube-apiserver on API_PORT with the etcd at ETCD_URL. PODSPAN_KUBE_COMPACTION_INTERVAL (default
# kube-apiserver's 5m) sets how often it compacts etcd: tests make watches expire (410 Gone) with it.
run_apiserver() { # DIR BIN ETCD_URL API_PORT
  local d="$1" bin="$2" etcd_url="$3" api_port="$4"
  # No controllers run, so nothing creates the "default" ServiceAccount the ServiceAccount admission
  # plugin insists on; every other default admission plugin works without controllers.
  "$bin/kube-apiserver" \
    --etcd-servers "$etcd_url" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
    --tls-cert-file "$d/serving.crt" --tls-private-key-file "$d/serving.key" \
    --authorization-mode RBAC --token-auth-file "$d/tokens.csv" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$d/sa.pub" --service-account-signing-key-file "$d/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 \
    --disable-admission-plugins ServiceAccount \
    --enable-priority-and-fairness=false \
    --endpoint-reconciler-type none \
    --audit-policy-file "$d/audit-policy.yaml" --audit-log-path "$d/audit.log" --audit-log-mode blocking \
    --profiling=false \
    --cert-dir "$d/apiserver-certs" \
    --etcd-compaction-interval "${PODSPAN_KUBE_COMPACTION_INTERVAL:-5m}" \
    --v 0 >>"$d/kube-apiserver.log" 2>&1 &
  echo $! >"$d/kube-apiserver.pid"; disown # no job notices when stop_one kills it
}

# One attempt at starting both servers in DIR: 0 when ready, 2 when a port chosen free was taken
# meanwhile by someone else (then DIR is clean for another attempt); any other failure exits.
start_servers() { # DIR BIN
  local d="$1" bin="$2" etcd_client etcd_peer api_port
  read -r etcd_client etcd_peer api_port < <(free_ports 3)
  local etcd_url="http://127.0.0.1:$etcd_client" server="https://127.0.0.1:$api_port"

  # etcd without fsync: its data is thrown away with DIR, and fsync is most of a test's API latency.
  "$bin/etcd" --name podspan-test --data-dir "$d/etcd" \
    --listen-client-urls "$etcd_url" --advertise-client-urls "$etcd_url" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-cluster "podspan-test=http://127.0.0.1:$etcd_peer" \
    --unsafe-no-fsync --log-level warn >"$d/etcd.log" 2>&1 &
  echo $! >"$d/etcd.pid"; disown # no job notices when stop_one kills it

  [ -f "$d/tokens.csv" ] || make_credentials "$d"
  # The agent's requests (only the agent's) in DIR/audit.log, one JSON line each: what it asked for.
  cat >"$d/audit-policy.yaml" <<'POLICY'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  users: ["system:serviceaccount:podspan:podspan-agent"]
- level: None
POLICY
  echo "$etcd_url $api_port" >"$d/endpoints"
  : >"$d/kube-apiserver.log" # a restart appends to it
  run_apiserver "$d" "$bin" "$etcd_url" "$api_port"

  write_kubeconfig "$d/admin.kubeconfig" "$server" "$d/serving.crt" admin "$(cat "$d/admin.token")"
  write_kubeconfig "$d/agent.kubeconfig" "$server" "$d/serving.crt" podspan-agent "$(cat "$d/agent.token")"
  echo "$server" >"$d/server"

  wait_ready "$d" "$bin"
}

# Ready when /readyz says ok (every post-start hook done: RBAC's bootstrap roles exist): 0; 2 when
# a port chosen free was taken meanwhile (then DIR is clean for another attempt); else it exits.
wait_ready() { # DIR BIN
  local d="$1" bin="$2" i name
  for i in $(seq 600); do
    if [ "$("$bin/kubectl" --kubeconfig "$d/admin.kubeconfig" get --raw /readyz 2>/dev/null)" = ok ]; then return 0; fi
    for name in etcd kube-apiserver; do
      started_pid "$d" "$name" >/dev/null && continue
      cmd_stop "$d"
      if grep -q 'address already in use' "$d/$name.log"; then rm -rf "$d/etcd"; return 2; fi
      die "$name exited: $(grep -E '^[EF][0-9]|"level":"(error|fatal)"' "$d/$name.log" | tail -2 | tr '\n' ' ')"
    done
    sleep 0.1
  done
  cmd_stop "$d"; die "kube-apiserver not ready after 60 s (see $d/kube-apiserver.log)"
}

# kube-apiserver alone, stopped and started again on the same port and etcd (its watch cache and
# every watch start over; etcd keeps the state): what the agent sees of an API server restart.
# Between the two a test may change etcd itself (DIR/endpoints names its URL).
cmd_stop_apiserver() { # DIR
  local d; d="$(cd "$1" && pwd)" || die "no such DIR: $1"
  stop_one "$d" kube-apiserver KILL
}

# stop_one sees a process gone once its command line is, which goes with its memory: before its
# sockets close, and while a Go server's other threads still exit. The port itself is waited for
# (a restart under load found it still listening: "address already in use").
wait_port_free() { # PORT
  local i
  for i in $(seq 200); do
    [ -z "$(ss -Hltn "sport = :$1" 2>/dev/null)" ] && return 0
    sleep 0.05
  done
  return 1
}

cmd_start_apiserver() { # DIR
  local d; d="$(cd "$1" && pwd)" || die "no such DIR: $1"
  local bin; bin="$(cmd_bin_dir)"
  local etcd_url api_port; read -r etcd_url api_port <"$d/endpoints"
  started_pid "$d" kube-apiserver >/dev/null && die "kube-apiserver already running in $d"
  wait_port_free "$api_port" || die "port $api_port still listened on 10 s after kube-apiserver stopped"
  run_apiserver "$d" "$bin" "$etcd_url" "$api_port"
  wait_ready "$d" "$bin" || die "kube-apiserver could not take its port $api_port again"
}

cmd_start() { # DIR
  [ -n "${1:-}" ] || die "usage: $0 start DIR"
  local bin; bin="$(cmd_bin_dir)"
  mkdir -p "$1"; local d; d="$(cd "$1" && pwd)"
  started_pid "$d" kube-apiserver >/dev/null && die "already running in $d"
  local attempt rc
  for attempt in 1 2 3; do
    rc=0; start_servers "$d" "$bin" || rc=$?
    [ "$rc" -eq 0 ] && break
  done
  [ "$rc" -eq 0 ] || die "the free ports chosen were taken before the servers could bind them, 3 times"

  # Stop both servers if the process that asked for them dies without stopping them.
  if [ -n "${PODSPAN_KUBE_OWNER_PID:-}" ]; then
    (
      trap 'exit 0' TERM
      while kill -0 "$PODSPAN_KUBE_OWNER_PID" 2>/dev/null; do sleep 1 & wait $!; done
      rm -f "$d/watchdog.pid" # so that cmd_stop does not stop this very process first
      cmd_stop "$d"
    ) </dev/null >/dev/null 2>&1 &
    echo $! >"$d/watchdog.pid"
  fi
  cat "$d/server"
}

cmd_bin_dir() {
  built || die "not built: run scripts/kube-test-env.sh build"
  echo "$BIN_DIR"
}

case "${1:-}" in
  build) cmd_build ;;
  bin-dir) cmd_bin_dir ;;
  start) cmd_start "${2:-}" ;;
  stop) [ -n "${2:-}" ] || die "usage: $0 stop DIR"; cmd_stop "$2" ;;
  stop-apiserver) [ -n "${2:-}" ] || die "usage: $0 stop-apiserver DIR"; cmd_stop_apiserver "$2" ;;
  start-apiserver) [ -n "${2:-}" ] || die "usage: $0 start-apiserver DIR"; cmd_start_apiserver "$2" ;;
  *) die "usage: $0 build | bin-dir | start DIR | stop DIR | stop-apiserver DIR | start-apiserver DIR" ;;
esac
