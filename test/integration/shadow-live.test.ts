// `podspan shadow` end to end with real parts: production (v1) is a "pod" in its own network
// namespace, the candidate (v2) and the primary (v1) are pods in another; real clients (curl and
// hey) call production; podspan captures on the clients' side of production's veth, live, and
// (in the same run) `podspan capture` records a pcap that `podspan shadow -r` replays afterwards.
// Judged: the report names exactly the planted differences, POST is never replayed, production
// received exactly the clients' requests, every replayed request carries the marker header; the
// candidate down ends in exit 1 and one line.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { canUseNetns, inNs, killStarted, startInNs, stopProcess } from '../helpers/netns';
import { CAND, PROD, ShadowPods } from '../helpers/shadow-pods';
import { ownThread, SCHED_IDLE, threadsWhen, type ThreadInfo } from '../helpers/threads';
import { podspanBin, run, until } from '../helpers/tools';

const haveTools = run('which', ['curl']).code === 0 && run('which', ['hey']).code === 0;
if (!canUseNetns || !haveTools) console.log('shadow live test skipped: it needs root, iproute2, trafgen, curl and hey');

const pods = new ShadowPods('sh');
const { nsC, nsP, nsK } = pods;
const HEY_REQUESTS = 200;

/** The clients' traffic: curl (users 1..10 on one keep-alive connection, HEAD, POST) and hey (200 GETs on 4 connections). */
function clientTraffic(): void {
  const base = `http://${PROD}:8080`;
  inNs(nsC, ['curl', '-sf', '-o', '/dev/null', ...Array.from({ length: 10 }, (_, i) => `${base}/api/users/${i + 1}`)]);
  inNs(nsC, ['curl', '-sf', '-o', '/dev/null', '-I', `${base}/health`]);
  inNs(nsC, ['curl', '-sf', '-o', '/dev/null', '-d', '{"item":1}', '-H', 'content-type: application/json', `${base}/api/orders`]);
  inNs(nsC, ['hey', '-n', String(HEY_REQUESTS), '-c', '4', `${base}/health`]);
}

/** Connections in a capture file with a packet matching `filter`, as tshark counts them. */
function streamsWith(file: string, filter: string): number {
  const r = run('tshark', ['-n', '-r', file, '-Y', filter, '-T', 'fields', '-e', 'tcp.stream']);
  expect(r.code, r.stderr).toBe(0);
  return new Set(r.stdout.trim().split('\n').filter(Boolean)).size;
}

const plantedRoutes = {
  'GET /api/users/{id}': { status: 1, 'body:$.price': 9, 'header:cache-control': 9 },
  'HEAD /health': {},
  'GET /health': {},
};
const routesOf = (summary: { routes: { method: string; route: string; differences: Record<string, number> }[] }) =>
  Object.fromEntries(summary.routes.map((r) => [`${r.method} ${r.route}`, r.differences]));

