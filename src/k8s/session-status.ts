// MirrorSession and ClusterMirrorSession status: each agent writes its node's share into
// status.nodes (a list keyed by node) by server-side apply with a field manager of its own
// ("podspan-agent/NODE"), so agents never overwrite each other's entries. The totals and the
// Ready condition summarise every node's entry as this agent last saw them plus its own fresh
// one: whichever agent wrote last owns them (applied with force), and the next write of any
// agent brings them up to date. Written at most once per interval, and only when something but
// the time changed.
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import type { NodeShare } from '../agent/node-share';
import type { Logger } from '../observability/logger';
import { describeError } from './list-watch';
import { CLUSTER_MIRROR_SESSION_PLURAL, MIRROR_SESSION_GROUP, MIRROR_SESSION_PLURAL, MIRROR_SESSION_VERSION } from './mirror-session-watcher';
import type { MirrorSessionResource, ResourceRef } from './types';

export interface NodeStatus {
  node: string;
  pods: number;
  captures: number;
  captured: number;
  dropped: number;
  forwarded: number;
  ready: boolean;
  /** When not ready: the first problem's reason and every problem's message. */
  reason?: string;
  message?: string;
  /** RFC 3339: when this node's agent wrote the entry. */
  updated: string;
}

export interface ReadyCondition {
  type: 'Ready';
  status: 'True' | 'False';
  reason: string;
  message: string;
  lastTransitionTime: string;
}

export interface SessionStatus {
  nodes: NodeStatus[];
  pods: number;
  captured: number;
  dropped: number;
  forwarded: number;
  /** "2/3": nodes ready of nodes reporting. */
  nodesReady: string;
  conditions: ReadyCondition[];
}

const refKey = (r: ResourceRef) => `${r.kind}/${r.namespace}/${r.name}`;
const MAX_MESSAGE = 1024;

export function nodeStatus(node: string, share: NodeShare, now: Date): NodeStatus {
  const entry: NodeStatus = { node, pods: share.pods, captures: share.captures, captured: share.captured, dropped: share.dropped, forwarded: share.forwarded, ready: share.problems.length === 0, updated: now.toISOString() };
  if (share.problems.length) {
    entry.reason = share.problems[0].reason;
    entry.message = share.problems.map((p) => (p.pod ? `pod ${p.pod.namespace}/${p.pod.name}: ${p.message}` : p.message)).join('; ').slice(0, MAX_MESSAGE);
  }
  return entry;
}

/** The whole status: `own` replaces this node's entry among those `observed` (the resource's status as last seen). */
export function sessionStatus(own: NodeStatus, observed: unknown, now: Date): SessionStatus {
  const seen = (observed ?? {}) as Partial<SessionStatus>;
  const others = (Array.isArray(seen.nodes) ? seen.nodes : []).filter((n) => n && typeof n.node === 'string' && n.node !== own.node);
  const nodes = [...others, own].sort((a, b) => a.node.localeCompare(b.node));
  const sum = (k: 'pods' | 'captured' | 'dropped' | 'forwarded') => nodes.reduce((n, e) => n + (Number(e[k]) || 0), 0);
  const notReady = nodes.filter((n) => !n.ready);
  const status: ReadyCondition['status'] = notReady.length ? 'False' : 'True';
  const previous = (Array.isArray(seen.conditions) ? seen.conditions : []).find((c) => c?.type === 'Ready');
  const condition: ReadyCondition = {
    type: 'Ready',
    status,
    reason: notReady.length ? (notReady[0].reason ?? 'NotReady') : 'Capturing',
    message: notReady.length ? notReady.map((n) => `${n.node}: ${n.message ?? n.reason}`).join('; ').slice(0, MAX_MESSAGE) : `${nodes.length} node(s) capturing as asked`,
    lastTransitionTime: previous?.status === status && previous.lastTransitionTime ? previous.lastTransitionTime : now.toISOString(),
  };
  return { nodes, pods: sum('pods'), captured: sum('captured'), dropped: sum('dropped'), forwarded: sum('forwarded'), nodesReady: `${nodes.length - notReady.length}/${nodes.length}`, conditions: [condition] };
}

export class StatusWriter {
  private readonly api: CustomObjectsApi;
  /** What was last written per resource, without the times (so time alone never causes a write). */
  private readonly written = new Map<string, string>();
  private readonly failedOnce = new Set<string>();

  constructor(
    kc: KubeConfig,
    private readonly node: string,
    private readonly log: Logger,
  ) {
    this.api = kc.makeApiClient(CustomObjectsApi);
  }

  get fieldManager(): string {
    return `podspan-agent/${this.node}`;
  }

  /** Writes the status of every resource in `shares` whose share changed; `resources` gives each one's status as last seen. */
  async write(shares: NodeShare[], resources: MirrorSessionResource[], now = new Date()): Promise<void> {
    const byKey = new Map(resources.map((r) => [refKey(r), r]));
    const live = new Set<string>();
    for (const share of shares) {
      const key = refKey(share.resource);
      const resource = byKey.get(key);
      if (!resource) continue; // deleted meanwhile
      live.add(key);
      const own = nodeStatus(this.node, share, now);
      // Only this node's entry goes into the list: applying the others would make this agent
      // their owner too. The totals and the condition are computed over all of them.
      const status = { ...sessionStatus(own, resource.status, now), nodes: [own] };
      const fingerprint = JSON.stringify(status, (k, v) => (k === 'updated' || k === 'lastTransitionTime' ? undefined : v));
      if (this.written.get(key) === fingerprint) continue;
      try {
        await this.apply(share.resource, status);
        this.written.set(key, fingerprint);
        this.failedOnce.delete(key);
      } catch (err) {
        // Logged once per resource until a write succeeds again (RBAC without the status grant, say).
        if (!this.failedOnce.has(key)) this.log.warn({ resource: key, error: describeError(err) }, 'cannot write the session status');
        this.failedOnce.add(key);
      }
    }
    for (const key of [...this.written.keys()]) if (!live.has(key)) this.written.delete(key);
  }

  private async apply(ref: ResourceRef, status: SessionStatus): Promise<void> {
    const cluster = ref.kind === 'ClusterMirrorSession';
    const body = {
      apiVersion: `${MIRROR_SESSION_GROUP}/${MIRROR_SESSION_VERSION}`,
      kind: ref.kind,
      metadata: cluster ? { name: ref.name } : { name: ref.name, namespace: ref.namespace },
      status,
    };
    const common = { group: MIRROR_SESSION_GROUP, version: MIRROR_SESSION_VERSION, name: ref.name, body, fieldManager: this.fieldManager, force: true };
    const options = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
    if (cluster) await this.api.patchClusterCustomObjectStatus({ ...common, plural: CLUSTER_MIRROR_SESSION_PLURAL }, options);
    else await this.api.patchNamespacedCustomObjectStatus({ ...common, namespace: ref.namespace, plural: MIRROR_SESSION_PLURAL }, options);
  }
}
