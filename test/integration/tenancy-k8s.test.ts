// The tenancy boundary against a REAL Kubernetes API server (kube-apiserver + etcd, RBAC on; see
// test/helpers/kube-env.ts): deploy/'s CRDs and RBAC as shipped. The API server's CEL rules refuse
// a tenant's MirrorSession that reaches beyond its namespace, with the CRD's message; a tenant's
// session and an operator's ClusterMirrorSession are accepted; the agent's ServiceAccount may read
// Secret podspan-mirror-credentials of any namespace and no other Secret; and the agent's own
// watcher, with the agent's credentials, sees both kinds and exactly those Secrets.
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionFromResource } from '../../src/agent/tenancy';
import { loadKubeConfig } from '../../src/k8s/kube-config';
import { MirrorSessionWatcher } from '../../src/k8s/mirror-session-watcher';
import type { MirrorSessionResource } from '../../src/k8s/types';
import { agentRequests, kubeEnvUnavailable, startKubeEnv, waitEstablished, type KubeEnv } from '../helpers/kube-env';
import { repoRoot } from '../helpers/tools';

const unavailable = kubeEnvUnavailable();
if (unavailable) console.log(`tenancy tests against a real API server skipped: ${unavailable}`);

const deploy = (f: string) => path.join(repoRoot, 'deploy', f);

/** An object as YAML text for kubectl (JSON on several lines, which env.apply takes for text, not a file name). */
const manifest = (obj: object) => JSON.stringify(obj, null, 1);
/** A MirrorSession in tenant-a. */
const tenantSession = (name: string, spec: object) => manifest({ apiVersion: 'podspan.io/v1alpha1', kind: 'MirrorSession', metadata: { name, namespace: 'tenant-a' }, spec });

