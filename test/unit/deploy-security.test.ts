// deploy/ is secure by default, checked statically (no cluster, no Docker engine): the collector
// requires TLS and a bearer token, the agents dial it with TLS, the CA and the token from
// Secrets mounted read-only, a NetworkPolicy admits only the agents to its gRPC port, no
// container, image or unit holds CAP_NET_ADMIN, and no metrics endpoint listens on 0.0.0.0.
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { agentConfigSchema } from '../../src/config/agent-config';
import { parseForwardTarget } from '../../src/config/forward-options';
import { parseCollectorFlags } from '../../src/config/collector-options';
import { repoRoot } from '../helpers/tools';

const deployDir = path.join(repoRoot, 'deploy');
const read = (f: string) => fs.readFileSync(path.join(deployDir, f), 'utf8');
const docs = (f: string) => parseAllDocuments(read(f)).map((d) => d.toJS() as Record<string, unknown>);
const find = <T>(f: string, kind: string) => docs(f).find((d) => d.kind === kind) as T;

const daemonSet = find<IDaemonSet>('agent-daemonset.yaml', 'DaemonSet');
const agentPod = daemonSet.spec!.template.spec!;
const agent = agentPod.containers.find((c) => c.name === 'agent')!;
const collector = find<IDeployment>('collector.yaml', 'Deployment');
const collectorPod = collector.spec!.template.spec!;
const collectorC = collectorPod.containers[0];
const policy = find<INetworkPolicy>('networkpolicy.yaml', 'NetworkPolicy');

/** The value following `flag` in a container's args. */
const arg = (c: IContainer, flag: string) => {
  const i = (c.args ?? []).indexOf(flag);
  return i < 0 ? undefined : c.args![i + 1];
};
/** The Secret (name, key) mounted at `file` in container `c` of `pod`, and whether read-only. */
function secretAt(pod: IPodSpec, c: IContainer, file: string): { secret: string; key: string; readOnly: boolean } | undefined {
  for (const m of c.volumeMounts ?? []) {
    if (!file.startsWith(`${m.mountPath}/`)) continue;
    const v = pod.volumes?.find((x) => x.name === m.name);
    const rel = file.slice(m.mountPath.length + 1);
    const item = v?.secret?.items?.find((i) => i.path === rel);
    if (v?.secret && (item || !v.secret.items)) return { secret: v.secret.secretName!, key: item?.key ?? rel, readOnly: m.readOnly === true };
  }
  return undefined;
}

/** Every gRPC target in deploy/, `grpc: grpc://…`, in manifests and commented-out examples alike. */
const grpcUrls = fs
  .readdirSync(deployDir)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => [...read(f).matchAll(/grpc:\s+(grpc:\/\/\S+)/g)].map((m) => ({ file: f, url: m[1] })));
const noComments = (t: string) => t.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');

describe('collector: TLS and a token, required', () => {
  it('serves TLS with the certificate and key from the podspan-collector-tls Secret, read-only', () => {
    expect(secretAt(collectorPod, collectorC, arg(collectorC, '--tls-cert')!)).toEqual({ secret: 'podspan-collector-tls', key: 'tls.crt', readOnly: true });
    expect(secretAt(collectorPod, collectorC, arg(collectorC, '--tls-key')!)).toEqual({ secret: 'podspan-collector-tls', key: 'tls.key', readOnly: true });
  });

  it('requires the bearer token from the podspan-token Secret, and is never told --insecure', () => {
    expect(secretAt(collectorPod, collectorC, arg(collectorC, '--token-file')!)).toEqual({ secret: 'podspan-token', key: 'token', readOnly: true });
    expect(collectorC.args).not.toContain('--insecure');
  });

  it('accepts no unauthenticated VXLAN by default', () => {
    expect(collectorC.args).not.toContain('--vxlan-listen');
    expect((collectorC.ports ?? []).filter((p) => p.protocol === 'UDP')).toEqual([]);
  });
});

describe('agents: every gRPC target uses TLS with the CA and the token', () => {
  it('finds the targets (the ConfigMap example and the example sessions)', () => {
    expect(grpcUrls.map((u) => u.file).sort()).toEqual(['agent-configmap.yaml', 'example-clustermirrorsession.yaml', 'example-mirrorsession.yaml']);
  });

  // The operator's sessions read the CA and token the DaemonSet mounts; a tenant's MirrorSession
  // may name no file on the node, and takes both from its namespace's Secret instead.
  it.each(grpcUrls)('$file: $url', ({ file, url }) => {
    const t = parseForwardTarget(url);
    if (t.kind !== 'grpc') throw new Error('not grpc');
    expect(t.tls).toBeDefined();
    expect(t.insecure).toBe(false);
    if (file === 'example-mirrorsession.yaml') {
      expect(t.tokenFile).toBeUndefined();
      expect(read(file)).toMatch(/^\s+credentials: \{ token: token, ca: ca\.crt \}$/m);
      return;
    }
    expect(secretAt(agentPod, agent, t.tls!.ca!)).toEqual({ secret: 'podspan-ca', key: 'ca.crt', readOnly: true });
    expect(secretAt(agentPod, agent, t.tokenFile!)).toEqual({ secret: 'podspan-token', key: 'token', readOnly: true });
  });

  it('mounts only the CA of the TLS material: never the collector key', () => {
    const secrets = (agentPod.volumes ?? []).filter((v) => v.secret).map((v) => [v.secret!.secretName, v.secret!.items?.map((i) => i.key)]);
    expect(secrets).toEqual([
      ['podspan-ca', ['ca.crt']],
      ['podspan-token', ['token']],
    ]);
  });
});

