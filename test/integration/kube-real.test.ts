// deploy/ against a real kube-apiserver (with etcd, RBAC and token authentication; see
// test/helpers/kube-env.ts): the install applies cleanly, the CRDs' schema accepts the examples and
// refuses bad sessions naming the field (the shared cases, as ClusterMirrorSessions: they use host
// interfaces and node files, which only an operator's session may; tenancy-k8s.test.ts has the
// MirrorSession's own rules), and the agent's own token can read exactly what
// deploy/rbac.yaml promises and nothing more. test/unit/deploy.test.ts checks the same schema with
// ajv, from the same cases (test/helpers/mirrorsession-cases.ts).
import path from 'node:path';
import { sessionFromResource } from '../../src/agent/tenancy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeEnvUnavailable, startKubeEnv, waitEstablished, type KubeEnv } from '../helpers/kube-env';
import { badSpecs, baseSpec, dirsOutsideHostPath, goodSpecs } from '../helpers/mirrorsession-cases';
import { repoRoot } from '../helpers/tools';

const unavailable = kubeEnvUnavailable();
if (unavailable) console.log(`real Kubernetes API tests skipped: ${unavailable}`);

const deploy = (f: string) => path.join(repoRoot, 'deploy', f);
const session = (name: string, spec: unknown) =>
  JSON.stringify({ apiVersion: 'podspan.io/v1alpha1', kind: 'MirrorSession', metadata: { name, namespace: 'shop' }, spec });
const clusterSession = (name: string, spec: unknown) => JSON.stringify({ apiVersion: 'podspan.io/v1alpha1', kind: 'ClusterMirrorSession', metadata: { name }, spec });

