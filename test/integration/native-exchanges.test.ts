// Shadow testing's native extractor end to end: real HTTP/1.1 traffic (a Node http server and
// curl plus a pipelining client, in a network namespace of this test, on its loopback) captured
// by tcpdump to a pcap, read back through the addon with readExchanges(). The exchanges must be
// what the clients sent and the server answered: methods, paths, bodies byte for byte, statuses;
// a TLS ClientHello is counted, not parsed; the method filter counts what it leaves out.
// tshark judges the request count independently.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readExchanges, type HttpLine } from '../../src/shadow/native-exchanges';
import { addNamespaces, canUseNetns, inNs, killStarted, removeNamespaces, startInNs, stopProcess } from '../helpers/netns';
import { run } from '../helpers/tools';

const ns = `shx${process.pid}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-shadow-native-'));
const pcap = path.join(dir, 'http.pcap');
const body = crypto.randomBytes(3000); // every byte value, so the bodies must come back byte-exact
const bodyFile = path.join(dir, 'body.bin');

// The production server: /items/ID as JSON with a length, /echo the request body back chunked
// (status 201), HEAD /head a length without a body, /close a body ended by the close (an HTTP/1.0
// client); port 8443 takes a TLS ClientHello and hangs up.
const serverJs = `
const http = require('http'), net = require('net');
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

// Three requests in one write on one connection (pipelining), the last one closing it.
const pipelineJs = `
const net = require('net'), fs = require('fs');
const body = fs.readFileSync(process.argv[2]);
const s = net.connect(8080, '127.0.0.1', () => {
  s.write(Buffer.concat([
    Buffer.from('GET /items/7 HTTP/1.1\\r\\nHost: shop\\r\\n\\r\\nGET /items/0123456789abcdef HTTP/1.1\\r\\nHost: shop\\r\\n\\r\\n'),
    Buffer.from('POST /echo HTTP/1.1\\r\\nHost: shop\\r\\nConnection: close\\r\\nContent-Length: ' + body.length + '\\r\\n\\r\\n'),
    body,
  ]));
});
s.resume();
s.on('end', () => process.exit(0));`;

const usable = canUseNetns && run('which', ['tcpdump', 'curl', 'tshark']).code === 0;

describe.skipIf(!usable)('shadow exchanges from real HTTP/1.1 traffic', () => {
  beforeAll(async () => {
    fs.writeFileSync(bodyFile, body);
    fs.writeFileSync(path.join(dir, 'server.js'), serverJs);
    fs.writeFileSync(path.join(dir, 'pipeline.js'), pipelineJs);
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
    // each connection opens before its exchanges and closes after them
    for (const h of http) {
      const at = lines.indexOf(h);
      expect(lines.findIndex((l) => l.t === 'open' && l.conn === h.conn)).toBeLessThan(at);
      expect(lines.findIndex((l) => l.t === 'close' && l.conn === h.conn)).toBeGreaterThan(at);
      expect(h.resp!.latency_ms).toBeGreaterThanOrEqual(0);
    }
    expect(stats).toMatchObject({ connections: 5, exchanges: 8, skipped: { tls: 1 }, droppedBatches: 0 });
  });

  it('methods not listed are counted, not handed over', async () => {
    const { lines, stats } = await readExchanges(pcap, { methods: ['GET', 'HEAD', 'OPTIONS'] });
    expect(lines.filter((l) => l.t === 'http').map((l) => (l as HttpLine).method)).not.toContain('POST');
    expect(stats?.exchanges).toBe(6);
    expect(stats?.skipped).toEqual({ tls: 1, method: 2 });
  });
});
