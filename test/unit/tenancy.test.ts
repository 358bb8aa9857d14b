// The tenancy boundary as the agent enforces it (src/agent/tenancy.ts), whatever the CRD let
// through: a namespaced MirrorSession mirrors pods of its own namespace only, names no host
// interface, writes and reads no node file, gets its collector credentials from its namespace's
// Secret, and its priority ranks it only within its namespace. ClusterMirrorSessions write only
// inside the files root, symbolic links resolved. Plus the names: unambiguous session names and
// file names under 255 bytes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent';
import { withCredentialFiles } from '../../src/agent/credentials';
import { fileName, MAX_NAME_BYTES, MirrorCapture } from '../../src/agent/mirror-capture';
import { refuseNodeTargets, resolvesInside, sessionFromResource } from '../../src/agent/tenancy';
import type { GrpcTarget } from '../../src/config/forward-options';
import { loadAgentConfig, type ResolvedSession } from '../../src/config/agent-config';
import type { MirrorSessionResource, PodInfo } from '../../src/k8s/types';
import { capinfos } from '../helpers/tools';

let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-tenancy-'))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const tenant = (namespace: string, name: string, spec: object, credentialsSecret?: Record<string, Buffer>): MirrorSessionResource => ({
  kind: 'MirrorSession',
  namespace,
  name,
  resourceVersion: '1',
  spec,
  credentialsSecret,
});
const operator = (name: string, spec: object): MirrorSessionResource => ({ kind: 'ClusterMirrorSession', namespace: '', name, resourceVersion: '1', spec });
const grpc = 'grpc://collector.example:50051';
const podsSpec = (extra: object = {}) => ({ sources: { pods: { selector: { app: 'web' } } }, targets: [{ grpc }], ...extra });
const refusal = (r: MirrorSessionResource, root = '/var/lib/podspan') => {
  try {
    sessionFromResource(r, root);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
};

describe('a namespaced MirrorSession, as the agent sees it', () => {
  it.each([
    ['a host interface', { sources: { interfaces: ['eth0'], pods: { selector: {} } }, targets: [{ grpc }] }, /sources\.interfaces: .*host interfaces need a ClusterMirrorSession/],
    ['all interfaces', { sources: { interfaces: ['*'] }, targets: [{ grpc }] }, /sources\.interfaces/],
    ['pods of kube-system', { sources: { pods: { namespaces: ['kube-system'], selector: {} } }, targets: [{ grpc }] }, /own namespace \(tenant-a\) only, not kube-system/],
    ['its own and another namespace', { sources: { pods: { namespaces: ['tenant-a', 'tenant-b'] } }, targets: [{ grpc }] }, /not tenant-b/],
    ['a pcap file on the node', podsSpec({ targets: [{ pcap: { dir: '/var/lib/podspan/x' } }] }), /targets\[0\]: a MirrorSession writes no files on the node/],
    ['a shadow report on the node', podsSpec({ targets: [{ shadow: { target: 'http://cand.shop:8080', reportDir: '/var/lib/podspan/r' } }] }), /targets\[0\]\.shadow\.reportDir: a MirrorSession writes no files on the node/],
    ['evidence files on the node', podsSpec({ detect: { evidenceDir: '/var/lib/podspan/ev' }, targets: [{ grpc }] }), /detect\.evidenceDir: a MirrorSession writes no files on the node/],
    ['a streams folder on the node', podsSpec({ targets: [{ grpc }, { streams: { dir: '/var/lib/podspan/s' } }] }), /targets\[1\]: a MirrorSession writes no files/],
    ['the agent\'s token as its bearer token', podsSpec({ targets: [{ grpc: 'grpc://attacker:1?tls=1&token-file=/var/run/secrets/kubernetes.io/serviceaccount/token' }] }), /parameter token-file names a file on the node/],
    ['the same, percent-encoded', podsSpec({ targets: [{ grpc: 'grpc://attacker:1?tls=1&token%2Dfile=/etc/shadow' }] }), /parameter token-file/],
    ['a CA file', podsSpec({ targets: [{ grpc: `${grpc}?ca=/etc/podspan/ca.crt` }] }), /parameter ca names a file/],
    ['a client key file', podsSpec({ targets: [{ grpc: `${grpc}?cert=/etc/podspan/c.crt&key=/etc/podspan/c.key` }] }), /parameter cert names a file/],
    ['credentials without the Secret', podsSpec({ targets: [{ grpc: `${grpc}?tls=1`, credentials: { token: 'token' } }] }), /Secret tenant-a\/podspan-mirror-credentials not found/],
    ["a Secret's token over plaintext", podsSpec({ targets: [{ grpc, credentials: { token: 'token' } }] }), /targets\[0\]\.credentials\.token: a bearer token without TLS would be sent in the clear/],
  ])('refuses %s, saying why in one line', (_, spec, reason) => {
    const message = refusal(tenant('tenant-a', 'probe', spec));
    expect(message).toMatch(/^MirrorSession tenant-a\/probe: /);
    expect(message).toMatch(reason);
    expect(message).not.toContain('\n');
  });

  it('mirrors its own namespace when it names none or only its own', () => {
    for (const pods of [{ selector: { app: 'web' } }, { namespaces: ['tenant-a'], selector: { app: 'web' } }]) {
      const s = sessionFromResource(tenant('tenant-a', 'web', { sources: { pods }, targets: [{ grpc }, { vxlan: 'vxlan://10.0.0.9?vni=5' }] }));
      expect(s.sources).toEqual({ interfaces: [], pods: { namespaces: ['tenant-a'], selector: { app: 'web' }, names: [] } });
      expect(s.origin).toEqual({ kind: 'namespace', namespace: 'tenant-a', name: 'web' });
      expect(s.forward.map((t) => t.kind)).toEqual(['grpc', 'vxlan']);
    }
  });

  it('takes its collector credentials from its Secret, by key, and names a missing key', () => {
    const secret = { token: Buffer.from('tok'), 'ca.crt': Buffer.from('CA'), 'tls.crt': Buffer.from('CERT'), 'tls.key': Buffer.from('KEY') };
    const spec = podsSpec({ targets: [{ vxlan: 'vxlan://10.0.0.9' }, { grpc, credentials: { token: 'token', ca: 'ca.crt', cert: 'tls.crt', key: 'tls.key' } }] });
    const s = sessionFromResource(tenant('tenant-a', 'web', spec, secret));
    expect(s.credentials).toEqual(new Map([[1, { token: Buffer.from('tok'), ca: Buffer.from('CA'), cert: Buffer.from('CERT'), key: Buffer.from('KEY') }]]));
    const rotated = sessionFromResource(tenant('tenant-a', 'web', spec, { ...secret, token: Buffer.from('tok2') }));
    expect(rotated.credentialsDigest).toMatch(/^[0-9a-f]{16}$/);
    expect(rotated.credentialsDigest).not.toBe(s.credentialsDigest); // a rotated Secret restarts the capture
    expect(refusal(tenant('tenant-a', 'web', spec, { token: Buffer.from('tok') }))).toBe(
      'MirrorSession tenant-a/web: targets[1].credentials.ca: Secret tenant-a/podspan-mirror-credentials has no key ca.crt',
    );
  });

  it('names sessions unambiguously: team-a/web-dump and team/a-web-dump stay two', () => {
    const a = sessionFromResource(tenant('team-a', 'web-dump', podsSpec()));
    const b = sessionFromResource(tenant('team', 'a-web-dump', podsSpec()));
    const c = sessionFromResource(operator('web-dump', podsSpec()));
    expect([a.name, b.name, c.name]).toEqual(['team-a/web-dump', 'team/a-web-dump', 'cluster.web-dump']);
  });
});

describe('where a MirrorSession may send', () => {
  it('not to the node itself: loopback, link-local (metadata, node-local DNS) or one of its addresses, once resolved', () => {
    const at = (host: string): GrpcTarget => ({ kind: 'grpc', url: `grpc://${host}:1`, host, port: 1, insecure: false, queueBytes: 1 << 20, retryMaxMs: 1000, streams: 1 });
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '169.254.169.254', '169.254.20.10', 'fe80::1', '0.0.0.0', '::', '192.0.2.7']) {
      expect(() => refuseNodeTargets([at(host)], ['192.0.2.7']), host).toThrow(/is this node; a MirrorSession sends only to addresses beyond it/);
    }
    for (const host of ['192.0.2.8', '10.96.0.10', 'fd00::1']) expect(() => refuseNodeTargets([at(host)], ['192.0.2.7']), host).not.toThrow();
    // By default, this machine's own addresses.
    const own = Object.values(os.networkInterfaces()).flat().find((a) => a && !a.internal && a.family === 'IPv4');
    if (own) expect(() => refuseNodeTargets([at(own.address)])).toThrow(/is this node/);
  });
});