describe.skipIf(unavailable)('deploy/ on a real kube-apiserver', () => {
  let kube: KubeEnv;
  beforeAll(async () => {
    const t0 = Date.now();
    kube = await startKubeEnv();
    console.log(`kube-apiserver + etcd ready in ${Date.now() - t0} ms`);
  }, 120_000);
  afterAll(async () => {
    await kube?.stop();
  });

  /** Creating a ClusterMirrorSession, only as a server-side dry run: the verdict of validation. */
  const dryRun = (name: string, spec: unknown) => kube.kubectl(['create', '--dry-run=server', '-f', '-'], { stdin: clusterSession(name, spec) });

  it('the agent token is refused before deploy/rbac.yaml grants it anything', () => {
    const r = kube.kubectl(['get', 'pods', '--all-namespaces'], { as: 'agent' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/forbidden: User "system:serviceaccount:podspan:podspan-agent" cannot list resource "pods"/);
  });

  it('applies namespace.yaml, both CRDs and rbac.yaml; the CRDs become established', () => {
    kube.apply([deploy('namespace.yaml'), deploy('crd-mirrorsession.yaml'), deploy('crd-clustermirrorsession.yaml'), deploy('rbac.yaml')]);
    waitEstablished(kube, ['mirrorsessions.podspan.io', 'clustermirrorsessions.podspan.io']);
    const names = kube.kubectl(['get', 'crd', 'mirrorsessions.podspan.io', '-o', 'jsonpath={.status.acceptedNames.kind} {.status.acceptedNames.shortNames}']);
    expect(names.stdout).toBe('MirrorSession ["ms"]');
    expect(kube.kubectl(['get', 'clusterrolebinding', 'podspan-agent', '-o', 'jsonpath={.subjects[0].name}']).stdout).toBe('podspan-agent');
    expect(kube.kubectl(['create', 'namespace', 'shop']).code).toBe(0);
  });

  it('accepts the whole install (kubectl apply -k deploy/) with no warning', () => {
    const r = kube.kubectl(['apply', '-k', path.join(repoRoot, 'deploy'), '--dry-run=server']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(''); // e.g. no Pod Security warning for the DaemonSet in the privileged namespace
    expect(r.stdout).toMatch(/daemonset.apps\/podspan-agent (created|configured|unchanged) \(server dry run\)/);
  });

  it('stores the example MirrorSession with the schema defaults filled in', () => {
    kube.apply([deploy('example-mirrorsession.yaml')]);
    const r = kube.kubectl(['get', 'ms', 'cart-http', '-n', 'shop', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const spec = JSON.parse(r.stdout).spec;
    expect(spec.sources.pods).toEqual({ selector: { app: 'cart' } }); // a tenant's: its own namespace
    expect(spec).toMatchObject({ sampleOneIn: 1, countSampledOut: true, truncate: 0, priority: 0, filter: { direction: 'both', ports: [8080] } });
  });

  it.each(goodSpecs)('accepts: %s', (what, spec) => {
    const r = dryRun('good', spec);
    expect(r.code, `${what}: ${r.stderr}`).toBe(0);
  });

  it.each(badSpecs)('refuses, naming the field: %s', (what, spec, field) => {
    const r = dryRun('bad', spec);
    expect(r.code, what).toBe(1);
    expect(r.stderr, what).toContain(field);
  });

  it.each([
    ['keepFiles', { keepFiles: 3 }, 'keepFiles deletes files that may not be uploaded yet: with store, storeSpoolMB bounds the disk instead'],
    ['rotateSeconds beyond an hour', { rotateSeconds: 7200 }, 'rotateSeconds with store: at most 3600 (objects are filed by hour)'],
    ['format pcap', { format: 'pcap' }, 'store needs format pcapng (the index reads its interface blocks)'],
  ])('refuses a pcap target with store and %s, with the agent\'s own message', (what, extra, message) => {
    const spec = { ...baseSpec, targets: [{ pcap: { dir: '/var/lib/podspan/s3', store: 's3://captures/x', ...extra } }] };
    const r = dryRun('store', spec);
    expect(r.code, what).toBe(1);
    expect(r.stderr, what).toContain(message);
    expect(() => sessionFromResource({ kind: 'ClusterMirrorSession', namespace: '', name: 'store', resourceVersion: '1', spec }, '/')).toThrow(message);
    expect(dryRun('store', { ...spec, targets: [{ pcap: { dir: '/var/lib/podspan/s3', store: 's3://captures/x' } }] }).code).toBe(0);
  });

  it('refuses files outside /var/lib/podspan and names with dots', () => {
    for (const dir of dirsOutsideHostPath) {
      for (const kind of ['pcap', 'streams'] as const) {
        const r = dryRun('outside', { ...baseSpec, targets: [{ [kind]: { dir } }] });
        expect(r.code, `${kind} ${dir}`).toBe(1);
        expect(r.stderr, `${kind} ${dir}`).toContain(`spec.targets[0].${kind}.dir`);
      }
    }
    const dotted = dryRun('cart.v2', baseSpec);
    expect(dotted.code).toBe(1);
    expect(dotted.stderr).toContain('metadata.name');
    const dottedSpecName = dryRun('dots', { ...baseSpec, name: 'a.b' });
    expect(dottedSpecName.code).toBe(1);
    expect(dottedSpecName.stderr).toContain('spec.name');
  });

  describe('the agent token (deploy/rbac.yaml)', () => {
    const asAgent = (...args: string[]) => kube.kubectl(args, { as: 'agent' });

    it('is the ServiceAccount rbac.yaml binds', () => {
      const r = asAgent('auth', 'whoami', '-o', 'json');
      expect(r.code, r.stderr).toBe(0);
      const user = JSON.parse(r.stdout).status.userInfo;
      expect(user.username).toBe('system:serviceaccount:podspan:podspan-agent');
      expect(user.groups).toEqual(expect.arrayContaining(['system:serviceaccounts', 'system:serviceaccounts:podspan']));
    });

    it('lists and watches pods and MirrorSessions in every namespace', () => {
      const ms = asAgent('get', 'mirrorsessions', '--all-namespaces', '-o', 'name');
      expect(ms.code, ms.stderr).toBe(0);
      expect(ms.stdout.trim()).toBe('mirrorsession.podspan.io/cart-http');
      const pods = asAgent('get', 'pods', '--all-namespaces');
      expect(pods.code, pods.stderr).toBe(0);
      for (const url of ['/api/v1/pods?watch=1&timeoutSeconds=1', '/apis/podspan.io/v1alpha1/mirrorsessions?watch=1&timeoutSeconds=1']) {
        const w = asAgent('get', '--raw', url);
        expect(w.code, `${url}: ${w.stderr}`).toBe(0);
      }
      expect(asAgent('get', 'ms', 'cart-http', '-n', 'shop', '-o', 'jsonpath={.metadata.name}').stdout).toBe('cart-http');
    });

    it('may write a session\'s status (not its spec through it) and create Events', () => {
      const status = JSON.stringify({ apiVersion: 'podspan.io/v1alpha1', kind: 'MirrorSession', metadata: { name: 'cart-http', namespace: 'shop' }, status: { nodes: [{ node: 'rbac-check', pods: 0 }] } });
      const r = kube.kubectl(['apply', '--server-side', '--subresource=status', '--field-manager=podspan-agent/rbac-check', '-f', '-'], { as: 'agent', stdin: status });
      expect(r.code, r.stderr).toBe(0);
      expect(kube.kubectl(['get', 'ms', 'cart-http', '-n', 'shop', '-o', 'jsonpath={.status.nodes[0].node}']).stdout).toBe('rbac-check');
      // Through /status a spec change is ignored by the server; without /status it is forbidden.
      const spec = kube.kubectl(['apply', '--server-side', '--field-manager=podspan-agent/rbac-check', '-f', '-'], { as: 'agent', stdin: session('cart-http', { ...baseSpec, priority: 7 }) });
      expect(spec.code).toBe(1);
      expect(spec.stderr).toMatch(/forbidden: User "system:serviceaccount:podspan:podspan-agent" cannot patch resource "mirrorsessions"/);
      const event = JSON.stringify({ apiVersion: 'v1', kind: 'Event', metadata: { name: 'rbac-check.1', namespace: 'shop' }, involvedObject: { kind: 'MirrorSession', name: 'cart-http', namespace: 'shop' }, reason: 'Check', message: 'm', type: 'Normal' });
      const e = kube.kubectl(['create', '-f', '-'], { as: 'agent', stdin: event });
      expect(e.code, e.stderr).toBe(0);
      // Clean: the status entry goes with its manager's empty apply.
      kube.kubectl(['apply', '--server-side', '--subresource=status', '--field-manager=podspan-agent/rbac-check', '-f', '-'], { as: 'agent', stdin: JSON.stringify({ apiVersion: 'podspan.io/v1alpha1', kind: 'MirrorSession', metadata: { name: 'cart-http', namespace: 'shop' }, status: {} }) });
    });

    it('cannot read secrets or configmaps, nor write anything else', () => {
      const denied: [string, string[], string?][] = [
        ['list secrets', ['get', 'secrets', '--all-namespaces']],
        ['get a secret', ['get', 'secret', 'x', '-n', 'podspan']],
        ['list configmaps', ['get', 'configmaps', '-n', 'podspan']],
        ['create a MirrorSession', ['create', '-f', '-'], session('mine', baseSpec)],
        ['delete a MirrorSession', ['delete', 'ms', 'cart-http', '-n', 'shop']],
        ['label a MirrorSession', ['label', 'ms', 'cart-http', '-n', 'shop', 'x=y']],
        ['create a pod', ['run', 'p', '--image', 'x', '-n', 'shop']],
        ['create a namespace', ['create', 'namespace', 'agent-made']],
        ['delete its own binding', ['delete', 'clusterrolebinding', 'podspan-agent']],
        ['delete an Event', ['delete', 'events', '--all', '-n', 'shop']],
      ];
      for (const [what, args, stdin] of denied) {
        const r = kube.kubectl(args, { as: 'agent', stdin });
        expect(r.code, what).toBe(1);
        expect(r.stderr, what).toMatch(/forbidden: User "system:serviceaccount:podspan:podspan-agent" cannot/);
      }
      // Nothing changed behind the refusals.
      expect(kube.kubectl(['get', 'ms', '-n', 'shop', '-o', 'name']).stdout.trim()).toBe('mirrorsession.podspan.io/cart-http');
      expect(kube.kubectl(['get', 'namespace', 'agent-made']).code).toBe(1);
    });
  });
});
