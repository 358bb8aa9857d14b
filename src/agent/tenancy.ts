// The tenancy boundary, enforced by the agent (the CRDs' CEL rules say the same at `kubectl apply`,
// but a CRD can be old or edited). A namespaced MirrorSession is a tenant's: it mirrors pods of its
// own namespace only, names no host interface, writes no file on the node, reads no file on the
// node for its collector's credentials (they come from Secret podspan-mirror-credentials in its
// namespace), uploads nothing with the agent's object-store credentials (store), and its priority
// only ranks it among its own namespace's sessions. A ClusterMirrorSession (like the config file)
// is the operator's: interfaces, any namespace, node files (those only under the agent's files
// root), and uploads to a store.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { BlockList, isIPv4 } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CREDENTIALS_ONLY_NAMESPACED, validateResourceSpec, type GrpcCredentials, type ResolvedSession } from '../config/agent-config';
import type { ForwardTarget } from '../config/forward-options';
import { ForwardError, UsageError } from '../errors';
import type { MirrorSessionResource } from '../k8s/types';

/** Where resource sessions may write (the DaemonSet's hostPath; the CRDs allow only this too). */
export const RESOURCE_FILES_ROOT = '/var/lib/podspan';
/** Why a MirrorSession may not name a store (the CRD's CEL rule says the same). */
export const STORE_ONLY_OPERATOR =
  "a MirrorSession uploads nothing to object storage: store uses the agent's own credentials and bucket; send to a collector (grpc) that stores, or ask for a ClusterMirrorSession";

/** The one Secret per namespace the agent may read (deploy/rbac.yaml grants exactly this name). */
export const CREDENTIALS_SECRET = 'podspan-mirror-credentials';

/**
 * The agent's session name for a resource, unambiguous across kinds: MirrorSession shop/web is
 * "shop/web" (neither part can hold a slash), ClusterMirrorSession audit is "cluster.audit" (no
 * namespace and no config-file session name holds a dot).
 */
export function resourceSessionName(r: Pick<MirrorSessionResource, 'kind' | 'namespace' | 'name'>): string {
  return r.kind === 'ClusterMirrorSession' ? `cluster.${r.name}` : `${r.namespace}/${r.name}`;
}

/** "MirrorSession shop/web", "ClusterMirrorSession audit": how logs and messages name a resource. */
export function resourceLabel(r: Pick<MirrorSessionResource, 'kind' | 'namespace' | 'name'>): string {
  return r.kind === 'ClusterMirrorSession' ? `ClusterMirrorSession ${r.name}` : `MirrorSession ${r.namespace}/${r.name}`;
}

/** The resource as a session the agent may run, or a UsageError giving the one reason it may not. */
export function sessionFromResource(r: MirrorSessionResource, filesRoot = RESOURCE_FILES_ROOT): ResolvedSession {
  const where = resourceLabel(r);
  const session = validateResourceSpec(r.spec, resourceSessionName(r), where);
  if (r.kind === 'ClusterMirrorSession') {
    session.targets.forEach((t, i) => {
      if ('credentials' in t && t.credentials) throw new UsageError(`${where}: targets[${i}].credentials: ${CREDENTIALS_ONLY_NAMESPACED}`);
    });
    checkFilesInside(session, filesRoot, where);
    return { ...session, origin: { kind: 'cluster', name: r.name }, filesRoot };
  }
  return confineToNamespace(session, r, where);
}