describe('NetworkPolicy podspan-collector', () => {
  const selects = (labels: Record<string, string> | undefined) =>
    Object.entries(policy.spec!.podSelector.matchLabels ?? {}).every(([k, v]) => labels?.[k] === v);

  it('selects the collector pods (and not the agents), for ingress', () => {
    expect(selects(collector.spec!.template.metadata?.labels)).toBe(true);
    expect(selects(daemonSet.spec!.template.metadata?.labels)).toBe(false);
    expect(policy.spec!.policyTypes).toEqual(['Ingress']);
    expect(policy.metadata?.namespace).toBe(collector.metadata?.namespace);
  });

  it('lets only the agents (pods, or hostNetwork agents by node address) reach gRPC, and nothing reach another port', () => {
    const rules = policy.spec!.ingress ?? [];
    const grpcRule = rules.filter((r) => r.ports?.some((p) => p.port === 50051));
    expect(grpcRule).toHaveLength(1);
    expect(grpcRule[0].ports).toEqual([{ protocol: 'TCP', port: 50051 }]);
    const from = grpcRule[0].from ?? [];
    expect(from.length).toBeGreaterThan(0); // an empty `from` would admit everyone
    for (const peer of from) {
      if (peer.podSelector) {
        expect(peer.namespaceSelector).toBeUndefined(); // this namespace only
        expect(peer.podSelector.matchLabels).toEqual(daemonSet.spec!.selector.matchLabels);
      } else {
        expect(peer.ipBlock?.cidr).toMatch(/^[0-9.]+\/\d+$/);
        expect(peer.ipBlock!.cidr).not.toBe('0.0.0.0/0');
      }
    }
    // Every rule names its ports and its sources: nothing is open to all.
    for (const r of rules) {
      expect(r.ports?.length).toBeGreaterThan(0);
      expect(r.from?.length).toBeGreaterThan(0);
      for (const p of r.ports!) expect([50051, 9090]).toContain(p.port);
    }
  });

  it('is installed by the kustomization', () => {
    expect((parseYaml(read('kustomization.yaml')) as { resources: string[] }).resources).toContain('networkpolicy.yaml');
  });
});

