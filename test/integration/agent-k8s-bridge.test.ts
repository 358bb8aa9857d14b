// `podspan agent` in a cluster whose CNI bridges pods (bridge/flannel/kindnet cni0): every pod's
// veth is a port of one Linux bridge holding the gateway address of the pods' /24, so the route to
// a pod names the bridge and only the neighbour table and the bridge's fdb tell which port is the
// pod's. Also hostNetwork pods, which have no interface of their own: captured on "any", filtered
// by their container ports. The API is a real kube-apiserver (test/helpers/kube-env.ts) and the
// agent uses its ServiceAccount's token; pods are created and deleted as agent-k8s.test.ts does.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePod } from '../helpers/fake-kube-api';
import { createPod, installAgentApi, kubeEnvUnavailable, kubectlOk, startKubeEnv, type KubeEnv } from '../helpers/kube-env';
import { addNamespaces, canUseNetns, inNs, ip, killStarted, removeNamespaces, stopProcess } from '../helpers/netns';
import { startNodeAgent, until } from '../helpers/k8s-agent';
import { capinfos, run, tsharkWarnings } from '../helpers/tools';

const kubeUnavailable = kubeEnvUnavailable();
if (!canUseNetns) console.log('agent Kubernetes bridge/hostNetwork tests skipped: they need root, iproute2 and trafgen (netsniff-ng)');
else if (kubeUnavailable) console.log(`agent Kubernetes bridge/hostNetwork tests skipped: ${kubeUnavailable}`);

const pid = process.pid;
const tag = `${pid % 100000}`;
// Third octets other than agent-k8s.test.ts's for the same PID, so the two never share a route.
const net = `100.${64 + (pid % 64)}.${((pid >> 6) + 128) % 256}`;
const hostNet = `100.${64 + (pid % 64)}.${((pid >> 6) + 129) % 256}`;
const gateway = `${net}.1`;
const bridge = `pb${tag}br`;
const podA = { ns: `psB${tag}a`, host: `pb${tag}a`, ip: `${net}.2` };
const podB = { ns: `psB${tag}b`, host: `pb${tag}b`, ip: `${net}.3` };
// A plain routed veth for the hostNetwork test: on "any" a bridged frame would be seen twice (port and bridge).
const client = { ns: `psB${tag}c`, host: `pb${tag}c`, ip: `${hostNet}.2`, hostIp: `${hostNet}.1` };
// Below the ephemeral range (32768+), so no connection of this host's own uses them as a source port.
const [port1, port2, otherPort] = [20000, 21000, 22000].map((p) => p + (pid % 1000));

/** `count` TCP connection attempts or UDP datagrams to `to`:`port`, each through the kernel's own stack, from `ns` (or the host). */
function send(ns: string | undefined, proto: 'udp' | 'tcp', to: string, port: number, count: number): void {
  const script = `for i in $(seq ${count}); do echo podspan 2>/dev/null > /dev/${proto}/${to}/${port}; done; true`;
  if (ns) inNs(ns, ['bash', '-c', script]);
  else execFileSync('bash', ['-c', script], { stdio: 'pipe', timeout: 30_000 });
}

