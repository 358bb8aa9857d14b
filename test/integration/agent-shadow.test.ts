// A session's `shadow:` target in the agent: production (v1) a "pod" in its own namespace, the
// candidate (v2) and the primary (v1) in another, real clients (curl) calling production; the
// agent, from its config file, captures production's traffic on the clients' side of its veth,
// replays it and compares. Judged: the agent's Prometheus metrics count exactly the planted
// differences and the skipped POST, the report files it writes name them, the candidate gets
// every GET with the marker header and no POST, production gets exactly the clients' requests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canUseNetns, inNs, startInNs, stopProcess } from '../helpers/netns';
import { CAND, PROD, ShadowPods } from '../helpers/shadow-pods';
import { until } from '../helpers/k8s-agent';
import { ownThread, SCHED_IDLE, threadsOf } from '../helpers/threads';
import { podspanBin, run } from '../helpers/tools';

const haveTools = run('which', ['curl']).code === 0;
if (!canUseNetns || !haveTools) console.log('agent shadow test skipped: it needs root, iproute2, trafgen and curl');

const pods = new ShadowPods('ag');
const { nsC, nsP, nsK } = pods;

/** An agent config of one session on the clients' side of production's veth, port 8080 only. */
function writeConfig(file: string, session: string, targets: string): string {
  fs.writeFileSync(
    file,
    ['metrics: { listen: "127.0.0.1:0" }', 'sessions:', `  - name: ${session}`, `    sources: { interfaces: [${pods.devC}] }`, '    filter: { bpf: "tcp port 8080" }', `    targets: ${targets}`].join('\n'),
  );
  return file;
}