describe('credentials in the config file and ClusterMirrorSessions', () => {
  it('are refused: those name files the operator placed', () => {
    expect(refusal(operator('x', podsSpec({ targets: [{ grpc, credentials: { token: 't' } }] })))).toMatch(/^ClusterMirrorSession x: targets\[0\]\.credentials: credentials name keys of a namespaced MirrorSession/);
    const cfg = path.join(tmp, 'creds.yaml');
    fs.writeFileSync(cfg, `sessions:\n  - name: a\n    sources: { interfaces: [eth0] }\n    targets: [ { grpc: "${grpc}", credentials: { token: t } } ]\n`);
    expect(() => loadAgentConfig(cfg)).toThrow(/sessions\[0\]\.targets\[0\]\.credentials: credentials name keys of a namespaced MirrorSession/);
  });

  it('reach the forwarder through files only the agent can read, removed once read', () => {
    const target: GrpcTarget = { kind: 'grpc', url: grpc, host: '127.0.0.1', port: 1, insecure: false, queueBytes: 1 << 20, retryMaxMs: 1000, streams: 1 };
    let seen: { token: string; ca: string; mode: number; dirMode: number; files: string[] } | undefined;
    withCredentialFiles([target], new Map([[0, { token: Buffer.from('tok'), ca: Buffer.from('CA') }]]), (targets) => {
      const t = targets[0] as GrpcTarget;
      seen = {
        token: fs.readFileSync(t.tokenFile!, 'utf8'),
        ca: fs.readFileSync(t.tls!.ca!, 'utf8'),
        mode: fs.statSync(t.tokenFile!).mode & 0o777,
        dirMode: fs.statSync(path.dirname(t.tokenFile!)).mode & 0o777,
        files: [t.tokenFile!, t.tls!.ca!],
      };
    });
    expect(seen).toMatchObject({ token: 'tok', ca: 'CA', mode: 0o600, dirMode: 0o700 });
    for (const f of seen!.files) expect(fs.existsSync(f)).toBe(false);
  });
});