/** A veth from namespace `ns` (eth0) to the host (`host`), IPv6 off on the host side (no frames of its own). */
function veth(ns: string, host: string): void {
  ip('link', 'add', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
  run('sysctl', ['-qw', `net.ipv6.conf.${host}.disable_ipv6=1`]);
  inNs(ns, ['ip', 'link', 'set', 'eth0', 'up']);
}

/** Per frame, tshark's value of each field ('' when absent). */
const fields = (file: string, ...names: string[]) =>
  run('tshark', ['-n', '-r', file, '-T', 'fields', ...names.flatMap((n) => ['-e', n])]).stdout.split('\n').filter(Boolean).map((l) => l.split('\t'));

describe.skipIf(!canUseNetns || kubeUnavailable)('podspan agent with bridged and hostNetwork pods', () => {
  let tmp: string;
  let kube: KubeEnv;
  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-agent-k8s-bridge-'));
    kube = await startKubeEnv();
    installAgentApi(kube, ['shop', 'infra']);
    addNamespaces([podA.ns, podB.ns, client.ns]);
    ip('link', 'add', bridge, 'type', 'bridge');
    run('sysctl', ['-qw', `net.ipv6.conf.${bridge}.disable_ipv6=1`]);
    ip('addr', 'add', `${gateway}/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    for (const p of [podA, podB]) {
      veth(p.ns, p.host);
      ip('link', 'set', p.host, 'master', bridge, 'up');
      inNs(p.ns, ['ip', 'addr', 'add', `${p.ip}/24`, 'dev', 'eth0']);
      inNs(p.ns, ['ip', 'route', 'add', 'default', 'via', gateway]);
    }
    // As a pod's first packets do: the ARP request teaches the host the pod's MAC (neighbour) and
    // the bridge the port behind it (fdb), all the agent has to go on. Only now: adding a port can
    // change the bridge's MAC, which flushes its neighbour entries.
    for (const p of [podA, podB]) send(p.ns, 'udp', gateway, 9, 1);
    veth(client.ns, client.host);
    ip('addr', 'add', `${client.hostIp}/30`, 'dev', client.host);
    ip('link', 'set', client.host, 'up');
    inNs(client.ns, ['ip', 'addr', 'add', `${client.ip}/30`, 'dev', 'eth0']);
  });
  afterAll(async () => {
    killStarted(); // the agent of a test that failed half-way
    for (const dev of [podA.host, podB.host, client.host, bridge]) run('ip', ['link', 'del', dev]);
    removeNamespaces([podA.ns, podB.ns, client.ns]);
    await kube?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const relabel = (pod: string, app: string) => kubectlOk(kube, ['label', 'pod', pod, '-n', 'shop', `app=${app}`, '--overwrite']);

  /** The agent on node test-node with one session `name` selecting `selector` in namespace `namespace`. */
  async function startAgent(name: string, namespace: string, selector: string, dir: string) {
    const cfg = path.join(tmp, `${name}.yaml`);
    fs.writeFileSync(
      cfg,
      [
        'metrics: { listen: "127.0.0.1:0" }',
        `kubernetes: { enabled: true, kubeconfig: ${kube.agentKubeconfig}, watchMirrorSessions: false }`,
        'sessions:',
        `  - name: ${name}`,
        `    sources: { pods: { namespaces: [${namespace}], selector: { ${selector} } } }`,
        // UDP and TCP only: the ARP and ICMP the kernel adds on its own are not ours to count.
        '    filter: { protocols: [udp, tcp] }',
        `    targets: [ { pcap: { dir: ${dir} } } ]`,
      ].join('\n'),
    );
    const agent = await startNodeAgent(cfg);
    return { agent, captured: agent.captured };
  }

  it('captures a bridged pod on its own bridge port only, also once the bridge forgets its MAC, until the pod goes', async () => {
    const dir = path.join(tmp, 'bridged');
    createPod(kube, makePod('pod-a', { node: 'test-node', namespace: 'shop', labels: { app: 'a' }, ips: [podA.ip] }));
    createPod(kube, makePod('pod-b', { node: 'test-node', namespace: 'shop', labels: { app: 'b' }, ips: [podB.ip] }));
    const { agent, captured } = await startAgent('bridged', 'shop', 'app: a', dir);
    const file = path.join(dir, 'bridged', `${podA.host}_shop_pod-a.pcapng`);
    await until(() => fs.existsSync(file));
    expect(agent.hasOpen(file)).toBe(true); // what the wait for the closed file below relies on
    expect(await captured('shop/pod-b')).toBeUndefined();

    // Pod B's own traffic first: any of it leaking into pod A's capture would be in the file before A's.
    send(podB.ns, 'udp', gateway, 7001, 30);
    send(undefined, 'udp', podB.ip, 7002, 20);
    send(podA.ns, 'udp', gateway, 7003, 40);
    send(undefined, 'udp', podA.ip, 7004, 25);
    send(podB.ns, 'udp', podA.ip, 7005, 10); // east-west: bridged, never through the host's IP stack
    send(podA.ns, 'tcp', gateway, 7006, 5); // SYN out, RST back
    await until(async () => (await captured('shop/pod-a')) === 85);
    expect(fs.readdirSync(path.join(dir, 'bridged'))).toEqual([path.basename(file)]);

    // The bridge forgets an idle pod's MAC (ageing_time) and the host its neighbour entry: pod A must
    // stay captured. Relabelling pod B makes the agent look again; B's file shows that it has.
    const macA = inNs(podA.ns, ['cat', '/sys/class/net/eth0/address']).trim();
    ip('neigh', 'del', podA.ip, 'dev', bridge);
    execFileSync('bridge', ['fdb', 'del', macA, 'dev', podA.host, 'master'], { stdio: 'pipe' });
    relabel('pod-b', 'a');
    await until(() => fs.existsSync(path.join(dir, 'bridged', `${podB.host}_shop_pod-b.pcapng`)));
    expect(await captured('shop/pod-a')).toBe(85);

    // Relabelled out and back in: a second capture in a second file; the first keeps its 85 packets.
    relabel('pod-a', 'x');
    await until(async () => (await captured('shop/pod-a')) === undefined);
    relabel('pod-a', 'a');
    await until(async () => (await captured('shop/pod-a')) === 0);
    send(podA.ns, 'udp', gateway, 7007, 7);
    await until(async () => (await captured('shop/pod-a')) === 7);
    const second = fs.readdirSync(path.join(dir, 'bridged')).filter((f) => /^pb\d+a_shop_pod-a_\d{14}\.pcapng$/.test(f));
    expect(second).toHaveLength(1);

    kubectlOk(kube, ['delete', 'pod', 'pod-a', '-n', 'shop', '--grace-period=0', '--force']);
    await until(async () => (await captured('shop/pod-a')) === undefined);
    const secondFile = path.join(dir, 'bridged', second[0]);
    // A capture leaves the metrics only once its file is closed: complete on disk the moment it is gone.
    expect(agent.hasOpen(secondFile)).toBe(false);
    expect(capinfos([secondFile]).get(secondFile)!.packets).toBe(7);
    expect(capinfos([file]).get(file)!.packets).toBe(85);
    expect(tsharkWarnings(file)).toBe('');
    const rows = fields(file, 'frame.interface_name', 'frame.interface_description', 'ip.src', 'ip.dst');
    expect(new Set(rows.map((r) => `${r[0]}: ${r[1]}`))).toEqual(new Set([`${podA.host}: node test-node, pod shop/pod-a (app=a), session bridged`]));
    const count = (src: string, dst: string) => rows.filter((r) => r[2] === src && r[3] === dst).length;
    expect([count(podA.ip, gateway), count(gateway, podA.ip), count(podB.ip, podA.ip)]).toEqual([45, 30, 10]);
    expect(await stopProcess(agent, 'SIGTERM')).toBe(0);
  }, 60_000);

  it('captures a hostNetwork pod on "any", by its container ports and their protocols', async () => {
    const dir = path.join(tmp, 'hostnet');
    createPod(kube, makePod('exporter', { node: 'test-node', namespace: 'infra', labels: { app: 'exporter' }, ips: [client.hostIp], hostNetwork: true, ports: [{ port: port1, protocol: 'UDP' }, port1, { port: port2, protocol: 'UDP' }] }));
    const { agent, captured } = await startAgent('hostnet', 'infra', 'app: exporter', dir);
    const file = path.join(dir, 'hostnet', 'any_infra_exporter.pcapng');
    await until(() => fs.existsSync(file));

    send(client.ns, 'udp', client.hostIp, otherPort, 50); // not one of the pod's ports: not captured
    send(client.ns, 'udp', client.hostIp, port1, 30);
    send(client.ns, 'udp', client.hostIp, port2, 20);
    send(client.ns, 'tcp', client.hostIp, port1, 5); // SYN in, RST out (source port port1): both the pod's
    send(client.ns, 'tcp', client.hostIp, port2, 5); // port2 is the pod's for UDP only: not captured
    await until(async () => (await captured('infra/exporter')) === 60);
    expect(await stopProcess(agent, 'SIGTERM')).toBe(0);

    expect(capinfos([file]).get(file)!.packets).toBe(60);
    expect(tsharkWarnings(file)).toBe('');
    const rows = fields(file, 'frame.interface_name', 'udp.dstport', 'tcp.dstport', 'tcp.srcport', 'frame.interface_description');
    expect(new Set(rows.map((r) => `${r[0]}: ${r[4]}`))).toEqual(new Set(['any: node test-node, pod infra/exporter (app=exporter), session hostnet']));
    const count = (column: number, port: number) => rows.filter((r) => r[column] === String(port)).length;
    expect([count(1, port1), count(1, port2), count(2, port1), count(3, port1)]).toEqual([30, 20, 5, 5]);
  }, 60_000);
});
