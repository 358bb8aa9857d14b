// ShadowReport on hand-made exchanges: noise from the primary cancels exactly the fields that are
// noisy (a random request id) and nothing planted; the summary's exact shape; route cap; latency
// percentiles; skips and errors; the files it writes (atomic, bounded diffs.jsonl, UTF-8-safe and
// base64 excerpts); and the Prometheus series it feeds.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { OutputError } from '../../src/errors';
import type { Answer, ExchangeInfo } from '../../src/shadow/answer';
import { compareRules } from '../../src/shadow/compare';
import { bodyExcerpt } from '../../src/shadow/excerpt';
import { ShadowMetrics } from '../../src/shadow/metrics';
import { MAX_WHERES, ShadowReport, type DiffRecord } from '../../src/shadow/report';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const tmpdir = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'shadow-report-'));
  dirs.push(d);
  return d;
};

let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed.toString(16));

/** A JSON answer as the test servers give it: a Date header and a random request id field. */
function item(id: number, opts: { price?: number; status?: number; version?: string; ms?: number } = {}): Answer {
  const status = opts.status ?? 200;
  const body = Buffer.from(JSON.stringify(status === 200 ? { id, name: `item ${id}`, price: opts.price ?? id * 10, request_id: rand(), tags: [{ k: 'trace', v: rand() }] } : { error: 'boom', request_id: rand() }));
  const headers: [string, string][] = [
    ['Date', new Date(1_700_000_000_000 + Number.parseInt(rand(), 16)).toUTCString()],
    ['Content-Type', 'application/json'],
    ['Content-Length', String(body.length)],
  ];
  if (opts.version) headers.push(['X-Version', opts.version]);
  return { status, headers, body, bodyLength: body.length, bodyTruncated: false, latencyMs: (opts.ms ?? 1) / 2, durationMs: opts.ms ?? 1 };
}

const info = (i: number, route = '/api/items/{id}', method = 'GET'): ExchangeInfo => ({
  conn: String(1 + (i % 3)),
  ts: 1_700_000_000_000 + i,
  method,
  path: route.replace('{id}', String(i)),
  route,
  protocol: 'http',
});

/** The scenario: the candidate differs in $.price on even ids, answers 500 on id 13 and adds a header. */
function plantedRun(report: ShadowReport, withPrimary: boolean): void {
  for (let i = 1; i <= 20; i++) {
    const production = item(i, { version: 'v1', ms: i });
    const primary = item(i, { version: 'v1', ms: i });
    const candidate = item(i, { version: 'v2', price: i % 2 === 0 ? i * 10 + 1 : undefined, status: i === 13 ? 500 : 200, ms: 100 + i });
    report.add(info(i), { kind: 'compared', production, candidate, ...(withPrimary ? { primary } : {}) });
  }
}

