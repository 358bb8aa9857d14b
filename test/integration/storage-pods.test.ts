// `podspan export` by pod, end to end with real parts: a real kube-apiserver (test/helpers/kube-env.ts)
// knows three pods on two nodes; two `podspan agent`s (node-a and node-b, host-side veths of pod
// network namespaces routed to the pods' IPs, as Calico does) mirror every pod in "shop" to two
// collectors (flows sharded) that upload to a real S3 server (test/helpers/s3-env.ts). The export
// of one pod, and of a label selector spanning both nodes, equals what tcpdump captured on those
// pods' veths (count, bytes, order), one interface per node/pod/interface.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePod } from '../helpers/fake-kube-api';
import { startCollector } from '../helpers/collector-process';
import { createPod, installAgentApi, kubeEnvUnavailable, startKubeEnv, type KubeEnv } from '../helpers/kube-env';
import { startNodeAgent, until } from '../helpers/k8s-agent';
import { addNamespaces, addPodVeth, canUseNetns, exitStatus, killStarted, removeNamespaces, stopProcess, track, trafgen, type Running } from '../helpers/netns';
import { s3EnvUnavailable, startS3Env, type S3Env } from '../helpers/s3-env';
import { podspanBin, run } from '../helpers/tools';

const unavailable = !canUseNetns ? 'they need root, iproute2 and trafgen (netsniff-ng)' : (kubeEnvUnavailable() ?? s3EnvUnavailable());
if (unavailable) console.log(`storage-by-pod tests skipped: ${unavailable}`);

const pid = process.pid;
const tag = `${pid % 100000}`;
const podIp = (n: number) => `100.${64 + (pid % 64)}.${(pid >> 6) % 256}.${100 + n}`;
const pods = [
  { n: 1, name: 'cart-a', node: 'node-a', app: 'cart', frames: 900 },
  { n: 2, name: 'web-a', node: 'node-a', app: 'web', frames: 700 },
  { n: 3, name: 'cart-b', node: 'node-b', app: 'cart', frames: 600 },
].map((p) => ({ ...p, ns: `psE${tag}p${p.n}`, host: `pe${tag}h${p.n}` }));

