#!/bin/sh
# Creates what TLS + token between agents and the collector need: a CA, the collector's
# certificate signed by it, and a random bearer token; writes them to a folder and, with
# --apply, stores them as the Kubernetes Secrets deploy/ mounts:
#   podspan-collector-tls  kubernetes.io/tls: tls.crt, tls.key, ca.crt  (the collector only)
#   podspan-ca             ca.crt                                      (the agents: no key)
#   podspan-token          token                                       (both)
# --print writes those Secrets as YAML to stdout instead (for GitOps, sealed-secrets, review).
# With --token-only it makes just the token (when cert-manager issues the certificate:
# deploy/cert-manager/).
#
#   scripts/make-collector-certs.sh --out DIR [--apply | --print] [--namespace podspan]
#       [--service podspan-collector] [--dns NAME]... [--ip ADDRESS]... [--days 825] [--token-only]
#
# The CA key stays in DIR (ca.key) and never goes into the cluster: keep it offline, or delete
# it and run the script again to rotate everything. Needs openssl (and kubectl for --apply).
set -eu

usage() {
  echo "usage: make-collector-certs.sh --out DIR [--apply | --print] [--namespace podspan] [--service podspan-collector] [--dns NAME]... [--ip ADDRESS]... [--days 825] [--token-only]" >&2
  exit 2
}

out=""
apply=0
print=0
namespace=podspan
service=podspan-collector
days=825
token_only=0
extra_dns=""
extra_ip=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="${2:?--out needs a folder}"; shift 2 ;;
    --apply) apply=1; shift ;;
    --print) print=1; shift ;;
    --namespace) namespace="${2:?--namespace needs a name}"; shift 2 ;;
    --service) service="${2:?--service needs a name}"; shift 2 ;;
    --dns) extra_dns="$extra_dns ${2:?--dns needs a name}"; shift 2 ;;
    --ip) extra_ip="$extra_ip ${2:?--ip needs an address}"; shift 2 ;;
    --days) days="${2:?--days needs a number}"; shift 2 ;;
    --token-only) token_only=1; shift ;;
    -h|--help) usage ;;
    *) echo "make-collector-certs: unknown argument $1" >&2; usage ;;
  esac
done
[ -n "$out" ] || { echo "make-collector-certs: --out DIR is required" >&2; usage; }
case "$days" in *[!0-9]*|"") echo "make-collector-certs: --days takes a whole number" >&2; exit 2 ;; esac
command -v openssl >/dev/null || { echo "make-collector-certs: openssl is not installed" >&2; exit 1; }
if [ "$apply" = 1 ] && [ "$print" = 1 ]; then
  echo "make-collector-certs: --apply or --print, not both" >&2
  exit 2
fi
if [ "$apply" = 1 ] || [ "$print" = 1 ]; then
  command -v kubectl >/dev/null || { echo "make-collector-certs: --apply and --print need kubectl" >&2; exit 1; }
fi

umask 077
mkdir -p "$out"

# 32 random bytes, hex: what every agent sends as "authorization: Bearer TOKEN".
if [ ! -s "$out/token" ]; then
  openssl rand -hex 32 >"$out/token"
fi

if [ "$token_only" = 0 ]; then
  # The names agents dial: the Service's in-cluster names, and whatever --dns/--ip add.
  san="DNS:$service,DNS:$service.$namespace,DNS:$service.$namespace.svc,DNS:$service.$namespace.svc.cluster.local"
  for n in $extra_dns; do san="$san,DNS:$n"; done
  for a in $extra_ip; do san="$san,IP:$a"; done

  if [ ! -s "$out/ca.key" ]; then
    openssl req -x509 -newkey rsa:3072 -nodes -sha256 -days "$days" \
      -subj "/CN=podspan collector CA" \
      -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout "$out/ca.key" -out "$out/ca.crt" 2>/dev/null
  fi
  openssl req -newkey rsa:3072 -nodes -sha256 -subj "/CN=$service.$namespace.svc" \
    -keyout "$out/tls.key" -out "$out/tls.csr" 2>/dev/null
  ext="$out/tls.ext"
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectAltName=$san" >"$ext"
  openssl x509 -req -sha256 -days "$days" -in "$out/tls.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" \
    -CAcreateserial -extfile "$ext" -out "$out/tls.crt" 2>/dev/null
  rm -f "$out/tls.csr" "$ext" "$out/ca.srl"
  openssl verify -CAfile "$out/ca.crt" "$out/tls.crt" >/dev/null
fi

# The Secrets as YAML (kubectl builds them offline: --dry-run=client).
secrets() {
  secret() { kubectl -n "$namespace" create secret generic "$@" --dry-run=client -o yaml; }
  secret podspan-token --from-file=token="$out/token"
  if [ "$token_only" = 0 ]; then
    echo ---
    secret podspan-collector-tls --type=kubernetes.io/tls \
      --from-file=tls.crt="$out/tls.crt" --from-file=tls.key="$out/tls.key" --from-file=ca.crt="$out/ca.crt"
    echo ---
    secret podspan-ca --from-file=ca.crt="$out/ca.crt"
  fi
}
made="token"
names="podspan-token"
if [ "$token_only" = 0 ]; then
  made="$made, ca.crt, ca.key (keep offline), tls.crt, tls.key"
  names="$names, podspan-collector-tls, podspan-ca"
fi
if [ "$print" = 1 ]; then
  secrets
  echo "wrote $out: $made" >&2
  exit 0
fi
if [ "$apply" = 1 ]; then
  # apply: creates the Secrets or replaces their data (rotation).
  secrets | kubectl apply -f - >/dev/null
  echo "secrets in namespace $namespace: $names"
fi
echo "wrote $out: $made"