describe.skipIf(unavailable)('tenancy against a real API server', () => {
  let env: KubeEnv;
  beforeAll(async () => {
    env = await startKubeEnv();
    env.apply([deploy('namespace.yaml'), deploy('crd-mirrorsession.yaml'), deploy('crd-clustermirrorsession.yaml'), deploy('rbac.yaml')]);
    waitEstablished(env, ['mirrorsessions.podspan.io', 'clustermirrorsessions.podspan.io']);
    for (const ns of ['tenant-a', 'tenant-b', 'shop']) expect(env.kubectl(['create', 'namespace', ns]).code).toBe(0);
  }, 180_000);
  afterAll(async () => {
    await env?.stop();
  });

  const grpc = 'grpc://collector.tenant-a.svc:50051';
  it.each([
    ['host interfaces', { sources: { interfaces: ['*'], pods: { selector: {} } }, targets: [{ grpc }] }, 'a MirrorSession mirrors pods of its own namespace only: sources.interfaces (host interfaces) need a ClusterMirrorSession'],
    ['pods of kube-system', { sources: { pods: { namespaces: ['kube-system'] } }, targets: [{ grpc }] }, 'a MirrorSession selects pods of its own namespace only: leave sources.pods.namespaces out'],
    ['no pods', { sources: {}, targets: [{ grpc }] }, 'a MirrorSession mirrors pods of its own namespace: give sources.pods'],
    ['a pcap file on the node', { sources: { pods: {} }, targets: [{ pcap: { dir: '/var/lib/podspan/x' } }] }, 'a MirrorSession writes no files on the node'],
    ['a streams folder on the node', { sources: { pods: {} }, targets: [{ streams: { dir: '/var/lib/podspan/x' } }] }, 'a MirrorSession writes no files on the node'],
    ["the agent's ServiceAccount token", { sources: { pods: {} }, targets: [{ grpc: 'grpc://attacker:1?token-file=/var/run/secrets/kubernetes.io/serviceaccount/token' }] }, "a MirrorSession's grpc URL names no files on the node"],
    ['a client key file', { sources: { pods: {} }, targets: [{ grpc: `${grpc}?tls=1&cert=/etc/c.crt&key=/etc/c.key` }] }, "a MirrorSession's grpc URL names no files on the node"],
    ['credentials on a VXLAN target', { sources: { pods: {} }, targets: [{ vxlan: 'vxlan://10.0.0.9', credentials: { token: 't' } }] }, 'credentials go with a grpc target'],
  ])('kubectl apply refuses a MirrorSession with %s, with the CRD\'s message', (_, spec, message) => {
    const r = env.kubectl(['apply', '-f', '-'], { stdin: tenantSession('probe', spec) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(message);
    expect(env.kubectl(['-n', 'tenant-a', 'get', 'mirrorsession', 'probe']).code).not.toBe(0);
  });

  it("accepts a tenant's MirrorSession (the example, and one naming its Secret's keys) and the operator's ClusterMirrorSessions", () => {
    env.apply(deploy('example-mirrorsession.yaml'));
    env.apply(tenantSession('to-collector', { sources: { pods: { selector: { app: 'web' } } }, priority: -100, targets: [{ grpc: `${grpc}?tls=1&servername=collector`, credentials: { token: 'token', ca: 'ca.crt' } }, { vxlan: 'vxlan://10.0.0.9?vni=5' }, { geneve: 'geneve://10.0.0.9?vni=5&session=1' }, { gre: 'gre://10.0.0.9?key=5' }] }));
    env.apply(deploy('example-clustermirrorsession.yaml'));
    env.apply(
      manifest({
        apiVersion: 'podspan.io/v1alpha1',
        kind: 'ClusterMirrorSession',
        metadata: { name: 'hosts' },
        spec: { sources: { interfaces: ['*'] }, targets: [{ grpc: 'grpc://c:1?tls=1&token-file=/etc/podspan/token' }, { streams: { dir: '/var/lib/podspan/streams' } }, { geneve: 'geneve://10.0.0.9' }, { gre: 'gre://10.0.0.9' }] },
      }),
    );
    expect(env.kubectl(['get', 'mirrorsessions', '-A', '-o', 'name']).stdout.trim().split('\n').sort()).toEqual(['mirrorsession.podspan.io/cart-http', 'mirrorsession.podspan.io/to-collector']);
    expect(env.kubectl(['get', 'cms', '-o', 'name']).stdout.trim().split('\n').sort()).toEqual(['clustermirrorsession.podspan.io/dns-headers', 'clustermirrorsession.podspan.io/hosts']);
    // A ClusterMirrorSession's files stay under /var/lib/podspan there too.
    const out = env.kubectl(['apply', '-f', '-'], { stdin: manifest({ apiVersion: 'podspan.io/v1alpha1', kind: 'ClusterMirrorSession', metadata: { name: 'etc' }, spec: { sources: { interfaces: ['eth0'] }, targets: [{ pcap: { dir: '/var/lib/podspan/../../etc' } }] } }) });
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(/spec\.targets\[0\]\.pcap\.dir/);
  });

  it('lets a tenant bound to podspan-mirrorsession-editor manage MirrorSessions in its namespace only, and no ClusterMirrorSession', () => {
    const bind = env.kubectl(['-n', 'tenant-b', 'create', 'rolebinding', 'team-b-mirroring', '--clusterrole=podspan-mirrorsession-editor', '--group=team-b']);
    expect(bind.code, bind.stderr).toBe(0);
    const asBob = (args: string[], stdin?: string) => env.kubectl(['--as=bob', '--as-group=team-b', ...args], { stdin });
    const mine = manifest({ apiVersion: 'podspan.io/v1alpha1', kind: 'MirrorSession', metadata: { name: 'mine', namespace: 'tenant-b' }, spec: { sources: { pods: {} }, targets: [{ grpc }] } });
    const created = asBob(['apply', '-f', '-'], mine);
    expect(created.code, created.stderr).toBe(0);
    expect(asBob(['-n', 'tenant-b', 'delete', 'mirrorsession', 'mine']).code).toBe(0);
    const elsewhere = asBob(['apply', '-f', '-'], mine.replace('"namespace": "tenant-b"', '"namespace": "tenant-a"'));
    expect(elsewhere.stderr).toMatch(/forbidden/);
    const cluster = asBob(['apply', '-f', '-'], manifest({ apiVersion: 'podspan.io/v1alpha1', kind: 'ClusterMirrorSession', metadata: { name: 'bobs' }, spec: { sources: { interfaces: ['*'] }, targets: [{ grpc }] } }));
    expect(cluster.stderr).toMatch(/forbidden/);
  });

  it('lets the agent read Secret podspan-mirror-credentials of any namespace, and no other Secret', () => {
    for (const [ns, name] of [['tenant-a', 'podspan-mirror-credentials'], ['tenant-a', 'database-password'], ['tenant-b', 'podspan-mirror-credentials'], ['kube-system', 'bootstrap-token-abc']]) {
      if (ns === 'kube-system' && env.kubectl(['get', 'namespace', 'kube-system']).code !== 0) env.kubectl(['create', 'namespace', 'kube-system']);
      const r = env.kubectl(['-n', ns, 'create', 'secret', 'generic', name, `--from-literal=token=${ns}-${name}`, '--from-literal=ca.crt=CA']);
      expect(r.code, r.stderr).toBe(0);
    }
    const asAgent = (args: string[]) => env.kubectl(args, { as: 'agent' });
    const get = asAgent(['-n', 'tenant-a', 'get', 'secret', 'podspan-mirror-credentials', '-o', 'jsonpath={.data.token}']);
    expect(get.code, get.stderr).toBe(0);
    expect(Buffer.from(get.stdout, 'base64').toString()).toBe('tenant-a-podspan-mirror-credentials');
    for (const args of [
      ['-n', 'tenant-a', 'get', 'secret', 'database-password'],
      ['-n', 'kube-system', 'get', 'secret', 'bootstrap-token-abc'],
      ['-n', 'tenant-a', 'get', 'secrets'],
      ['get', 'secrets', '-A'],
      ['-n', 'tenant-a', 'create', 'secret', 'generic', 'x', '--from-literal=a=b'],
      ['-n', 'tenant-a', 'delete', 'secret', 'podspan-mirror-credentials'],
    ]) {
      const r = asAgent(args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(/forbidden/);
    }
    // Listing across namespaces by that one name is allowed: what the agent's watcher does.
    const list = asAgent(['get', 'secrets', '-A', '--field-selector', 'metadata.name=podspan-mirror-credentials', '-o', 'jsonpath={.items[*].metadata.namespace}']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout.split(' ').sort()).toEqual(['tenant-a', 'tenant-b']);
    // The agent cannot write sessions either.
    expect(asAgent(['-n', 'tenant-a', 'delete', 'mirrorsession', 'cart-http']).stderr).toMatch(/forbidden/);
  });

  it("the agent's watcher, with the agent's credentials, sees both kinds and its namespace's Secret with each MirrorSession, and the agent accepts them", async () => {
    const watcher = new MirrorSessionWatcher(loadKubeConfig(env.agentKubeconfig), pino({ level: 'silent' }), { backoffMs: { initial: 100, max: 1000 } });
    let latest: MirrorSessionResource[] = [];
    try {
      await watcher.start((s) => (latest = s));
      expect(watcher.synced).toBe(true);
      expect(latest.map((r) => `${r.kind} ${r.namespace}/${r.name}`)).toEqual([
        'ClusterMirrorSession /dns-headers',
        'ClusterMirrorSession /hosts',
        'MirrorSession shop/cart-http',
        'MirrorSession tenant-a/to-collector',
      ]);
      const toCollector = latest.find((r) => r.name === 'to-collector')!;
      expect(toCollector.credentialsSecret?.token.toString()).toBe('tenant-a-podspan-mirror-credentials');
      expect(latest.find((r) => r.name === 'cart-http')!.credentialsSecret).toBeUndefined(); // shop has none
      const session = sessionFromResource(toCollector);
      expect(session.name).toBe('tenant-a/to-collector');
      expect(session.credentials?.get(0)).toEqual({ token: Buffer.from('tenant-a-podspan-mirror-credentials'), ca: Buffer.from('CA') });
      expect(sessionFromResource(latest.find((r) => r.name === 'hosts')!).sources.interfaces).toEqual(['*']);

      // A rotated Secret reaches the agent through the watch.
      const patch = env.kubectl(['-n', 'tenant-a', 'patch', 'secret', 'podspan-mirror-credentials', '--type=merge', '-p', manifest({ data: { token: Buffer.from('rotated').toString('base64') } })]);
      expect(patch.code, patch.stderr).toBe(0);
      const deadline = Date.now() + 20_000;
      while (latest.find((r) => r.name === 'to-collector')?.credentialsSecret?.token.toString() !== 'rotated') {
        if (Date.now() > deadline) throw new Error('rotated Secret not seen within 20 s');
        await new Promise((r) => setTimeout(r, 100));
      }
      // What the agent asked of Secrets and was given: that one name, by field selector or by name (kubectl get above).
      const secretRequests = agentRequests(env).filter((r) => r.requestURI.includes('/secrets') && r.code === 200);
      expect(secretRequests.filter((r) => r.verb === 'watch').length).toBeGreaterThan(0);
      for (const r of secretRequests) expect(r.requestURI).toMatch(/fieldSelector=metadata\.name%3Dpodspan-mirror-credentials|\/secrets\/podspan-mirror-credentials$/);
    } finally {
      watcher.stop();
    }
  }, 60_000);
});
