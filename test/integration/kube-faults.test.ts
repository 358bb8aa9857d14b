// The agent's pod and MirrorSession watchers (with the agent's own token) through the faults a
// real kube-apiserver and etcd produce: an API server restart while etcd moved on and was
// compacted (the watches resume from a revision that is gone: 410 Gone, then a fresh list), the
// MirrorSession CRD deleted and re-created, and RBAC taken away and given back (403 with the
// server's message, then recovery). After each, what the watchers hand over equals the API's
// state. test/unit/k8s-watch.test.ts covers, with a fake server, the faults a real one cannot be
// made to show on demand (a 410 in the middle of a watch stream, bookmarks, a list failing once).
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKubeConfig } from '../../src/k8s/kube-config';
import { MirrorSessionWatcher } from '../../src/k8s/mirror-session-watcher';
import { PodWatcher } from '../../src/k8s/pod-watcher';
import type { MirrorSessionResource, PodInfo } from '../../src/k8s/types';
import { makePod } from '../helpers/fake-kube-api';
import { createPod, installAgentApi, kubeEnvUnavailable, kubectlOk, startKubeEnv, waitEstablished, type KubeEnv } from '../helpers/kube-env';
import { until } from '../helpers/k8s-agent';
import { repoRoot } from '../helpers/tools';
import path from 'node:path';

