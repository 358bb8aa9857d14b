// The pod and MirrorSession watchers driving the real @kubernetes/client-node against a fake API
// server that speaks the wire format (lists, chunked watch streams, bookmarks, 410 Gone), and the
// pod -> host interface lookup, with an injected command runner and for real in a network namespace.
// A fake server here, not the real one of test/helpers/kube-env.ts (which the agent end-to-end
// tests and test/integration/kube-faults.test.ts use: a restart after etcd compaction, the CRD
// deleted and re-created, RBAC denials): these tests need faults on demand that a real API server
// does not produce when asked (a 410 Gone as an ERROR event mid-stream and as a list's status,
// bookmarks, a request failing exactly once).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors';
import { loadKubeConfig } from '../../src/k8s/kube-config';
import { MirrorSessionWatcher } from '../../src/k8s/mirror-session-watcher';
import { hostInterfaceForPod, type PodInterfaceDeps } from '../../src/k8s/pod-interface';
import { PodWatcher } from '../../src/k8s/pod-watcher';
import type { MirrorSessionResource, PodInfo } from '../../src/k8s/types';
import type { Logger } from '../../src/observability/logger';
import { FakeKubeApi, makePod, writeKubeconfig } from '../helpers/fake-kube-api';

const NODE = 'node-a';
const BACKOFF = { initial: 20, max: 100 };

// ---- harness ----

interface LogLine {
  level: number;
  msg: string;
  error?: string;
  [k: string]: unknown;
}

function captureLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { log, lines };
}
const WARN = 40;

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let api: FakeKubeApi;
let kubeconfigFile: string;
const cleanups: Array<() => void> = [];

beforeAll(async () => {
  api = await FakeKubeApi.start();
  kubeconfigFile = writeKubeconfig(api);
});
afterAll(async () => {
  await api.close();
  fs.rmSync(kubeconfigFile, { force: true });
});
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

/** A fresh fake server per test keeps resourceVersions and request logs independent. */
async function freshApi(): Promise<void> {
  await api.close();
  fs.rmSync(kubeconfigFile, { force: true });
  api = await FakeKubeApi.start();
  kubeconfigFile = writeKubeconfig(api);
}

function startPodWatcher(): { watcher: PodWatcher; states: Map<string, PodInfo>[]; lines: LogLine[]; started: Promise<void>; latest: () => Map<string, PodInfo> } {
  const { log, lines } = captureLogger();
  const watcher = new PodWatcher(loadKubeConfig(kubeconfigFile), NODE, log, { backoffMs: BACKOFF });
  const states: Map<string, PodInfo>[] = [];
  const started = watcher.start((pods) => states.push(pods));
  cleanups.push(() => watcher.stop());
  return { watcher, states, lines, started, latest: () => states[states.length - 1] ?? new Map() };
}

const names = (pods: Map<string, PodInfo>) => [...pods.values()].map((p) => `${p.namespace}/${p.name}`).sort();
const byName = (pods: Map<string, PodInfo>, name: string) => [...pods.values()].find((p) => p.name === name);

// ---- kubeconfig ----

