// The sending side of `podspan shadow` with real servers on loopback: production (v1), the
// primary (v1 again) and the candidate (v2, which differs in known ways) are real Node http
// servers; production's answers are real ones, fetched the way clients made them; the exchanges
// reach runShadow as Contract 1 batches (test/helpers/shadow-meta.ts) instead of from a capture,
// so this checks scheduling, replay, noise and the report independently of the extractor.
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { run } from '../helpers/tools';
import { Writable } from 'node:stream';
import { parseShadowFlags } from '../../src/config/shadow-options';
import { fileReadAhead, runShadow } from '../../src/shadow/run';
import { startApp, closedPort, type AppServer } from '../helpers/shadow-apps';
import { ask, batchSource, MetaBuilder } from '../helpers/shadow-meta';

/** `conns` captured connections of `each` GET /health exchanges, a batch per connection (`stepMs` apart). */
function healthBatches(conns: number, each: number, stepMs?: number) {
  const meta = new MetaBuilder();
  if (stepMs !== undefined) meta.step = stepMs;
  const batches = [];
  for (let c = 0; c < conns; c++) {
    meta.open(String(c));
    for (let i = 0; i < each; i++) meta.http(String(c), i, { method: 'GET', target: '/health', route: '/health' }, { status: 200, headers: [['content-type', 'text/plain']], body: Buffer.from('ok\n') });
    meta.close(String(c));
    batches.push(meta.take());
  }
  return batches;
}

const servers: AppServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function app(...args: Parameters<typeof startApp>): Promise<AppServer> {
  const s = await startApp(...args);
  servers.push(s);
  return s;
}

const sink = () => {
  let text = '';
  const w = new Writable({ write: (c, _e, cb) => ((text += c), cb()) });
  return { w, text: () => text };
};

const flags = (target: string, extra: Record<string, unknown> = {}) => parseShadowFlags({ read: 'capture.pcap', target, speed: '0', ...extra } as never);

/** The clients' traffic against production: three connections, their requests and production's answers. */
async function recordTraffic(production: AppServer): Promise<{ meta: MetaBuilder; batches: { meta: Buffer; data: Buffer }[] }> {
  const meta = new MetaBuilder();
  const batches: { meta: Buffer; data: Buffer }[] = [];
  const conn = async (id: string, requests: { method: string; target: string; route: string; body?: Buffer }[]) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    meta.open(id);
    let seq = 0;
    for (const r of requests) meta.http(id, seq++, r, await ask(production.port, agent, r.method, r.target, r.body));
    meta.close(id);
    agent.destroy();
    batches.push(meta.take());
  };
  await conn('1', Array.from({ length: 10 }, (_, i) => ({ method: 'GET', target: `/api/users/${i + 1}?v=1`, route: '/api/users/{id}' })));
  await conn('2', [
    { method: 'GET', target: '/health', route: '/health' },
    { method: 'HEAD', target: '/health', route: '/health' },
    { method: 'GET', target: '/api/slow', route: '/api/slow' },
    { method: 'GET', target: '/api/slow', route: '/api/slow' },
  ]);
  await conn('3', [{ method: 'POST', target: '/api/orders', route: '/api/orders', body: Buffer.from('{"item":1}') }]);
  return { meta, batches };
}

