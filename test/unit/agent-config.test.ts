// The agent's configuration: a valid file with its defaults, and every kind of invalid one
// refused with one message naming the file, the field and the problem; the filter a session
// compiles to (checked by libpcap itself).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleExpression, sessionFilters } from '../../src/agent/filter';
import { unusedPath } from '../../src/agent/mirror-capture';
import { CaptureSession } from '../../src/capture/session';
import { loadAgentConfig } from '../../src/config/agent-config';
import { UsageError } from '../../src/errors';
import { podspan, podspanBin, repoRoot, run } from '../helpers/tools';

let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-agent-config-'))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, text);
  return f;
};

const valid = `
node: node-a
metrics: { listen: "127.0.0.1:9191" }
sessions:
  - name: web
    sources: { interfaces: ["eth0", "veth*"] }
    filter: { protocols: [tcp], ports: [80, 443], cidrs: [10.0.0.0/8] }
    sampleOneIn: 4
    truncate: 128
    vni: 42
    targets:
      - pcap: { dir: /var/lib/podspan, rotateMB: 100, keepFiles: 5 }
      - vxlan: vxlan://10.0.0.9
      - grpc: grpc://collector:50051?queue=8388608
`;

describe('agent config', () => {
  it('reads a valid file with its defaults, and the session VNI goes to VXLAN targets without one', () => {
    const { config, sessions } = loadAgentConfig(file('ok.yaml', valid), {});
    expect(config.node).toBe('node-a');
    expect(config.kubernetes.enabled).toBe(false);
    expect(sessions[0].filter.direction).toBe('both');
    expect(sessions[0].priority).toBe(0);
    expect(sessions[0].forward.map((t) => t.kind)).toEqual(['vxlan', 'grpc']);
    expect(sessions[0].forward[0]).toMatchObject({ kind: 'vxlan', vni: 42 });
    expect(loadAgentConfig(file('ok2.yaml', valid), { NODE_NAME: 'from-env' }).config.node).toBe('from-env');
  });

  it('takes geneve and gre targets; the session VNI goes to GENEVE targets without one', () => {
    const text = valid.replace('- vxlan: vxlan://10.0.0.9', '- geneve: geneve://10.0.0.9?session=3\n      - geneve: geneve://10.0.0.8?vni=5\n      - gre: gre://10.0.0.7?key=9');
    const { sessions } = loadAgentConfig(file('geneve.yaml', text), {});
    expect(sessions[0].forward.slice(0, 3)).toMatchObject([
      { kind: 'geneve', host: '10.0.0.9', port: 6081, vni: 42, session: 3 },
      { kind: 'geneve', host: '10.0.0.8', vni: 5 },
      { kind: 'gre', host: '10.0.0.7', key: 9, sequence: false },
    ]);
    expect(sessions[0].forward[2]).not.toHaveProperty('vni');
  });

  it.each([
    ['ports', valid.replace('ports: [80, 443]', 'ports: [80, 70000]'), 'sessions[0].filter.ports[1]: Number must be less than or equal to 65535'],
    ['unknown field', valid.replace('sampleOneIn: 4', 'sampleOneIn: 4\n    colour: red'), 'sessions[0]: unknown field colour'],
    ['no sources', valid.replace('sources: { interfaces: ["eth0", "veth*"] }', 'sources: {}'), 'sessions[0].sources: name interfaces, pods, or both'],
    ['no targets', valid.replace(/targets:[\s\S]*$/, 'targets: []\n'), 'sessions[0].targets: give at least one target'],
    ['bad name', valid.replace('name: web', 'name: Web_1'), 'sessions[0].name: lower-case letters, digits and dashes'],
    ['duplicate', valid + valid.split('sessions:')[1], 'sessions[1].name: duplicate session name web'],
    ['pods without kubernetes', valid.replace('sources: { interfaces: ["eth0", "veth*"] }', 'sources: { pods: { namespaces: [shop] } }'), 'sessions[0].sources.pods: pod sources need kubernetes.enabled: true'],
    ['bad target URL', valid.replace('vxlan://10.0.0.9', 'vxlan://10.0.0.9?vni=x'), 'sessions web: targets[1]: vxlan://10.0.0.9?vni=x: vni takes a whole number'],
    ['bad metrics address', valid.replace('127.0.0.1:9191', 'nowhere'), 'metrics.listen: expected HOST:PORT'],
    // A target's form is a union: zod's own message was a bare "Invalid input" without the field.
    ['a target field of the wrong type', valid.replace('rotateMB: 100', 'rotateMB: "lots"'), 'sessions[0].targets[0].pcap.rotateMB: Expected number, received string'],
    ['a target of no known form', valid.replace('- vxlan: vxlan://10.0.0.9', '- udp: 10.0.0.9'), 'sessions[0].targets[1]: expected one of vxlan, geneve, gre, erspan, grpc, pcap, streams, shadow'],
    // --check-config called this valid; each capture then failed at start.
    ['a BPF libpcap refuses', valid.replace('filter: { protocols', 'filter: { bpf: "tcp port", protocols'), "sessions web: filter.bpf: filter 'tcp port' (link type 1): can't parse filter expression: syntax error"],
  ])('refuses %s, naming the field', (_, text, message) => {
    const f = file(`bad-${Math.random().toString(36).slice(2)}.yaml`, text);
    expect(() => loadAgentConfig(f, {})).toThrow(UsageError);
    expect(() => loadAgentConfig(f, {})).toThrow(`${f}: ${message}`);
  });

  it('reads a shadow target into the settings podspan shadow uses, and refuses a bad one naming the field', () => {
    const shadowSession = (shadow: string) => `sessions:\n  - name: s\n    sources: { interfaces: [eth0] }\n    targets: [ { shadow: ${shadow} } ]\n`;
    const { sessions } = loadAgentConfig(file('shadow.yaml', shadowSession('{ target: "http://cand:8080", methods: [get, post], percent: 50, timeoutSeconds: 2, ignore: ["header:x-b"] }')), {});
    expect(sessions[0].forward).toEqual([]);
    expect(sessions[0].shadow).toMatchObject({ protocol: 'http', methods: ['GET', 'POST'], percent: 50, target: { origin: 'http://cand:8080', port: 8080 }, limits: { timeoutMs: 2000 }, marker: ['x-podspan-shadow', '1'] });
    const refused = (name: string, shadow: string) => {
      try {
        loadAgentConfig(file(name, shadowSession(shadow)), {});
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as Error).message;
      }
      return 'accepted';
    };
    expect(refused('sh1.yaml', '{ target: "ftp://cand" }')).toMatch(/sessions s: targets\[0\]\.shadow: target ftp:\/\/cand: protocol http takes http:\/\/ or https:\/\/ URLs/);
    expect(refused('sh2.yaml', '{ target: "tcp://cand:6379", protocol: raw }')).toMatch(/targets\[0\]\.shadow: protocol raw needs serverPorts PORT/); // the field's name (it said serverPort, a field that does not exist)
    expect(refused('sh3.yaml', '{ target: "http://cand", ignore: ["body:$["] }')).toMatch(/targets\[0\]\.shadow: ignore "body:\$\[": /);
    expect(refused('sh4.yaml', '{ target: "http://cand", speed: 2 }')).toMatch(/unknown field speed/);
  });

  it('refuses a file that is missing or not YAML, naming it', () => {
    expect(() => loadAgentConfig(path.join(tmp, 'none.yaml'), {})).toThrow(/none\.yaml: cannot read: ENOENT/);
    expect(() => loadAgentConfig(file('broken.yaml', 'sessions: [\n'), {})).toThrow(/broken\.yaml: not valid YAML/);
  });

  it('podspan agent --check-config: exit 0 for a valid file, 2 and one line for an invalid one', () => {
    const ok = podspan(['agent', '--config', file('cli-ok.yaml', valid), '--check-config']);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toMatch(/cli-ok\.yaml: valid \(1 sessions\)/);
    const bad = podspan(['agent', '--config', file('cli-bad.yaml', valid.replace('truncate: 128', 'truncate: -1')), '--check-config']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/cli-bad\.yaml: sessions\[0\]\.truncate: Number must be greater than or equal to 0/);
  });

  it('takes overrides from the environment and, above those, from flags', () => {
    const cfg = file('cli-env.yaml', valid.replace('node: node-a', 'node: from-file').replace('127.0.0.1:9191', '127.0.0.1:9100'));
    const env = { ...process.env, PODSPAN_CONFIG: cfg, NODE_NAME: 'from-env', PODSPAN_METRICS_LISTEN: '127.0.0.1:9200' };
    const viaEnv = run(process.execPath, [podspanBin, 'agent', '--check-config'], { env });
    expect(viaEnv.code).toBe(0);
    expect(viaEnv.stderr).toMatch(/cli-env\.yaml: valid \(1 sessions\); node from-env, metrics on 127\.0\.0\.1:9200/);
    const viaFlags = run(process.execPath, [podspanBin, 'agent', '--check-config', '--node', 'from-flag', '--metrics-listen', '127.0.0.1:9300'], { env });
    expect(viaFlags.stderr).toMatch(/node from-flag, metrics on 127\.0\.0\.1:9300/);
    const fileOnly = run(process.execPath, [podspanBin, 'agent', '--config', cfg, '--check-config'], { env: { PATH: process.env.PATH } });
    expect(fileOnly.stderr).toMatch(/node from-file, metrics on 127\.0\.0\.1:9100/);
  });
});

