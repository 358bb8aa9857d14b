// podspan analyze: bad input ends in one line and a non-zero exit (runs on any build); and real
// HTTP servers in a network namespace with delays the test sets (a route that sleeps 200 ms, one
// that answers at once, one that returns 503 for known ids), driven by real clients (curl, hey)
// for known numbers of requests, analysed live on the client's veth: counts equal what the server
// counted, every quantile sits at its nearest rank among the latencies in http.jsonl, and the
// 200 ms route's quantiles are at least 200 ms.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addNamespaces, addVeth, canUseNetns, inNs, killStarted, removeNamespaces, startInNs, stopProcess } from '../helpers/netns';
import { oneErrorLine, podspan, podspanBin, run } from '../helpers/tools';
import { parseJsonLines, type FlowRecord, type HttpRecord } from '../../src/analysis/records';
import { rankOf } from '../../src/analysis/samples';
import type { Summary } from '../../src/analysis/aggregate';

let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-analyze-'))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('podspan analyze: bad input', () => {
  const cases: [string[], RegExp][] = [
    [['-r', 'x.pcap'], /required option '-o, --out-dir <dir>'/],
    [['-o', 'D', '-r', 'x', '--max-routes', '0'], /--max-routes must be between 1 and 100000/],
    [['-o', 'D', '-r', 'x', '--max-servers', 'many'], /--max-servers takes a whole number/],
    [['-o', 'D', '-r', 'x', '--max-samples', '-3'], /--max-samples takes a whole number/],
    [['-o', 'D', '-r', 'x', '--top', '1001'], /--top must be between 0 and 1000/],
    [['-o', 'D', '-r', 'x', '--flow-timeout', '1.5'], /--flow-timeout takes a whole number/],
    [['-o', 'D', '-r', 'a', '-i', 'b'], /-i and -r conflict/],
    [['-o', 'D', '-r', 'x', '--max-route', '3'], /unknown option '--max-route' \(nearest known flag: --max-routes\)/],
    [['-o', 'D', '-r', 'x', '-f', 'tcp', 'udp'], /give the filter either with -f or after the options/],
  ];
  for (const [args, message] of cases) {
    it(`${args.join(' ')}: one line, exit 2`, () => {
      const r = podspan(['analyze', ...args]);
      expect(oneErrorLine(r.stderr)).toMatch(message);
      expect(r.code).toBe(2);
    });
  }

  it('a file that is not there: one line naming it, exit 1', () => {
    const out = path.join(tmp, 'missing');
    const r = podspan(['analyze', '-r', path.join(tmp, 'nope.pcap'), '-o', out]);
    expect(oneErrorLine(r.stderr)).toMatch(/nope\.pcap|no traffic analysis/);
    expect(r.code).toBe(1);
  });
});

const hasEditcap = run('which', ['editcap']).code === 0;
if (!hasEditcap) console.log('analyze of a capture split in two files: skipped, needs editcap (Wireshark)');

describe.skipIf(!hasEditcap)('podspan analyze over several files', () => {
  it('a capture split in two at any packet, read with -r -r or -V, gives the records of the whole file', () => {
    const whole = path.resolve(__dirname, '../../fixtures/h2c-curl-go.pcap');
    const records = (dir: string) => ['flows.jsonl', 'http.jsonl', 'dns.jsonl'].map((f) => fs.readFileSync(path.join(dir, f), 'utf8'));
    const fromWhole = path.join(tmp, 'split-whole');
    expect(podspan(['analyze', '-r', whole, '-o', fromWhole, '--top', '0']).code).toBe(0);
    const expected = records(fromWhole);
    expect(expected[1].trim().split('\n').length).toBeGreaterThan(1); // HTTP/2 exchanges on both sides of any split
    // Splits inside the connection's handshake, its HTTP/2 preface and settings, and its requests.
    for (const at of [2, 5, 20, 40]) {
      const parts = [path.join(tmp, `split-${at}-a.pcap`), path.join(tmp, `split-${at}-b.pcap`)];
      expect(run('editcap', ['-r', whole, parts[0], `1-${at}`]).code).toBe(0);
      expect(run('editcap', ['-r', whole, parts[1], `${at + 1}-69`]).code).toBe(0);
      const viaR = path.join(tmp, `split-${at}-r`);
      const r = podspan(['analyze', '-r', parts[0], '-r', parts[1], '-o', viaR, '--top', '0']);
      expect(r.code, r.stderr).toBe(0);
      expect(records(viaR), `split after packet ${at}`).toEqual(expected);
      const list = path.join(tmp, `split-${at}.list`);
      fs.writeFileSync(list, parts.join('\n'));
      const viaV = path.join(tmp, `split-${at}-V`);
      expect(podspan(['analyze', '-V', list, '-o', viaV, '--top', '0']).code).toBe(0);
      expect(records(viaV), `-V, split after packet ${at}`).toEqual(expected);
    }
  });
});