describe.skipIf(!canUseNetns || !haveTools)('the agent shadowing a session to a candidate', () => {
  beforeAll(() => pods.setup());
  afterAll(() => pods.teardown());

  it('counts exactly the planted differences in its metrics and report, never replays a POST, leaves production alone', async () => {
    const production = await pods.app(nsP, 'v1', PROD, 8080);
    const candidate = await pods.app(nsK, 'v2', CAND, 8080);
    const primary = await pods.app(nsK, 'v1', CAND, 8081);
    const reports = path.join(pods.tmp, 'reports');
    const cfg = writeConfig(path.join(pods.tmp, 'agent.yaml'), 'checkout', `[ { shadow: { target: "http://${CAND}:8080", primary: "http://${CAND}:8081", reportDir: "${reports}" } } ]`);
    const agent = await startInNs(nsC, [process.execPath, podspanBin, 'agent', '--config', cfg], /running 1 captures/);
    const metricsUrl = /metrics on (http:\/\/[^\s,]+)/.exec(agent.stderr())![1];
    const metric = (text: string, result: string, route: string) =>
      Number(new RegExp(`^podspan_shadow_requests_total\\{session="checkout",route="${route.replace(/[{}/]/g, '\\$&')}",result="${result}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    const scrape = () => run('ip', ['netns', 'exec', nsC, 'curl', '-sf', metricsUrl]).stdout;

    const base = `http://${PROD}:8080`;
    inNs(nsC, ['curl', '-sf', '-o', '/dev/null', ...Array.from({ length: 10 }, (_, i) => `${base}/api/users/${i + 1}`)]);
    inNs(nsC, ['curl', '-sf', '-o', '/dev/null', '-d', '{"item":1}', '-H', 'content-type: application/json', `${base}/api/orders`]);
    await until(() => {
      const m = scrape();
      return metric(m, 'differ', 'GET /api/users/{id}') + metric(m, 'match', 'GET /api/users/{id}') === 10 && metric(m, 'skipped', '') === 1;
    }, 20_000).catch((e: Error) => {
      throw new Error(`${e.message}: ${scrape().split('\n').filter((l) => l.startsWith('podspan_shadow')).join('\n')}\nagent: ${agent.stderr()}`);
    });
    const m = scrape();
    expect(metric(m, 'differ', 'GET /api/users/{id}')).toBe(10);
    expect(metric(m, 'error', 'GET /api/users/{id}')).toBe(0);
    expect(m).toMatch(/^podspan_shadow_latency_seconds_count\{session="checkout",side="candidate"\} 10$/m);
    // The replay ran in a child process, all of its threads at nice 19 in SCHED_IDLE; every thread of the
    // agent (its capture thread included) keeps the agent's priority.
    const own = os.getPriority();
    const ownPolicy = ownThread().policy;
    const threads = threadsOf(agent.child.pid!);
    expect(threads.filter((t) => t.nice !== own || t.policy !== ownPolicy), JSON.stringify(threads)).toEqual([]);
    expect(threads.filter((t) => t.comm === 'podspan-capture')).toHaveLength(1);
    const children = run('pgrep', ['-P', String(agent.child.pid)]).stdout.trim().split('\n').filter(Boolean).map(Number);
    expect(children).toHaveLength(1);
    const replay = threadsOf(children[0]);
    expect(replay.filter((t) => t.nice !== Math.max(own, 19) || t.policy !== SCHED_IDLE), JSON.stringify(replay)).toEqual([]);
    expect(await stopProcess(agent, 'SIGTERM'), agent.stderr()).toBe(0);

    // The report, written at the end under REPORTDIR/SESSION/INTERFACE.
    const summary = JSON.parse(fs.readFileSync(path.join(reports, 'checkout', pods.devC, 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ requests: 10, compared: 10, differed: 10, errors: 0, skipped: { method: 1 } });
    expect(Object.fromEntries(summary.routes.map((r: { method: string; route: string; differences: object }) => [`${r.method} ${r.route}`, r.differences]))).toEqual({
      'GET /api/users/{id}': { status: 1, 'body:$.price': 9, 'header:cache-control': 9 },
    });
    const candSeen = await pods.received(candidate);
    expect(candSeen).toHaveLength(10);
    expect(candSeen.every((r) => r.method === 'GET' && r.marker === '1')).toBe(true);
    expect(await pods.received(primary)).toHaveLength(10);
    const prodSeen = await pods.received(production);
    expect(prodSeen).toHaveLength(11);
    expect(prodSeen.filter((r) => r.marker !== null)).toHaveLength(0);
  }, 60_000);

  it('a streams target with maxBytes keeps each direction\'s first bytes and counts the rest, as streams -b does', async () => {
    await pods.app(nsP, 'v1', PROD, 8080);
    const dir = path.join(pods.tmp, 'cut');
    const cfg = writeConfig(path.join(pods.tmp, 'agent-cut.yaml'), 'cut', `[ { pcap: { dir: "${dir}/pcap" } }, { streams: { dir: "${dir}/streams", maxBytes: 64 } } ]`);
    const agent = await startInNs(nsC, [process.execPath, podspanBin, 'agent', '--config', cfg], /running 1 captures/);
    // Three requests on one connection, and one more on another: four directions over 64 bytes.
    inNs(nsC, ['curl', '-sf', '-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null', ...[1, 2, 3].map((i) => `http://${PROD}:8080/api/users/${i}`)]);
    inNs(nsC, ['curl', '-sf', '-o', '/dev/null', `http://${PROD}:8080/api/users/4`]);
    // Stopped once the last ring block came through: the count of captured packets has settled.
    const metricsUrl = /metrics on (http:\/\/[^\s,]+)/.exec(agent.stderr())![1];
    const captured = () => Number(/^podspan_captured_packets\{[^}]*session="cut"[^}]*\} (\d+)/m.exec(run('ip', ['netns', 'exec', nsC, 'curl', '-sf', metricsUrl]).stdout)?.[1] ?? 0);
    let last = -1;
    await until(async () => {
      const now = captured();
      const settled = now === last && now >= 20; // two connections of at least 10 packets each
      last = now;
      if (!settled) await new Promise((r) => setTimeout(r, 1500)); // the metric is refreshed about once a second
      return settled;
    }, 20_000);
    expect(await stopProcess(agent, 'SIGTERM'), agent.stderr()).toBe(0);

    // The judge: the whole streams of the session's own pcap, by podspan streams without -b.
    const whole = path.join(pods.tmp, 'cut-whole');
    const pcap = path.join(dir, 'pcap', 'cut', `${pods.devC}.pcapng`);
    expect(run(process.execPath, [podspanBin, 'streams', '-r', pcap, '-o', whole]).code).toBe(0);
    type Line = { file: string; bytes: number; truncated_bytes?: number };
    const index = (d: string) => new Map(fs.readFileSync(path.join(d, 'index.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line).map((l) => [l.file, l]));
    const [cutDir] = run('find', [path.join(dir, 'streams'), '-name', 'index.jsonl', '-printf', '%h\n']).stdout.trim().split('\n');
    const full = index(whole);
    const cut = index(cutDir);
    expect([...cut.keys()].sort()).toEqual([...full.keys()].sort());
    expect([...full.values()].filter((l) => l.bytes > 64)).toHaveLength(4);
    for (const [file, f] of full) {
      const c = cut.get(file)!;
      expect([c.bytes, c.truncated_bytes ?? 0], file).toEqual([Math.min(f.bytes, 64), Math.max(0, f.bytes - 64)]);
      expect(fs.readFileSync(path.join(cutDir, file)), file).toEqual(fs.readFileSync(path.join(whole, file)).subarray(0, 64));
    }
  }, 60_000);

  it('the replay process killed: one error line naming the session, the capture of that session stopped, the agent goes on and exits 0', async () => {
    await pods.app(nsP, 'v1', PROD, 8080);
    await pods.app(nsK, 'v2', CAND, 8080);
    const cfg = writeConfig(path.join(pods.tmp, 'agent-kill.yaml'), 'killed', `[ { shadow: { target: "http://${CAND}:8080" } } ]`);
    const agent = await startInNs(nsC, [process.execPath, podspanBin, 'agent', '--config', cfg], /running 1 captures/);
    const metricsUrl = /metrics on (http:\/\/[^\s,]+)/.exec(agent.stderr())![1];
    const children = run('pgrep', ['-P', String(agent.child.pid)]).stdout.trim().split('\n').filter(Boolean).map(Number);
    expect(children).toHaveLength(1);
    process.kill(children[0], 'SIGKILL'); // a fault only a kill shows: the replay gone mid-run
    await until(() => /shadow replay process failed/.test(agent.stderr()), 10_000);
    const line = agent.stderr().split('\n').find((l) => l.includes('shadow replay process failed'))!;
    expect(JSON.parse(line)).toMatchObject({ session: 'killed', signal: 'SIGKILL' });
    // That session's capture ended (as when its run fails); the agent still serves its metrics, and ends cleanly.
    await until(() => /"session":"killed".*"msg":"capture ended"/.test(agent.stderr()), 10_000);
    const scrape = run('ip', ['netns', 'exec', nsC, 'curl', '-sf', metricsUrl]);
    expect(scrape.code).toBe(0);
    expect(scrape.stdout).toMatch(/^podspan_captures 0$/m);
    expect(await stopProcess(agent, 'SIGTERM')).toBe(0);
  }, 60_000);
});