describe('files of resource sessions', () => {
  it('stay inside the files root: no .., no symbolic link out, no sibling with the same prefix', () => {
    const root = path.join(tmp, 'root');
    const outside = path.join(tmp, 'outside');
    fs.mkdirSync(path.join(root, 'ok'), { recursive: true });
    fs.mkdirSync(outside, { recursive: true });
    fs.symlinkSync(outside, path.join(root, 'escape'));
    fs.symlinkSync(path.join(root, 'ok'), path.join(root, 'inner-link'));
    fs.symlinkSync(path.join(tmp, 'nowhere'), path.join(root, 'dangling'));
    expect(resolvesInside(root, root)).toBe(true);
    expect(resolvesInside(path.join(root, 'ok'), root)).toBe(true);
    expect(resolvesInside(path.join(root, 'new', 'deeper'), root)).toBe(true);
    expect(resolvesInside(path.join(root, 'inner-link', 'x'), root)).toBe(true);
    expect(resolvesInside(path.join(root, 'escape'), root)).toBe(false);
    expect(resolvesInside(path.join(root, 'escape', 'new', 'deeper'), root)).toBe(false);
    expect(resolvesInside(path.join(root, 'dangling', 'x'), root)).toBe(false);
    expect(resolvesInside(`${root}/ok/../../outside`, root)).toBe(false);
    expect(resolvesInside(`${root}x`, root)).toBe(false);
    expect(resolvesInside('relative/dir', root)).toBe(false);

    const spec = (dir: string) => ({ sources: { interfaces: ['eth0'] }, targets: [{ pcap: { dir } }] });
    expect(refusal(operator('esc', spec(path.join(root, 'escape'))), root)).toBe(
      `ClusterMirrorSession esc: targets[0]: ${path.join(root, 'escape')} is not inside ${root}, where resource sessions write (symbolic links resolved)`,
    );
    expect(refusal(operator('dots', { ...spec(root), targets: [{ streams: { dir: `${root}/../outside` } }] }), root)).toMatch(/is not inside/);
    expect(sessionFromResource(operator('ok', spec(path.join(root, 'ok'))), root).filesRoot).toBe(root);
    expect(refusal(operator('ev', { ...spec(path.join(root, 'ok')), detect: { evidenceDir: path.join(root, 'escape', 'ev') } }), root)).toBe(
      `ClusterMirrorSession ev: detect.evidenceDir: ${path.join(root, 'escape', 'ev')} is not inside ${root}, where resource sessions write (symbolic links resolved)`,
    );
    expect(sessionFromResource(operator('ev-ok', { ...spec(path.join(root, 'ok')), detect: { evidenceDir: path.join(root, 'ok', 'ev') } }), root).detectSettings).toBeTruthy();
  });

  it('pod files keep names under 255 bytes: a long pod name is cut and ends with a hash of the whole', () => {
    const ns = 'n'.repeat(63);
    const long = (last: string) => `veth0123456789a_${ns}_${'p'.repeat(252)}${last}`;
    const [a, b] = [fileName(long('a')), fileName(long('b'))];
    expect(a.length).toBe(MAX_NAME_BYTES);
    expect(a).not.toBe(b);
    expect(a.startsWith(`veth0123456789a_${ns}_ppp`)).toBe(true);
    expect(a).toMatch(/~[0-9a-f]{12}$/);
    expect(fileName('eth0_shop_cart-1')).toBe('eth0_shop_cart-1'); // short names as before
    // With the longest suffixes added later (start stamp, rotation, extension), the kernel takes it.
    const file = path.join(tmp, `${a}_20261128093000_99_00001_20261128093000.pcapng`);
    fs.writeFileSync(file, '');
    expect(() => fs.writeFileSync(path.join(tmp, `${long('a')}.pcapng`), '')).toThrow(/ENAMETOOLONG/);
  });

  it.skipIf(process.getuid?.() !== 0)('a pod with a 253-byte name in a 63-byte namespace is captured into a valid file', async () => {
    const pod: PodInfo = { uid: 'u', namespace: 'n'.repeat(63), name: 'p'.repeat(253), labels: {}, ips: [], hostNetwork: false, phase: 'Running', nodeName: 'n', containerPorts: [] };
    const session = sessionFromResource(operator('long', { sources: { interfaces: ['lo'] }, filter: { bpf: 'udp port 9' }, targets: [{ pcap: { dir: tmp } }] }), tmp);
    const cap = await MirrorCapture.start({ key: 'k', session, iface: 'lo', pod }, 'node-a', pino({ level: 'silent' }));
    await cap.stop();
    const [file] = fs.readdirSync(path.join(tmp, 'cluster.long'));
    expect(Buffer.byteLength(file)).toBeLessThanOrEqual(255);
    expect(capinfos([path.join(tmp, 'cluster.long', file)]).get(path.join(tmp, 'cluster.long', file))!.warning).toBe('');
  });
});