describe('the agent and its kubeconfig', () => {
  const k8sConfig = (name: string, extra = '') =>
    file(name, `metrics: { listen: "127.0.0.1:0" }\nkubernetes: { enabled: true${extra} }\nsessions:\n  - name: lo\n    sources: { interfaces: [lo] }\n    filter: { bpf: "udp port 9" }\n    targets: [ { pcap: { dir: ${path.join(tmp, 'k8s-caps')} } } ]\n`);
  const noCluster = { PATH: process.env.PATH, HOME: tmp }; // no KUBECONFIG, no KUBERNETES_SERVICE_HOST
  const kubeconfig = (server: string) =>
    file('kubeconfig.yaml', `apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts: [{ name: c, context: { cluster: k, user: u } }]\nclusters: [{ name: k, cluster: { server: "${server}", insecure-skip-tls-verify: true } }]\nusers: [{ name: u, user: { token: t } }]\n`);

  it('exits 2 with one line when the kubeconfig does not load (it used to keep running, unready, forever)', () => {
    const cases: [string, string[], NodeJS.ProcessEnv, RegExp][] = [
      ['a missing kubernetes.kubeconfig', ['--config', k8sConfig('k-missing.yaml', `, kubeconfig: ${path.join(tmp, 'nope.yaml')}`)], noCluster, /nope\.yaml: cannot load kubeconfig: no such file/],
      ['none at all, outside a pod', ['--config', k8sConfig('k-none.yaml')], noCluster, /KUBERNETES_SERVICE_HOST\/KUBERNETES_SERVICE_PORT are not set/],
      // --check-config loads it too, from $KUBECONFIG when the file names none.
      ['a missing $KUBECONFIG', ['--config', k8sConfig('k-env.yaml'), '--check-config'], { ...noCluster, KUBECONFIG: path.join(tmp, 'from-env.yaml') }, /from-env\.yaml: cannot load kubeconfig: no such file/],
    ];
    for (const [what, args, env, message] of cases) {
      const r = run(process.execPath, [podspanBin, 'agent', ...args], { env, timeoutMs: 20_000 });
      expect(r.code, `${what}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim().split('\n'), what).toHaveLength(1);
      expect(r.stderr, what).toMatch(message);
    }
  });

  it('--check-config names the cluster $KUBECONFIG gives', () => {
    const r = run(process.execPath, [podspanBin, 'agent', '--config', k8sConfig('k-check.yaml'), '--check-config'], { env: { ...noCluster, KUBECONFIG: kubeconfig('https://127.0.0.1:1') } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Kubernetes on \(.*kubeconfig\.yaml: server https:\/\/127\.0\.0\.1:1\)/);
  });

  it.skipIf(process.getuid?.() !== 0)('starts the config file\'s sessions at once while the Kubernetes API does not answer', async () => {
    const cfg = k8sConfig('k-down.yaml', `, kubeconfig: ${kubeconfig('https://127.0.0.1:1')}`);
    const child = spawn(process.execPath, [podspanBin, 'agent', '--config', cfg], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...noCluster, PODSPAN_LOG_LEVEL: 'error' } });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    try {
      const deadline = Date.now() + 15_000;
      while (!/started \d+ captures/.test(err) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(err).toMatch(/started 1 captures of the config file's sessions; pods and MirrorSessions follow from .*kubeconfig\.yaml/);
      expect(fs.existsSync(path.join(tmp, 'k8s-caps', 'lo', 'lo.pcapng'))).toBe(true);
      expect(err).not.toMatch(/running \d+ captures/); // that line waits for the pods and sessions
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.on('exit', r));
    }
  });
});

describe('session filters', () => {
  it('joins BPF, rules, direction and flow sampling, and libpcap compiles the result', async () => {
    const f = sessionFilters({ filter: { bpf: 'not arp', protocols: ['tcp', 'udp'], ports: [53], cidrs: ['10.0.0.0/8'], direction: 'both' }, sampleOneIn: 3 }).filter;
    expect(f).toBe(`(not arp) and (tcp or udp) and port 53 and net 10.0.0.0/8 and ${sampleExpression(3)}`);
    const fixture = path.join(repoRoot, 'fixtures', 'sample-20.pcapng');
    const run = async (filter: string) => {
      const s = CaptureSession.open({ source: { kind: 'file', path: fixture }, filter, snaplen: 262144, promisc: false, immediate: false, timeoutMs: 100 });
      const r = await s.start();
      return r.stats.reduce((n, x) => n + x.captured, 0);
    };
    expect(await run(f!)).toBeGreaterThanOrEqual(0); // it compiles
    // Sampling keeps whole flows: over 1-in-2, 1-in-3 ... every packet of a flow is kept or dropped together.
    const all = await run(sampleExpression(1));
    expect(all).toBe(20);
    expect(await run(sampleExpression(2))).toBeLessThan(20);
  });

  it('gives the filter without sampling beside it, so sampled-out packets can be counted', () => {
    const rules = { bpf: undefined, protocols: ['tcp' as const], ports: [], cidrs: [], direction: 'both' as const };
    expect(sessionFilters({ filter: rules, sampleOneIn: 1 })).toEqual({ filter: 'tcp' });
    expect(sessionFilters({ filter: rules, sampleOneIn: 4 }, 'port 80')).toEqual({ filter: `tcp and (port 80) and ${sampleExpression(4)}`, sampledFilter: 'tcp and (port 80)' });
    const none = { ...rules, protocols: [] };
    expect(sessionFilters({ filter: none, sampleOneIn: 4 })).toEqual({ filter: sampleExpression(4), sampledFilter: 'greater 0' });
    expect(sessionFilters({ filter: rules, sampleOneIn: 4, countSampledOut: false })).toEqual({ filter: `tcp and ${sampleExpression(4)}` });
  });
});

describe('capture file names', () => {
  it('never reuse a file an earlier capture left: the start time goes into the name', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-names-'));
    try {
      const file = path.join(dir, 'veth1_shop_cart-1.pcapng');
      const at = new Date('2026-11-25T17:30:05Z');
      expect(unusedPath(file, at)).toBe(file);
      fs.writeFileSync(file, 'earlier');
      expect(unusedPath(file, at)).toBe(path.join(dir, 'veth1_shop_cart-1_20261125173005.pcapng'));
      fs.writeFileSync(path.join(dir, 'veth1_shop_cart-1_20261125173005.pcapng'), 'earlier too');
      expect(unusedPath(file, at)).toBe(path.join(dir, 'veth1_shop_cart-1_20261125173005_2.pcapng'));
      fs.mkdirSync(path.join(dir, 'streams'));
      expect(unusedPath(path.join(dir, 'streams'), at)).toBe(path.join(dir, 'streams_20261125173005'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