function confineToNamespace(session: ResolvedSession, r: MirrorSessionResource, where: string): ResolvedSession {
  const ns = r.namespace;
  const refuse = (field: string, why: string): never => {
    throw new UsageError(`${where}: ${field}: ${why}`);
  };
  if (session.sources.interfaces.length) refuse('sources.interfaces', 'a MirrorSession mirrors pods of its own namespace only; host interfaces need a ClusterMirrorSession');
  const pods = session.sources.pods ?? refuse('sources.pods', 'a MirrorSession mirrors pods of its own namespace: give sources.pods');
  const others = pods.namespaces.filter((n) => n !== ns);
  if (others.length) refuse('sources.pods.namespaces', `a MirrorSession selects pods of its own namespace (${ns}) only, not ${others.join(', ')}; other namespaces need a ClusterMirrorSession`);
  if (session.detect?.evidenceDir !== undefined) refuse('detect.evidenceDir', "a MirrorSession writes no files on the node; its alerts go to the agent's metrics, Events and the session's grpc targets (evidence files need a ClusterMirrorSession)");
  let forwardIndex = 0;
  const credentials = new Map<number, GrpcCredentials>();
  session.targets.forEach((t, i) => {
    if ('pcap' in t && t.pcap.store !== undefined) refuse(`targets[${i}].pcap.store`, STORE_ONLY_OPERATOR);
    if ('pcap' in t || 'streams' in t) refuse(`targets[${i}]`, 'a MirrorSession writes no files on the node; send to a collector (grpc), VXLAN, GENEVE or GRE, or ask for a ClusterMirrorSession');
    if ('shadow' in t) {
      // Its candidate's address is checked when the capture starts (a name resolves then), as forward targets are.
      if (t.shadow.reportDir !== undefined) refuse(`targets[${i}].shadow.reportDir`, 'a MirrorSession writes no files on the node; read its results from the agent\'s metrics, or ask for a ClusterMirrorSession');
      return;
    }
    const target = session.forward[forwardIndex];
    if (target.kind === 'grpc') {
      // Checked on the parsed URL, so a percent-encoded parameter name cannot slip past.
      const files: [string, string | undefined][] = [
        ['token-file', target.tokenFile],
        ['ca', target.tls?.ca],
        ['cert', target.tls?.cert],
        ['key', target.tls?.key],
      ];
      for (const [param, value] of files) {
        if (value !== undefined) refuse(`targets[${i}].grpc`, `parameter ${param} names a file on the node; put it in Secret ${CREDENTIALS_SECRET} of namespace ${ns} and name its key under credentials`);
      }
      const keys = 'credentials' in t ? t.credentials : undefined;
      // As for a token-file: a Secret's token over plaintext only when the URL says insecure=1.
      if (keys?.token && !target.tls && !keys.ca && !keys.cert && !target.insecure) {
        refuse(`targets[${i}].credentials.token`, 'a bearer token without TLS would be sent in the clear; add tls=1 (and ca) to the URL, or insecure=1 to allow it');
      }
      if (keys && Object.keys(keys).length) credentials.set(forwardIndex, secretMaterial(r, keys, `targets[${i}].credentials`, refuse));
    }
    forwardIndex++;
  });
  return {
    ...session,
    sources: { interfaces: [], pods: { ...pods, namespaces: [ns] } },
    origin: { kind: 'namespace', namespace: ns, name: r.name },
    ...(credentials.size ? { credentials, credentialsDigest: digest(credentials) } : {}),
  };
}

function secretMaterial(r: MirrorSessionResource, keys: Record<string, string | undefined>, field: string, refuse: (field: string, why: string) => never): GrpcCredentials {
  const secret = r.credentialsSecret ?? refuse(field, `Secret ${r.namespace}/${CREDENTIALS_SECRET} not found (or not readable by the agent)`);
  const out: GrpcCredentials = {};
  for (const [role, key] of Object.entries(keys) as [keyof GrpcCredentials, string | undefined][]) {
    if (key === undefined) continue;
    out[role] = secret[key] ?? refuse(`${field}.${role}`, `Secret ${r.namespace}/${CREDENTIALS_SECRET} has no key ${key}`);
  }
  if (!out.cert !== !out.key) refuse(field, 'cert and key go together (mutual TLS)');
  return out;
}