describe('the agent', () => {
  const pods = new Map<string, PodInfo>(
    [
      ['tenant-a', 'web-a', 'veth-a'],
      ['tenant-b', 'web-b', 'veth-b'],
      ['kube-system', 'dns', 'veth-dns'],
    ].map(([namespace, name]) => [name, { uid: name, namespace, name, labels: { app: 'web' }, ips: ['10.0.0.1'], hostNetwork: false, phase: 'Running', nodeName: 'n', containerPorts: [] }]),
  );
  // Pods of two namespaces behind one host interface (as with ipvlan).
  for (const [namespace, name] of [['tenant-a', 'shared-a'], ['tenant-b', 'shared-b']]) {
    pods.set(name, { uid: name, namespace, name, labels: { app: 'shared' }, ips: ['10.0.1.1'], hostNetwork: false, phase: 'Running', nodeName: 'n', containerPorts: [] });
  }
  // A hostNetwork pod: captured on "any" by its ports, which are the node's ports too.
  pods.set('hn-a', { uid: 'hn-a', namespace: 'tenant-a', name: 'hn-a', labels: { app: 'web' }, ips: ['192.0.2.1'], hostNetwork: true, phase: 'Running', nodeName: 'n', containerPorts: [{ port: 53, protocol: 'UDP' }] });
  function agentWithLog(): { agent: Agent; lines: { msg: string; resource?: string; reason?: string }[] } {
    const lines: { msg: string; resource?: string; reason?: string }[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
    const agent = new Agent('n', log, { interfaceNames: () => ['eth0', 'veth-a', 'veth-b', 'veth-dns', 'ipvl0', 'any'], hostInterfaceForPod: (p) => (p.name.startsWith('shared') ? 'ipvl0' : `veth-${p.name.replace(/^web-/, '')}`) });
    // The state the agent would capture from, without starting captures (reconcile is not run).
    (agent as unknown as { pods: Map<string, PodInfo> }).pods = pods;
    (agent as unknown as { reconcile: () => Promise<void> }).reconcile = () => Promise.resolve();
    return { agent, lines };
  }
  const running = (agent: Agent) => agent.desired().map((c) => `${c.session.name}@${c.iface}${c.pod ? `:${c.pod.namespace}/${c.pod.name}` : ''}`).sort();

  it('runs a tenant\'s session on its own namespace\'s pods only (not hostNetwork ones), and refuses one reaching further, logging it once', async () => {
    const { agent, lines } = agentWithLog();
    const greedy = tenant('tenant-a', 'greedy', { sources: { pods: { namespaces: ['kube-system'], selector: {} } }, targets: [{ grpc }] });
    const all = tenant('tenant-a', 'all', { sources: { pods: { selector: {} } }, targets: [{ grpc }] });
    await agent.setMirrorSessions([greedy, all]);
    await agent.setMirrorSessions([greedy, all]); // a relist: no second log line
    expect(running(agent)).toEqual(['tenant-a/all@ipvl0:tenant-a/shared-a', 'tenant-a/all@veth-a:tenant-a/web-a']);
    const refused = lines.filter((l) => l.msg === 'resource refused, not run');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ resource: 'MirrorSession tenant-a/greedy', reason: expect.stringMatching(/own namespace \(tenant-a\) only, not kube-system/) });
    expect(agent.refused.has('MirrorSession tenant-a/greedy')).toBe(true);
    // Deleted: forgotten, so a later refusal is logged again.
    await agent.setMirrorSessions([all]);
    expect(agent.refused.size).toBe(0);
    // The operator's session does capture the hostNetwork pod, on "any" by its port.
    await agent.setMirrorSessions([operator('all', { sources: { pods: { namespaces: ['tenant-a'], selector: { app: 'web' } } }, targets: [{ grpc }] })]);
    expect(running(agent)).toEqual(['cluster.all@any:tenant-a/hn-a', 'cluster.all@veth-a:tenant-a/web-a']);
  });

  it('lets priority rank sessions only within a namespace, never against the operator\'s or another namespace\'s', async () => {
    const { agent } = agentWithLog();
    agent.setConfigSessions([
      { name: 'ops', sources: { interfaces: ['veth-a'] }, filter: { protocols: [], ports: [], cidrs: [], direction: 'both' }, sampleOneIn: 1, countSampledOut: true, analyze: false, truncate: 0, targets: [{ grpc }], priority: 0, forward: [] } as ResolvedSession,
    ]);
    await agent.setMirrorSessions([
      operator('dns', { sources: { pods: { namespaces: ['kube-system', 'tenant-a'], selector: { app: 'web' } } }, targets: [{ grpc }], priority: 5 }),
      tenant('tenant-a', 'grab', podsSpec({ priority: -1000 })),
      tenant('tenant-a', 'lower', podsSpec({ priority: -10 })),
      tenant('tenant-a', 'shared', { sources: { pods: { selector: { app: 'shared' } } }, targets: [{ grpc }], priority: -1000 }),
      tenant('tenant-b', 'shared', { sources: { pods: { selector: { app: 'shared' } } }, targets: [{ grpc }], priority: 7 }),
    ]);
    expect(running(agent)).toEqual([
      // veth-a: the config session (0) and the ClusterMirrorSession (5) are both the operator's: 0 wins.
      'ops@veth-a',
      // veth-a: tenant-a's best (-1000) runs beside the operator's; tenant-a's -10 loses to it.
      'tenant-a/grab@veth-a:tenant-a/web-a',
      // ipvl0: tenant-a's -1000 does not detach tenant-b's 7.
      'tenant-a/shared@ipvl0:tenant-a/shared-a',
      'tenant-b/shared@ipvl0:tenant-b/shared-b',
      // veth-dns and tenant-a's hostNetwork pod: the ClusterMirrorSession alone.
      'cluster.dns@veth-dns:kube-system/dns',
      'cluster.dns@any:tenant-a/hn-a',
    ].sort());
  });
});