describe('loadKubeConfig', () => {
  it('loads a kubeconfig file', () => {
    expect(loadKubeConfig(kubeconfigFile).getCurrentCluster()?.server).toBe(api.url);
  });

  it('names the file in one line when it cannot be loaded', () => {
    const missing = path.join(os.tmpdir(), `podspan-no-such-kubeconfig-${process.pid}`);
    expect(() => loadKubeConfig(missing)).toThrow(UsageError);
    expect(() => loadKubeConfig(missing)).toThrow(`${missing}: cannot load kubeconfig: no such file`);
    const broken = path.join(os.tmpdir(), `podspan-broken-kubeconfig-${process.pid}.yaml`);
    fs.writeFileSync(broken, 'clusters: [\n  - {name: x\n');
    cleanups.push(() => fs.rmSync(broken, { force: true }));
    let message = '';
    try {
      loadKubeConfig(broken);
    } catch (err) {
      expect(err).toBeInstanceOf(UsageError);
      message = (err as Error).message;
    }
    expect(message).toMatch(new RegExp(`^${broken.replace(/[.]/g, '\\.')}: `));
    expect(message).not.toContain('\n');
  });

  it('refuses in-cluster configuration outside a pod', () => {
    const saved = process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBERNETES_SERVICE_HOST;
    try {
      expect(() => loadKubeConfig()).toThrow(/KUBERNETES_SERVICE_HOST/);
    } finally {
      if (saved !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved;
    }
  });
});

// ---- pods ----

describe('PodWatcher', () => {
  it('delivers the initial list: this node only (field selector), converted to PodInfo, then watches from its resourceVersion', async () => {
    await freshApi();
    api.addPod(makePod('web', { labels: { app: 'web', tier: 'front' }, ips: ['10.244.0.5', 'fd00::5'], ports: [8080, 443, { port: 53, protocol: 'UDP' }] }));
    api.addPod(makePod('agent', { namespace: 'kube-system', hostNetwork: true, podIP: '192.0.2.10', ports: [9100] }));
    api.addPod(makePod('elsewhere', { node: 'node-b' }));
    const listRv = api.resourceVersion;

    const w = startPodWatcher();
    await w.started;
    expect(w.watcher.synced).toBe(true);
    expect(w.states).toHaveLength(1);
    expect(names(w.latest())).toEqual(['default/web', 'kube-system/agent']);
    const web = byName(w.latest(), 'web')!;
    expect(w.latest().get(web.uid)).toBe(web);
    expect(web).toEqual({
      uid: expect.any(String),
      namespace: 'default',
      name: 'web',
      labels: { app: 'web', tier: 'front' },
      ips: ['10.244.0.5', 'fd00::5'],
      hostNetwork: false,
      phase: 'Running',
      nodeName: NODE,
      containerPorts: [{ port: 53, protocol: 'UDP' }, { port: 443, protocol: 'TCP' }, { port: 8080, protocol: 'TCP' }],
    });
    // status.podIP when podIPs is absent.
    expect(byName(w.latest(), 'agent')).toMatchObject({ ips: ['192.0.2.10'], hostNetwork: true, containerPorts: [{ port: 9100, protocol: 'TCP' }] });

    const [list] = api.listRequests();
    expect(list.query.fieldSelector).toBe(`spec.nodeName=${NODE}`);
    expect(list.authorization).toBe('Bearer fake-token');
    const watch = await until('the watch request', () => api.watchRequests()[0]);
    expect(watch.query).toMatchObject({ fieldSelector: `spec.nodeName=${NODE}`, resourceVersion: listRv, allowWatchBookmarks: 'true' });
  });

  it('follows adds, relabels (MODIFIED) and deletes over one watch; changes PodInfo does not carry notify nobody', async () => {
    await freshApi();
    api.addPod(makePod('web'));
    const w = startPodWatcher();
    await w.started;
    await until('watch open', () => api.openWatches === 1);

    api.addPod(makePod('db', { ips: ['10.244.0.6'] }));
    await until('db added', () => byName(w.latest(), 'db'));
    api.addPod(makePod('other-node', { node: 'node-b' }));

    api.updatePod(makePod('web', { labels: { app: 'web', version: 'v2' } }));
    await until('web relabelled', () => byName(w.latest(), 'web')?.labels.version === 'v2');
    const callsBefore = w.states.length;

    // A status update the agent does not care about (a condition): the pod's rv moves, PodInfo does not.
    const web = makePod('web', { labels: { app: 'web', version: 'v2' } }) as { status: Record<string, unknown> };
    web.status.conditions = [{ type: 'Ready', status: 'True' }];
    api.updatePod(web);
    api.deletePod('db');
    await until('db deleted', () => !byName(w.latest(), 'db'));
    expect(w.states.length).toBe(callsBefore + 1);
    expect(names(w.latest())).toEqual(['default/web']);
    expect(api.listRequests()).toHaveLength(1);
    expect(api.watchRequests()).toHaveLength(1);
  });

  it('a BOOKMARK moves the resourceVersion: the next watch starts from it', async () => {
    await freshApi();
    api.addPod(makePod('web'));
    const w = startPodWatcher();
    await w.started;
    const firstWatch = await until('watch open', () => api.openWatches === 1 && api.watchRequests()[0]);

    // Writes this watch never sees (another node's pod) move the store's resourceVersion on.
    api.addPod(makePod('other-node', { node: 'node-b' }));
    api.advanceResourceVersion(5);
    const bookmarkRv = api.bookmark();
    expect(Number(bookmarkRv)).toBeGreaterThan(Number(firstWatch.query.resourceVersion));
    api.closeWatches();

    const second = await until('the second watch', () => api.watchRequests()[1]);
    expect(second.query.resourceVersion).toBe(bookmarkRv);
    expect(api.listRequests()).toHaveLength(1);
  });

  it.each(['event', 'http'] as const)('410 Gone (%s form) re-lists; pods added and deleted meanwhile are right afterwards', async (form) => {
    await freshApi();
    api.addPod(makePod('web'));
    api.addPod(makePod('db'));
    const w = startPodWatcher();
    await w.started;
    await until('watch open', () => api.openWatches === 1);

    api.expireWatches(form);
    // While expired: a watch from the old resourceVersion would never see these.
    api.addPod(makePod('cache'));
    api.deletePod('db');

    await until('cache listed', () => byName(w.latest(), 'cache'));
    expect(names(w.latest())).toEqual(['default/cache', 'default/web']);
    expect(api.listRequests()).toHaveLength(2);
    if (form === 'http') expect(api.watchRequests().some((r) => r.status === 410)).toBe(true);
    // Watching again from the new list's resourceVersion, and the state keeps following.
    const rewatch = await until('watch after the re-list', () => api.openWatches === 1 && api.watchRequests().at(-1));
    expect(rewatch.query.resourceVersion).toBe(api.resourceVersion);
    api.deletePod('web');
    await until('web deleted', () => !byName(w.latest(), 'web'));
    expect(w.lines.filter((l) => l.level >= WARN)).toEqual([]);
  });

  it('server errors (500) back off, keep the resourceVersion and recover', async () => {
    await freshApi();
    api.addPod(makePod('web'));
    const w = startPodWatcher();
    await w.started;
    const firstWatch = await until('watch open', () => api.openWatches === 1 && api.watchRequests()[0]);

    api.failNext(3, 500, { watch: true });
    api.closeWatches();
    api.addPod(makePod('db'));
    await until('db after recovery', () => byName(w.latest(), 'db'));

    const watches = api.watchRequests();
    expect(watches.map((r) => r.status)).toEqual([200, 500, 500, 500, 200]);
    // Same resourceVersion throughout: errors other than 410 do not throw the state away.
    for (const r of watches) expect(r.query.resourceVersion).toBe(firstWatch.query.resourceVersion);
    expect(api.listRequests()).toHaveLength(1);
    // Jittered exponential: the n-th retry waits at least half of initial * 2^n.
    const gaps = watches.slice(1).map((r, i) => r.at - watches[i].at);
    expect(gaps[1]).toBeGreaterThanOrEqual(BACKOFF.initial / 2 - 2);
    expect(gaps[2]).toBeGreaterThanOrEqual(BACKOFF.initial - 2);
    expect(gaps[3]).toBeGreaterThanOrEqual(BACKOFF.initial * 2 - 2);

    const warnings = w.lines.filter((l) => l.level === WARN);
    expect(warnings).toHaveLength(3);
    for (const l of warnings) {
      // Watch (the library) keeps only the status line of a failed watch, not the Status body.
      expect(l.error).toBe('HTTP 500 Internal Server Error');
      expect(JSON.stringify(l)).not.toMatch(/stack|\\n\s+at /);
    }
  });

  it('start() waits through failing lists and resolves with the first good one', async () => {
    await freshApi();
    api.addPod(makePod('web'));
    api.failNext(2, 503, { watch: false });
    const w = startPodWatcher();
    expect(w.watcher.synced).toBe(false);
    await w.started;
    expect(w.watcher.synced).toBe(true);
    expect(names(w.latest())).toEqual(['default/web']);
    expect(api.listRequests().map((r) => r.status)).toEqual([503, 503, 200]);
  });

  it('connection refused backs off and recovers, catching up from its resourceVersion', async () => {
    await freshApi();
    api.addPod(makePod('web'));
    const w = startPodWatcher();
    await w.started;
    await until('watch open', () => api.openWatches === 1);
    const rvBefore = api.resourceVersion;

    await api.stopListening();
    api.addPod(makePod('db'));
    await until('refused twice', () => w.lines.filter((l) => l.level === WARN && /ECONNREFUSED/.test(l.error ?? '')).length >= 2);
    await api.startListening();

    await until('db after the outage', () => byName(w.latest(), 'db'));
    expect(api.listRequests()).toHaveLength(1);
    expect(api.watchRequests().at(-1)!.query.resourceVersion).toBe(rvBefore);
    for (const l of w.lines) expect(JSON.stringify(l)).not.toMatch(/"stack"|\\n\s+at /);
  });

  it('stop() ends the watch and start() resolves even if never synced', async () => {
    await freshApi();
    await api.stopListening();
    const w = startPodWatcher();
    await until('a refused attempt', () => w.lines.some((l) => l.level === WARN));
    w.watcher.stop();
    await w.started;
    expect(w.watcher.synced).toBe(false);
    await api.startListening();
    await sleep(3 * BACKOFF.max);
    expect(api.requests).toHaveLength(0);
  });
});

// ---- MirrorSessions ----

describe('MirrorSessionWatcher', () => {
  function startSessionWatcher(): { watcher: MirrorSessionWatcher; states: MirrorSessionResource[][]; lines: LogLine[]; started: Promise<void>; latest: () => MirrorSessionResource[] } {
    const { log, lines } = captureLogger();
    const watcher = new MirrorSessionWatcher(loadKubeConfig(kubeconfigFile), log, { backoffMs: BACKOFF });
    const states: MirrorSessionResource[][] = [];
    const started = watcher.start((s) => states.push(s));
    cleanups.push(() => watcher.stop());
    return { watcher, states, lines, started, latest: () => states[states.length - 1] ?? [] };
  }
  const spec = (port: number) => ({ name: 'web', sources: { pods: { selector: { app: 'web' } } }, filter: { ports: [port] }, targets: [{ grpc: 'collector:9000' }] });

  it('lists, then follows add, update and delete in all namespaces', async () => {
    await freshApi();
    api.addSession({ name: 'web', namespace: 'shop', spec: spec(80) });
    const w = startSessionWatcher();
    await w.started;
    expect(w.watcher.synced).toBe(true);
    expect(w.latest()).toEqual([{ kind: 'MirrorSession', namespace: 'shop', name: 'web', resourceVersion: expect.any(String), uid: expect.any(String), spec: spec(80) }]);
    await until('watches open (both kinds, the Secrets)', () => api.openWatches === 3);
    expect(api.watchRequests('mirrorsessions')[0].query).toMatchObject({ resourceVersion: api.resourceVersion, allowWatchBookmarks: 'true' });

    api.addSession({ name: 'dns', namespace: 'kube-system', spec: spec(53) });
    await until('dns added', () => w.latest().length === 2);
    expect(w.latest().map((s) => `${s.namespace}/${s.name}`)).toEqual(['kube-system/dns', 'shop/web']);

    const updated = api.updateSession({ name: 'web', namespace: 'shop', spec: spec(8080) });
    await until('web updated', () => w.latest().find((s) => s.name === 'web')?.resourceVersion === updated.metadata.resourceVersion);
    expect(w.latest().find((s) => s.name === 'web')!.spec).toEqual(spec(8080));

    api.deleteSession('dns', 'kube-system');
    await until('dns deleted', () => w.latest().length === 1);
    expect(w.latest()[0].name).toBe('web');
  });

  it('without the CRD (404): an empty list, one warning, retries with backoff, and picks sessions up once installed', async () => {
    await freshApi();
    api.crdInstalled = false;
    const w = startSessionWatcher();
    await w.started;
    expect(w.watcher.synced).toBe(false);
    expect(w.states).toEqual([[]]);
    await until('several attempts', () => api.listRequests('mirrorsessions').length >= 4);
    expect(api.listRequests('mirrorsessions').every((r) => r.status === 404)).toBe(true);
    // One warning per missing kind (MirrorSession, ClusterMirrorSession), not one per retry.
    const warnings = w.lines.filter((l) => l.level === WARN);
    expect(warnings.map((l) => l.watcher).sort()).toEqual(['clustermirrorsessions', 'mirrorsessions']);
    for (const l of warnings) expect(l.error).toBe('HTTP 404 Not Found: the server could not find the requested resource');

    api.crdInstalled = true;
    api.addSession({ name: 'web', spec: spec(80) });
    await until('session after install', () => w.latest().length === 1);
    // Both kinds come back each on its own retry (in either order under load): synced once both
    // have, and nothing but the empty list was handed over before the session.
    await until('both kinds synced', () => w.watcher.synced);
    expect(w.states.slice(0, w.states.findIndex((x) => x.length > 0)).every((x) => x.length === 0)).toBe(true);
    expect(w.states.at(-1)!.map((r) => r.name)).toEqual(['web']);
  });
});

describe('MirrorSessionWatcher: ClusterMirrorSessions and credentials Secrets', () => {
  it('with one kind or the Secrets forbidden (RBAC of an older release), still hands over the rest, warning once each', async () => {
    await freshApi();
    api.addSession({ name: 'web', namespace: 'shop', spec: { sources: { pods: {} }, targets: [{ grpc: 'grpc://c:1' }] } });
    api.failNext(1000, 403, { resource: 'clustermirrorsessions' });
    api.failNext(1000, 403, { resource: 'secrets' });
    const { log, lines } = captureLogger();
    const watcher = new MirrorSessionWatcher(loadKubeConfig(kubeconfigFile), log, { backoffMs: BACKOFF });
    const states: MirrorSessionResource[][] = [];
    cleanups.push(() => watcher.stop());
    await watcher.start((x) => states.push(x));
    expect(states.at(-1)!.map((r) => `${r.kind} ${r.namespace}/${r.name}`)).toEqual(['MirrorSession shop/web']);
    await until('retries', () => api.listRequests('clustermirrorsessions').length >= 3 && api.listRequests('secrets').length >= 3);
    expect(lines.filter((l) => l.level === WARN).map((l) => l.msg).sort()).toEqual([
      "clustermirrorsessions: cannot list them (CRD not installed, or the agent's RBAC without them?); retrying",
      'secrets: cannot read Secrets podspan-mirror-credentials (RBAC not granted?); MirrorSessions naming credentials are refused until it can; retrying',
    ]);
  });

  const spec = { sources: { pods: { selector: { app: 'web' } } }, targets: [{ grpc: 'grpc://c:9000', credentials: { token: 'token' } }] };

  it('hands over both kinds (cluster ones without a namespace) and each MirrorSession with its namespace\'s podspan-mirror-credentials, following changes', async () => {
    await freshApi();
    api.addSession({ name: 'web', namespace: 'shop', spec });
    api.addClusterSession({ name: 'dns', spec });
    api.putSecret({ name: 'podspan-mirror-credentials', namespace: 'shop', data: { token: 's3cret' } });
    api.putSecret({ name: 'other', namespace: 'shop', data: { token: 'never read' } });
    const { log } = captureLogger();
    const watcher = new MirrorSessionWatcher(loadKubeConfig(kubeconfigFile), log, { backoffMs: BACKOFF });
    const states: MirrorSessionResource[][] = [];
    cleanups.push(() => watcher.stop());
    await watcher.start((x) => states.push(x));
    // One first delivery with the whole picture, not one per kind.
    expect(states).toHaveLength(1);
    expect(states[0].map((r) => [r.kind, r.namespace, r.name])).toEqual([
      ['ClusterMirrorSession', '', 'dns'],
      ['MirrorSession', 'shop', 'web'],
    ]);
    expect(states[0][0].credentialsSecret).toBeUndefined();
    expect(states[0][1].credentialsSecret).toEqual({ token: Buffer.from('s3cret') });
    // Only that Secret name was asked for, across namespaces.
    expect(api.listRequests('secrets').map((r) => r.query.fieldSelector)).toEqual(['metadata.name=podspan-mirror-credentials']);

    await until('watches open', () => api.openWatches === 3);
    api.putSecret({ name: 'podspan-mirror-credentials', namespace: 'shop', data: { token: 'rotated' } });
    await until('rotated token', () => states.at(-1)![1].credentialsSecret?.token.toString() === 'rotated');
    api.putSecret({ name: 'other', namespace: 'shop', data: { token: 'changed' } });
    api.deleteClusterSession('dns');
    await until('dns deleted', () => states.at(-1)!.length === 1);
    expect(states.at(-1)![0].credentialsSecret).toEqual({ token: Buffer.from('rotated') });
  });
});

// ---- host interface of a pod ----

function pod(overrides: Partial<PodInfo> = {}): PodInfo {
  return { uid: 'u1', namespace: 'default', name: 'web', labels: {}, ips: ['10.244.1.5'], hostNetwork: false, phase: 'Running', nodeName: NODE, containerPorts: [], ...overrides };
}

/** A runner answering from a table of "command args" -> stdout (or an Error to throw). */
function fakeHost(answers: Record<string, string | Error>, bridges: string[] = [], masters: Record<string, string> = {}): PodInterfaceDeps & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    run: (command, args) => {
      const line = [command, ...args].join(' ');
      calls.push(line);
      const answer = answers[line];
      if (answer === undefined) throw new Error(`unexpected command: ${line}`);
      if (answer instanceof Error) throw answer;
      return answer;
    },
    isBridge: (dev) => bridges.includes(dev),
    masterOf: (dev) => masters[dev],
  };
}

