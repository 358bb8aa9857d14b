// `podspan agent` in a cluster: pods are network namespaces with a veth whose host side is routed
// to the pod's IP (as Calico does), the Kubernetes API is a real kube-apiserver (test/helpers/
// kube-env.ts) with deploy/'s CRD and RBAC, and the agent uses its own ServiceAccount's token. No
// kubelet runs: pods are created on node test-node with their status written as a kubelet would,
// and deleted with --grace-period=0 --force, as a kubelet finally does. Pods created, relabelled
// and deleted mid-run start and stop mirroring; a tenant's MirrorSession added mid-run takes
// effect, sending to a collector that wants a token, which comes from the namespace's Secret
// podspan-mirror-credentials; frames carry the pod in the file name.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePod } from '../helpers/fake-kube-api';
import { agentRequests, createPod, installAgentApi, kubeEnvUnavailable, kubectlOk, startKubeEnv, type KubeEnv } from '../helpers/kube-env';
import { addNamespaces, canUseNetns, exitStatus, inNs, ip, killStarted, removeNamespaces, startInNs, stopProcess, track, trafgen } from '../helpers/netns';
import { startNodeAgent, until, type NodeAgent } from '../helpers/k8s-agent';
import { capinfos, podspanBin, repoRoot, run, runAsync, tsharkWarnings } from '../helpers/tools';

const kubeUnavailable = kubeEnvUnavailable();
if (!canUseNetns) console.log('agent Kubernetes tests skipped: they need root, iproute2 and trafgen (netsniff-ng)');
else if (kubeUnavailable) console.log(`agent Kubernetes tests skipped: ${kubeUnavailable}`);

const pid = process.pid;
const tag = `${pid % 100000}`;
const podIp = (n: number) => `100.${64 + (pid % 64)}.${(pid >> 6) % 256}.${n}`;
// pods[3] is no pod: the tenant's collector runs there, beyond the node (a MirrorSession may not send to the node itself).
// pods[4] is the target of the detection test's SYN flood.
// pods[5..10] are the pods of the detection test's scan, spread over all of them.
const pods = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((n) => ({ n, ns: `psK${tag}p${n}`, host: `pk${tag}h${n}` }));

