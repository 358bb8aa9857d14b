// The node agent: turns mirror sessions (from the config file and from MirrorSession resources)
// and the pods on this node into running captures, one per (session, interface), and keeps them
// in step as sessions, pods and interfaces change. A capture whose spec is unchanged keeps
// running; only what changed is stopped or started. Exposes per-session and per-interface
// counters for Prometheus.
import { Gauge, Registry } from 'prom-client';
import { listInterfaces } from '../capture/session';
import type { ResolvedSession, SessionOrigin } from '../config/agent-config';
import { hostInterfaceForPod } from '../k8s/pod-interface';
import type { MirrorSessionResource, PodInfo, ResourceRef } from '../k8s/types';
import type { NodeShare } from './node-share';
import type { Logger } from '../observability/logger';
import type { AgentStores } from './stores';
import { MirrorCapture, specKey, type AgentAnalytics, type CaptureSpec } from './mirror-capture';
import { AnalyticsMetrics } from '../analysis/metrics';
import { PodIndex } from '../analysis/pods';
import { AlertMetrics } from '../detection/alert-metrics';
import { describeAlert, type AlertRecord } from '../detection/alert-record';
import { alertScope, ScanGroups, sessionAlertScope } from '../detection/scan-groups';
import { ShadowMetrics } from '../shadow/metrics';
import type { CardinalityLimits } from '../analysis/caps';
import { priorityClass, RESOURCE_FILES_ROOT, resourceLabel, sessionFromResource } from './tenancy';

export interface AgentDeps {
  interfaceNames(): string[];
  hostInterfaceForPod(pod: PodInfo): string | undefined;
  /** Where ClusterMirrorSessions may write files. */
  resourceFilesRoot: string;
  /** Caps on the analytics metrics' servers and routes (agent config `analytics`). */
  analyticsLimits: CardinalityLimits;
}

const defaultDeps: AgentDeps = {
  interfaceNames: () => listInterfaces().map((d) => d.name),
  hostInterfaceForPod: (pod) => hostInterfaceForPod(pod),
  resourceFilesRoot: RESOURCE_FILES_ROOT,
  analyticsLimits: { maxServers: 500, maxRoutesPerServer: 100 },
};

const globToRegExp = (glob: string) => new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);

export function podMatches(pod: PodInfo, sel: { namespaces: string[]; selector: Record<string, string>; names?: string[] }): boolean {
  if (pod.phase !== 'Running') return false;
  if (sel.namespaces.length && !sel.namespaces.includes(pod.namespace)) return false;
  if (sel.names?.length && !sel.names.includes(pod.name)) return false;
  return Object.entries(sel.selector).every(([k, v]) => pod.labels[k] === v);
}

export class Agent {
  readonly registry = new Registry();
  private readonly captures = new Map<string, MirrorCapture>();
  /** Captures being stopped on purpose (detached), until their files are closed. */
  private readonly detaching = new Set<MirrorCapture>();
  private configSessions: ResolvedSession[] = [];
  private resourceSessions: ResolvedSession[] = [];
  private pods = new Map<string, PodInfo>();
  private chain: Promise<void> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private reconciled = false;
  /** Capture key -> the capture wanted and why it is not running (only keys still wanted). */
  readonly failures = new Map<string, { spec: CaptureSpec; reason: string }>();
  /** Resources refused, by label ("MirrorSession shop/web"), with the reason already logged. */
  readonly refused = new Map<string, string>();
  private readonly refusedRefs = new Map<string, ResourceRef>();
  private readonly deps: AgentDeps;
  /** Sessions with analyze: true feed these metrics, pod names from this node's pods. */
  private readonly analytics: AgentAnalytics;
  /** The upload spools of pcap targets with a store (set by the agent command). */
  stores?: AgentStores;

