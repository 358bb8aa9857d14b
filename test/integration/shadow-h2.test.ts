// HTTP/2 (h2c with prior knowledge) and gRPC replay: production and the candidate are a real
// Node http2 server and a real @grpc/grpc-js server (unary and server-streaming), production's
// answers are real ones; the candidate differs in known ways ($.price of item 2; NOT_FOUND for
// item 3 over gRPC; one more streamed message for item 4).
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { canUseNetns, inNs, startInNs, stopProcess } from '../helpers/netns';
import { CAND, PROD, ShadowPods } from '../helpers/shadow-pods';
import { podspanBin, repoRoot } from '../helpers/tools';
import http2 from 'node:http2';
import { Writable } from 'node:stream';
import { parseShadowFlags } from '../../src/config/shadow-options';
import { runShadow } from '../../src/shadow/run';
import { askH2, batchSource, MetaBuilder } from '../helpers/shadow-meta';
import { grpcApp, h2App, type Closer, type Seen } from '../helpers/shadow-h2-apps';

const closers: Closer[] = [];
const hasEditcap = (() => { try { execFileSync('which', ['editcap']); return true; } catch { return false; } })();
if (!hasEditcap) console.log('shadow replay of a capture split in two files: skipped, needs editcap (Wireshark)');
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

/** A gRPC message as it travels: 1 byte compressed flag, 4 bytes length, the message. */
const frame = (m: string) => Buffer.concat([Buffer.from([0, 0, 0, 0, Buffer.byteLength(m)]), Buffer.from(m)]);
const quiet = () => new Writable({ write: (_c, _e, cb) => cb() });

