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
import { ShadowReport, type DiffRecord } from '../../src/shadow/report';

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

  it('a directory that cannot be made is an OutputError naming it', () => {
    const file = path.join(tmpdir(), 'a-file');
    fs.writeFileSync(file, '');
    const report = new ShadowReport({ maxRoutes: 10, rules: compareRules() });
    expect(() => report.write(path.join(file, 'report'))).toThrow(OutputError);
    expect(() => report.write(path.join(file, 'report'))).toThrow(`${path.join(file, 'report')}: `);
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