  constructor(
    private readonly node: string,
    private readonly log: Logger,
    deps: Partial<AgentDeps> = {},
  ) {
    this.deps = { ...defaultDeps, ...deps };
    this.registerMetrics();
    this.alertMetrics = new AlertMetrics(this.registry);
    this.analytics = {
      metrics: new AnalyticsMetrics(this.registry, this.deps.analyticsLimits),
      pods: new PodIndex(),
      shadowMetrics: (session) => new ShadowMetrics(this.registry, session),
      scanGroup: (session) => this.scanGroups.of(session),
      onAlert: (a, capture) => {
        this.alertMetrics.add(a, alertScope(a.alert_id, capture));
        const log = a.state === 'fired' ? this.log.warn.bind(this.log) : this.log.info.bind(this.log);
        log({ session: capture.session, interface: capture.iface, alert: a }, describeAlert(a));
        this.onAlertEvent?.(a, capture.session);
      },
      onCaptureEnd: (key) => this.alertMetrics.endScope(key),
    };
  }

  /** Set by the agent command in a cluster: each alert becomes an Event on its pod. */
  onAlertEvent?: (a: AlertRecord, session: string) => void;
  private readonly alertMetrics: AlertMetrics;
  private readonly scanGroups = new ScanGroups();

  /** Starts reconciling now and every `everyMs` (new interfaces, captures that ended by themselves). */
  start(everyMs = 5000): Promise<void> {
    this.timer = setInterval(() => void this.reconcile(), everyMs);
    return this.reconcile();
  }

  get ready(): boolean {
    return this.reconciled && !this.stopped;
  }

  setConfigSessions(sessions: ResolvedSession[]): Promise<void> {
    this.configSessions = sessions;
    return this.reconcile();
  }

  setPods(pods: Map<string, PodInfo>): Promise<void> {
    this.pods = new Map(pods);
    this.analytics.pods.update(this.pods.values());
    return this.reconcile();
  }

  /**
   * MirrorSession and ClusterMirrorSession resources: each one the agent accepts (tenancy.ts)
   * becomes session NAMESPACE/NAME or cluster.NAME; one it refuses is logged once with the
   * reason (again only when the reason changes) and not run.
   */
  setMirrorSessions(resources: MirrorSessionResource[]): Promise<void> {
    this.resourceSessions = [];
    const seen = new Set<string>();
    for (const r of resources) {
      const label = resourceLabel(r);
      seen.add(label);
      try {
        this.resourceSessions.push(sessionFromResource(r, this.deps.resourceFilesRoot));
        if (this.refused.delete(label)) this.log.info({ resource: label }, 'resource accepted');
      } catch (err) {
        const reason = (err as Error).message;
        if (this.refused.get(label) !== reason) this.log.warn({ resource: label, reason }, 'resource refused, not run');
        this.refused.set(label, reason);
        this.refusedRefs.set(label, { kind: r.kind, namespace: r.namespace, name: r.name });
      }
    }
    for (const label of this.refused.keys()) if (!seen.has(label)) this.refused.delete(label);
    for (const label of this.refusedRefs.keys()) if (!this.refused.has(label)) this.refusedRefs.delete(label);
    return this.reconcile();
  }

