// `store:` on a ClusterMirrorSession's pcap target, end to end with real parts: a real
// kube-apiserver (test/helpers/kube-env.ts) with deploy/'s CRDs and RBAC, a real S3 server
// (test/helpers/s3-env.ts), a pod's network namespace whose host-side veth the agent captures. The
// agent starts no uploader at start-up (its config file names no store); the ClusterMirrorSession
// created mid-run starts one, its rotated files and, once it is deleted, its last file are
// uploaded, `podspan export` returns every packet sent, and the uploader stops. A tenant's
// MirrorSession naming a store is refused by the API server's CEL rule and, with that rule
// removed from the CRD (an old or edited CRD), by the agent.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
const STORE_ONLY_OPERATOR = "a MirrorSession uploads nothing to object storage: store uses the agent's own credentials and bucket; send to a collector (grpc) that stores, or ask for a ClusterMirrorSession";
import { makePod } from '../helpers/fake-kube-api';
import { createPod, installAgentApi, kubeEnvUnavailable, kubectlOk, startKubeEnv, type KubeEnv } from '../helpers/kube-env';
import { startNodeAgent, until, type NodeAgent } from '../helpers/k8s-agent';
import { addNamespaces, addPodVeth, canUseNetns, killStarted, removeNamespaces, stopProcess, trafgen } from '../helpers/netns';
import { s3EnvUnavailable, startS3Env, type S3Env } from '../helpers/s3-env';
import { podspanBin, run, tsharkWarnings } from '../helpers/tools';

const unavailable = !canUseNetns ? 'they need root, iproute2 and trafgen (netsniff-ng)' : (kubeEnvUnavailable() ?? s3EnvUnavailable());
if (unavailable) console.log(`agent store tests skipped: ${unavailable}`);

const pid = process.pid;
const tag = `${pid % 100000}`;
const podIp = `100.${64 + (pid % 64)}.${(pid >> 6) % 256}.200`;
const pod = { ns: `psS${tag}p1`, host: `ps${tag}h1` };
// Resource sessions write only under /var/lib/podspan (the DaemonSet's hostPath): a folder of this run's own there.
const filesDir = `/var/lib/podspan/test-store-${pid}`;
const FRAMES = 1500;
const PAYLOAD = 300;

const manifest = (kind: string, name: string, spec: object, namespace?: string) =>
  JSON.stringify({ apiVersion: 'podspan.io/v1alpha1', kind, metadata: { name, ...(namespace ? { namespace } : {}) }, spec });