const SERVER = `
const http = require('node:http');
const counts = {};
const server = http.createServer((req, res) => {
  const [, first, id] = req.url.split('/');
  const route = first === 'items' ? '/items/{id}' : '/' + first;
  const status = first === 'items' && Number(id) % 5 === 0 ? 503 : 200;
  counts[route + ' ' + status] = (counts[route + ' ' + status] || 0) + 1;
  const answer = () => { res.writeHead(status, { 'content-type': 'text/plain' }); res.end('ok\\n'); };
  if (first === 'slow') atLeast(200, answer); else answer();
});
// setTimeout counts from libuv's clock in whole milliseconds, so it may fire up to 1 ms short of
// its delay (199.82 ms was measured): wait again until 200 ms have really passed.
function atLeast(ms, done) {
  const until = process.hrtime.bigint() + BigInt(ms) * 1000000n;
  const check = () => {
    const left = Number(until - process.hrtime.bigint()) / 1e6;
    if (left > 0) setTimeout(check, Math.ceil(left)); else done();
  };
  check();
}
server.keepAliveTimeout = 60000;
// Go's client (hey) may dial one more connection than -c when a reply's connection is not back
// in its idle pool in time: the connections are counted here, by the server, not assumed.
let connections = 0;
server.on('connection', () => connections++);
process.on('SIGTERM', () => { process.stdout.write(JSON.stringify({ counts, connections }) + '\\n'); process.exit(0); });
server.listen(8080, '10.77.0.1', () => process.stderr.write('serving\\n'));
`;

