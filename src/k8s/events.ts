// Kubernetes Events (core/v1) about what goes wrong for a session on this node: a capture that
// cannot start, a collector that is unreachable, a resource the agent refuses. On the
// MirrorSession (a ClusterMirrorSession's go to namespace "default") and, where one pod is
// concerned, on the pod too. Each problem is told once while it lasts (its message may change,
// a collector's error text does); when it clears and comes back it is told again.
import crypto from 'node:crypto';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { NodeShare } from '../agent/node-share';
import type { Logger } from '../observability/logger';
import { describeError } from './list-watch';
import { MIRROR_SESSION_GROUP, MIRROR_SESSION_VERSION } from './mirror-session-watcher';
import type { MirrorSessionResource } from './types';
import { describeAlert, type AlertKind, type AlertRecord } from '../detection/alert-record';

interface InvolvedObject {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid?: string;
}

const MAX_MESSAGE = 1024;
const ALERT_EVENTS_PER_MINUTE = 30;
const ALERT_REASONS: Record<AlertKind, string> = {
  syn_flood: 'SynFlood',
  port_scan: 'PortScan',
  request_surge: 'RequestSurge',
  error_surge: 'ErrorSurge',
  noisy_client: 'NoisyClient',
};

export class EventRecorder {
  private readonly api: CoreV1Api;
  /** Problems already told, by object, reason, subject and pod. */
  private told = new Set<string>();
  private failedOnce = false;

  constructor(
    kc: KubeConfig,
    private readonly node: string,
    private readonly log: Logger,
  ) {
    this.api = kc.makeApiClient(CoreV1Api);
  }

  /** Tells every problem in `shares` not yet told; forgets those that cleared. */
  async record(shares: NodeShare[], resources: MirrorSessionResource[]): Promise<void> {
    const uids = new Map(resources.map((r) => [`${r.kind}/${r.namespace}/${r.name}`, r.uid]));
    const now = new Set<string>();
    for (const share of shares) {
      const r = share.resource;
      const session: InvolvedObject = { apiVersion: `${MIRROR_SESSION_GROUP}/${MIRROR_SESSION_VERSION}`, kind: r.kind, namespace: r.namespace, name: r.name, uid: uids.get(`${r.kind}/${r.namespace}/${r.name}`) };
      for (const p of share.problems) {
        const objects = [session];
        if (p.pod) objects.push({ apiVersion: 'v1', kind: 'Pod', namespace: p.pod.namespace, name: p.pod.name, uid: p.pod.uid });
        for (const obj of objects) {
          const key = `${obj.kind}/${obj.namespace}/${obj.name}|${p.reason}|${p.subject}|${p.pod ? `${p.pod.namespace}/${p.pod.name}` : ''}`;
          now.add(key);
          if (this.told.has(key)) continue;
          const message = obj.kind === 'Pod' ? `${session.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}: ${p.message}` : `node ${this.node}: ${p.message}`;
          if (await this.create(obj, p.reason, message)) this.told.add(key);
        }
      }
    }
    this.told = new Set([...this.told].filter((k) => now.has(k)));
  }

  /**
   * An alert on the pod it is about (fired: Warning, cleared: Normal), when the pod is known.
   * At most ALERT_EVENTS_PER_MINUTE, so an attack cannot turn into a flood of API writes; the
   * rest are counted in `alertEventsDropped` (the log, metrics and alerts.jsonl have them all).
   */
  alert(a: AlertRecord): void {
    if (!a.pod || !a.namespace) return;
    const minute = Math.floor(Date.now() / 60_000);
    if (minute !== this.alertMinute) {
      this.alertMinute = minute;
      this.alertEvents = 0;
    }
    if (this.alertEvents >= ALERT_EVENTS_PER_MINUTE) {
      this.alertEventsDropped++;
      return;
    }
    this.alertEvents++;
    const reason = a.state === 'fired' ? ALERT_REASONS[a.kind] : `${ALERT_REASONS[a.kind]}Cleared`;
    void this.create({ apiVersion: 'v1', kind: 'Pod', namespace: a.namespace, name: a.pod }, reason, describeAlert(a), a.state === 'fired' ? 'Warning' : 'Normal');
  }

  private alertMinute = 0;
  private alertEvents = 0;
  alertEventsDropped = 0;

  private async create(obj: InvolvedObject, reason: string, message: string, type: 'Warning' | 'Normal' = 'Warning'): Promise<boolean> {
    const namespace = obj.namespace || 'default';
    const time = new Date();
    const body = {
      metadata: { name: `${obj.name}.${crypto.randomBytes(8).toString('hex')}`, namespace },
      involvedObject: { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.name, namespace: obj.namespace || undefined, uid: obj.uid || undefined },
      type,
      reason,
      message: message.slice(0, MAX_MESSAGE),
      source: { component: 'podspan-agent', host: this.node },
      reportingComponent: 'podspan.io/agent',
      reportingInstance: this.node,
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
    };
    try {
      await this.api.createNamespacedEvent({ namespace, body });
      this.failedOnce = false;
      return true;
    } catch (err) {
      if (!this.failedOnce) this.log.warn({ error: describeError(err) }, 'cannot create Kubernetes Events');
      this.failedOnce = true;
      return false;
    }
  }
}