describe('podspan shadow: replay to real servers', () => {
  it('reports exactly the planted differences, cancels noise with --primary, never replays POST, marks and keeps connections', async () => {
    const production = await app('v1');
    const primary = await app('v1');
    const candidate = await app('v2');
    const { batches } = await recordTraffic(production);
    expect(production.received.length).toBe(15); // the clients' requests, no more (replay never goes there)

    const run = flags(`http://127.0.0.1:${candidate.port}`, { primary: `http://127.0.0.1:${primary.port}` });
    const err = sink();
    const r = await runShadow(run, batchSource(batches, false), err.w);
    expect(production.received.length).toBe(15);

    const s = r.summary;
    expect(s).toMatchObject({ requests: 14, compared: 14, errors: 0, differed: 10, matched: 4 });
    expect(s.skipped).toEqual({ method: 1 });
    const routes = Object.fromEntries(s.routes.map((x) => [`${x.method} ${x.route}`, x.differences]));
    // User 7: another status (headers and body of another kind of answer are not compared); the
    // other nine: the price and the cache-control header. request_id, x-request-id and Date: noise.
    expect(routes).toEqual({
      'GET /api/users/{id}': { status: 1, 'body:$.price': 9, 'header:cache-control': 9 },
      'GET /health': {},
      'HEAD /health': {},
      'GET /api/slow': {},
    });
    const slow = s.routes.find((x) => x.route === '/api/slow')!;
    expect(slow.candidate_ms.p50!).toBeGreaterThan(140);

    // The candidate: every request but the POST, each with the marker header, on one connection
    // per captured connection, in the captured order.
    expect(candidate.received.filter((q) => q.method === 'POST')).toHaveLength(0);
    expect(candidate.received).toHaveLength(14);
    expect(candidate.received.every((q) => q.headers['x-podspan-shadow'] === '1')).toBe(true);
    expect(candidate.received.every((q) => q.headers.host === 'shop.example')).toBe(true);
    const byConn = new Map<number, string[]>();
    for (const q of candidate.received) byConn.set(q.conn, [...(byConn.get(q.conn) ?? []), `${q.method} ${q.url}`]);
    expect([...byConn.values()]).toEqual([
      Array.from({ length: 10 }, (_, i) => `GET /api/users/${i + 1}?v=1`),
      ['GET /health', 'HEAD /health', 'GET /api/slow', 'GET /api/slow'],
    ]);
    expect(primary.received).toHaveLength(14);
  });

  it('without --primary the random request_id is reported; --ignore body:$.request_id removes it', async () => {
    const production = await app('v1');
    const candidate = await app('v2');
    const { batches } = await recordTraffic(production);
    const noisy = await runShadow(flags(`http://127.0.0.1:${candidate.port}`), batchSource(batches, false), sink().w);
    const users = (r: typeof noisy) => r.summary.routes.find((x) => x.route === '/api/users/{id}')!.differences;
    expect(users(noisy)['body:$.request_id']).toBe(9);
    const quiet = await runShadow(flags(`http://127.0.0.1:${candidate.port}`, { ignore: ['body:$.request_id'], host: 'candidate.local' }), batchSource(batches, false), sink().w);
    expect(users(quiet)).toEqual({ status: 1, 'body:$.price': 9, 'header:cache-control': 9 });
    expect(candidate.received.slice(-14).every((q) => q.headers.host === 'candidate.local')).toBe(true);
  });

  it('candidate down: every request counted "refused", none compared', async () => {
    const production = await app('v1');
    const { batches } = await recordTraffic(production);
    const r = await runShadow(flags(`http://127.0.0.1:${await closedPort()}`), batchSource(batches, false), sink().w);
    expect(r.summary).toMatchObject({ requests: 14, compared: 0, errors: 14 });
    expect(r.replay).toMatchObject({ sent: 14, answered: 0, errors: { refused: 14 } });
  });

  it('candidate resetting connections: counted "reset"', async () => {
    const production = await app('v1');
    const candidate = await app('reset');
    const { batches } = await recordTraffic(production);
    const r = await runShadow(flags(`http://127.0.0.1:${candidate.port}`), batchSource(batches, false), sink().w);
    expect(r.replay).toMatchObject({ sent: 14, answered: 0, errors: { reset: 14 } });
  });

  it('slow candidate, live: timeouts counted, the queue stays within --queue and the rest is dropped as queue_full', async () => {
    const candidate = await app({ slowMs: 1000 });
    const meta = new MetaBuilder();
    const batches = [];
    // 40 connections of 5 requests each, handed over as fast as a live capture would.
    for (let c = 0; c < 40; c++) {
      meta.open(String(c));
      for (let i = 0; i < 5; i++) meta.http(String(c), i, { method: 'GET', target: `/api/users/${i}`, route: '/api/users/{id}' }, { status: 200, headers: [], body: Buffer.from('{}') });
      meta.close(String(c));
      batches.push(meta.take());
    }
    const run = flags(`http://127.0.0.1:${candidate.port}`, { read: undefined, interface: ['lo'], speed: undefined, timeout: '0.2', maxInFlight: '4', queue: '10' });
    const r = await runShadow(run, batchSource(batches, true), sink().w);
    expect(r.peakQueued).toBeLessThanOrEqual(10);
    expect(r.replay.errors.timeout).toBe(r.replay.sent);
    expect(r.dropped.queue_full).toBe(200 - r.replay.sent);
    expect(r.summary.skipped.queue_full).toBe(200 - r.replay.sent);
    expect(r.summary.errors).toBe(r.replay.sent);
    expect(r.replay.sent).toBeGreaterThanOrEqual(10);
  });

  it('connections of one request each (Connection: close) reach the candidate one per captured connection, closed as production\'s were, on reused Clients', async () => {
    const candidate = await app('v1');
    const meta = new MetaBuilder();
    const batches = [];
    const ok = { status: 200, headers: [['content-type', 'text/plain']] as [string, string][], body: Buffer.from('ok\n') };
    // 60 captured connections of one request each that asked to close, then one keep-alive
    // connection of three requests, then 20 more of one request.
    for (let c = 0; c < 81; c++) {
      const id = String(c);
      meta.open(id);
      const each = c === 60 ? 3 : 1;
      for (let i = 0; i < each; i++) meta.http(id, i, { method: 'GET', target: `/health?c=${c}&i=${i}`, route: '/health', headers: c === 60 ? [] : [['Connection', 'close']] }, ok);
      meta.close(id);
      batches.push(meta.take());
    }
    const r = await runShadow(flags(`http://127.0.0.1:${candidate.port}`, { maxInFlight: '4' }), batchSource(batches, false), sink().w);
    expect(r.summary).toMatchObject({ requests: 83, compared: 83, matched: 83, errors: 0 });
    // Connection boundaries as captured: 81 connections, each with its own requests in order.
    const byConn = new Map<number, string[]>();
    for (const q of candidate.received) byConn.set(q.conn, [...(byConn.get(q.conn) ?? []), q.url]);
    expect(byConn.size).toBe(81);
    expect([...byConn.values()].sort((a, b) => b.length - a.length)[0]).toEqual(['/health?c=60&i=0', '/health?c=60&i=1', '/health?c=60&i=2']);
    // The requests that asked to close say so to the candidate too; the keep-alive ones do not.
    const closing = candidate.received.filter((q) => q.headers.connection === 'close').map((q) => q.url);
    expect(closing).toHaveLength(80);
    expect(closing.some((u) => u.startsWith('/health?c=60&'))).toBe(false);
    // 4 in flight at most: a handful of Clients served the 81 connections (one each before).
    expect(r.replay.candidateClients).toBeLessThanOrEqual(4 + 1);
  });

  it('a file waits for room instead of dropping: every exchange replayed, the queue bounded', async () => {
    const candidate = await app('v1');
    const src = batchSource(healthBatches(50, 4), false);
    const r = await runShadow(flags(`http://127.0.0.1:${candidate.port}`, { queue: '8', maxInFlight: '2' }), src, sink().w);
    expect(r.summary).toMatchObject({ requests: 200, compared: 200, matched: 200, errors: 0 });
    expect(r.dropped).toEqual({});
    expect(src.waits).toBeGreaterThan(0);
    // One batch (4 exchanges) may arrive after the queue filled, before the source paused.
    expect(r.peakQueued).toBeLessThanOrEqual(8 + 4);
  });

  it('a file reads only a little ahead of the senders: the read-ahead, not --queue, bounds what waits', async () => {
    const candidate = await app('v1');
    const src = batchSource(healthBatches(120, 4), false);
    const r = await runShadow(flags(`http://127.0.0.1:${candidate.port}`, { maxInFlight: '2' }), src, sink().w);
    expect(r.summary).toMatchObject({ requests: 480, compared: 480, matched: 480, errors: 0 });
    expect(fileReadAhead(2)).toBe(256);
    expect(src.waits).toBeGreaterThan(0);
    // The default --queue (10,000) would hold all 480; one batch (4) may land past the read-ahead.
    expect(r.peakQueued).toBeGreaterThanOrEqual(256);
    expect(r.peakQueued).toBeLessThanOrEqual(256 + 4);
  });

  it('--rate and --speed hold (lower bounds on when requests reach the candidate)', async () => {
    const candidate = await app('v1');
    const build = healthBatches;
    // 100 requests at 50/s with a burst of 50: the last ones cannot go out before 1 s.
    const rated = await runShadow(flags(`http://127.0.0.1:${candidate.port}`, { rate: '50' }), batchSource(build(4, 25, 1), false), sink().w);
    expect(rated.summary.matched).toBe(100);
    expect(rated.elapsedMs).toBeGreaterThanOrEqual(1000);
    // Captured 100 ms apart: at --speed 1 the sixth goes out 500 ms after the first, at 2 after 250 ms.
    for (const [speed, min] of [['1', 500], ['2', 250]] as const) {
      const r = await runShadow(flags(`http://127.0.0.1:${candidate.port}`, { speed }), batchSource(build(1, 6, 100), false), sink().w);
      expect(r.summary.matched).toBe(6);
      expect(r.elapsedMs).toBeGreaterThanOrEqual(min);
    }
  });

  it('an https candidate (self-signed, --insecure): the same comparison; without --insecure every request fails "tls" naming the certificate', async () => {
    const production = await app('v1');
    const { batches } = await recordTraffic(production);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-shadow-tls-'));
    try {
      const key = path.join(dir, 'key.pem'), cert = path.join(dir, 'cert.pem');
      const gen = run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', key, '-out', cert]);
      expect(gen.code, gen.stderr).toBe(0);
      const received: string[] = [];
      const server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) => {
        received.push(`${req.method} ${req.url}`);
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(req.method === 'HEAD' ? undefined : 'ok\n');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as AddressInfo).port;
      try {
        const health = batches.slice(1, 2); // the /health and /api/slow connection
        const ok = await runShadow(flags(`https://127.0.0.1:${port}`, { insecure: true }), batchSource(health, false), sink().w);
        expect(received).toEqual(['GET /health', 'HEAD /health', 'GET /api/slow', 'GET /api/slow']);
        expect(ok.summary).toMatchObject({ requests: 4, compared: 4, matched: 2, differed: 2 }); // /api/slow: this server answers text, production JSON
        const refused = await runShadow(flags(`https://127.0.0.1:${port}`), batchSource(health, false), sink().w);
        expect(refused.replay).toMatchObject({ answered: 0, errors: { tls: 4 } });
        expect(refused.replay.firstError).toMatch(/self[- ]signed certificate/);
      } finally {
        server.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('abandon (a second Ctrl-C): what still waits is counted "stopped", what was in flight finishes', async () => {
    const candidate = await app({ slowMs: 300 });
    const meta = new MetaBuilder();
    meta.open('1');
    for (let i = 0; i < 20; i++) meta.http('1', i, { method: 'GET', target: '/health', route: '/health' }, { status: 200, headers: [['content-type', 'text/plain']], body: Buffer.from('ok\n') });
    meta.close('1');
    const abandon = new AbortController();
    const running = runShadow(flags(`http://127.0.0.1:${candidate.port}`), batchSource([meta.take()], false), sink().w, { abandon: abandon.signal });
    while (candidate.received.length === 0) await new Promise((r) => setTimeout(r, 10));
    abandon.abort();
    const r = await running;
    expect(r.replay.sent).toBeGreaterThanOrEqual(1);
    expect(r.dropped.stopped).toBe(20 - r.replay.sent);
    expect(r.summary.skipped.stopped).toBe(20 - r.replay.sent);
    expect(r.summary.matched).toBe(r.replay.sent);
  });
});