  /**
   * This node's share of every MirrorSession and ClusterMirrorSession it knows (accepted or
   * refused), for their status and Events: pods matched, captures running, their counters, and
   * what is wrong here.
   */
  nodeShares(): NodeShare[] {
    const shares = new Map<string, NodeShare>();
    const shareOf = (origin: SessionOrigin): NodeShare => {
      const ref: ResourceRef = origin.kind === 'cluster' ? { kind: 'ClusterMirrorSession', namespace: '', name: origin.name } : { kind: 'MirrorSession', namespace: origin.namespace, name: origin.name };
      const label = resourceLabel(ref);
      let share = shares.get(label);
      if (!share) shares.set(label, (share = { resource: ref, pods: 0, captures: 0, captured: 0, dropped: 0, forwarded: 0, problems: [] }));
      return share;
    };
    for (const s of this.resourceSessions) if (s.origin) shareOf(s.origin);
    const pods = new Map<string, Set<string>>();
    for (const spec of this.desired()) {
      if (!spec.session.origin || !spec.pod) continue;
      const label = resourceLabel(shareOf(spec.session.origin).resource);
      pods.set(label, (pods.get(label) ?? new Set()).add(`${spec.pod.namespace}/${spec.pod.name}`));
    }
    for (const [label, set] of pods) shares.get(label)!.pods = set.size;
    for (const cap of this.captures.values()) {
      if (!cap.spec.session.origin) continue;
      const share = shareOf(cap.spec.session.origin);
      const st = cap.interfaceStats();
      const fwd = cap.forwardStats();
      share.captures++;
      share.captured += st?.captured ?? 0;
      share.dropped += (st?.droppedKernel ?? 0) + fwd.vxlan.reduce((n, v) => n + v.sendErrors, 0) + fwd.grpc.reduce((n, g) => n + g.droppedQueueFull + g.droppedDisconnected, 0);
      share.forwarded += fwd.vxlan.reduce((n, v) => n + v.frames, 0) + fwd.grpc.reduce((n, g) => n + g.delivered, 0);
      for (const g of fwd.grpc) {
        if (!g.connected && g.lastError) share.problems.push({ reason: 'TargetUnreachable', subject: g.target, message: `${g.target}: ${g.lastError}`, pod: cap.spec.pod });
      }
    }
    for (const { spec, reason } of this.failures.values()) {
      if (spec.session.origin) shareOf(spec.session.origin).problems.push({ reason: 'CaptureFailed', subject: spec.iface, message: `${spec.iface}: ${reason}`, pod: spec.pod });
    }
    for (const [label, reason] of this.refused) {
      const ref = this.refusedRefs.get(label);
      if (ref) shares.set(label, { resource: ref, pods: 0, captures: 0, captured: 0, dropped: 0, forwarded: 0, problems: [{ reason: 'Refused', subject: '', message: reason }] });
    }
    return [...shares.values()];
  }

  runningCaptures(): CaptureSpec[] {
    return [...this.captures.values()].map((c) => c.spec);
  }