describe.skipIf(unavailable)('podspan export by pod, from two nodes', () => {
  let tmp: string;
  let kube: KubeEnv;
  let s3: S3Env;
  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-storage-pods-'));
    [kube, s3] = await Promise.all([startKubeEnv(), startS3Env()]);
    installAgentApi(kube, ['shop']);
    addNamespaces(pods.map((p) => p.ns));
    for (const p of pods) {
      addPodVeth(p.ns, p.host, podIp(p.n));
      createPod(kube, makePod(p.name, { node: p.node, namespace: 'shop', labels: { app: p.app }, ips: [podIp(p.n)] }));
    }
  }, 120_000);
  afterAll(async () => {
    killStarted();
    for (const p of pods) run('ip', ['link', 'del', p.host]);
    removeNamespaces(pods.map((p) => p.ns));
    await Promise.all([kube?.stop(), s3?.stop()]);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function tcpdump(dev: string, file: string): Promise<Running> {
    const child = track(spawn('tcpdump', ['-i', dev, '-w', file, '--time-stamp-precision=nano', '-U', 'udp or tcp'], { stdio: ['ignore', 'ignore', 'pipe'] }));
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const exited = exitStatus(child);
    await until(() => /listening on/.test(err));
    return { child, stderr: () => err, exited };
  }
  const frames = (file: string) =>
    run('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.len', '-e', 'frame.cap_len', '-e', 'data.data']).stdout.split('\n').filter(Boolean);
  const byTime = (lines: string[]) => [...lines].sort((x, y) => (x.split('\t')[0] < y.split('\t')[0] ? -1 : x.split('\t')[0] > y.split('\t')[0] ? 1 : 0));
  const exportCmd = (args: string[]) =>
    run(process.execPath, [podspanBin, 'export', '--store', `s3://${s3.bucket}/pods`, '--since', '-10m', ...args], { timeoutMs: 60_000, env: { ...process.env, ...s3.env } });

  it('one pod, and a selector over both nodes, equal tcpdump of their veths', async () => {
    const collectors = await Promise.all(['c1', 'c2'].map((d) => startCollector(['--out', path.join(tmp, d), '--store', `s3://${s3.bucket}/pods`], s3.env)));
    const cfg = path.join(tmp, 'agent.yaml');
    fs.writeFileSync(
      cfg,
      [
        'metrics: { listen: "127.0.0.1:0" }',
        `kubernetes: { enabled: true, kubeconfig: ${kube.agentKubeconfig} }`,
        'sessions:',
        '  - name: shop',
        '    sources: { pods: { namespaces: [shop] } }',
        '    filter: { protocols: [udp, tcp] }',
        '    analyze: true',
        `    targets: [ ${collectors.map((c) => `{ grpc: "grpc://127.0.0.1:${c.port}" }`).join(', ')} ]`,
      ].join('\n'),
    );
    const agents = await Promise.all(['node-a', 'node-b'].map((node) => startNodeAgent(cfg, node)));
    await until(async () => (await Promise.all(pods.map((p) => agents[p.node === 'node-a' ? 0 : 1].captured(`shop/${p.name}`)))).every((n) => n !== undefined), 30_000);
    const direct = pods.map((p) => path.join(tmp, `${p.name}.pcap`));
    const dumps = await Promise.all(pods.map((p, i) => tcpdump(p.host, direct[i])));
    for (const p of pods) trafgen(p.ns, 'eth0', p.frames, { sport: 'dinc(40000, 40031)', payload: 200, pps: 20000 });
    trafgen(pods[0].ns, 'eth0', 300, { sport: 'dinc(40000, 40031)', payload: 200, pps: 20000 }); // after the others: interleaved in time
    trafgen(pods[1].ns, 'eth0', 40, { proto: 'tcp', sport: 'dinc(41000, 41039)', payload: 0, pps: 2000 }); // 40 connection records (analyze)
    for (const a of agents) expect(await stopProcess(a, 'SIGTERM')).toBe(0);
    for (const d of dumps) expect(await stopProcess(d)).toBe(0);
    for (const c of collectors) expect(await stopProcess(c, 'SIGTERM')).toBe(0);
    for (const c of collectors) expect(c.stderr()).toMatch(/0 files \(0 bytes\) left in the spool, 0 dropped/);
    expect(frames(direct[0])).toHaveLength(1200);

    const one = path.join(tmp, 'cart-a.pcapng');
    const r = exportCmd(['--namespace', 'shop', '--pod', 'cart-a', '-w', one]);
    expect(r.code, r.stderr).toBe(0);
    expect(frames(one)).toEqual(frames(direct[0]));
    const names = (f: string) => new Set(run('tshark', ['-r', f, '-T', 'fields', '-e', 'frame.interface_name']).stdout.trim().split('\n'));
    expect(names(one)).toEqual(new Set([`node-a/shop/cart-a/${pods[0].host}`]));

    const carts = path.join(tmp, 'carts.pcapng');
    expect(exportCmd(['--selector', 'app=cart', '-w', carts]).code).toBe(0);
    const expected = byTime([...frames(direct[0]), ...frames(direct[2])]);
    expect(frames(carts).map((l) => l.split('\t')[0])).toEqual(expected.map((l) => l.split('\t')[0])); // time order
    expect([...frames(carts)].sort()).toEqual([...expected].sort());
    expect(names(carts)).toEqual(new Set([`node-a/shop/cart-a/${pods[0].host}`, `node-b/shop/cart-b/${pods[2].host}`]));

    // The analytics' connection records went up beside the pcapng of the agent that sent them.
    const client = new S3Client({ endpoint: s3.env.AWS_ENDPOINT_URL, region: s3.env.AWS_REGION, forcePathStyle: true, credentials: { accessKeyId: s3.env.AWS_ACCESS_KEY_ID, secretAccessKey: s3.env.AWS_SECRET_ACCESS_KEY } });
    const listed = (await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'pods/' }))).Contents!.map((o) => o.Key!);
    const flowKeys = listed.filter((k) => k.endsWith('.flows.jsonl'));
    expect(flowKeys.length).toBeGreaterThan(0);
    // BASE.flows.jsonl beside BASE_NNNNN_STAMP.pcapng (the collector's rotating name).
    for (const k of flowKeys) expect(listed.some((p) => p.startsWith(k.replace(/\.flows\.jsonl$/, '_')) && p.endsWith('.pcapng')), k).toBe(true);
    const lines = (await Promise.all(flowKeys.map(async (k) => (await (await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: k }))).Body!.transformToString()).split('\n').filter(Boolean)))).flat();
    expect(lines.filter((l) => JSON.parse(l).proto === 'tcp' && /"client_port":410\d\d/.test(l))).toHaveLength(40);

    const list = exportCmd(['--selector', 'app=web', '--list']);
    expect(list.stdout).toMatch(new RegExp(`node-a/shop/web-a/${pods[1].host} \\(\\d+ packets\\)`));
    expect(list.stdout).not.toMatch(/cart/);
  }, 180_000);
});
