// Shadow testing's native extractor end to end: real HTTP/1.1 traffic (a Node http server and
// curl plus a pipelining client, in a network namespace of this test, on its loopback) captured
// by tcpdump to a pcap, read back through the addon with readExchanges(). The exchanges must be
// what the clients sent and the server answered: methods, paths, bodies byte for byte, statuses;
// a TLS ClientHello is counted, not parsed; the method filter counts what it leaves out; HTTP/2
// (Node's http2 client and server, prior knowledge) gives one line per stream.
// tshark judges the request count independently.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readExchanges, type H2Line, type HttpLine } from '../../src/shadow/native-exchanges';
import { addAddressedPair, addNamespaces, canUseNetns, inNs, killStarted, removeNamespaces, startInNs, stopProcess } from '../helpers/netns';
import { readRecords } from '../../src/analysis/native-records';
import { corpusDir, repoRoot, run } from '../helpers/tools';

const ns = `shx${process.pid}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-shadow-native-'));
const pcap = path.join(dir, 'http.pcap');
const body = crypto.randomBytes(3000); // every byte value, so the bodies must come back byte-exact
const bodyFile = path.join(dir, 'body.bin');

// The production server: /items/ID as JSON with a length, /echo the request body back chunked
// (status 201), HEAD /head a length without a body, /close a body ended by the close (an HTTP/1.0
// client); port 8443 takes a TLS ClientHello and hangs up; port 8081 is HTTP/2 without TLS
// (prior knowledge): /h2/items/ID as JSON, /h2/echo the body back.
const serverJs = `
const http = require('http'), http2 = require('http2'), net = require('net');
http2.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.url === '/h2/echo') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.concat(chunks));
    } else {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: req.url.split('/')[3] }));
    }
  });
}).listen(8081, '127.0.0.1');
http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const b = Buffer.concat(chunks);
    if (req.url.startsWith('/items/')) {
      const j = JSON.stringify({ id: req.url.split('/')[2] });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(j) });
      res.end(j);
    } else if (req.url === '/echo') {
      res.writeHead(201, { 'content-type': 'application/octet-stream' });
      res.write(b.subarray(0, 100));
      res.end(b.subarray(100));
    } else if (req.url === '/head') {
      res.writeHead(200, { 'content-length': '1000' });
      res.end();
    } else if (req.url === '/close') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('closed body');
    } else {
      res.writeHead(404, { 'content-length': '0' });
      res.end();
    }
  });
}).listen(8080, '127.0.0.1', () => {
  net.createServer((s) => s.once('data', () => s.destroy())).listen(8443, '127.0.0.1', () => console.error('ready'));
});`;

// Three requests in one write on one connection (pipelining), the last one closing it; the first
// has a header of UTF-8 and other bytes.
const pipelineJs = `
const net = require('net'), fs = require('fs');
const body = fs.readFileSync(process.argv[2]);
const s = net.connect(8080, '127.0.0.1', () => {
  s.write(Buffer.concat([
    Buffer.from('GET /items/7 HTTP/1.1\\r\\nHost: shop\\r\\nX-Name: caf\\xc3\\xa9 \\xff\\r\\n\\r\\n', 'latin1'),
    Buffer.from('GET /items/0123456789abcdef HTTP/1.1\\r\\nHost: shop\\r\\n\\r\\n'),
    Buffer.from('POST /echo HTTP/1.1\\r\\nHost: shop\\r\\nConnection: close\\r\\nContent-Length: ' + body.length + '\\r\\n\\r\\n'),
    body,
  ]));
});
s.resume();
s.on('end', () => process.exit(0));`;

// Node's http2 client with prior knowledge: a GET, then a POST of the body, on one session.
const h2ClientJs = `
const http2 = require('http2'), fs = require('fs');
const body = fs.readFileSync(process.argv[2]);
const session = http2.connect('http://127.0.0.1:8081');
const call = (headers, data) => new Promise((resolve, reject) => {
  const req = session.request(headers);
  req.on('response', () => {});
  req.resume();
  req.on('end', resolve);
  req.on('error', reject);
  req.end(data);
});
call({ ':method': 'GET', ':path': '/h2/items/9' })
  .then(() => call({ ':method': 'POST', ':path': '/h2/echo', 'content-type': 'application/octet-stream' }, body))
  .then(() => session.close(), (e) => { console.error(e); process.exit(1); });`;

const usable = canUseNetns && run('which', ['tcpdump', 'curl', 'tshark']).code === 0;

describe.skipIf(!usable)('shadow exchanges from real HTTP/1.1 and HTTP/2 traffic', () => {
  beforeAll(async () => {
    fs.writeFileSync(bodyFile, body);
    fs.writeFileSync(path.join(dir, 'server.js'), serverJs);
    fs.writeFileSync(path.join(dir, 'pipeline.js'), pipelineJs);
    fs.writeFileSync(path.join(dir, 'h2client.js'), h2ClientJs);
    addNamespaces([ns]);
    const server = await startInNs(ns, [process.execPath, path.join(dir, 'server.js')], /ready/);
    const dump = await startInNs(ns, ['tcpdump', '--immediate-mode', '-i', 'lo', '-U', '-w', pcap, 'tcp'], /listening on/);
    try {
      const url = 'http://127.0.0.1:8080';
      const curl = (...args: string[]) => inNs(ns, ['curl', '-sS', '--max-time', '10', ...args]);
      curl('-o', '/dev/null', '-o', '/dev/null', `${url}/items/1`, `${url}/items/2/detail?x=1`); // keep-alive: one connection
      curl('-I', `${url}/head`);
      curl('-o', '/dev/null', '-H', 'Expect: 100-continue', '--data-binary', `@${bodyFile}`, `${url}/echo`);
      curl('--http1.0', `${url}/close`);
      run('ip', ['netns', 'exec', ns, 'curl', '-sk', '--max-time', '5', 'https://127.0.0.1:8443/'], { timeoutMs: 10_000 }); // fails: not TLS
      inNs(ns, [process.execPath, path.join(dir, 'pipeline.js'), bodyFile]);
      inNs(ns, [process.execPath, path.join(dir, 'h2client.js'), bodyFile]); // HTTP/2: a GET and a POST on one connection
    } finally {
      await stopProcess(dump);
      await stopProcess(server, 'SIGTERM');
    }
  }, 60_000);

  afterAll(() => {
    killStarted();
    removeNamespaces([ns]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('every request with production\'s response, bodies byte-exact', async () => {
    const { lines, stats } = await readExchanges(pcap);
    const http = lines.filter((l): l is HttpLine => l.t === 'http');
    // tshark's count of requests (pipelined ones share a frame: its fields list them with commas)
    const tshark = run('tshark', ['-n', '-r', pcap, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.method']);
    expect(tshark.stdout.trim().split(/[\n,]/).sort()).toEqual(http.map((h) => h.method).sort());
    expect(http.map((h) => `${h.method} ${h.target} ${h.resp?.status}`).sort()).toEqual([
      'GET /close 200',
      'GET /items/0123456789abcdef 200',
      'GET /items/1 200',
      'GET /items/2/detail?x=1 200',
      'GET /items/7 200',
      'HEAD /head 200',
      'POST /echo 201',
      'POST /echo 201',
    ]);
    const byTarget = (t: string) => http.filter((h) => h.target === t);
    // JSON bodies as the server sent them; routes templated
    const items = byTarget('/items/0123456789abcdef')[0];
    expect(items.resp!.body.toString()).toBe('{"id":"0123456789abcdef"}');
    expect(items.route).toBe('/items/{id}');
    expect(byTarget('/items/2/detail?x=1')[0]).toMatchObject({ path: '/items/2/detail', route: '/items/{id}/detail', host: '127.0.0.1:8080' });
    // both POSTs (100-continue and pipelined): the body went out and came back (chunked) unchanged
    for (const p of byTarget('/echo')) {
      expect(p.body.equals(body)).toBe(true);
      expect(p.body_length).toBe(body.length);
      expect(p.resp!.body.equals(body)).toBe(true);
      expect(p.resp!.headers.some(([n, v]) => n.toLowerCase() === 'transfer-encoding' && v === 'chunked')).toBe(true);
    }
    expect(byTarget('/echo').some((p) => p.headers.some(([n, v]) => n === 'Expect' && v === '100-continue'))).toBe(true);
    // HEAD: a length, no body, and the pairing went on
    const head = byTarget('/head')[0];
    expect(head.resp!.body_length).toBe(0);
    expect(head.resp!.headers).toContainEqual(['content-length', '1000']); // names as the server wrote them
    // HTTP/1.0 client: the body ran until the server closed
    const close = byTarget('/close')[0];
    expect(close.version).toBe('1.0');
    expect(close.resp!.body.toString()).toBe('closed body');
    // pipelining: one connection, in order
    const piped = http.filter((h) => h.host === 'shop');
    expect(new Set(piped.map((h) => h.conn)).size).toBe(1);
    expect(piped.map((h) => h.seq)).toEqual([1, 2, 3]);
    // a header's bytes as they were sent, a character per byte (UTF-8 or not)
    const named = piped[0].headers.find(([n]) => n === 'X-Name');
    expect(Buffer.from(named![1], 'latin1')).toEqual(Buffer.from([0x63, 0x61, 0x66, 0xc3, 0xa9, 0x20, 0xff]));
    // each connection opens before its exchanges and closes after them
    for (const h of http) {
      const at = lines.indexOf(h);
      expect(lines.findIndex((l) => l.t === 'open' && l.conn === h.conn)).toBeLessThan(at);
      expect(lines.findIndex((l) => l.t === 'close' && l.conn === h.conn)).toBeGreaterThan(at);
      expect(h.resp!.latency_ms).toBeGreaterThanOrEqual(0);
    }
    // HTTP/2: both streams, pseudo-headers first, the body both ways byte-exact
    const h2 = lines.filter((l): l is H2Line => l.t === 'h2');
    expect(h2.map((h) => `${h.method} ${h.path} ${h.route} ${h.resp?.status}`).sort()).toEqual([
      'GET /h2/items/9 /h2/items/{id} 200',
      'POST /h2/echo /h2/echo 200',
    ]);
    for (const h of h2) expect(h.headers.slice(0, 4).map(([n]) => n).sort()).toEqual([':authority', ':method', ':path', ':scheme']);
    const get = h2.find((h) => h.method === 'GET')!;
    expect(get.resp!.body.toString()).toBe('{"id":"9"}');
    const post = h2.find((h) => h.method === 'POST')!;
    expect(post.body.equals(body)).toBe(true);
    expect(post.resp!.body.equals(body)).toBe(true);
    expect(post.resp!.grpc_status).toBe(-1);
    expect(stats?.exchanges).toBe(http.length + h2.length);
    expect(stats).toMatchObject({ skipped: { tls: 1 }, droppedBatches: 0 });
    expect(stats!.connections).toBe(new Set([...http, ...h2].map((h) => h.conn)).size);
  });

  it('methods not listed are counted, not handed over', async () => {
    const { lines, stats } = await readExchanges(pcap, { methods: ['GET', 'HEAD', 'OPTIONS'] });
    expect(lines.filter((l) => l.t === 'http').map((l) => (l as HttpLine).method)).not.toContain('POST');
    expect(stats?.exchanges).toBe(7); // 6 HTTP/1.1 GET/HEAD, 1 HTTP/2 GET
    expect(stats?.skipped).toEqual({ tls: 1, method: 3 });
  });
});

// Live: podspan captures on the client's veth (its own namespace pair) with shadow on while curl
// talks to the server in the other namespace; the batches reach JavaScript as the capture runs.
const tag = `${process.pid % 100000}`;
const nsC = `psC${tag}`, nsS = `psS${tag}`;
const devC = `psc${tag}`, devS = `pss${tag}`;

describe.skipIf(!usable)('shadow exchanges on a live capture', () => {
  const live = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-shadow-live-'));
  beforeAll(() => {
    addAddressedPair(nsC, devC, nsS, devS);
  });
  afterAll(() => {
    killStarted();
    removeNamespaces([nsC, nsS]);
    fs.rmSync(live, { recursive: true, force: true });
  });

  it('curl against a real server: each request and its answer, bodies by digest; POST left out by the method filter', async () => {
    const body = crypto.randomBytes(200_000); // many segments each way
    const file = path.join(live, 'body.bin');
    fs.writeFileSync(file, body);
    const server = path.join(live, 'server.js');
    fs.writeFileSync(server, `require('http').createServer((req, res) => { const c = []; req.on('data', (d) => c.push(d));
      req.on('end', () => res.end(req.method === 'POST' ? Buffer.concat(c) : require('fs').readFileSync(${JSON.stringify(file)}))); })
      .listen(8080, '198.18.0.2', () => console.error('ready'));`);
    const srv = await startInNs(nsS, [process.execPath, server], /ready/);
    const vite = path.join(repoRoot, 'node_modules', '.bin', 'vite-node');
    const cap = await startInNs(nsC, [vite, path.join(repoRoot, 'test', 'helpers', 'shadow-live.ts'), devC, 'GET'], /listening/);
    let out = '';
    cap.child.stdout!.removeAllListeners('data');
    cap.child.stdout!.on('data', (d) => (out += d));
    inNs(nsC, ['curl', '-sS', '--max-time', '10', '-o', '/dev/null', '-o', '/dev/null', 'http://198.18.0.2:8080/blob/1', 'http://198.18.0.2:8080/blob/2']);
    inNs(nsC, ['curl', '-sS', '--max-time', '10', '-o', '/dev/null', '--data-binary', `@${file}`, 'http://198.18.0.2:8080/upload']);
    await stopProcess(cap);
    srv.child.kill('SIGKILL');
    const { lines, stats } = JSON.parse(out);
    const sha = crypto.createHash('sha256').update(body).digest('hex');
    const http = lines.filter((l: { t: string }) => l.t === 'http');
    expect(http.map((h: HttpLine) => `${h.method} ${h.path} ${h.route} ${h.resp?.status}`)).toEqual([
      'GET /blob/1 /blob/{id} 200',
      'GET /blob/2 /blob/{id} 200',
    ]);
    for (const h of http) expect(h.resp.body).toEqual({ length: body.length, sha256: sha });
    expect(stats).toMatchObject({ connections: 2, exchanges: 2, skipped: { method: 1 }, droppedBatches: 0, streams: 2, gapBytes: 0 });
  }, 60_000);
});

// The third-party corpus: on every capture with HTTP, the exchanges the extractor hands over
// (method, path, production's status) are analytics' HTTP records, which tshark judges
// (native/tests/analysis/test_app_corpus.cc), less only what it counted skipped "gap" (analytics
// records an answer a gap cut, with what it saw; shadow cannot compare it); HTTP/2 streams alike.
const corpus = corpusDir();

describe.skipIf(!corpus)('shadow exchanges on the corpus agree with analytics', () => {
  it('every capture: the same exchanges, less the gaps', async () => {
    let files = 0;
    for (const f of fs.readdirSync(corpus!).filter((n) => /\.pcap(ng)?$/.test(n)).sort()) {
      const file = path.join(corpus!, f);
      let records: Awaited<ReturnType<typeof readRecords>>;
      try {
        records = await readRecords(file);
      } catch {
        continue; // a damaged capture: the corpus tests judge how it is refused
      }
      const shadow = await readExchanges(file);
      const ours = shadow.lines.flatMap((l) => (l.t === 'http' && l.resp ? [`${l.method} ${l.path} ${l.resp.status}`] : []));
      const theirs = records.http.flatMap((h) => (h.version !== '2' && h.status != null ? [`${h.method} ${h.path} ${h.status}`] : []));
      const h2 = shadow.lines.filter((l) => l.t === 'h2' && l.resp).length;
      const theirsH2 = records.http.filter((h) => h.version === '2' && h.status != null).length;
      if (theirs.length + theirsH2 === 0) continue;
      files++;
      const left = [...theirs];
      for (const o of ours) {
        const i = left.indexOf(o);
        expect(i, `${f}: ${o} is not among analytics' records`).toBeGreaterThanOrEqual(0);
        left.splice(i, 1);
      }
      expect(left.length, `${f}: missing ${left.join(', ')}`).toBeLessThanOrEqual(shadow.stats!.skipped.gap ?? 0);
      expect(h2, f).toBe(theirsH2);
    }
    expect(files).toBeGreaterThan(10);
  }, 120_000);
});