  /** Stops every capture; files are closed valid, forwarders drained within `timeoutMs`. */
  async stop(timeoutMs = 3000): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.chain;
    await Promise.all([...this.captures.values()].map((c) => c.stop(timeoutMs).catch(() => undefined)));
    this.captures.clear();
  }

  /**
   * What should run now: per interface, within each priority class (the operator's sessions, each
   * namespace's MirrorSessions), only the sessions of that class's best (lowest) priority.
   */
  desired(): CaptureSpec[] {
    const names = this.deps.interfaceNames();
    const byIface = new Map<string, CaptureSpec[]>();
    const add = (spec: CaptureSpec) => byIface.set(spec.iface, [...(byIface.get(spec.iface) ?? []), spec]);
    const now = Date.now();
    for (const s of [...this.configSessions, ...this.resourceSessions]) {
      if (s.expiresAt && Date.parse(s.expiresAt) <= now) continue; // a temporary session whose client is gone
      const patterns = s.sources.interfaces.map(globToRegExp);
      for (const iface of names.filter((n) => n !== 'any' && patterns.some((p) => p.test(n)))) {
        add({ key: specKey(s, iface), session: s, iface });
      }
      if (!s.sources.pods) continue;
      for (const pod of this.pods.values()) {
        if (!podMatches(pod, s.sources.pods)) continue;
        if (pod.hostNetwork) {
          if (!pod.containerPorts.length) continue; // nothing to tell its traffic apart by
          // Its ports on "any" are the node's too, other namespaces' traffic included: not a tenant's to mirror.
          if (s.origin?.kind === 'namespace') continue;
          // Each port with its own protocol: a hostNetwork DNS pod's UDP 53 is not the host's TCP 53.
          const ports = pod.containerPorts.map((p) => `${p.protocol.toLowerCase()} port ${p.port}`).join(' or ');
          add({ key: specKey(s, 'any', ports), session: s, iface: 'any', pod, extraFilter: ports });
          continue;
        }
        const iface = this.deps.hostInterfaceForPod(pod);
        if (iface) add({ key: specKey(s, iface), session: s, iface, pod });
      }
    }
    const out: CaptureSpec[] = [];
    for (const specs of byIface.values()) {
      const best = new Map<string, number>();
      for (const c of specs) best.set(priorityClass(c.session), Math.min(best.get(priorityClass(c.session)) ?? Infinity, c.session.priority));
      out.push(...specs.filter((c) => c.session.priority === best.get(priorityClass(c.session))));
    }
    return out;
  }

  /** Serialised: one reconciliation at a time, each seeing the latest state. */
  reconcile(): Promise<void> {
    this.chain = this.chain.then(() => this.reconcileNow()).catch((err) => this.log.error({ err: (err as Error).message }, 'reconcile failed'));
    return this.chain;
  }

  private async reconcileNow(): Promise<void> {
    if (this.stopped) return;
    const want = new Map(this.desired().map((s) => [s.key, s]));
    const stopping: Promise<unknown>[] = [];
    for (const [key, cap] of this.captures) {
      if (want.has(key)) continue;
      // Still listed (metrics) until its files are closed, so a capture gone from the metrics has
      // its file complete on disk.
      this.detaching.add(cap);
      this.log.info({ session: cap.spec.session.name, interface: cap.spec.iface }, 'capture detached');
      stopping.push(
        cap
          .stop()
          .catch(() => undefined)
          .finally(() => {
            this.detaching.delete(cap);
            if (this.captures.get(key) === cap) this.captures.delete(key);
          }),
      );
    }
    await Promise.all(stopping);
    // A session gone: its scan group (and the metrics of its alerts) with it.
    for (const name of this.scanGroups.keepOnly(new Set([...want.values()].map((s) => s.session.name)))) this.alertMetrics.endScope(sessionAlertScope(name));
    // A failure of a capture no longer wanted (its session or pod gone) is no failure any more.
    for (const key of [...this.failures.keys()]) if (!want.has(key)) this.failures.delete(key);
    for (const [key, spec] of want) {
      if (this.captures.has(key)) continue;
      try {
        const spool = await this.stores?.spoolFor(spec.session);
        const cap = await MirrorCapture.start(spec, this.node, this.log, this.analytics, spool);
        this.captures.set(key, cap);
        this.failures.delete(key);
        void cap.finished.then((r) => {
          if (this.stopped || this.detaching.has(cap) || this.captures.get(key) !== cap) return; // stopped on purpose: nothing to report
          this.captures.delete(key); // ended by itself: the next reconciliation may start it again
          this.log.warn({ session: spec.session.name, interface: spec.iface, reason: r.error?.message ?? 'capture ended' }, 'capture ended');
        });
      } catch (err) {
        const reason = (err as Error).message;
        if (this.failures.get(key)?.reason !== reason) this.log.error({ session: spec.session.name, interface: spec.iface, reason }, 'capture could not start');
        this.failures.set(key, { spec, reason });
      }
    }
    // After the captures of a session gone have handed out their last files.
    await this.stores?.retire([...this.configSessions, ...this.resourceSessions]);
    this.reconciled = true;
  }

  private registerMetrics(): void {
    const labels = ['session', 'interface', 'pod'];
    const each = (fn: (c: MirrorCapture, l: Record<string, string>) => void) => {
      for (const c of this.captures.values()) {
        fn(c, { session: c.spec.session.name, interface: c.spec.iface, pod: c.spec.pod ? `${c.spec.pod.namespace}/${c.spec.pod.name}` : '' });
      }
    };
    const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge) => void) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [this.registry],
        collect() {
          this.reset();
          fill(this as unknown as Gauge);
        },
      });
    gauge('podspan_captures', 'captures running (one per session and interface)', [], (g) => g.set(this.captures.size));
    gauge('podspan_capture_failures', 'captures wanted but not running', [], (g) => g.set(this.failures.size));
    gauge('podspan_captured_packets', 'packets captured (after the filter)', labels, (g) => each((c, l) => g.set(l, c.interfaceStats()?.captured ?? 0)));
    gauge('podspan_filtered_packets', "packets the interface carried that the session's filter did not accept (from interface counters)", labels, (g) =>
      each((c, l) => {
        const n = c.filteredPackets();
        if (n !== undefined) g.set(l, n);
      }),
    );
    gauge('podspan_sampled_out_packets', 'packets the filter rules accepted and flow sampling left out', labels, (g) =>
      each((c, l) => {
        if (c.spec.session.sampleOneIn > 1 && c.spec.session.countSampledOut) g.set(l, c.interfaceStats()?.sampledOut ?? 0);
      }),
    );
    gauge('podspan_kernel_dropped_packets', 'packets the kernel dropped (capture ring full)', labels, (g) => each((c, l) => g.set(l, c.interfaceStats()?.droppedKernel ?? 0)));
    gauge('podspan_forwarded_frames', 'frames forwarded, by target', [...labels, 'target'], (g) =>
      each((c, l) => {
        const f = c.forwardStats();
        for (const v of f.vxlan) g.set({ ...l, target: v.target }, v.frames);
        for (const r of f.grpc) g.set({ ...l, target: r.target }, r.delivered);
      }),
    );
    gauge('podspan_forward_dropped_frames', 'frames not forwarded, by target and reason', [...labels, 'target', 'reason'], (g) =>
      each((c, l) => {
        const f = c.forwardStats();
        for (const v of f.vxlan) g.set({ ...l, target: v.target, reason: 'send_failed' }, v.sendErrors);
        for (const r of f.grpc) {
          g.set({ ...l, target: r.target, reason: 'queue_full' }, r.droppedQueueFull);
          g.set({ ...l, target: r.target, reason: 'not_acknowledged' }, r.droppedDisconnected);
        }
      }),
    );
    gauge('podspan_reassembly_flows', 'TCP flows open in reassembly (streams targets)', labels, (g) =>
      each((c, l) => {
        const st = c.streamStats();
        if (st) g.set(l, st.flows);
      }),
    );
    gauge('podspan_reassembly_buffered_bytes', 'out-of-order bytes held by reassembly (streams targets)', labels, (g) =>
      each((c, l) => {
        const st = c.streamStats();
        if (st) g.set(l, st.bufferedBytes);
      }),
    );
    gauge('podspan_analysis_records', 'analytics records taken from the capture, by kind (sessions with analyze: true)', [...labels, 'kind'], (g) =>
      each((c, l) => {
        for (const [kind, n] of Object.entries(c.recordCounts() ?? {})) g.set({ ...l, kind }, n);
      }),
    );
    gauge('podspan_forward_record_bytes', 'analytics record bytes (JSON lines) for a gRPC collector, by target and outcome', [...labels, 'target', 'outcome'], (g) =>
      each((c, l) => {
        if (!c.recordCounts()) return;
        for (const r of c.forwardStats().grpc) {
          g.set({ ...l, target: r.target, outcome: 'delivered' }, r.recordBytes.delivered);
          g.set({ ...l, target: r.target, outcome: 'queue_full' }, r.recordBytes.droppedQueueFull);
          g.set({ ...l, target: r.target, outcome: 'not_acknowledged' }, r.recordBytes.droppedDisconnected);
        }
      }),
    );
    gauge('podspan_forward_queue_bytes', 'bytes waiting for a gRPC collector', [...labels, 'target'], (g) =>
      each((c, l) => {
        for (const r of c.forwardStats().grpc) g.set({ ...l, target: r.target }, r.queuedBytes);
      }),
    );
  }
}