const unavailable = kubeEnvUnavailable();
if (unavailable) console.log(`Kubernetes fault tests skipped: ${unavailable}`);

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe.skipIf(unavailable)('the watchers against a real API server\'s faults', () => {
  let kube: KubeEnv;
  const lines: { msg: string; error?: string }[] = [];
  let pods: PodWatcher;
  let sessions: MirrorSessionWatcher;
  let seenPods = new Map<string, PodInfo>();
  let seenSessions: MirrorSessionResource[] = [];
  const podNames = () => [...seenPods.values()].map((p) => p.name).sort().join(',');
  const sessionNames = () => seenSessions.map((s) => s.name).sort().join(',');
  const session = (name: string) => JSON.stringify({ apiVersion: 'podspan.io/v1alpha1', kind: 'MirrorSession', metadata: { name, namespace: 'shop' }, spec: { sources: { pods: { selector: { app: 'cart' } } }, targets: [{ grpc: 'grpc://collector.example:50051' }] } });
  const logged = (re: RegExp) => lines.some((l) => re.test(`${l.msg} ${l.error ?? ''}`));

  beforeAll(async () => {
    kube = await startKubeEnv({ compactionInterval: '1s' });
    installAgentApi(kube, ['shop']);
    const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
    const kc = loadKubeConfig(kube.agentKubeconfig);
    const backoffMs = { initial: 100, max: 1000 };
    pods = new PodWatcher(kc, 'test-node', log, { backoffMs });
    sessions = new MirrorSessionWatcher(kc, log, { backoffMs });
    await pods.start((p) => (seenPods = p));
    await sessions.start((s) => (seenSessions = s));
  }, 120_000);
  afterAll(async () => {
    pods?.stop();
    sessions?.stop();
    await kube?.stop();
  });

  it('an API server restart after etcd moved on and compacted: the watches\' revision is gone (410), they list again, nothing missed', async () => {
    createPod(kube, makePod('p1', { node: 'test-node', namespace: 'shop', labels: { app: 'cart' }, ips: ['10.1.0.1'] }));
    kube.apply(session('one') + '\n');
    await until(() => podNames() === 'p1' && sessionNames() === 'one');
    const watchedFrom = JSON.parse(kubectlOk(kube, ['get', 'pod', 'p1', '-n', 'shop', '-o', 'json'])).metadata.resourceVersion as string;
    const before = lines.length;
    await kube.restartApiServer(async () => {
      // etcd alone moves on (a key outside the API's) and compacts up to there: the watches'
      // resourceVersions are gone when they come back.
      let revision = '';
      for (let i = 0; i < 3; i++) {
        const r = await fetch(`${kube.etcdUrl}/v3/kv/put`, { method: 'POST', body: JSON.stringify({ key: b64(`/podspan-test/${i}`), value: b64('x') }) });
        revision = ((await r.json()) as { header: { revision: string } }).header.revision;
      }
      const c = await fetch(`${kube.etcdUrl}/v3/kv/compaction`, { method: 'POST', body: JSON.stringify({ revision, physical: true }) });
      expect(c.status).toBe(200);
    });
    // What the server says to a watch resuming from there: 410 Gone.
    const resumed = kube.kubectl(['get', '--raw', `/api/v1/pods?watch=1&resourceVersion=${watchedFrom}&timeoutSeconds=5`]);
    expect(resumed.stdout).toMatch(/"type":"ERROR".*"code":410/);
    // Changes after the restart: seen, through a fresh list and a new watch.
    kubectlOk(kube, ['delete', 'pod', 'p1', '-n', 'shop', '--grace-period=0', '--force']);
    createPod(kube, makePod('p2', { node: 'test-node', namespace: 'shop', labels: { app: 'cart' }, ips: ['10.1.0.2'] }));
    kube.apply(session('two') + '\n');
    await until(() => podNames() === 'p2' && sessionNames() === 'one,two', 30_000).catch((e: Error) => {
      throw new Error(`${e.message}: pods ${podNames()}, sessions ${sessionNames()}; log ${JSON.stringify(lines.slice(before))}`);
    });
    // Each listed again: on the 410, or first refused while the restarted server's caches fill
    // (429 "storage is (re)initializing", 403 before its RBAC is loaded), whichever it met.
    const after = lines.slice(before).map((l) => `${l.msg} ${l.error ?? ''}`);
    for (const what of ['pods', 'mirrorsessions']) {
      expect(after.some((l) => l.startsWith(`${what}: `) && /410 Gone|list\/watch failed|resource available again/.test(l)), `${what}: ${after.join('\n')}`).toBe(true);
    }
  }, 120_000);

  it('the MirrorSession CRD deleted and re-created: its sessions go, and come back with it', async () => {
    const crd = path.join(repoRoot, 'deploy', 'crd-mirrorsession.yaml');
    kubectlOk(kube, ['delete', '-f', crd, '--wait=true']);
    await until(() => sessionNames() === '', 30_000);
    await until(() => logged(/mirrorsessions: cannot list them \(CRD not installed/), 30_000);
    kube.apply([crd]);
    waitEstablished(kube, ['mirrorsessions.podspan.io']);
    // The API server takes a moment to serve a re-created CRD's resources.
    await until(() => kube.kubectl(['apply', '-f', '-'], { stdin: session('three') }).code === 0, 30_000);
    await until(() => sessionNames() === 'three', 30_000);
    expect(logged(/mirrorsessions: resource available again/)).toBe(true);
  }, 120_000);

  it('RBAC taken away: 403 with the server\'s message, what was known stays; given back: caught up', async () => {
    const binding = kubectlOk(kube, ['get', 'clusterrolebinding', 'podspan-agent', '-o', 'json']);
    kubectlOk(kube, ['delete', 'clusterrolebinding', 'podspan-agent']);
    // Authorisation is checked per request: the restart makes the watchers ask again.
    await kube.restartApiServer();
    await until(() => logged(/pods: list\/watch failed HTTP 403 Forbidden: pods is forbidden: User "system:serviceaccount:podspan:podspan-agent" cannot list resource "pods"/), 30_000);
    expect(podNames()).toBe('p2'); // nothing forgotten while it cannot look
    createPod(kube, makePod('p3', { node: 'test-node', namespace: 'shop', labels: { app: 'cart' }, ips: ['10.1.0.3'] }));
    const restored = JSON.parse(binding);
    delete restored.metadata.resourceVersion;
    delete restored.metadata.uid;
    delete restored.metadata.creationTimestamp;
    kubectlOk(kube, ['create', '-f', '-'], JSON.stringify(restored));
    await until(() => podNames() === 'p2,p3', 30_000);
  }, 120_000);
});