// Real h2c from curl against Go's x/net server (fixtures/h2c-curl-go.pcap, see
// scripts/make-h2c-fixture.sh): prior knowledge, an Upgrade, a gRPC call with its trailers.
describe('shadow exchanges from a real h2c capture', () => {
  it('each stream with its request fields and production\'s answer; the Upgrade\'s stream 1 carries the HTTP/1 request', async () => {
    const { lines, stats } = await readExchanges(path.join(repoRoot, 'fixtures', 'h2c-curl-go.pcap'));
    const h2 = lines.filter((l): l is H2Line => l.t === 'h2');
    expect(h2.map((h) => [h.stream, h.method, h.path, h.route, h.grpc, h.resp?.status, h.resp?.grpc_status])).toEqual([
      [1, 'GET', '/items/1?x=1', '/items/{id}', false, 200, -1],
      [3, 'GET', '/items/2', '/items/{id}', false, 200, -1],
      [1, 'GET', '/b/2', '/b/{id}', false, 200, -1],
      [1, 'POST', '/shop.Cart/Add', '/shop.Cart/Add', true, 200, 5],
    ]);
    // stream 1 of the Upgrade: the HTTP/1 request's fields as HTTP/2 carries them
    expect(h2[0].headers.slice(0, 4)).toEqual([[':method', 'GET'], [':path', '/items/1?x=1'], [':scheme', 'http'], [':authority', '127.0.0.1:8080']]);
    expect(h2[0].headers.map(([n]) => n.toLowerCase())).not.toContain('upgrade');
    expect(h2[3].resp!.trailers).toEqual([['grpc-status', '5']]);
    expect(h2[3].body.length).toBe(h2[3].body_length);
    const head = lines.filter((l): l is HttpLine => l.t === 'http');
    expect(head.map((h) => [h.method, h.path, h.resp?.status, h.resp?.body_length])).toEqual([['HEAD', '/head/3', 200, 0]]);
    expect(stats).toMatchObject({ connections: 4, exchanges: 5, skipped: {} });
  });
});