describe('noise cancellation', () => {
  it('with a primary, reports exactly the planted differences; random ids and Date are not named', () => {
    const report = new ShadowReport({ maxRoutes: 10, rules: compareRules() });
    plantedRun(report, true);
    const s = report.summary();
    expect(s.routes).toHaveLength(1);
    expect(s.routes[0].differences).toEqual({ 'header:x-version': 19, 'body:$.price': 10, status: 1 });
    // Each of the 19 non-500 exchanges had two noisy fields ($.request_id and $.tags[0].v); the 500 one none reported past status.
    expect(s.routes[0].noise).toBe(38);
    expect(s).toMatchObject({ requests: 20, compared: 20, matched: 0, differed: 20, errors: 0, noise: 38 });
  });

  it('without a primary the random fields are reported: that is what the primary is for', () => {
    const report = new ShadowReport({ maxRoutes: 10, rules: compareRules() });
    plantedRun(report, false);
    expect(report.summary().routes[0].differences).toEqual({
      'header:x-version': 19,
      'body:$.request_id': 19,
      'body:$.tags[0].v': 19,
      'body:$.price': 10,
      status: 1,
    });
  });

  it('a WHERE found noisy stays noise for its route only, array indices generalised', () => {
    const report = new ShadowReport({ maxRoutes: 10, rules: compareRules() });
    const a = (v: unknown): Answer => {
      const body = Buffer.from(JSON.stringify(v));
      return { status: 200, headers: [], body, bodyLength: body.length, bodyTruncated: false };
    };
    // First exchange: the primary differs from production at $.list[0].ts and $.ts.
    const d1 = report.add(info(1, '/a'), { kind: 'compared', production: a({ ts: 1, list: [{ ts: 1 }] }), primary: a({ ts: 2, list: [{ ts: 2 }] }), candidate: a({ ts: 3, list: [{ ts: 3 }] }) });
    expect(d1).toEqual([]);
    // Later, without a primary answer: the noisy fields stay noise on /a, also in another element.
    const d2 = report.add(info(2, '/a'), { kind: 'compared', production: a({ ts: 1, list: [{ ts: 1 }, { ts: 1 }], x: 1 }), candidate: a({ ts: 9, list: [{ ts: 1 }, { ts: 9 }], x: 2 }) });
    expect(d2).toEqual([{ where: 'body:$.x', production: '1', candidate: '2' }]);
    // Another route learnt nothing.
    const d3 = report.add(info(3, '/b'), { kind: 'compared', production: a({ ts: 1 }), candidate: a({ ts: 2 }) });
    expect(d3).toEqual([{ where: 'body:$.ts', production: '1', candidate: '2' }]);
    const s = report.summary();
    expect(s.routes.map((r) => [r.route, r.matched, r.differed, r.noise])).toEqual([
      ['/a', 1, 1, 4],
      ['/b', 0, 1, 0],
    ]);
    expect(s.noise).toBe(4);
  });
  it('noise learnt later applies to earlier exchanges: the report does not depend on arrival order', () => {
    const report = new ShadowReport({ maxRoutes: 10, rules: compareRules() });
    // The first answers come without the primary's (say it timed out): the random fields look like differences.
    for (let i = 1; i <= 3; i++) report.add(info(i), { kind: 'compared', production: item(i), candidate: item(i, { price: i === 2 ? 0 : undefined }) });
    expect(report.summary().routes[0].differences).toEqual({ 'body:$.request_id': 3, 'body:$.tags[0].v': 3, 'body:$.price': 1 });
    report.add(info(4), { kind: 'compared', production: item(4), primary: item(4), candidate: item(4) });
    const s = report.summary();
    expect(s.routes[0]).toMatchObject({ compared: 4, matched: 3, differed: 1, noise: 8, differences: { 'body:$.price': 1 } });
    expect(report.totals()).toEqual({ requests: 4, compared: 4, matched: 3, differed: 1, errors: 0, noise: 8 });
    const dir = tmpdir();
    report.write(dir);
    const lines = fs.readFileSync(path.join(dir, 'diffs.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as DiffRecord);
    expect(lines.map((l) => [l.path, l.differences.map((d) => d.where)])).toEqual([['/api/items/2', ['body:$.price']]]);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'))).toMatchObject({ matched: 3, differed: 1, noise: 8, diffs_written: 1 });
    const html = fs.readFileSync(path.join(dir, 'index.html'), 'utf8');
    expect(html).not.toContain('request_id</td>');
    expect(html).toContain('body:$.price');
  });
});

describe('summary', () => {
  it('has the issue shape, with latency percentiles and skips and errors', () => {
    const report = new ShadowReport({ maxRoutes: 10, rules: compareRules() });
    for (let i = 1; i <= 100; i++) report.add(info(i, '/fast'), { kind: 'compared', production: item(1, { ms: i }), candidate: item(1, { ms: 2 * i }) });
    report.add(info(101, '/fast'), { kind: 'error', production: item(1, { ms: 5 }), error: 'timeout' });
    report.add(info(102, '/fast'), { kind: 'error', production: item(1, { ms: 5 }), error: 'timeout' });
    report.add(info(103, '/fast'), { kind: 'error', production: item(1, { ms: 5 }), error: 'refused' });
    report.skip('method', 4);
    report.skip('tls');
    report.skip('method');
    const s = report.summary();
    expect(s).toEqual({
      requests: 103,
      compared: 100,
      matched: 0,
      differed: 100,
      errors: 3,
      noise: 0,
      skipped: { method: 5, tls: 1 },
      routes: [
        {
          method: 'GET',
          route: '/fast',
          compared: 100,
          matched: 0,
          differed: 100,
          errors: 3,
          noise: 0,
          differences: { 'body:$.request_id': 100, 'body:$.tags[0].v': 100 },
          error_kinds: { timeout: 2, refused: 1 },
          // 1..100 plus the three errors' 5 ms: nearest rank over 103 values
          production_ms: { p50: 49, p90: 90, p99: 99 },
          candidate_ms: { p50: 100, p90: 180, p99: 198 },
        },
      ],
      diffs_written: 100,
      diffs_omitted: 0,
    });
  });

  it('caps distinct routes: later ones are counted under "other"', () => {
    const report = new ShadowReport({ maxRoutes: 2, rules: compareRules() });
    const fixed = (): Answer => ({ status: 204, headers: [], body: Buffer.alloc(0), bodyLength: 0, bodyTruncated: false });
    for (const [m, r] of [['GET', '/a'], ['GET', '/b'], ['POST', '/a'], ['GET', '/c'], ['GET', '/a'], ['GET', '/c']])
      report.add(info(1, r, m), { kind: 'compared', production: fixed(), candidate: fixed() });
    const s = report.summary();
    expect(s.routes.map((r) => [r.method, r.route, r.compared, r.matched])).toEqual([
      ['GET', '/a', 2, 2],
      ['GET', '/b', 1, 1],
      ['', 'other', 3, 3],
    ]);
  });
});

describe('bounds on what the traffic controls', () => {
  it('distinct WHEREs per route are capped (member names that are ids), the rest under "other"; long names cut', () => {
    const report = new ShadowReport({ maxRoutes: 10, rules: compareRules() });
    const a = (v: unknown): Answer => {
      const body = Buffer.from(JSON.stringify(v));
      return { status: 200, headers: [], body, bodyLength: body.length, bodyTruncated: false };
    };
    for (let i = 0; i < 10; i++) {
      const users = Object.fromEntries(Array.from({ length: 100 }, (_, k) => [`u${i * 100 + k}`, 1]));
      report.add(info(i, '/users'), { kind: 'compared', production: a({ users }), candidate: a({ users: {} }) });
    }
    const d = report.summary().routes[0].differences;
    expect(Object.keys(d)).toHaveLength(MAX_WHERES + 1);
    expect(d.other).toBe(1000 - MAX_WHERES);
    const [long] = report.add(info(99, '/long'), { kind: 'compared', production: a({ ['k'.repeat(5000)]: 1 }), candidate: a({}) });
    expect(long.where).toBe(`body:$['${'k'.repeat(63)}…']`);
  });

  it('the exchanges kept for index.html stay within their byte budget however many routes differ', () => {
    const report = new ShadowReport({ maxRoutes: 100, rules: compareRules(), maxDiffBytes: 1 << 20 });
    const big = (v: string): Answer => ({
      status: 200,
      headers: Array.from({ length: 60 }, (_, k) => [`x-h${k}`, v.repeat(300)] as [string, string]),
      body: Buffer.alloc(4096, v),
      bodyLength: 4096,
      bodyTruncated: false,
    });
    for (let i = 0; i < 1000; i++) report.add(info(i, `/r${i % 100}`), { kind: 'compared', production: big('a'), candidate: big('b') });
    const dir = tmpdir();
    report.write(dir);
    const html = fs.statSync(path.join(dir, 'index.html')).size;
    const examples = report.examples().flatMap((r) => r.examples);
    const bytes = examples.reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e)) + 1, 0);
    // Without the budget all 1000 would be kept (10 per route); each is about 50 KB as JSON.
    expect(examples.length).toBeGreaterThan(100);
    expect(examples.length).toBeLessThan(200);
    expect(bytes).toBeLessThanOrEqual(8 << 20);
    expect(bytes).toBeGreaterThan(7 << 20);
    expect(html).toBeLessThan(10 << 20);
    // Header values in differences are cut too.
    expect(examples[0].differences[0].production).toBe(`${'a'.repeat(199)}…`);
    expect(fs.statSync(path.join(dir, 'diffs.jsonl')).size).toBeLessThanOrEqual(1 << 20);
  });

  it('an exchange time that is not a date gives an empty time, not an exception; a long target is cut', () => {
    const report = new ShadowReport({ maxRoutes: 10, rules: compareRules() });
    report.add({ ...info(1), ts: Number.NaN, path: `/${'p'.repeat(10_000)}` }, { kind: 'compared', production: item(1), candidate: item(1, { price: 0 }) });
    const dir = tmpdir();
    report.write(dir);
    const rec = JSON.parse(fs.readFileSync(path.join(dir, 'diffs.jsonl'), 'utf8')) as DiffRecord;
    expect(rec.time).toBe('');
    expect(rec.path).toBe(`/${'p'.repeat(2046)}…`);
  });
});