describe.skipIf(!canUseNetns)('podspan analyze -i on real servers', () => {
  const pid = process.pid;
  const [srvNs, cliNs, srvDev, cliDev] = [`an-s${pid}`, `an-c${pid}`, `ans${pid}`, `anc${pid}`];

  beforeAll(() => {
    addNamespaces([srvNs, cliNs]);
    addVeth(srvNs, srvDev, cliNs, cliDev);
    inNs(srvNs, ['ip', 'addr', 'add', '10.77.0.1/24', 'dev', srvDev]);
    inNs(cliNs, ['ip', 'addr', 'add', '10.77.0.2/24', 'dev', cliDev]);
  });
  afterEach(() => killStarted()); // a failed test's server must not hold port 8080 for the next
  afterAll(() => {
    killStarted();
    removeNamespaces([srvNs, cliNs]);
  });

  it('counts exact per route and status, every quantile at its nearest rank, the 200 ms route at 200 ms or more', async () => {
    const script = path.join(tmp, 'server.js');
    fs.writeFileSync(script, SERVER);
    const server = await startInNs(srvNs, [process.execPath, script], /serving/);
    const out = path.join(tmp, 'live');
    const analyze = await startInNs(cliNs, [process.execPath, podspanBin, 'analyze', '-i', cliDev, '-o', out, 'tcp port 8080'], /listening on/);
    // The same traffic to a file, for `analyze -r` and for tshark's own HTTP analysis.
    const pcap = path.join(tmp, 'live.pcapng');
    const capture = await startInNs(cliNs, [process.execPath, podspanBin, 'capture', '-i', cliDev, '-w', pcap, 'tcp port 8080'], /listening on/);
    const base = 'http://10.77.0.1:8080';
    // hey: a known number of requests over 10 keep-alive connections; curl: one connection, ids 1..30.
    const hey = (n: number, url: string) => expect(run('ip', ['netns', 'exec', cliNs, 'hey', '-n', String(n), '-c', '10', '-t', '10', url], { timeoutMs: 60_000 }).code).toBe(0);
    hey(40, `${base}/slow`);
    hey(300, `${base}/fast`);
    const curl = run('ip', ['netns', 'exec', cliNs, 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}\\n', `${base}/items/[1-30]`], { timeoutMs: 60_000 });
    expect(curl.stdout.trim().split('\n').filter((c) => c === '503')).toHaveLength(6);
    expect(await stopProcess(analyze)).toBe(0);
    expect(await stopProcess(capture)).toBe(0);
    server.child.kill('SIGTERM');
    let served = '';
    server.child.stdout!.removeAllListeners('data');
    server.child.stdout!.on('data', (d) => (served += d));
    await server.exited;
    const { counts, connections } = JSON.parse(served) as { counts: Record<string, number>; connections: number };
    expect(connections).toBeGreaterThanOrEqual(21); // hey's 10 + 10 and curl's one, at least
    expect(counts).toEqual({ '/slow 200': 40, '/fast 200': 300, '/items/{id} 200': 24, '/items/{id} 503': 6 });

    const http = parseJsonLines<HttpRecord>(fs.readFileSync(path.join(out, 'http.jsonl')), 'http.jsonl');
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as Summary;
    const srv = summary.servers.find((s) => s.server === '10.77.0.1:8080')!;
    const route = (r: string) => srv.routes.find((x) => x.route === r)!;
    // Counts exact: the server's own count per route and status.
    expect(route('/slow')).toMatchObject({ method: 'GET', requests: 40, errors: 0, codes: { '200': 40 } });
    expect(route('/fast')).toMatchObject({ method: 'GET', requests: 300, errors: 0, codes: { '200': 300 } });
    expect(route('/items/{id}')).toMatchObject({ method: 'GET', requests: 30, errors: 6, codes: { '200': 24, '503': 6 } });
    expect(http).toHaveLength(370);
    expect(http.filter((r) => r.status === 503).map((r) => Number(r.path.split('/')[2])).sort((a, b) => a - b)).toEqual([5, 10, 15, 20, 25, 30]);
    // Every quantile at its nearest rank among the latencies written to http.jsonl.
    for (const r of ['/slow', '/fast', '/items/{id}']) {
      const lat = http.filter((x) => x.route === r).map((x) => x.latency_ms!).sort((a, b) => a - b);
      const q = route(r).latency_ms;
      expect(q.count).toBe(lat.length);
      expect([q.p50, q.p90, q.p99, q.max]).toEqual([lat[rankOf(0.5, lat.length)], lat[rankOf(0.9, lat.length)], lat[rankOf(0.99, lat.length)], lat[lat.length - 1]]);
      expect(q.exact).toBe(true);
    }
    // The server sleeps 200 ms before its first byte: no /slow latency below that; /fast has none that long.
    expect(route('/slow').latency_ms.p50!).toBeGreaterThanOrEqual(200);
    expect(Math.min(...http.filter((x) => x.route === '/slow').map((x) => x.latency_ms!))).toBeGreaterThanOrEqual(200);
    expect(route('/fast').latency_ms.max!).toBeLessThan(200);
    // Connections: as many as the server accepted.
    const flows = parseJsonLines<FlowRecord>(fs.readFileSync(path.join(out, 'flows.jsonl')), 'flows.jsonl');
    expect(flows.filter((f) => f.server === '10.77.0.1' && f.server_port === 8080)).toHaveLength(connections);
    expect(srv.connections).toBe(connections);
    expect(srv.handshake_rtt_ms.count).toBe(connections);
    expect(analyze.stderr()).toMatch(/370 HTTP\/gRPC exchanges/);
    expect(analyze.stderr()).toMatch(/^\d+ packets dropped by kernel$/m);
    // the packets it took, as tcpdump's "captured" line says (not the 0 a file count gives live)
    const taken = Number(/^(\d+) packets; /m.exec(analyze.stderr())?.[1]);
    expect(taken).toBeGreaterThan(0);
    expect(analyze.stderr()).toMatch(new RegExp(`^${taken} packets captured$`, 'm'));
    expect(analyze.stderr()).not.toMatch(/records dropped/);

    // From the file: the same counts, and each exchange's latency equal to tshark's http.time
    // (request to response; both single-segment here, so its first and last bytes are one frame).
    const fromFile = path.join(tmp, 'from-file');
    const r = podspan(['analyze', '-r', pcap, '-o', fromFile, '--top', '3']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[2]).toMatch(/^10\.77\.0\.1:8080\s+http\s+GET \/slow\s+40\s/);
    const fileHttp = parseJsonLines<HttpRecord>(fs.readFileSync(path.join(fromFile, 'http.jsonl')), 'http.jsonl');
    expect(fileHttp).toHaveLength(370);
    const tshark = run('tshark', ['-r', pcap, '-Y', 'http.response', '-T', 'fields', '-e', 'http.time', '-e', 'http.response_for.uri', '-e', 'http.response.code']);
    const theirs = tshark.stdout.trim().split('\n').map((l) => l.split('\t'));
    expect(theirs).toHaveLength(370);
    // Per path and status, the sorted latencies pairwise within 1 µs (ours are ms with µs precision).
    const group = (rows: [string, number, number][]) => {
      const g = new Map<string, number[]>();
      for (const [p, code, ms] of rows) g.set(`${p} ${code}`, [...(g.get(`${p} ${code}`) ?? []), ms]);
      return new Map([...g].map(([k, v]) => [k, v.sort((a, b) => a - b)]));
    };
    const ours = group(fileHttp.map((h) => [h.path, h.status, h.latency_ms!]));
    const judged = group(theirs.map(([t, uri, code]) => [new URL(uri).pathname, Number(code), Number(t) * 1000]));
    expect([...ours.keys()].sort()).toEqual([...judged.keys()].sort());
    for (const [k, v] of ours) v.forEach((ms, i) => expect(Math.abs(ms - judged.get(k)![i]), `${k} #${i}`).toBeLessThanOrEqual(0.001));
  });

  it('the agent with analyze: true exports the request counts as metrics and its collector writes the records as JSONL', async () => {
    const script = path.join(tmp, 'server.js');
    fs.writeFileSync(script, SERVER);
    const server = await startInNs(srvNs, [process.execPath, script], /serving/);
    const collectorOut = path.join(tmp, 'collector');
    const collector = await startInNs(cliNs, [process.execPath, podspanBin, 'collector', '--listen', '127.0.0.1:0', '--out', collectorOut], /listening on/);
    const collectorPort = /listening on [^\s]*:(\d+)/.exec(collector.stderr())![1];
    const config = path.join(tmp, 'agent.yaml');
    fs.writeFileSync(
      config,
      `metrics: { listen: "127.0.0.1:0" }\nsessions:\n  - name: web\n    analyze: true\n    sources: { interfaces: [${cliDev}] }\n    filter: { ports: [8080] }\n    targets: [{ grpc: "grpc://127.0.0.1:${collectorPort}" }]\n`,
    );
    const agent = await startInNs(cliNs, [process.execPath, podspanBin, 'agent', '--config', config], /running \d+ captures/);
    expect(agent.stderr()).toMatch(/running 1 captures/);
    const metricsUrl = /metrics on (http:\/\/[^\s,]+)/.exec(agent.stderr())![1];
    const scrape = () => run('ip', ['netns', 'exec', cliNs, 'curl', '-s', metricsUrl]).stdout;
    const value = (text: string, series: string) => Number(text.split('\n').find((l) => l.startsWith(series + ' '))?.split(' ').pop() ?? NaN);
    const fast = 'podspan_http_requests_total{namespace="",pod="10.77.0.1:8080",method="GET",route="/fast",code="200",grpc_status=""}';
    const failed = 'podspan_http_requests_total{namespace="",pod="10.77.0.1:8080",method="GET",route="/items/{id}",code="503",grpc_status=""}';
    expect(run('ip', ['netns', 'exec', cliNs, 'hey', '-n', '100', '-c', '5', '-t', '10', 'http://10.77.0.1:8080/fast'], { timeoutMs: 60_000 }).code).toBe(0);
    run('ip', ['netns', 'exec', cliNs, 'curl', '-s', '-o', '/dev/null', 'http://10.77.0.1:8080/items/[1-20]'], { timeoutMs: 60_000 });
    // The connections the server accepted (hey may dial more than -c 5: see SERVER), each closed
    // with FIN both ways by now; the server tells how many when it stops.
    server.child.kill('SIGTERM');
    let served = '';
    server.child.stdout!.removeAllListeners('data');
    server.child.stdout!.on('data', (d) => (served += d));
    await server.exited;
    const { connections } = JSON.parse(served) as { connections: number };
    expect(connections).toBeGreaterThanOrEqual(6);
    // Records reach the metrics as the capture hands them over (a connection's at its close):
    // polled until the expected values or 15 s, then asserted exactly.
    const deadline = Date.now() + 15_000;
    let text = scrape();
    const closed = 'podspan_tcp_connections_total{namespace="",pod="10.77.0.1:8080",state="closed"}';
    while ((value(text, fast) !== 100 || value(text, failed) !== 4 || value(text, closed) !== connections) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      text = scrape();
    }
    expect(value(text, fast)).toBe(100);
    expect(value(text, failed)).toBe(4);
    expect(value(text, 'podspan_http_request_duration_seconds_count{namespace="",pod="10.77.0.1:8080",method="GET",route="/fast"}')).toBe(100);
    expect(value(text, closed)).toBe(connections);
    expect(await stopProcess(agent, 'SIGTERM')).toBe(0);
    expect(await stopProcess(collector, 'SIGTERM')).toBe(0);
    const httpFile = fs.readdirSync(collectorOut).find((f) => f.endsWith('.http.jsonl'))!;
    const http = parseJsonLines<HttpRecord>(fs.readFileSync(path.join(collectorOut, httpFile)), httpFile);
    expect(http.filter((r) => r.route === '/fast')).toHaveLength(100);
    expect(http.filter((r) => r.status === 503)).toHaveLength(4);
    expect(fs.existsSync(path.join(collectorOut, httpFile.replace(/\.http\.jsonl$/, '.pcapng')))).toBe(true);
  });
});