describe('hostInterfaceForPod', () => {
  it('returns the device of a direct route (veth, cali, lxc)', () => {
    const host = fakeHost({ 'ip -j route get 10.244.1.5': '[{"dst":"10.244.1.5","dev":"cali1234abcd","prefsrc":"192.0.2.2","flags":[],"uid":0,"cache":[]}]\n' });
    expect(hostInterfaceForPod(pod(), host)).toBe('cali1234abcd');
    expect(host.calls).toEqual(['ip -j route get 10.244.1.5']);
  });

  it('behind a bridge: the neighbour MAC, then the bridge port that learned it', () => {
    const host = fakeHost(
      {
        'ip -j route get 10.244.1.5': '[{"dst":"10.244.1.5","dev":"cni0","prefsrc":"10.244.1.1","flags":[],"uid":0,"cache":[]}]',
        'ip -j neigh show 10.244.1.5 dev cni0': '[{"dst":"10.244.1.5","lladdr":"0A:58:0A:F4:01:05","state":["REACHABLE"]}]',
        'bridge -j fdb show br cni0': JSON.stringify([
          { mac: '0a:58:0a:f4:01:05', ifname: 'cni0', flags: ['self'], state: 'permanent' },
          { mac: 'aa:aa:aa:aa:aa:01', ifname: 'veth1111', master: 'cni0', state: 'permanent' },
          { mac: '0a:58:0a:f4:01:09', ifname: 'veth1111', master: 'cni0', state: '' },
          { mac: '0a:58:0a:f4:01:05', ifname: 'veth2222', master: 'cni0', state: '' },
        ]),
      },
      ['cni0'],
    );
    expect(hostInterfaceForPod(pod(), host)).toBe('veth2222');
  });

  it('behind a bridge: keeps the port found once while the bridge has forgotten the MAC and the port is still its', () => {
    const route = { 'ip -j route get 10.244.1.5': '[{"dst":"10.244.1.5","dev":"cni0"}]' };
    const learnedHost = fakeHost(
      {
        ...route,
        'ip -j neigh show 10.244.1.5 dev cni0': '[{"dst":"10.244.1.5","lladdr":"0a:58:0a:f4:01:05","state":["REACHABLE"]}]',
        'bridge -j fdb show br cni0': '[{"mac":"0a:58:0a:f4:01:05","ifname":"veth2222","master":"cni0","state":""}]',
      },
      ['cni0'],
    );
    // The fdb entry aged out (the pod was idle) and the neighbour entry was collected.
    const forgotten = (masters: Record<string, string>) => fakeHost({ ...route, 'ip -j neigh show 10.244.1.5 dev cni0': '[]' }, ['cni0'], masters);
    const learned = new Map();
    expect(hostInterfaceForPod(pod(), learnedHost, learned)).toBe('veth2222');
    expect(hostInterfaceForPod(pod(), forgotten({ veth2222: 'cni0' }), learned)).toBe('veth2222');
    // Another pod (a new UID) with the same IP is not given it; a port gone with its pod is forgotten.
    expect(hostInterfaceForPod(pod({ uid: 'u2' }), forgotten({ veth2222: 'cni0' }), learned)).toBeUndefined();
    expect(hostInterfaceForPod(pod(), forgotten({}), learned)).toBeUndefined();
    expect(hostInterfaceForPod(pod(), forgotten({ veth2222: 'cni0' }), learned)).toBeUndefined();
  });

  it('hostNetwork pods have none (and run nothing)', () => {
    const host = fakeHost({});
    expect(hostInterfaceForPod(pod({ hostNetwork: true, ips: ['192.0.2.2'] }), host)).toBeUndefined();
    expect(host.calls).toEqual([]);
  });

  it('no route, a route via a gateway, a local address or an unknown neighbour: none', () => {
    expect(hostInterfaceForPod(pod(), fakeHost({ 'ip -j route get 10.244.1.5': new Error('RTNETLINK answers: Network is unreachable') }))).toBeUndefined();
    expect(hostInterfaceForPod(pod(), fakeHost({ 'ip -j route get 10.244.1.5': '[{"dst":"10.244.1.5","gateway":"192.0.2.1","dev":"eth0","flags":[]}]' }))).toBeUndefined();
    expect(hostInterfaceForPod(pod(), fakeHost({ 'ip -j route get 10.244.1.5': '[{"type":"local","dst":"10.244.1.5","dev":"lo","flags":[]}]' }))).toBeUndefined();
    const noNeighbour = fakeHost({ 'ip -j route get 10.244.1.5': '[{"dst":"10.244.1.5","dev":"cni0"}]', 'ip -j neigh show 10.244.1.5 dev cni0': '[]' }, ['cni0']);
    expect(hostInterfaceForPod(pod(), noNeighbour)).toBeUndefined();
    expect(noNeighbour.calls).not.toContain('bridge -j fdb show br cni0');
  });

  it('tries each pod IP in turn and never passes a non-IP to a command', () => {
    const host = fakeHost({ 'ip -j route get fd00::5': '[{"dst":"fd00::5","dev":"lxc99"}]' });
    expect(hostInterfaceForPod(pod({ ips: ['-batch', 'fd00::5'] }), host)).toBe('lxc99');
    expect(host.calls).toEqual(['ip -j route get fd00::5']);
  });
});