describe.skipIf(unavailable)('store: on a ClusterMirrorSession', () => {
  let tmp: string;
  let kube: KubeEnv;
  let s3: S3Env;
  let agent: NodeAgent | undefined;
  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-agent-store-'));
    [kube, s3] = await Promise.all([startKubeEnv(), startS3Env()]);
    installAgentApi(kube, ['shop']);
    addNamespaces([pod.ns]);
    addPodVeth(pod.ns, pod.host, podIp);
    createPod(kube, makePod('cart-1', { node: 'test-node', namespace: 'shop', labels: { app: 'cart' }, ips: [podIp] }));
  }, 120_000);
  afterAll(async () => {
    killStarted();
    run('ip', ['link', 'del', pod.host]);
    removeNamespaces([pod.ns]);
    await Promise.all([kube?.stop(), s3?.stop()]);
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.rmSync(filesDir, { recursive: true, force: true });
  });

  const metric = async (name: string) => {
    const line = (await (await fetch(agent!.metricsUrl)).text()).split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? undefined : Number(line.split(' ')[1]);
  };

  it('uploads the closed files of a ClusterMirrorSession created mid-run, export returns its packets, and the uploader stops with it', async () => {
    const cfg = path.join(tmp, 'agent.yaml');
    fs.writeFileSync(cfg, ['metrics: { listen: "127.0.0.1:0" }', `kubernetes: { enabled: true, kubeconfig: ${kube.agentKubeconfig}, statusIntervalSeconds: 1 }`].join('\n'));
    agent = await startNodeAgent(cfg, 'test-node', s3.env);
    expect(await metric('podspan_store_uploaded_files_total')).toBeUndefined(); // no uploader yet

    kubectlOk(kube, ['apply', '-f', '-'], manifest('ClusterMirrorSession', 'carts', {
      sources: { pods: { namespaces: ['shop'], selector: { app: 'cart' } } },
      filter: { protocols: ['udp'] },
      // ~100 kB files: several rotate away while the session runs.
      targets: [{ pcap: { dir: filesDir, rotateMB: 0.1, store: `s3://${s3.bucket}/agents` } }],
    }));
    await until(async () => (await agent!.captured('shop/cart-1')) === 0, 20_000);
    await until(() => /store: uploads started/.test(agent!.stderr()), 10_000, 'the store line'); // logged asynchronously
    trafgen(pod.ns, 'eth0', FRAMES, { payload: PAYLOAD, sport: 'dinc(40000, 40015)', pps: 20_000 });
    await until(async () => (await agent!.captured('shop/cart-1')) === FRAMES);
    // Files rotated away from are uploaded while the session runs.
    await until(async () => ((await metric('podspan_store_uploaded_files_total')) ?? 0) >= 2, 20_000);

    // Deleted: its capture stops, its last file is uploaded, then the uploader stops.
    kubectlOk(kube, ['delete', 'clustermirrorsession', 'carts']);
    await until(() => /store: no session uploads there any more: uploads stopped/.test(agent!.stderr()), 30_000);
    expect(await metric('podspan_store_spool_files')).toBe(0);
    expect(await metric('podspan_store_spool_dropped_files_total')).toBe(0);
    expect(await metric('podspan_store_upload_failures_total')).toBe(0);
    // Uploaded and gone from the node (no keepLocal).
    expect(fs.readdirSync(path.join(filesDir, 'cluster.carts')).filter((n) => n.endsWith('.pcapng'))).toEqual([]);

    const out = path.join(tmp, 'cart-1.pcapng');
    const r = run(process.execPath, [podspanBin, 'export', '--store', `s3://${s3.bucket}/agents`, '--since', '-10m', '--namespace', 'shop', '--pod', 'cart-1', '-w', out], {
      timeoutMs: 60_000,
      env: { ...process.env, ...s3.env },
    });
    expect(r.code, r.stderr).toBe(0);
    const lines = run('tshark', ['-r', out, '-T', 'fields', '-e', 'frame.len', '-e', 'udp.srcport', '-e', 'frame.interface_description']).stdout.trim().split('\n');
    expect(lines).toHaveLength(FRAMES);
    // Every frame sent, once: 1500 frames over 16 source ports in turn (trafgen's dinc), whole (14+20+8+300 bytes).
    expect(new Set(lines.map((l) => l.split('\t')[0]))).toEqual(new Set(['342']));
    const perPort = new Map<string, number>();
    for (const l of lines) perPort.set(l.split('\t')[1], (perPort.get(l.split('\t')[1]) ?? 0) + 1);
    expect([...perPort.values()].sort()).toEqual([...Array(16)].map((_, i) => (i < FRAMES % 16 ? 94 : 93)).sort());
    expect(new Set(lines.map((l) => l.split('\t')[2]))).toEqual(new Set(['node test-node, pod shop/cart-1 (app=cart), session cluster.carts']));
    expect(tsharkWarnings(out)).toBe('');
    expect(await stopProcess(agent, 'SIGTERM')).toBe(0);
    agent = undefined;
  }, 120_000);

  it("refuses a tenant's MirrorSession naming a store: the API server's CEL rule, and the agent when the CRD lacks it", async () => {
    const tenant = manifest('MirrorSession', 'upload', { sources: { pods: { selector: { app: 'cart' } } }, targets: [{ pcap: { dir: '/var/lib/podspan/t', store: `s3://${s3.bucket}/tenant` } }] }, 'shop');
    const refused = kube.kubectl(['apply', '-f', '-'], { stdin: tenant });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(STORE_ONLY_OPERATOR);

    // An old or edited CRD without the targets' rules lets it through; the agent refuses it all the same.
    const crd = JSON.parse(kubectlOk(kube, ['get', 'crd', 'mirrorsessions.podspan.io', '-o', 'json'])) as { spec: { versions: { schema: { openAPIV3Schema: Record<string, any> } }[] } };
    delete crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.targets.items['x-kubernetes-validations'];
    kubectlOk(kube, ['replace', '-f', '-'], JSON.stringify(crd));
    await until(() => kube.kubectl(['apply', '-f', '-'], { stdin: tenant }).code === 0, 20_000);

    const cfg = path.join(tmp, 'agent-tenant.yaml');
    fs.writeFileSync(cfg, ['metrics: { listen: "127.0.0.1:0" }', `kubernetes: { enabled: true, kubeconfig: ${kube.agentKubeconfig}, statusIntervalSeconds: 1 }`].join('\n'));
    agent = await startNodeAgent(cfg, 'test-node', s3.env);
    await until(() => /resource refused, not run/.test(agent!.stderr()), 20_000);
    expect(agent.stderr()).toContain(`MirrorSession shop/upload: targets[0].pcap.store: ${STORE_ONLY_OPERATOR}`);
    expect(await agent.captured('shop/cart-1')).toBeUndefined();
    expect(agent.stderr()).not.toMatch(/store: uploads started/);
    const status = () => kube.kubectl(['-n', 'shop', 'get', 'mirrorsession', 'upload', '-o', 'jsonpath={.status.nodes[0].reason}']).stdout;
    await until(() => status() === 'Refused', 20_000);
    expect(await stopProcess(agent, 'SIGTERM')).toBe(0);
    agent = undefined;
  }, 90_000);
});