describe('no CAP_NET_ADMIN anywhere', () => {
  it('not in the DaemonSet: NET_RAW alone, in every podspan container that adds any', () => {
    expect(agent.securityContext?.capabilities).toEqual({ drop: ['ALL'], add: ['NET_RAW'] });
    for (const c of [...(agentPod.initContainers ?? []), ...agentPod.containers]) expect(c.securityContext?.capabilities?.add ?? []).not.toContain('NET_ADMIN');
  });

  it('not in the image (setcap cap_net_raw+eip) nor in the systemd unit', () => {
    const dockerfile = noComments(fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8'));
    expect(dockerfile).toMatch(/setcap cap_net_raw\+eip /);
    expect(dockerfile).not.toMatch(/net_admin/i);
    const unit = noComments(read('podspan-agent.service'));
    expect(unit).toMatch(/^AmbientCapabilities=CAP_NET_RAW$/m);
    expect(unit).toMatch(/^CapabilityBoundingSet=CAP_NET_RAW$/m);
    expect(unit).not.toMatch(/NET_ADMIN/);
  });
});

describe('metrics are not served on 0.0.0.0', () => {
  const podIp = (c: IContainer) => c.env?.find((e) => e.name === 'POD_IP')?.valueFrom?.fieldRef?.fieldPath;

  it('agent: the ConfigMap says loopback, the DaemonSet overrides it with the pod (= node) IP', () => {
    const config = agentConfigSchema.parse(parseYaml(find<{ data: Record<string, string> }>('agent-configmap.yaml', 'ConfigMap').data['agent.yaml']));
    expect(config.metrics.listen).toBe('127.0.0.1:9090');
    expect(podIp(agent)).toBe('status.podIP');
    expect(agent.env?.find((e) => e.name === 'PODSPAN_METRICS_LISTEN')?.value).toBe('$(POD_IP):9090');
    // The variable it refers to comes first: Kubernetes expands only earlier ones.
    const names = agent.env!.map((e) => e.name);
    expect(names.indexOf('POD_IP')).toBeLessThan(names.indexOf('PODSPAN_METRICS_LISTEN'));
  });

  it('collector: the pod IP', () => {
    expect(podIp(collectorC)).toBe('status.podIP');
    expect(arg(collectorC, '--metrics-listen')).toBe('$(POD_IP):9090');
  });

  it('nothing in deploy/ listens on 0.0.0.0 but the collector gRPC port (which the policy guards)', () => {
    const hits = fs
      .readdirSync(deployDir)
      .filter((f) => /\.(yaml|service)$/.test(f))
      .flatMap((f) => noComments(read(f)).split('\n').filter((l) => l.includes('0.0.0.0')).map((l) => `${f}: ${l.trim()}`));
    expect(hits).toEqual(['collector.yaml: - 0.0.0.0:50051']);
  });
});

describe('deploy/cert-manager component', () => {
  const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  it.skipIf(kubectl.status !== 0)('renders with the base: the collector certificate, and agents read its ca.crt', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-kz-'));
    try {
      fs.cpSync(deployDir, tmp, { recursive: true });
      fs.appendFileSync(path.join(tmp, 'kustomization.yaml'), 'components:\n  - cert-manager\n');
      const r = spawnSync('kubectl', ['kustomize', tmp], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const objs = parseAllDocuments(r.stdout).map((d) => d.toJS() as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
      const cert = objs.find((o) => o.kind === 'Certificate' && o.spec.secretName === 'podspan-collector-tls');
      expect(cert?.spec.dnsNames).toContain('podspan-collector.podspan.svc');
      const ds = objs.find((o) => o.kind === 'DaemonSet');
      const ca = ds!.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'collector-ca');
      expect(ca.secret).toMatchObject({ secretName: 'podspan-collector-tls', items: [{ key: 'ca.crt', path: 'ca.crt' }] });
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('scripts/make-collector-certs.sh --print', () => {
  const tools = ['kubectl', 'openssl'].every((t) => spawnSync(t, t === 'kubectl' ? ['version', '--client'] : ['version']).status === 0);
  it.skipIf(!tools)('makes exactly the Secrets and keys the manifests mount, and a certificate for the name agents dial', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-certs-'));
    try {
      const r = spawnSync('sh', [path.join(repoRoot, 'scripts', 'make-collector-certs.sh'), '--out', path.join(tmp, 'pki'), '--print'], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const made = new Map(
        parseAllDocuments(r.stdout)
          .map((d) => d.toJS() as { kind: string; type?: string; metadata: { name: string; namespace: string }; data: Record<string, string> })
          .map((o) => [o.metadata.name, o]),
      );
      expect([...made.values()].every((o) => o.kind === 'Secret' && o.metadata.namespace === 'podspan')).toBe(true);
      expect(made.get('podspan-collector-tls')?.type).toBe('kubernetes.io/tls');
      // Every Secret key a manifest mounts exists, and nothing more is made.
      const mounted = [agentPod, collectorPod].flatMap((pod) => (pod.volumes ?? []).flatMap((v) => (v.secret ? v.secret.items!.map((i) => `${v.secret!.secretName}/${i.key}`) : [])));
      for (const m of mounted) {
        const [name, key] = m.split('/');
        expect(made.get(name)?.data[key], m).toBeDefined();
      }
      expect([...made.keys()].sort()).toEqual([...new Set(mounted.map((m) => m.split('/')[0]))].sort());
      // The certificate is valid for the host every deploy/ target dials, and signed by the CA the agents get.
      const pem = (name: string, key: string) => Buffer.from(made.get(name)!.data[key], 'base64');
      const cert = new X509Certificate(pem('podspan-collector-tls', 'tls.crt'));
      for (const { url } of grpcUrls) expect(cert.checkHost(new URL(url).hostname), url).toBeDefined();
      expect(cert.verify(new X509Certificate(pem('podspan-ca', 'ca.crt')).publicKey)).toBe(true);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('a token never crosses the network in the clear unless asked', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-tok-'));
  const token = path.join(tmp, 'token');
  fs.writeFileSync(token, 'secret\n');
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('agent: a grpc:// URL with token-file and no TLS is refused with one line naming it', () => {
    const url = `grpc://collector:50051?token-file=${token}`;
    expect(() => parseForwardTarget(url)).toThrow(`--forward ${url}: token-file without TLS would send the token in the clear; add tls=1&ca=FILE, or insecure=1 (--insecure) to allow it`);
  });

  it('agent: allowed with insecure=1 in the URL or --insecure, and marked so (the forwarder warns once)', () => {
    expect(parseForwardTarget(`grpc://collector:50051?token-file=${token}&insecure=1`)).toMatchObject({ insecure: true, tls: undefined, tokenFile: token });
    expect(parseForwardTarget(`grpc://collector:50051?token-file=${token}`, { insecure: true })).toMatchObject({ insecure: true });
    expect(parseForwardTarget(`grpc://collector:50051?tls=1&token-file=${token}`)).toMatchObject({ insecure: false, tls: {} });
  });

  it('collector: --token-file without --tls-cert is refused unless --insecure', () => {
    expect(() => parseCollectorFlags({ listen: '127.0.0.1:0', out: tmp, tokenFile: token })).toThrow(
      '--token-file without --tls-cert/--tls-key: agents would send the token in the clear; add TLS, or --insecure to allow it',
    );
    expect(parseCollectorFlags({ listen: '127.0.0.1:0', out: tmp, tokenFile: token, insecure: true }).token).toBe('secret');
  });
});