describe('podspan shadow: HTTP/2 and gRPC to real servers', () => {
  it('h2c: one session per captured connection, the planted JSON difference only', async () => {
    const production = await h2App('v1', closers);
    const seen: Seen[] = [];
    const candidate = await h2App('v2', closers, seen);
    const meta = new MetaBuilder();
    const batches = [];
    for (const c of ['1', '2']) {
      const session = http2.connect(`http://127.0.0.1:${production}`);
      meta.open(c);
      for (let id = 1; id <= 3; id++) {
        const path = `/items/${id}`;
        meta.h2(c, id * 2 - 1, { method: 'GET', path, route: '/items/{id}', headers: [['accept', 'application/json']] }, await askH2(session, { ':path': path }));
      }
      meta.close(c);
      session.close();
      batches.push(meta.take());
    }
    const r = await runShadow(parseShadowFlags({ read: 'x.pcap', target: `http://127.0.0.1:${candidate}`, speed: '0' } as never), batchSource(batches, false), quiet());
    expect(r.summary).toMatchObject({ requests: 6, compared: 6, matched: 4, differed: 2, errors: 0 });
    expect(r.summary.routes.map((x) => x.differences)).toEqual([{ 'body:$.price': 2 }]);
    // Connections run concurrently; within each, the captured order.
    expect(seen.every((s) => s.marker === '1')).toBe(true);
    const bySession = [0, 1].map((n) => seen.filter((s) => s.session === n).map((s) => s.path));
    expect(bySession).toEqual([['/items/1', '/items/2', '/items/3'], ['/items/1', '/items/2', '/items/3']]);
  });

  it('an h2c Upgrade captured by curl (fixtures/h2c-curl-go.pcap) is replayed over HTTP/2: the upgraded request and the streams after it, on one session per captured connection', async () => {
    // The candidate: an h2c server recording what it is asked, on which session.
    const asked: { path: string; method: string; marker: string | undefined; session: number }[] = [];
    const sessions = new Map<http2.ServerHttp2Session, number>();
    const server = http2.createServer();
    server.on('session', (sess) => sessions.set(sess, sessions.size));
    server.on('stream', (stream, headers) => {
      asked.push({ path: String(headers[':path']), method: String(headers[':method']), marker: headers['x-podspan-shadow'] as string | undefined, session: sessions.get(stream.session as http2.ServerHttp2Session)! });
      stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      stream.end(headers[':method'] === 'HEAD' ? undefined : 'ok\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => { for (const sess of sessions.keys()) sess.destroy(); server.close(() => r()); }));
    const port = (server.address() as { port: number }).port;
    const fixture = path.join(repoRoot, 'fixtures', 'h2c-curl-go.pcap');
    const sources = [['-r', fixture]];
    if (hasEditcap) {
      // The same capture cut in two inside the first connection's HTTP/2 exchange (after packet
      // 12), read as one input: the replay must not change.
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-shadow-split-'));
      closers.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
      const parts = [path.join(dir, 'a.pcap'), path.join(dir, 'b.pcap')];
      execFileSync('editcap', ['-r', fixture, parts[0], '1-12']);
      execFileSync('editcap', ['-r', fixture, parts[1], '13-69']);
      sources.push(['-r', parts[0], '-r', parts[1]]);
    }
    for (const source of sources) {
      asked.length = 0;
      // Not execFileSync: the candidate answers from this very process.
      const r = await promisify(execFile)(process.execPath, [podspanBin, 'shadow', ...source, '--speed', '0', '--target', `http://127.0.0.1:${port}`]);
      // 3 compared; the fourth, the fixture's plain HTTP/1.1 HEAD, fails: this candidate speaks h2c only.
      expect(r.stderr, source.join(' ')).toMatch(/^4 requests replayed to http:\/\/127\.0\.0\.1:\d+ .*: 3 compared, 0 matched, 3 differed, 1 errors/m);
      // The fixture's first connection: GET /items/1?x=1 as HTTP/1 with Upgrade: h2c (stream 1 after
      // the switch), then /items/2 as an HTTP/2 stream; both reach the candidate over one session.
      const first = asked.filter((a) => a.path.startsWith('/items/'));
      expect(first.map((a) => [a.method, a.path, a.marker])).toEqual([['GET', '/items/1?x=1', '1'], ['GET', '/items/2', '1']]);
      expect(new Set(first.map((a) => a.session)).size).toBe(1);
      expect(asked.filter((a) => a.method === 'POST')).toEqual([]); // the gRPC call is a POST: not replayed by default
    }
  });

  it('a candidate that refuses connections: every request of the capture counted refused, HTTP/2 streams cancelled with their session too', async () => {
    // A port just freed: nothing listens there.
    const probe = http2.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const fixture = path.join(repoRoot, 'fixtures', 'h2c-curl-go.pcap');
    const r = await promisify(execFile)(process.execPath, [podspanBin, 'shadow', '-r', fixture, '--speed', '0', '--timeout', '2', '--target', `http://127.0.0.1:${port}`]).catch((e: { code: number; stderr: string }) => e);
    expect((r as { code?: number }).code).toBe(1);
    // Was "4 errors (error 3, refused 1)": the streams waiting on the session were counted as errors of their own.
    expect(r.stderr).toMatch(/^4 requests replayed to .*: 0 compared, 0 matched, 0 differed, 4 errors \(refused 4\)$/m);
    // Was "(refused: The pending stream has been canceled (caused by: connect ECONNREFUSED ...))".
    // (The first failure may be the HTTP/1 connection's, in the native transport's words.)
    expect(r.stderr.trim().split('\n').pop()).toMatch(/^podspan: the candidate http:\/\/127\.0\.0\.1:\d+ never answered: 4 requests failed \(refused: connect(: Connection refused| ECONNREFUSED 127\.0\.0\.1:\d+)\)$/);
  });

  it('gRPC unary and server-streaming: grpc-status and the streamed body compared', async () => {
    const production = await grpcApp('v1', closers);
    const candidate = await grpcApp('v2', closers);
    const meta = new MetaBuilder();
    const session = http2.connect(`http://127.0.0.1:${production}`);
    meta.open('1');
    const headers = { ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers' };
    const calls: [string, string][] = [['Get', '1'], ['Get', '3'], ['List', '2'], ['List', '4']];
    for (const [i, [method, arg]] of calls.entries()) {
      const path = `/shop.Items/${method}`;
      const answer = await askH2(session, { ...headers, ':path': path }, frame(arg));
      meta.h2('1', i * 2 + 1, { method: 'POST', path, route: path, headers: [['content-type', 'application/grpc'], ['te', 'trailers']], body: frame(arg), grpc: true }, answer);
    }
    meta.close('1');
    session.close();
    const r = await runShadow(parseShadowFlags({ read: 'x.pcap', target: `http://127.0.0.1:${candidate}`, speed: '0', methods: 'POST' } as never), batchSource([meta.take()], false), quiet());
    expect(r.summary).toMatchObject({ requests: 4, compared: 4, matched: 2, differed: 2, errors: 0 });
    expect(Object.fromEntries(r.summary.routes.map((x) => [x.route, x.differences]))).toEqual({
      '/shop.Items/Get': { 'grpc-status': 1 },
      '/shop.Items/List': { body: 1 },
    });
  });
});

const pods = new ShadowPods('s2');

describe.skipIf(!canUseNetns)('podspan shadow, live: HTTP/2 and gRPC pods, node:http2 and grpc-js clients', () => {
  beforeAll(() => pods.setup());
  afterAll(() => pods.teardown());

  it('h2c (node:http2 client) and gRPC unary + streaming captured on production\'s veth: exactly the planted differences', async () => {
    const vite = path.join(repoRoot, 'node_modules', '.bin', 'vite-node');
    const main = path.join(repoRoot, 'test', 'helpers', 'shadow-h2-main.ts');
    const production = await startInNs(pods.nsP, [vite, main, 'v1', PROD, '8080', '9090'], /ready/);
    const candidate = await startInNs(pods.nsK, [vite, main, 'v2', CAND, '8080', '9090'], /ready/);
    // One podspan shadow per service: each has its own --target.
    const shadowFor = (port: number) =>
      startInNs(
        pods.nsC,
        [process.execPath, podspanBin, 'shadow', '-i', pods.devC, '-f', `tcp port ${port}`, '--methods', 'GET,POST', '--target', `http://${CAND}:${port}`, '--report', path.join(pods.tmp, `h2-${port}`)],
        /listening on/,
      );
    const shadow = await shadowFor(8080);
    const shadowGrpc = await shadowFor(9090);
    // curl: three streams on one prior-knowledge connection.
    // Node's http2 client (curl 7.88 fails reusing a prior-knowledge connection: "Error in the
    // HTTP2 framing layer"): three streams on one connection, one after another.
    const h2client = `
      const s = require('http2').connect('http://${PROD}:8080');
      const get = (p) => new Promise((res) => { const r = s.request({ ':path': p, accept: 'application/json' }); r.on('data', () => {}); r.on('end', res); r.end(); });
      (async () => { for (const i of [1, 2, 3]) await get('/items/' + i); s.close(); })();`;
    inNs(pods.nsC, [process.execPath, '-e', h2client]);
    // grpc-js: unary Get 1 and 3, server-streaming List 2 and 4, on one channel.
    const grpcClient = `
      const grpc = require('@grpc/grpc-js');
      const raw = { serialize: (b) => b, deserialize: (b) => b };
      const def = { Get: { path: '/shop.Items/Get', requestStream: false, responseStream: false, requestSerialize: raw.serialize, requestDeserialize: raw.deserialize, responseSerialize: raw.serialize, responseDeserialize: raw.deserialize },
                    List: { path: '/shop.Items/List', requestStream: false, responseStream: true, requestSerialize: raw.serialize, requestDeserialize: raw.deserialize, responseSerialize: raw.serialize, responseDeserialize: raw.deserialize } };
      const Client = grpc.makeGenericClientConstructor(def, 'Items');
      const c = new Client('${PROD}:9090', grpc.credentials.createInsecure());
      const get = (id) => new Promise((res) => c.Get(Buffer.from(id), (err, m) => res(err ? 'E' + err.code : String(m))));
      const list = (n) => new Promise((res) => { const out = []; const st = c.List(Buffer.from(n)); st.on('data', (m) => out.push(String(m))); st.on('end', () => res(out.length)); });
      (async () => { console.log(JSON.stringify([await get('1'), await get('3'), await list('2'), await list('4')])); c.close(); })();`;
    expect(JSON.parse(execFileSync('ip', ['netns', 'exec', pods.nsC, process.execPath, '-e', grpcClient], { cwd: repoRoot, encoding: 'utf8' }))).toEqual(['item 1', 'item 3', 2, 4]);
    await new Promise((r) => setTimeout(r, 500));
    expect(await stopProcess(shadow)).toBe(0);
    expect(await stopProcess(shadowGrpc)).toBe(0);
    const summary = (port: number) => JSON.parse(fs.readFileSync(path.join(pods.tmp, `h2-${port}`, 'summary.json'), 'utf8'));
    const routes = (s: { routes: { method: string; route: string; differences: unknown }[] }) => Object.fromEntries(s.routes.map((r) => [`${r.method} ${r.route}`, r.differences]));
    expect(summary(8080), shadow.stderr()).toMatchObject({ requests: 3, compared: 3, matched: 2, differed: 1, errors: 0 });
    expect(routes(summary(8080))).toEqual({ 'GET /items/{id}': { 'body:$.price': 1 } });
    expect(summary(9090), shadowGrpc.stderr()).toMatchObject({ requests: 4, compared: 4, matched: 2, differed: 2, errors: 0 });
    expect(routes(summary(9090))).toEqual({ 'POST /shop.Items/Get': { 'grpc-status': 1 }, 'POST /shop.Items/List': { body: 1 } });
    const seen = JSON.parse(await new Promise<string>((resolve) => {
      let out = '';
      candidate.child.stdout!.removeAllListeners('data');
      candidate.child.stdout!.on('data', (d) => (out += d));
      candidate.child.on('close', () => resolve(out)); // 'close': after the last of its output ('exit' may come before)
      candidate.child.kill('SIGINT');
    })) as Seen[];
    expect(seen.map((x) => [x.path, x.marker])).toEqual([['/items/1', '1'], ['/items/2', '1'], ['/items/3', '1']]);
    production.child.kill('SIGKILL');
  }, 60_000);
});