describe.skipIf(!canUseNetns || !haveTools)('podspan shadow with real pods, clients and capture', () => {
  beforeAll(() => pods.setup());
  afterEach(() => killStarted()); // a failed test leaves no pod behind for the next
  afterAll(() => pods.teardown());

  it('live and from the recorded file: exactly the planted differences, no POST replayed, production untouched, marker on every request', async () => {
    const production = await pods.app(nsP, 'v1', PROD, 8080);
    let candidate = await pods.app(nsK, 'v2', CAND, 8080);
    let primary = await pods.app(nsK, 'v1', CAND, 8081);
    const pcap = path.join(pods.tmp, 'prod.pcap');
    const live = path.join(pods.tmp, 'live');
    const recorder = await startInNs(nsC, [process.execPath, podspanBin, 'capture', '-i', pods.devC, '-w', pcap, '--immediate', '-B', '32768', 'tcp port 8080'], /listening on/);
    const shadow = await startInNs(
      nsC,
      // -B: a 32 MiB kernel buffer, so a loaded machine (other tests beside) costs no packets.
      [process.execPath, podspanBin, 'shadow', '-i', pods.devC, '-B', '32768', '-f', 'tcp port 8080', '--target', `http://${CAND}:8080`, '--primary', `http://${CAND}:8081`, '--report', live],
      /listening on/,
    );
    clientTraffic();
    await new Promise((r) => setTimeout(r, 1000)); // the last FINs, ring blocks and replies
    expect(await stopProcess(shadow)).toBe(0);
    expect(await stopProcess(recorder)).toBe(0);
    const liveSummary = JSON.parse(fs.readFileSync(path.join(live, 'summary.json'), 'utf8'));
    const requests = 10 + 1 + HEY_REQUESTS;
    expect(liveSummary, shadow.stderr()).toMatchObject({ requests, compared: requests, errors: 0, differed: 10, matched: requests - 10 });
    expect(liveSummary.skipped).toMatchObject({ method: 1 });
    expect(routesOf(liveSummary)).toEqual(plantedRoutes);
    expect(shadow.stderr()).toMatch(new RegExp(`${requests} requests replayed to http://${CAND.replace(/\./g, '\\.')}:8080 .*: ${requests} compared, ${requests - 10} matched, 10 differed, 0 errors`));

    const prodSeen = await pods.received(production);
    expect(prodSeen.length).toBe(requests + 1); // the clients' requests (POST included), nothing more
    expect(prodSeen.filter((r) => r.marker !== null)).toHaveLength(0);
    const candSeen = await pods.received(candidate);
    expect(candSeen.filter((r) => r.method === 'POST')).toHaveLength(0);
    expect(candSeen).toHaveLength(requests);
    expect(candSeen.every((r) => r.marker === '1')).toBe(true);
    // One candidate connection per captured connection that carried a replayed request (hey may
    // open more than -c 4 connections, some unused: its pool dials when none is idle at that
    // moment). tshark counts them.
    expect(new Set(candSeen.map((r) => r.conn)).size).toBe(streamsWith(pcap, 'http.request.method != "POST"'));
    expect((await pods.received(primary)).length).toBe(requests);

    // The recorded file, replayed as fast as possible, finds the same.
    candidate = await pods.app(nsK, 'v2', CAND, 8080);
    primary = await pods.app(nsK, 'v1', CAND, 8081);
    const fromFile = path.join(pods.tmp, 'file');
    const r = run('ip', ['netns', 'exec', nsC, process.execPath, podspanBin, 'shadow', '-r', pcap, '--speed', '0', '--target', `http://${CAND}:8080`, '--primary', `http://${CAND}:8081`, '--report', fromFile]);
    expect(r.code, r.stderr).toBe(0);
    const fileSummary = JSON.parse(fs.readFileSync(path.join(fromFile, 'summary.json'), 'utf8'));
    // The message says what the file held, should the extractor find fewer requests than tshark.
    const inFile = () => `${r.stderr}\ntshark: ${streamsWith(pcap, 'http.request')} connections with requests; ${run('tshark', ['-n', '-r', pcap, '-Y', 'http.request']).stdout.split('\n').length - 1} requests\nrecorder: ${recorder.stderr()}`;
    expect(fileSummary, inFile()).toMatchObject({ requests, compared: requests, errors: 0, differed: 10 });
    expect(routesOf(fileSummary)).toEqual(plantedRoutes);
    expect((await pods.received(candidate)).filter((x) => x.method === 'POST')).toHaveLength(0);
    await pods.received(primary);

    // --percent 0: every connection out (whole connections, by hash), nothing sent.
    candidate = await pods.app(nsK, 'v2', CAND, 8080);
    const none = run('ip', ['netns', 'exec', nsC, process.execPath, podspanBin, 'shadow', '-r', pcap, '--speed', '0', '--percent', '0', '--target', `http://${CAND}:8080`]);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stderr).toMatch(/^0 requests replayed .*: 0 compared/m);
    expect(none.stderr).toContain(`skipped: percent ${streamsWith(pcap, 'tcp.flags.syn == 1 && tcp.flags.ack == 0')};`); // every client connection
    expect(await pods.received(candidate)).toHaveLength(0);

    // The candidate down: every request an error, exit 1 and one line saying so.
    const down = run('ip', ['netns', 'exec', nsC, process.execPath, podspanBin, 'shadow', '-r', pcap, '--speed', '0', '--target', `http://${CAND}:8080`, '--timeout', '1']);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`0 compared, 0 matched, 0 differed, ${requests} errors (refused ${requests})`);
    expect(down.stderr.trim().split('\n').pop()).toMatch(/^podspan: the candidate http:\/\/198\.18\.1\.2:8080 never answered: \d+ requests failed \(refused: /);
  }, 120_000);

  it('live, the replay and its V8 threads step back to nice 19 and SCHED_IDLE while the capture thread keeps the process\'s priority; --nice 0 leaves all', async () => {
    await pods.app(nsK, 'v1', CAND, 8080);
    const own = os.getPriority(); // the test's runner may itself run niced: podspan starts from it
    for (const [flags, replayNice] of [[[], 19], [['--nice', '0'], own]] as const) {
      const shadow = await startInNs(nsC, [process.execPath, podspanBin, 'shadow', '-i', pods.devC, '-f', 'tcp port 8080', '--target', `http://${CAND}:8080`, ...flags], /listening on/);
      const pid = shadow.child.pid!;
      // The capture starts (its thread) and the replay steps back just after "listening on", one
      // thread after another (nice, then the class): read /proc once the last one is done (the
      // main thread alone lowered was read once, with the others not yet; a step-back that never
      // ends leaves them unlowered here after 5 s).
      const want = Math.max(own, replayNice);
      // V8's garbage collection and compiler threads work for the replay: they step back with it,
      // at 19 into SCHED_IDLE too.
      const policy = replayNice === 19 ? SCHED_IDLE : ownThread().policy;
      const notLowered = (ts: ThreadInfo[]) => ts.filter((t) => t.comm !== 'podspan-capture' && (t.nice !== want || t.policy !== policy));
      const threads = await threadsWhen(pid, (ts) => ts.some((t) => t.comm === 'podspan-capture') && notLowered(ts).length === 0);
      expect(threads.find((t) => t.tid === pid)!.nice, JSON.stringify(threads)).toBe(want);
      const capture = threads.filter((t) => t.comm === 'podspan-capture');
      expect(capture, JSON.stringify(threads)).toHaveLength(1);
      expect([capture[0].nice, capture[0].policy]).toEqual([own, ownThread().policy]);
      expect(notLowered(threads), JSON.stringify(threads)).toEqual([]);
      expect(await stopProcess(shadow)).toBe(0);
      expect(shadow.stderr()).not.toContain('warning');
    }
  }, 60_000);

  it('HTTP/1 edge cases end to end: pipelining, HEAD, Connection: close, a chunked body over many segments, Expect: 100-continue', async () => {
    const production = await pods.app(nsP, 'v1', PROD, 8080);
    const candidate = await pods.app(nsK, 'v1', CAND, 8080);
    const report = path.join(pods.tmp, 'edges');
    const shadow = await startInNs(
      nsC,
      [process.execPath, podspanBin, 'shadow', '-i', pods.devC, '-f', 'tcp port 8080', '--target', `http://${CAND}:8080`, '--methods', 'GET,HEAD,POST,PUT', '--ignore', 'body:$.request_id', '--report', report],
      /listening on/,
    );
    // Raw sockets: four pipelined requests in one write (the last with Connection: close); a
    // chunked POST written in 6 segments 20 ms apart, then a GET on the same connection.
    const client = `
      const net = require('net');
      const talk = (writes) => new Promise((resolve) => {
        const s = net.connect(8080, '${PROD}');
        s.on('data', () => {}); s.on('close', resolve);
        (async () => { for (const w of writes) { s.write(w); await new Promise((r) => setTimeout(r, 20)); } })();
      });
      (async () => {
        const H = 'Host: shop.example\\r\\n';
        await talk(['GET /api/users/1 HTTP/1.1\\r\\n' + H + '\\r\\nGET /api/users/2 HTTP/1.1\\r\\n' + H + '\\r\\nHEAD /health HTTP/1.1\\r\\n' + H + '\\r\\nGET /health HTTP/1.1\\r\\n' + H + 'Connection: close\\r\\n\\r\\n']);
        const chunks = ['5\\r\\nhello\\r\\n', '6\\r\\n world\\r\\n', '1a\\r\\n' + 'x'.repeat(26) + '\\r\\n', '0\\r\\n\\r\\n'];
        await talk(['POST /api/echo HTTP/1.1\\r\\n' + H + 'Transfer-Encoding: chunked\\r\\n\\r\\n', ...chunks, 'GET /health HTTP/1.1\\r\\n' + H + 'Connection: close\\r\\n\\r\\n']);
      })();`;
    inNs(nsC, [process.execPath, '-e', client]);
    const upload = path.join(pods.tmp, 'upload.bin');
    fs.writeFileSync(upload, Buffer.alloc(200_000, 7));
    inNs(nsC, ['curl', '-sf', '-o', '/dev/null', '-X', 'PUT', '-H', 'Expect: 100-continue', '--data-binary', `@${upload}`, `http://${PROD}:8080/api/echo`]);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await stopProcess(shadow)).toBe(0);
    const summary = JSON.parse(fs.readFileSync(path.join(report, 'summary.json'), 'utf8'));
    expect(summary, shadow.stderr()).toMatchObject({ requests: 7, compared: 7, matched: 7, differed: 0, errors: 0 });

    // The candidate got what production got, connection by connection, bodies byte for byte.
    const perConn = (seen: Awaited<ReturnType<typeof pods.received>>) => {
      const m = new Map<number, string[]>();
      for (const r of seen) m.set(r.conn, [...(m.get(r.conn) ?? []), `${r.method} ${r.url} ${r.bodyLength} ${r.bodySha.slice(0, 12)}`]);
      return [...m.values()].sort((a, b) => a[0].localeCompare(b[0]));
    };
    const prodSeen = perConn(await pods.received(production));
    const candSeen = perConn(await pods.received(candidate));
    expect(prodSeen.flat()).toHaveLength(7);
    expect(candSeen).toEqual(prodSeen);
    expect(prodSeen.flat().find((x) => x.startsWith('POST'))).toMatch(/^POST \/api\/echo 37 /);
    expect(prodSeen.flat().find((x) => x.startsWith('PUT'))).toMatch(/^PUT \/api\/echo 200000 /);
  }, 60_000);

  it('a slow candidate, live: timeouts counted, the rest dropped as queue_full, the queue within --queue, capture and clients unaffected', async () => {
    const production = await pods.app(nsP, 'v1', PROD, 8080);
    const candidate = await pods.app(nsK, 'slow:3000', CAND, 8080);
    const report = path.join(pods.tmp, 'slow');
    const shadow = await startInNs(
      nsC,
      [process.execPath, podspanBin, 'shadow', '-i', pods.devC, '-f', 'tcp port 8080', '--target', `http://${CAND}:8080`, '--timeout', '0.2', '--max-in-flight', '2', '--queue', '10', '--report', report],
      /listening on/,
    );
    const hey = inNs(nsC, ['hey', '-n', '300', '-c', '4', `http://${PROD}:8080/health`]);
    expect(hey).toMatch(/\[200\]\s+300 responses/); // the clients' answers: all there, all 200
    await new Promise((r) => setTimeout(r, 1000));
    // Not one answer within --timeout: exit 1, the last line says so.
    expect(await stopProcess(shadow), shadow.stderr()).toBe(1);
    const summary = JSON.parse(fs.readFileSync(path.join(report, 'summary.json'), 'utf8'));
    const err = shadow.stderr();
    expect(err.trim().split('\n').pop()).toMatch(/^podspan: the candidate http:\/\/198\.18\.1\.2:8080 never answered: \d+ requests failed \(timeout: no answer within 200 ms\)$/);
    expect(summary.compared, err).toBe(0);
    expect(summary.errors).toBe(summary.requests);
    expect(summary.routes[0].error_kinds).toEqual({ timeout: summary.requests });
    expect(summary.skipped.queue_full).toBeGreaterThan(0);
    expect(summary.requests + summary.skipped.queue_full).toBe(300);
    const peak = Number(/at most (\d+) exchanges waited at once \(--queue 10\)/.exec(err)?.[1]);
    expect(peak).toBeLessThanOrEqual(10);
    expect(err).toMatch(/^0 packets dropped by kernel$/m);
    expect((await pods.received(production)).length).toBe(300);
    await pods.received(candidate);
  }, 60_000);

  it("a second Ctrl-C gives up what waits and raises the replay back to the priority it started at, while its requests in flight finish (at SCHED_IDLE, on a machine with no idle CPU, they hardly ran)", async () => {
    const production = await pods.app(nsP, 'v1', PROD, 8080);
    const candidate = await pods.app(nsK, 'slow:3000', CAND, 8080);
    const shadow = await startInNs(nsC, [process.execPath, podspanBin, 'shadow', '-i', pods.devC, '-f', 'tcp port 8080', '--target', `http://${CAND}:8080`, '--timeout', '10', '--max-in-flight', '2'], /listening on/);
    const pid = shadow.child.pid!;
    const own = ownThread();
    const lowered = (ts: ThreadInfo[]) => ts.filter((t) => t.comm !== 'podspan-capture' && t.nice === 19 && t.policy === SCHED_IDLE);
    await threadsWhen(pid, (ts) => lowered(ts).length > 0 && ts.some((t) => t.comm === 'podspan-capture'));
    expect(inNs(nsC, ['hey', '-n', '20', '-c', '2', `http://${PROD}:8080/health`])).toMatch(/\[200\]\s+20 responses/);
    await pods.received(production);
    await until(() => inNs(nsK, ['ss', '-Htn', 'state', 'established', '( sport = :8080 )']).trim() !== '', 10_000, 'the replay connected to the candidate');
    // Its requests wait 3 s for the candidate now. Ctrl-C twice: the capture ends, then what waits is given up.
    // (Two at once would be one: a signal already pending is not queued again.)
    shadow.child.kill('SIGINT');
    await threadsWhen(pid, (ts) => !ts.some((t) => t.comm === 'podspan-capture'));
    shadow.child.kill('SIGINT');
    const raised = await threadsWhen(pid, (ts) => ts.every((t) => t.nice === own.nice && t.policy === own.policy), 2000);
    expect(raised.filter((t) => t.nice !== own.nice || t.policy !== own.policy), shadow.stderr()).toEqual([]);
    expect(await shadow.exited, shadow.stderr()).toBe(0);
    expect(shadow.stderr()).toContain('podspan: giving up the exchanges still waiting');
    await pods.received(candidate);
  }, 60_000);
});
