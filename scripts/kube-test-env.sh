#!/usr/bin/env bash
# A real Kubernetes API server (kube-apiserver + etcd) for the tests, instead of a fake one.
#
#   scripts/kube-test-env.sh build        build kube-apiserver, kubectl and etcd into the cache (once)
#   scripts/kube-test-env.sh bin-dir      print the cache's bin directory (exit 1 if not built)
#   scripts/kube-test-env.sh start DIR    start etcd + kube-apiserver with their state in DIR
#   scripts/kube-test-env.sh stop DIR     stop what `start DIR` started (by its PID files) and wait
#
# The binaries are built from the published Go modules and cached outside the clone, keyed by
# version: ${PODSPAN_TEST_CACHE:-/var/cache/podspan-test}/kube-K8S-etcd-ETCD/bin. A build goes into
# a temporary directory that is renamed into place only when complete, so an interrupted build never
# leaves a half cache behind.
set -euo pipefail

K8S_VERSION=1.34.4     # k8s.io/kubernetes; its staging modules (k8s.io/api ...) are v0.34.4
ETCD_VERSION=3.6.16    # go.etcd.io/etcd/server/v3; kube-apiserver 1.34 is built against etcd 3.6
CACHE_ROOT="${PODSPAN_TEST_CACHE:-/var/cache/podspan-test}"
CACHE_DIR="$CACHE_ROOT/kube-$K8S_VERSION-etcd-$ETCD_VERSION"
BIN_DIR="$CACHE_DIR/bin"
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"

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

go_build() { # MODULE_DIR OUTPUT PACKAGE... (OUTPUT: a file, or a directory ending in /)
  local mod="$1" out="$2"; shift 2
  (cd "$mod" && "$GO" mod tidy && "$GO" build -p 2 -ldflags='-s -w' -o "$out" "$@")
}

cmd_build() {
  if [ -x "$BIN_DIR/kube-apiserver" ] && [ -x "$BIN_DIR/kubectl" ] && [ -x "$BIN_DIR/etcd" ]; then
    echo "kube-test-env: cached in $CACHE_DIR"; return 0
  fi
  [ -x "$GO" ] || die "no Go toolchain (set GO=/path/to/go)"
  mkdir -p "$CACHE_ROOT"
  local tmp; tmp="$(mktemp -d "$CACHE_ROOT/.build-XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/kube" "$tmp/etcd" "$tmp/out/bin"
  write_kube_module "$tmp/kube"
  write_etcd_module "$tmp/etcd"
  local start=$SECONDS
  export GOFLAGS="-trimpath -buildvcs=false" GOMAXPROCS="${GOMAXPROCS:-2}" CGO_ENABLED=0
  echo "kube-test-env: building etcd v$ETCD_VERSION, kube-apiserver and kubectl v$K8S_VERSION (several minutes)"
  go_build "$tmp/etcd" "$tmp/out/bin/etcd" go.etcd.io/etcd/server/v3 || die "building etcd v$ETCD_VERSION failed"
  go_build "$tmp/kube" "$tmp/out/bin/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl \
    || die "building kube-apiserver/kubectl v$K8S_VERSION failed"
  [ -x "$tmp/out/bin/etcd" ] && [ -x "$tmp/out/bin/kube-apiserver" ] && [ -x "$tmp/out/bin/kubectl" ] \
    || die "build finished without all of etcd, kube-apiserver, kubectl"
  rm -rf "$CACHE_DIR"
  mv "$tmp/out" "$CACHE_DIR"
  echo "kube-test-env: built in $((SECONDS - start)) s into $CACHE_DIR ($(du -sh "$CACHE_DIR" | cut -f1))"
}

case "${1:-}" in
  build) cmd_build ;;
  bin-dir) [ -x "$BIN_DIR/kube-apiserver" ] || die "not built: run scripts/kube-test-env.sh build"; echo "$BIN_DIR" ;;
  *) die "usage: $0 build | bin-dir | start DIR | stop DIR" ;;
esac