describe('files', () => {
  it('writes summary.json, diffs.jsonl and index.html, leaving no temporary file', () => {
    const report = new ShadowReport({ maxRoutes: 10, rules: compareRules() });
    plantedRun(report, true);
    report.skip('method', 2);
    const dir = path.join(tmpdir(), 'report');
    report.write(dir);
    expect(fs.readdirSync(dir).sort()).toEqual(['diffs.jsonl', 'index.html', 'summary.json']);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'))).toEqual(report.summary());
    const lines = fs.readFileSync(path.join(dir, 'diffs.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as DiffRecord);
    expect(lines).toHaveLength(20);
    const first = lines[0];
    expect(first).toMatchObject({ time: '2023-11-14T22:13:20.001Z', ts_ms: 1_700_000_000_001, connection: '2', protocol: 'http', method: 'GET', path: '/api/items/1', route: '/api/items/{id}' });
    expect(first.differences).toEqual([{ where: 'header:x-version', production: 'v1', candidate: 'v2' }]);
    expect(first.production.status).toBe(200);
    expect(first.production.headers).toContainEqual(['X-Version', 'v1']);
    expect(first.production.body).toMatchObject({ encoding: 'utf8', offset: 0, truncated: false });
    expect(JSON.parse(first.production.body.text).id).toBe(1);
    expect(lines[12].differences).toEqual([{ where: 'status', production: '200', candidate: '500' }]);
    // Written again (a periodic refresh), the files are replaced whole.
    report.add(info(99), { kind: 'compared', production: item(99, { version: 'v1' }), candidate: item(99, { version: 'v1' }) });
    report.write(dir);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')).compared).toBe(21);
    expect(fs.readdirSync(dir)).toHaveLength(3);
  });

  it('bounds diffs.jsonl and counts the exchanges left out', () => {
    const report = new ShadowReport({ maxRoutes: 10, rules: compareRules(), maxDiffBytes: 4000, examplesPerRoute: 1 });
    for (let i = 0; i < 50; i++) report.add(info(i), { kind: 'compared', production: item(i), candidate: item(i, { price: -1 }) });
    const dir = tmpdir();
    report.write(dir);
    const text = fs.readFileSync(path.join(dir, 'diffs.jsonl'), 'utf8');
    const s = report.summary();
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4000);
    expect(text.endsWith('\n')).toBe(true);
    expect(text.trimEnd().split('\n').length).toBe(s.diffs_written);
    expect(s.diffs_written).toBeGreaterThan(0);
    expect(s.diffs_written + s.diffs_omitted).toBe(50);
  });

  it('keeps body excerpts bounded, never cutting a UTF-8 character; binary goes as base64', () => {
    const text = Buffer.from('é'.repeat(100)); // 200 bytes, 2 per character
    const e = bodyExcerpt(text, 200, false, 1, 10);
    expect(e).toEqual({ encoding: 'utf8', offset: 2, bytes: 8, length: 200, truncated: false, text: 'éééé' });
    const odd = bodyExcerpt(text, 200, false, 0, 9);
    expect(odd).toMatchObject({ encoding: 'utf8', offset: 0, bytes: 8, text: 'éééé' });
    const bin = Buffer.from([0, 1, 2, 0xff, 0xfe, 3]);
    expect(bodyExcerpt(bin, 6, false, 0, 4)).toEqual({ encoding: 'base64', offset: 0, bytes: 4, length: 6, truncated: false, text: Buffer.from([0, 1, 2, 0xff]).toString('base64') });

    const report = new ShadowReport({ maxRoutes: 10, rules: compareRules(), excerpt: { bodyBytes: 64 } });
    const big = (c: string): Answer => {
      const body = Buffer.from(`${'€'.repeat(400)}${c}${'€'.repeat(10)}`);
      return { status: 200, headers: [['Content-Type', 'text/plain; charset=utf-8']], body, bodyLength: body.length, bodyTruncated: false };
    };
    const [d] = report.add(info(1), { kind: 'compared', production: big('a'), candidate: big('b') });
    expect(d).toMatchObject({ where: 'body', offset: 1200 });
    const dir = tmpdir();
    report.write(dir);
    const rec = JSON.parse(fs.readFileSync(path.join(dir, 'diffs.jsonl'), 'utf8')) as DiffRecord;
    // The window starts 16 bytes (a quarter of it) before the first difference, on a character boundary.
    expect(rec.candidate.body.encoding).toBe('utf8');
    expect(rec.candidate.body.offset).toBe(1185);
    expect(rec.candidate.body.bytes).toBeLessThanOrEqual(64);
    expect(rec.candidate.body.text).toContain('b');
    expect(rec.production.body.text).toContain('a');
  });

  it('excerpts of random text and bytes: UTF-8 excerpts are exactly the bytes they claim, within the bound', () => {
    let x = 7;
    const next = () => ((x = (x * 1103515245 + 12345) >>> 0), x);
    const alphabet = ['a', 'é', '€', '😀', '\n', 'z'];
    for (let round = 0; round < 2000; round++) {
      const text = round % 2 === 0;
      const body = text
        ? Buffer.from(Array.from({ length: next() % 60 }, () => alphabet[next() % alphabet.length]).join(''))
        : Buffer.from(Array.from({ length: next() % 60 }, () => next() & 0xff));
      const from = next() % (body.length + 1);
      const max = (text ? 7 : 1) + (next() % 20);
      const e = bodyExcerpt(body, body.length, false, from, max);
      expect(e.bytes).toBeLessThanOrEqual(max);
      const bytes = e.encoding === 'utf8' ? Buffer.from(e.text) : Buffer.from(e.text, 'base64');
      expect(bytes.length).toBe(e.bytes);
      expect(bytes.equals(body.subarray(e.offset, e.offset + e.bytes))).toBe(true);
      if (text) {
        // Text shows as text, unless the window holds no whole character (only the tail of the last one).
        if (e.encoding === 'base64') expect(e.offset + e.bytes === body.length && bytes.every((b) => (b & 0xc0) === 0x80)).toBe(true);
        else expect(e.offset).toBeGreaterThanOrEqual(from);
        expect(e.offset - from).toBeLessThan(4);
      }
    }
  });

  it('a file that cannot be written is an OutputError naming it, and the previous file stays whole', () => {
    const report = new ShadowReport({ maxRoutes: 10, rules: compareRules() });
    report.add(info(1), { kind: 'compared', production: item(1), candidate: item(1, { price: 0 }) });
    const dir = tmpdir();
    report.write(dir);
    const before = fs.readFileSync(path.join(dir, 'summary.json'), 'utf8');
    fs.mkdirSync(path.join(dir, `summary.json.tmp-${process.pid}`));
    report.add(info(2), { kind: 'compared', production: item(2), candidate: item(2) });
    expect(() => report.write(dir)).toThrow(OutputError);
    expect(() => report.write(dir)).toThrow(`${path.join(dir, 'summary.json')}: EISDIR`);
    expect(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')).toBe(before);
  });

  it('a directory that cannot be made is an OutputError naming it', () => {
    const file = path.join(tmpdir(), 'a-file');
    fs.writeFileSync(file, '');
    const report = new ShadowReport({ maxRoutes: 10, rules: compareRules() });
    expect(() => report.write(path.join(file, 'report'))).toThrow(OutputError);
    expect(() => report.write(path.join(file, 'report'))).toThrow(`${path.join(file, 'report')}: `);
  });
});

describe('index.html escaping', () => {
  it('no text from the traffic becomes markup, wherever it appears', () => {
    const evil = `<img src=x onerror=alert(1)>"'&</td></pre><script>x</script>`;
    const report = new ShadowReport({ maxRoutes: 10, rules: compareRules() });
    const a = (v: string, status = 200): Answer => {
      const body = Buffer.from(JSON.stringify({ [evil]: v }));
      return { status, headers: [['Content-Type', 'application/json'], [`x-${evil}`, evil]], trailers: [['x', evil]], body, bodyLength: body.length, bodyTruncated: false };
    };
    const where = { conn: evil, ts: 0, method: evil, path: evil, route: evil, protocol: 'http' as const };
    report.add(where, { kind: 'compared', production: a(evil), candidate: a('other') });
    report.add(where, { kind: 'error', production: a(evil), error: evil });
    report.skip(evil, 1);
    const dir = tmpdir();
    report.write(dir);
    const html = fs.readFileSync(path.join(dir, 'index.html'), 'utf8');
    const allowed = new Set(['!DOCTYPE', 'html', 'head', 'meta', 'title', 'style', 'body', 'h1', 'h2', 'h3', 'h4', 'p', 'table', 'thead', 'tbody', 'tfoot', 'tr', 'th', 'td', 'a', 'section', 'div', 'pre', 'code']);
    const tags = [...html.matchAll(/<\/?([!A-Za-z][A-Za-z0-9]*)/g)].map((m) => m[1]);
    expect(tags.filter((t) => !allowed.has(t))).toEqual([]);
    // Every real tag (text has no raw "<") carries only the page's own attributes.
    expect([...html.matchAll(/<[^>]*>/g)].filter((m) => /\son[a-z]+=|src=/i.test(m[0]))).toEqual([]);
    // The text is all there, escaped.
    expect(html.split('&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;&lt;/td&gt;&lt;/pre&gt;&lt;script&gt;x&lt;/script&gt;').length).toBeGreaterThan(6);
  });
});

describe('raw turns', () => {
  it('are counted under "turn" and shown as replies, without status or headers', () => {
    const report = new ShadowReport({ maxRoutes: 10, rules: compareRules() });
    const reply = (t: string): Answer => ({ status: 0, headers: [], body: Buffer.from(t), bodyLength: t.length, bodyTruncated: false, durationMs: 1 });
    const turn = (i: number): ExchangeInfo => ({ conn: '1', ts: 1_700_000_000_000 + i, method: '', path: '', route: 'tcp/6379', protocol: 'raw' });
    report.add(turn(1), { kind: 'compared', production: reply('+OK\r\n'), candidate: reply('+OK\r\n') });
    expect(report.add(turn(2), { kind: 'compared', production: reply('$5\r\nhello\r\n'), candidate: reply('$-1\r\n') })).toEqual([
      expect.objectContaining({ where: 'turn', offset: 1 }),
    ]);
    const s = report.summary();
    expect(s.routes.map((r) => [r.method, r.route, r.compared, r.matched, r.differed, r.differences])).toEqual([['', 'tcp/6379', 2, 1, 1, { turn: 1 }]]);
    const dir = tmpdir();
    report.write(dir);
    const html = fs.readFileSync(path.join(dir, 'index.html'), 'utf8');
    expect(html).toContain('<h4>Production: reply</h4><pre class="body">$5\r\nhello\r\n</pre>');
    expect(html).toContain('<h4>Candidate: reply</h4><pre class="body">$-1\r\n</pre>');
    expect(html).not.toContain('status 0');
  });
});

describe('metrics', () => {
  it('counts requests by route and result and observes both latencies', async () => {
    const registry = new Registry();
    const report = new ShadowReport({ maxRoutes: 1, rules: compareRules(), metrics: new ShadowMetrics(registry, 'shop') });
    const fixed = (status = 200, ms = 10): Answer => ({ status, headers: [], body: Buffer.alloc(0), bodyLength: 0, bodyTruncated: false, durationMs: ms });
    report.add(info(1, '/a'), { kind: 'compared', production: fixed(), candidate: fixed(200, 20) });
    report.add(info(2, '/a'), { kind: 'compared', production: fixed(), candidate: fixed(404, 3000) });
    report.add(info(3, '/b'), { kind: 'compared', production: fixed(), candidate: fixed() });
    report.add(info(4, '/a'), { kind: 'error', production: fixed(), error: 'reset' });
    report.skip('method', 7);
    // A second session on the same registry shares the metrics.
    new ShadowMetrics(registry, 'other').exchange('GET /x', 'match', 1, 1);
    const metrics = await registry.getMetricsAsJSON();
    const requests = metrics.find((m) => m.name === 'podspan_shadow_requests_total')!;
    const values = requests.values.map((v) => [v.labels.session, v.labels.route, v.labels.result, v.value]);
    expect(values).toEqual(
      expect.arrayContaining([
        ['shop', 'GET /a', 'match', 1],
        ['shop', 'GET /a', 'differ', 1],
        ['shop', 'other', 'match', 1],
        ['shop', 'GET /a', 'error', 1],
        ['shop', '', 'skipped', 7],
        ['other', 'GET /x', 'match', 1],
      ]),
    );
    expect(values).toHaveLength(6);
    const latency = metrics.find((m) => m.name === 'podspan_shadow_latency_seconds')!;
    const count = (side: string) => latency.values.find((v) => v.labels.session === 'shop' && v.labels.side === side && (v as { metricName?: string }).metricName === 'podspan_shadow_latency_seconds_count')?.value;
    expect(count('production')).toBe(4);
    expect(count('candidate')).toBe(3);
    const le = (side: string, bound: number) =>
      latency.values.find((v) => v.labels.session === 'shop' && v.labels.side === side && v.labels.le === bound && (v as { metricName?: string }).metricName === 'podspan_shadow_latency_seconds_bucket')?.value;
    expect(le('candidate', 0.025)).toBe(2);
    expect(le('candidate', 2.5)).toBe(2);
    expect(le('candidate', 5)).toBe(3);
  });
});