describe.skipIf(!canUseNetns || kubeUnavailable)('podspan agent following pods and MirrorSessions', () => {
  let tmp: string;
  let kube: KubeEnv;
  let agent: NodeAgent | undefined;
  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-agent-k8s-'));
    kube = await startKubeEnv();
    installAgentApi(kube, ['shop']);
    addNamespaces(pods.map((p) => p.ns));
    for (const p of pods) {
      ip('link', 'add', p.host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', p.ns);
      run('sysctl', ['-qw', `net.ipv6.conf.${p.host}.disable_ipv6=1`]); // no frames of the host's own on it
      ip('link', 'set', p.host, 'up');
      inNs(p.ns, ['ip', 'link', 'set', 'eth0', 'up']);
      inNs(p.ns, ['ip', 'addr', 'add', `${podIp(p.n)}/32`, 'dev', 'eth0']);
      ip('route', 'add', `${podIp(p.n)}/32`, 'dev', p.host);
      inNs(p.ns, ['ip', 'route', 'add', 'default', 'dev', 'eth0']); // back to the node (which answers ARP for its addresses)
    }
  });
  afterAll(async () => {
    killStarted(); // the agent and collector of a test that failed half-way
    for (const p of pods) run('ip', ['link', 'del', p.host]); // also removes the route
    removeNamespaces(pods.map((p) => p.ns));
    await kube?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('attaches to matching pods, follows relabels, deletions and MirrorSessions, and stops cleanly', async () => {
    const dir = path.join(tmp, 'caps');
    createPod(kube, makePod('cart-1', { node: 'test-node', namespace: 'shop', labels: { app: 'cart' }, ips: [podIp(1)] }));
    createPod(kube, makePod('web-1', { node: 'test-node', namespace: 'shop', labels: { app: 'web' }, ips: [podIp(2)] }));
    createPod(kube, makePod('cart-9', { node: 'other-node', namespace: 'shop', labels: { app: 'cart' }, ips: ['100.127.0.9'] }));
    const cfg = path.join(tmp, 'agent.yaml');
    fs.writeFileSync(
      cfg,
      [
        'metrics: { listen: "127.0.0.1:0" }',
        `kubernetes: { enabled: true, kubeconfig: ${kube.agentKubeconfig}, statusIntervalSeconds: 1 }`,
        'sessions:',
        '  - name: cart',
        '    sources: { pods: { namespaces: [shop], selector: { app: cart } } }',
        `    targets: [ { pcap: { dir: ${dir} } }, { streams: { dir: ${path.join(tmp, 'streams')} } } ]`,
      ].join('\n'),
    );
    agent = await startNodeAgent(cfg);
    const err = () => agent!.stderr();
    const captured = (podName: string) => agent!.captured(`shop/${podName}`);
    const file = (p: (typeof pods)[number], podName: string) => path.join(dir, 'cart', `${p.host}_shop_${podName}.pcapng`);

    // cart-1 matches; web-1 does not; cart-9 is on another node.
    await until(() => fs.existsSync(file(pods[0], 'cart-1')));
    expect(err()).toMatch(/running 1 captures/);
    trafgen(pods[0].ns, 'eth0', 100);
    await until(async () => (await captured('cart-1')) === 100);
    expect(await captured('web-1')).toBeUndefined();

    // web-1 relabelled app=cart: mirrored from now on.
    kubectlOk(kube, ['label', 'pod', 'web-1', '-n', 'shop', 'app=cart', '--overwrite']);
    await until(async () => (await captured('web-1')) === 0);
    trafgen(pods[1].ns, 'eth0', 70);
    await until(async () => (await captured('web-1')) === 70);

    // A new pod appears.
    createPod(kube, makePod('cart-2', { node: 'test-node', namespace: 'shop', labels: { app: 'cart' }, ips: [podIp(3)] }));
    await until(async () => (await captured('cart-2')) === 0);

    // cart-1 deleted: its capture stops and its file is closed valid.
    kubectlOk(kube, ['delete', 'pod', 'cart-1', '-n', 'shop', '--grace-period=0', '--force']);
    await until(async () => (await captured('cart-1')) === undefined);
    // A capture leaves the metrics only once its file is closed: complete on disk the moment it is gone.
    expect(agent!.hasOpen(file(pods[0], 'cart-1'))).toBe(false);
    expect(capinfos([file(pods[0], 'cart-1')]).get(file(pods[0], 'cart-1'))!.packets).toBe(100);
    expect(tsharkWarnings(file(pods[0], 'cart-1'))).toBe('');

    // A tenant's MirrorSession in shop selecting app=cart with a UDP filter, to a gRPC collector
    // that wants a token: a second capture per matching pod, whose frames reach the collector
    // named after node, pod and interface. The token is in the namespace's Secret, not on the node.
    const collectorOut = path.join(tmp, 'collector');
    const tokenFile = path.join(tmp, 'collector-token');
    fs.writeFileSync(tokenFile, 'tenant-shop-token\n');
    const collector = await startInNs(pods[3].ns, [process.execPath, podspanBin, 'collector', '--listen', `${podIp(4)}:0`, '--out', collectorOut, '--token-file', tokenFile, '--insecure'], /listening on/);
    const cerr = () => collector.stderr();
    // Plaintext with a token, allowed on both sides only because they say insecure (a test network).
    const grpcUrl = `grpc://${podIp(4)}:${/listening on [\d.]+:(\d+)/.exec(cerr())![1]}?insecure=1`;
    kubectlOk(kube, ['-n', 'shop', 'create', 'secret', 'generic', 'podspan-mirror-credentials', '--from-literal=collector-token=tenant-shop-token']);
    const tenantSession = (name: string, spec: object) =>
      kube.apply(JSON.stringify({ apiVersion: 'podspan.io/v1alpha1', kind: 'MirrorSession', metadata: { name, namespace: 'shop' }, spec }) + '\n');
    tenantSession('audit', { sources: { pods: { selector: { app: 'cart' } } }, filter: { protocols: ['udp'] }, targets: [{ grpc: grpcUrl, credentials: { token: 'collector-token' } }] });
    const metric = (session: string, p: (typeof pods)[number], pod: string, n: number) => `podspan_captured_packets{session="${session}",interface="${p.host}",pod="shop/${pod}"} ${n}`;
    await until(async () => (await (await fetch(agent!.metricsUrl)).text()).includes(metric('shop/audit', pods[2], 'cart-2', 0)));
    trafgen(pods[2].ns, 'eth0', 30);
    await until(async () => (await (await fetch(agent!.metricsUrl)).text()).includes(metric('shop/audit', pods[2], 'cart-2', 30)));
    // The collector took the stream: every frame acknowledged, none refused for a missing token.
    await until(async () => /podspan_forwarded_frames\{session="shop\/audit",[^}]*\} 30/.test(await (await fetch(agent!.metricsUrl)).text())).catch((e: Error) => {
      throw new Error(`${e.message}: frames not acknowledged by the tenant's collector\nagent: ${err()}\ncollector: ${cerr()}`);
    });
    expect(cerr()).not.toMatch(/UNAUTHENTICATED/);
    // Sending to the node itself (here a loopback collector) is refused when the capture would start.
    tenantSession('loop', { sources: { pods: { selector: { app: 'cart' } } }, targets: [{ grpc: 'grpc://127.0.0.1:50051' }] });
    await until(() => /"session":"shop\/loop".*127\.0\.0\.1 is this node; a MirrorSession sends only to addresses beyond it/.test(err()));
    expect(await (await fetch(agent!.metricsUrl)).text()).not.toContain('session="shop/loop"');
    // A collector that refuses connections.
    tenantSession('gone', { sources: { pods: { selector: { app: 'cart' } } }, filter: { protocols: ['udp'] }, targets: [{ grpc: `grpc://${podIp(4)}:1?insecure=1` }] });

    // Status: this node's share of each MirrorSession, written by the agent through /status.
    type Status = { nodes?: Record<string, unknown>[]; pods?: number; captured?: number; forwarded?: number; nodesReady?: string; conditions?: { type: string; status: string; reason: string; message: string }[] };
    const status = (name: string): Status => JSON.parse(kubectlOk(kube, ['get', 'ms', name, '-n', 'shop', '-o', 'json'])).status ?? {};
    await until(() => status('audit').forwarded === 30 && status('loop').nodes?.length === 1 && status('gone').conditions?.[0]?.reason === 'TargetUnreachable', 20_000).catch((e: Error) => {
      throw new Error(`${e.message}: statuses ${JSON.stringify([status('audit'), status('loop'), status('gone')])}\nagent: ${err()}`);
    });
    expect(status('audit')).toMatchObject({ pods: 2, captured: 30, forwarded: 30, nodesReady: '1/1', nodes: [{ node: 'test-node', pods: 2, captures: 2, captured: 30, dropped: 0, forwarded: 30, ready: true }] });
    expect(status('audit').conditions).toMatchObject([{ type: 'Ready', status: 'True' }]);
    expect(status('loop')).toMatchObject({ nodesReady: '0/1', nodes: [{ node: 'test-node', pods: 2, captures: 0, ready: false, reason: 'CaptureFailed' }] });
    expect(status('loop').conditions![0]).toMatchObject({ type: 'Ready', status: 'False', reason: 'CaptureFailed', message: expect.stringMatching(/^test-node: pod shop\/(cart-2|web-1): .*127\.0\.0\.1 is this node/) });
    expect(status('gone').conditions![0].message).toMatch(/ECONNREFUSED/);
    // `kubectl get ms` answers "is it working?".
    const table = kubectlOk(kube, ['get', 'ms', '-n', 'shop']).trim().split('\n').map((l) => l.split(/\s{2,}/));
    expect(table[0].slice(0, 6)).toEqual(['NAME', 'READY', 'NODES', 'PODS', 'CAPTURED', 'DROPPED']);
    expect(table.find((r) => r[0] === 'audit')!.slice(1, 6)).toEqual(['True', '1/1', '2', '30', '0']);
    expect(table.find((r) => r[0] === 'loop')!.slice(1, 3)).toEqual(['False', '0/1']);
    // Another node's agent (its own field manager) adds its entry: neither overwrites the other, the totals add up.
    const otherNode = { apiVersion: 'podspan.io/v1alpha1', kind: 'MirrorSession', metadata: { name: 'audit', namespace: 'shop' }, status: { nodes: [{ node: 'other-node', pods: 1, captures: 1, captured: 5, dropped: 1, forwarded: 4, ready: true, updated: new Date().toISOString() }] } };
    kubectlOk(kube, ['apply', '--server-side', '--subresource=status', '--field-manager=podspan-agent/other-node', '-f', '-'], JSON.stringify(otherNode));
    await until(() => status('audit').captured === 35, 20_000);
    expect(status('audit')).toMatchObject({ pods: 3, captured: 35, forwarded: 34, dropped: 1, nodesReady: '2/2' });
    expect(status('audit').nodes!.map((n) => n.node).sort()).toEqual(['other-node', 'test-node']);
    // Events: on the MirrorSession and on each pod whose capture could not start, each told once.
    const events = (name: string) =>
      (JSON.parse(kubectlOk(kube, ['get', 'events', '-n', 'shop', '--field-selector', `involvedObject.name=${name}`, '-o', 'json'])).items as { reason: string; message: string; type: string; involvedObject: { kind: string } }[]);
    expect(events('loop').map((e) => [e.involvedObject.kind, e.type, e.reason])).toEqual([
      ['MirrorSession', 'Warning', 'CaptureFailed'],
      ['MirrorSession', 'Warning', 'CaptureFailed'],
    ]);
    expect(events('loop')[0].message).toMatch(/^node test-node: pk\d+h[23]: .*127\.0\.0\.1 is this node/);
    expect(events('gone').map((e) => e.reason)).toContain('TargetUnreachable');
    expect(events('cart-2').map((e) => [e.involvedObject.kind, e.reason]).sort()).toEqual([
      ['Pod', 'CaptureFailed'],
      ['Pod', 'TargetUnreachable'],
    ]);

    expect(await stopProcess(agent, 'SIGTERM')).toBe(0);
    expect(err()).toContain('podspan agent stopped; files closed');
    // The streams target's folder says whose streams it holds.
    const streamsDir = path.join(tmp, 'streams', 'cart', `${pods[0].host}_shop_cart-1`);
    expect(JSON.parse(fs.readFileSync(path.join(streamsDir, 'source.json'), 'utf8'))).toEqual({ node: 'test-node', session: 'cart', interface: pods[0].host, pod: { namespace: 'shop', name: 'cart-1', labels: { app: 'cart' } } });
    expect(fs.existsSync(path.join(streamsDir, 'index.jsonl'))).toBe(true);
    expect(await stopProcess(collector, 'SIGTERM')).toBe(0);
    const [collected] = fs.readdirSync(collectorOut).filter((f) => f.endsWith('.pcapng'));
    if (!collected) throw new Error(`nothing collected:\n${err()}\n${cerr()}`);
    const idb = run('tshark', ['-r', path.join(collectorOut, collected), '-T', 'fields', '-e', 'frame.interface_name', '-e', 'frame.interface_description']).stdout.trim().split('\n');
    expect(idb).toHaveLength(30);
    expect(new Set(idb)).toEqual(new Set([`test-node/shop/cart-2/${pods[2].host}\tnode test-node, pod shop/cart-2, interface ${pods[2].host}, labels app=cart`]));
    for (const f of [file(pods[1], 'web-1'), file(pods[2], 'cart-2')]) expect(tsharkWarnings(f)).toBe('');
    // A tenant's session writes nothing on the node.
    expect(fs.readdirSync(dir)).toEqual(['cart']);
    expect(capinfos([file(pods[1], 'web-1')]).get(file(pods[1], 'web-1'))!.packets).toBe(70);
    // The agent asked only for this node's pods (the API server's audit log), and its token was
    // refused nothing. (A 429 is allowed: a just-created CRD answers so until its cache is ready.)
    const asked = agentRequests(kube);
    const podRequests = asked.filter((r) => /^\/api\/v1\/pods\?/.test(r.requestURI));
    expect(podRequests.length).toBeGreaterThanOrEqual(2); // a list and a watch
    for (const r of podRequests) expect(new URL(r.requestURI, 'https://x').searchParams.get('fieldSelector')).toBe('spec.nodeName=test-node');
    expect(asked.filter((r) => r.code === 401 || r.code === 403)).toEqual([]);
  }, 90_000);

  it('kubectl podspan capture: a pod\'s frames from its node through a temporary MirrorSession, deleted at the end; a killed client\'s session expires; status lists each node', async () => {
    // Needs the first test's pods (cart-2 on pods[2]) and MirrorSessions; its own agent and collector.
    const cfg = path.join(tmp, 'agent-plugin.yaml');
    fs.writeFileSync(cfg, ['metrics: { listen: "127.0.0.1:0" }', `kubernetes: { enabled: true, kubeconfig: ${kube.agentKubeconfig}, statusIntervalSeconds: 1 }`].join('\n'));
    const collector = await startInNs(pods[3].ns, [process.execPath, podspanBin, 'collector', '--listen', `${podIp(4)}:0`, '--out', path.join(tmp, 'collector-plugin'), '--insecure'], /listening on/);
    const collectorUrl = `grpc://${podIp(4)}:${/listening on [\d.]+:(\d+)/.exec(collector.stderr())![1]}?insecure=1`;
    agent = await startNodeAgent(cfg);
    const metrics = async () => (await fetch(agent!.metricsUrl)).text();
    const plugin = path.join(repoRoot, 'bin', 'kubectl-podspan');
    const temporary = () => kubectlOk(kube, ['get', 'ms', '-n', 'shop', '-l', 'podspan.io/temporary', '-o', 'name']).trim();
    const startPlugin = (args: string[]) => {
      const child = track(spawn(process.execPath, [plugin, 'capture', '-n', 'shop', '--kubeconfig', kube.adminKubeconfig, '--collector', collectorUrl, ...args], { stdio: ['ignore', 'ignore', 'pipe'] }));
      let err = '';
      child.stderr!.on('data', (d) => (err += d));
      const exited = exitStatus(child);
      return { child, exited, stderr: () => err };
    };

    // A pod that does not exist: one line, exit 2, no session left.
    const none = startPlugin(['nosuchpod', '-w', path.join(tmp, 'none.pcapng')]);
    expect(await none.exited).toBe(2);
    expect(none.stderr()).toBe('kubectl podspan: pod shop/nosuchpod not found\n');

    // cart-2, 20 frames: the session appears, its capture runs on cart-2's veth only, 20 frames arrive, the session goes.
    const out = path.join(tmp, 'plugin.pcapng');
    const run1 = startPlugin(['cart-2', '-w', out, '-c', '20']);
    await until(async () => /podspan_captured_packets\{session="shop\/capture-[0-9a-f]+",interface="[^"]+",pod="shop\/cart-2"\} 0/.test(await metrics()), 20_000).catch((e: Error) => {
      throw new Error(`${e.message}: plugin: ${run1.stderr()}\nagent: ${agent!.stderr()}`);
    });
    expect(await metrics()).not.toMatch(/session="shop\/capture-[^"]+",[^}]*pod="shop\/web-1"/); // named: cart-2 only, though web-1 has app=cart too
    trafgen(pods[2].ns, 'eth0', 30);
    expect(await run1.exited).toBe(0);
    expect(run1.stderr()).toMatch(/^capturing pods shop\/cart-2 through MirrorSession shop\/capture-[0-9a-f]+ and collector grpc:\/\/.*\n20 frames\nMirrorSession shop\/capture-[0-9a-f]+ deleted\n$/);
    expect(capinfos([out]).get(out)!.packets).toBe(20);
    expect(tsharkWarnings(out)).toBe('');
    // The frames are the temporary session's alone (the tenant's "audit" session mirrors cart-2 to the same collector).
    const names = run('tshark', ['-r', out, '-T', 'fields', '-e', 'frame.interface_name']).stdout.trim().split('\n');
    expect(new Set(names)).toEqual(new Set([`test-node/shop/cart-2/${pods[2].host}`]));
    expect(temporary()).toBe('');
    await until(async () => !/session="shop\/capture-/.test(await metrics()), 20_000);

    // Killed: its session stays until it expires (--ttl 2), then the agent stops its capture.
    const run2 = startPlugin(['-l', 'app=cart', '-w', path.join(tmp, 'killed.pcapng'), '--ttl', '2']);
    await until(() => temporary() !== '', 20_000);
    run2.child.kill('SIGKILL');
    await until(async () => /session="shop\/capture-/.test(await metrics()), 20_000);
    await until(async () => !/session="shop\/capture-/.test(await metrics()), 20_000);
    expect(temporary()).not.toBe(''); // left behind, expired, found by its label
    kubectlOk(kube, ['delete', 'ms', '-n', 'shop', '-l', 'podspan.io/temporary']);

    // status: a row per session and node.
    await until(() => JSON.parse(kubectlOk(kube, ['get', 'ms', 'audit', '-n', 'shop', '-o', 'json'])).status?.nodes?.some((n: { node: string }) => n.node === 'test-node'));
    const st = run(process.execPath, [plugin, 'status', '-n', 'shop', '--kubeconfig', kube.adminKubeconfig]);
    expect(st.code, st.stderr).toBe(0);
    const rows = st.stdout.trim().split('\n').map((l) => l.split(/\s+/));
    expect(rows[0].slice(0, 9)).toEqual(['NAMESPACE', 'NAME', 'READY', 'NODE', 'PODS', 'CAPTURES', 'CAPTURED', 'DROPPED', 'FORWARDED']);
    // audit: this agent's fresh entry (its collector is gone now, so not ready) and the one another node's agent wrote.
    expect(rows.find((r) => r[1] === 'audit' && r[3] === 'test-node')!.slice(0, 6)).toEqual(['shop', 'audit', 'False', 'test-node', '2', '2']);
    expect(rows.find((r) => r[1] === 'audit' && r[3] === 'other-node')!.slice(4, 9)).toEqual(['1', '1', '5', '1', '4']);
    expect(await stopProcess(agent, 'SIGTERM')).toBe(0);
    expect(await stopProcess(collector, 'SIGTERM')).toBe(0);
  }, 120_000);

  /** An agent config: session NAME over the pods labelled app=NAME with `detect: { DETECT }`, pcap files under tmp/NAME-caps. */
  const detectConfig = (name: string, detect: string): string => {
    const cfg = path.join(tmp, `agent-${name}.yaml`);
    fs.writeFileSync(
      cfg,
      [
        'metrics: { listen: "127.0.0.1:0" }',
        `kubernetes: { enabled: true, kubeconfig: ${kube.agentKubeconfig}, statusIntervalSeconds: 1 }`,
        'sessions:',
        `  - name: ${name}`,
        `    sources: { pods: { namespaces: [shop], selector: { app: ${name} } } }`,
        `    detect: { preTriggerSeconds: 2, ${detect} }`,
        `    targets: [ { pcap: { dir: ${path.join(tmp, `${name}-caps`)} } } ]`,
      ].join('\n'),
    );
    return cfg;
  };

  it('detect: a SYN flood against a pod alerts in the log, podspan_alerts_total and _active, a Warning Event on the pod, and evidence on the node; then clears', async () => {
    const guard = pods[4];
    createPod(kube, makePod('guard-1', { node: 'test-node', namespace: 'shop', labels: { app: 'guard' }, ips: [podIp(5)] }));
    // The pod's answers to the flood's made-up sources go nowhere (a blackhole, not the node's routes).
    inNs(guard.ns, ['ip', 'route', 'replace', 'blackhole', 'default']);
    const evidenceDir = path.join(tmp, 'evidence');
    const cfg = detectConfig('guard', `synFlood: { floor: 100, minSeconds: 1, clearSeconds: 2 }, postTriggerSeconds: 1, evidenceDir: ${evidenceDir}`);
    agent = await startNodeAgent(cfg);
    await until(async () => (await agent!.captured('shop/guard-1')) === 0);
    const metric = async (name: string) => {
      const line = (await (await fetch(agent!.metricsUrl)).text()).split('\n').find((l) => l.startsWith(`${name}{`) && l.includes('kind="syn_flood"') && l.includes('namespace="shop",pod="guard-1"'));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    // 6,000 SYNs at 2,000/s from random sources, sent by the node towards the pod (its veth's egress).
    const mac = /link\/ether ([0-9a-f:]+)/.exec(inNs(guard.ns, ['ip', 'link', 'show', 'eth0']))![1];
    const conf = path.join(tmp, 'guard-flood.cfg');
    fs.writeFileSync(conf, `{ eth(da=${mac}), ipv4(saddr=drnd(), daddr=${podIp(5)}), tcp(sport=drnd(), dport=80, syn), fill(0x41, 0) }\n`);
    run('trafgen', ['--dev', guard.host, '--conf', conf, '--num', '6000', '--cpus', '1', '--rate', '2000pps', '-q']);
    await until(async () => (await metric('podspan_alerts_total')) === 1, 15_000);
    // The log is written asynchronously (pino's destination): it may follow the metric.
    await until(() => /alert A1 syn_flood fired: /.test(agent!.stderr()), 10_000, 'the fired line');
    expect(agent.stderr()).toMatch(/alert A1 syn_flood fired: shop\/guard-1 \(100\.\d+\.\d+\.5:80\)/);
    // Cleared once the flood has stopped (the capture's clock goes on without packets).
    await until(async () => (await metric('podspan_alert_active')) === 0, 15_000);
    expect(await metric('podspan_alerts_total')).toBe(1);
    const events = () =>
      (JSON.parse(kubectlOk(kube, ['get', 'events', '-n', 'shop', '--field-selector', 'involvedObject.name=guard-1', '-o', 'json'])).items as { reason: string; type: string; message: string; involvedObject: { kind: string } }[]);
    await until(() => events().length === 2);
    expect(events().map((e) => [e.involvedObject.kind, e.type, e.reason]).sort()).toEqual([
      ['Pod', 'Normal', 'SynFloodCleared'],
      ['Pod', 'Warning', 'SynFlood'],
    ]);
    expect(events().find((e) => e.reason === 'SynFlood')!.message).toMatch(/^alert A1 syn_flood fired: shop\/guard-1/);
    const evidence = path.join(evidenceDir, 'guard', `${guard.host}_shop_guard-1`, 'A1-syn_flood.pcapng');
    expect(fs.existsSync(evidence), fs.readdirSync(evidenceDir, { recursive: true }).join(' ')).toBe(true);
    expect(capinfos([evidence]).get(evidence)!.packets).toBeGreaterThanOrEqual(1000); // a second of the flood at least
    expect(tsharkWarnings(evidence)).toBe('');
    expect(await stopProcess(agent, 'SIGTERM')).toBe(0);
  }, 90_000);

  it('detect: an nmap scan spread over six pods, each its own capture seeing too little to alert, fires one port_scan for the session, with evidence from every pod', async () => {
    const scanned = pods.slice(5);
    scanned.forEach((p, i) => createPod(kube, makePod(`scanned-${i}`, { node: 'test-node', namespace: 'shop', labels: { app: 'scanned' }, ips: [podIp(p.n)] })));
    const evidenceDir = path.join(tmp, 'scan-evidence');
    // floor 40 targets/s: nmap probing each of six pods at most every 70 ms gives the session about
    // 85 targets/s and each capture at most 15.
    const cfg = detectConfig('scanned', `portScan: { floor: 40, minSeconds: 1, clearSeconds: 2 }, postTriggerSeconds: 2, evidenceDir: ${evidenceDir}`);
    agent = await startNodeAgent(cfg);
    for (let i = 0; i < scanned.length; i++) await until(async () => (await agent!.captured(`shop/scanned-${i}`)) === 0);
    // The node's own address towards the pods: the scan's source.
    const scanner = /src (\S+)/.exec(run('ip', ['route', 'get', podIp(scanned[0].n)]).stdout)![1];
    const metric = async (name: string) => {
      const line = (await (await fetch(agent!.metricsUrl)).text()).split('\n').find((l) => l.startsWith(`${name}{`) && l.includes('kind="port_scan"'));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    // 100 closed ports on each of the six pods at once (600 probes, each answered by RST): one nmap
    // per pod, each probe 70 ms after the last (nmap's scan delay holds across all its targets).
    // Asynchronously: the metrics connection must stay serviced while they run (about 7 s).
    const scans = await Promise.all(
      scanned.map((p) => runAsync('nmap', ['-sS', '-n', '-Pn', '-p', '1-100', '--max-retries', '0', '--scan-delay', '70ms', '--host-timeout', '30s', podIp(p.n)], { timeoutMs: 40_000 })),
    );
    for (const nmap of scans) {
      expect(nmap.code, nmap.stderr).toBe(0);
      expect(nmap.stdout).toMatch(/1 IP address \(1 host up\)/);
    }
    await until(async () => (await metric('podspan_alerts_total')) === 1, 15_000);
    await until(async () => (await metric('podspan_alert_active')) === 0, 15_000);
    // The log is written asynchronously (pino's destination): the cleared line may follow the metric.
    await until(() => / port_scan cleared: /.test(agent!.stderr()), 10_000, 'the cleared line');
    const lines = agent.stderr().split('\n').filter((l) => /alert [AS]\d+ port_scan/.test(l));
    // One alert for the session (S1), fired and cleared once; no capture's own detector fired.
    expect(lines.filter((l) => / fired: /.test(l)).map((l) => /alert (\S+ port_scan fired: \S+)/.exec(l)![1])).toEqual([`S1 port_scan fired: ${scanner}`]);
    expect(lines.filter((l) => / cleared: /.test(l))).toHaveLength(1);
    expect(await metric('podspan_alerts_total')).toBe(1);
    // Every scanned pod's capture kept its own evidence of it: the probes it saw and the pod's RSTs.
    for (let i = 0; i < scanned.length; i++) {
      const evidence = path.join(evidenceDir, 'scanned', `${scanned[i].host}_shop_scanned-${i}`, 'S1-port_scan.pcapng');
      await until(() => fs.existsSync(evidence) && capinfos([evidence]).get(evidence)!.packets > 0, 10_000);
      const syns = run('tshark', ['-r', evidence, '-Y', `ip.src == ${scanner} && tcp.flags.syn == 1 && tcp.flags.ack == 0`, '-T', 'fields', '-e', 'tcp.dstport']);
      expect(syns.stdout.trim().split('\n').length).toBeGreaterThanOrEqual(10);
      expect(tsharkWarnings(evidence)).toBe('');
    }
    expect(await stopProcess(agent, 'SIGTERM')).toBe(0);
    // tshark on each pod's own capture: no pod received 40 probes (the floor) in any second, so no
    // capture judging alone could have fired; all pods together did, in the seconds of the scan.
    const perSecond = new Map<number, number>();
    for (let i = 0; i < scanned.length; i++) {
      const file = path.join(tmp, 'scanned-caps', 'scanned', `${scanned[i].host}_shop_scanned-${i}.pcapng`);
      const secs = run('tshark', ['-r', file, '-Y', `ip.src == ${scanner} && tcp.flags.syn == 1 && tcp.flags.ack == 0`, '-T', 'fields', '-e', 'frame.time_epoch']).stdout.trim().split('\n').map((t) => Math.floor(Number(t)));
      expect(secs).toHaveLength(100);
      const mine = new Map<number, number>();
      for (const t of secs) mine.set(t, (mine.get(t) ?? 0) + 1);
      expect(Math.max(...mine.values())).toBeLessThan(40);
      for (const [t, n] of mine) perSecond.set(t, (perSecond.get(t) ?? 0) + n);
    }
    expect(Math.max(...perSecond.values())).toBeGreaterThan(40);
  }, 120_000);
});