// ---- for real: a network namespace, a veth pair, and a bridge ----

const haveTools = spawnSync('ip', ['-V']).status === 0 && spawnSync('bridge', ['-V']).status === 0;
const canUseRealNetwork = process.getuid?.() === 0 && haveTools;
if (!canUseRealNetwork) console.log('k8s-watch: skipping the real hostInterfaceForPod tests (needs root, ip and bridge)');

describe.skipIf(!canUseRealNetwork)('hostInterfaceForPod on this host', () => {
  const id = process.pid;
  const ns = `psk8s-${id}`;
  const hostVeth = `psh${id}`;
  const podVeth = `psp${id}`;
  const bridge = `psb${id}`;
  const bridgePort = `psq${id}`;
  const bridgedPodVeth = `psr${id}`;
  // Addresses from the PID too (100.64.0.0/10), so concurrent runs never fight over a route.
  const net = `100.${64 + ((id >> 8) % 64)}.${id % 256}`;
  const routedPodIp = `${net}.7`;
  const gatewayIp = `${net}.129`;
  const bridgedPodIp = `${net}.130`;
  const sh = (...args: string[]) => execFileSync(args[0], args.slice(1), { stdio: 'pipe', encoding: 'utf8', timeout: 10_000 });
  const cleanup = () => {
    for (const args of [['netns', 'del', ns], ['link', 'del', hostVeth], ['link', 'del', bridgePort], ['link', 'del', bridge]]) spawnSync('ip', args, { stdio: 'ignore' });
  };

  beforeAll(() => {
    cleanup();
    sh('ip', 'netns', 'add', ns);
    // A routed pod (Calico-like): veth pair, /32 on the pod side, a host route via the host side.
    sh('ip', 'link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', podVeth, 'netns', ns);
    sh('ip', 'link', 'set', hostVeth, 'up');
    sh('ip', '-n', ns, 'link', 'set', podVeth, 'up');
    sh('ip', '-n', ns, 'addr', 'add', `${routedPodIp}/32`, 'dev', podVeth);
    sh('ip', 'route', 'add', `${routedPodIp}/32`, 'dev', hostVeth);
    // A bridged pod (bridge/flannel-like): the host side of its veth is a port of a bridge with the gateway IP.
    sh('ip', 'link', 'add', bridge, 'type', 'bridge');
    sh('ip', 'addr', 'add', `${gatewayIp}/25`, 'dev', bridge);
    sh('ip', 'link', 'set', bridge, 'up');
    sh('ip', 'link', 'add', bridgePort, 'type', 'veth', 'peer', 'name', bridgedPodVeth, 'netns', ns);
    sh('ip', 'link', 'set', bridgePort, 'master', bridge, 'up');
    sh('ip', '-n', ns, 'link', 'set', bridgedPodVeth, 'up');
    sh('ip', '-n', ns, 'addr', 'add', `${bridgedPodIp}/25`, 'dev', bridgedPodVeth);
    // One datagram from the pod to its gateway: its ARP request teaches the host the pod's MAC and
    // the bridge which port that MAC is behind.
    sh('ip', 'netns', 'exec', ns, 'bash', '-c', `echo hello > /dev/udp/${gatewayIp}/9`);
  });
  afterAll(cleanup);

  it('finds the host side of a routed veth', () => {
    expect(hostInterfaceForPod(pod({ ips: [routedPodIp] }))).toBe(hostVeth);
  });

  it('finds the bridge port of a bridged pod', async () => {
    const found = await until('the bridge to learn the pod', () => hostInterfaceForPod(pod({ ips: [bridgedPodIp] })), 3_000);
    expect(found).toBe(bridgePort);
  });
});