function digest(credentials: Map<number, GrpcCredentials>): string {
  const h = crypto.createHash('sha256');
  for (const [i, c] of [...credentials].sort((a, b) => a[0] - b[0])) {
    for (const role of ['token', 'ca', 'cert', 'key'] as const) h.update(`${i}.${role}:${c[role]?.toString('base64') ?? ''};`);
  }
  return h.digest('hex').slice(0, 16);
}

function checkFilesInside(session: ResolvedSession, root: string, where: string): void {
  session.targets.forEach((t, i) => {
    const dir = 'pcap' in t ? t.pcap.dir : 'streams' in t ? t.streams.dir : 'shadow' in t ? t.shadow.reportDir : undefined;
    if (dir !== undefined && !resolvesInside(dir, root)) {
      throw new UsageError(`${where}: targets[${i}]: ${dir} is not inside ${root}, where resource sessions write (symbolic links resolved)`);
    }
  });
  const evidence = session.detect?.evidenceDir;
  if (evidence !== undefined && !resolvesInside(evidence, root)) {
    throw new UsageError(`${where}: detect.evidenceDir: ${evidence} is not inside ${root}, where resource sessions write (symbolic links resolved)`);
  }
}

/**
 * Whether `dir` is `root` or inside it once resolved: absolute, no `..`, and the deepest part that
 * exists resolved through its symbolic links (a link out of the root is outside it).
 */
export function resolvesInside(dir: string, root: string): boolean {
  if (!path.isAbsolute(dir) || dir.split('/').includes('..')) return false;
  const realRoot = realOrResolved(root);
  if (realRoot === undefined) return false;
  const real = realOrResolved(dir);
  return real !== undefined && (real === realRoot || real.startsWith(realRoot.endsWith(path.sep) ? realRoot : realRoot + path.sep));
}

/** The real path of the deepest existing ancestor joined with the rest; undefined for a dangling link or no access. */
function realOrResolved(p: string): string | undefined {
  const rest: string[] = [];
  let at = path.resolve(p);
  for (;;) {
    try {
      fs.lstatSync(at);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return undefined;
      rest.unshift(path.basename(at));
      at = path.dirname(at);
    }
  }
  try {
    return path.join(fs.realpathSync(at), ...rest);
  } catch {
    return undefined;
  }
}

/**
 * Sessions compete by priority only within their class: the operator's (config file and
 * ClusterMirrorSessions) and each namespace's own. A tenant's low number never detaches the
 * operator's capture or another namespace's.
 */
export function priorityClass(session: ResolvedSession): string {
  return session.origin?.kind === 'namespace' ? `namespace ${session.origin.namespace}` : 'operator';
}

/** Loopback and link-local: on the node, these reach its own services (the kubelet, node-local DNS, metadata). */
const nodeOnly = new BlockList();
nodeOnly.addSubnet('127.0.0.0', 8, 'ipv4');
nodeOnly.addSubnet('169.254.0.0', 16, 'ipv4');
nodeOnly.addSubnet('0.0.0.0', 8, 'ipv4');
nodeOnly.addAddress('::1', 'ipv6');
nodeOnly.addAddress('::', 'ipv6');
nodeOnly.addSubnet('fe80::', 10, 'ipv6');

/**
 * A MirrorSession's targets, once resolved, must not be the node itself: the agent sends from the
 * node's network namespace, where no NetworkPolicy applies, so a tenant could otherwise reach
 * services only the node can (loopback, link-local, the node's own addresses).
 */
export function refuseNodeTargets(targets: Pick<ForwardTarget, 'host' | 'url'>[], localAddresses: string[] = nodeAddresses()): void {
  for (const t of targets) {
    const family = isIPv4(t.host) ? 'ipv4' : 'ipv6';
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(t.host)?.[1];
    const host = mapped ?? t.host;
    if (nodeOnly.check(host, mapped ? 'ipv4' : family) || localAddresses.includes(host)) {
      throw new ForwardError(`${t.url}: ${host} is this node; a MirrorSession sends only to addresses beyond it`);
    }
  }
}

function nodeAddresses(): string[] {
  return Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address.replace(/%.*$/, '')));
}
