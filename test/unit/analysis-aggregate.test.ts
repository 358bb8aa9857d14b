// Aggregation over hand-checked fixtures: counts, errors and nearest-rank quantiles at exactly the
// positions worked out by hand; caps folding later servers and routes into "other"; memory
// bounds turning quantiles into flagged estimates while counts stay exact.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Aggregator, DEFAULT_AGGREGATE_LIMITS } from '../../src/analysis/aggregate';
import { PairCache } from '../../src/analysis/pair-cache';
import { parseJsonLines, type DnsRecord, type FlowRecord, type HttpRecord } from '../../src/analysis/records';
import { LatencySamples, rankOf, sampleBudget, valuesAtRanks } from '../../src/analysis/samples';
import { formatMs, topLists } from '../../src/analysis/top-list';

const fixture = <T>(kind: string) => parseJsonLines<T>(fs.readFileSync(path.join(__dirname, '../../fixtures/analysis', `${kind}.jsonl`)), kind);

function aggregateFixtures(limits = DEFAULT_AGGREGATE_LIMITS) {
  const a = new Aggregator(limits);
  for (const r of fixture<FlowRecord>('flows')) a.addFlow(r);
  for (const r of fixture<HttpRecord>('http')) a.addHttp(r);
  for (const r of fixture<DnsRecord>('dns')) a.addDns(r);
  return a.summary();
}

describe('aggregation', () => {
  const s = aggregateFixtures();
  const server = (name: string) => s.servers.find((x) => x.server === name)!;
  const route = (srv: string, r: string) => server(srv).routes.find((x) => `${x.method} ${x.route}` === r)!;

  it('counts records and names servers by address:port off-cluster', () => {
    expect(s.records).toEqual({ flows: 3, http: 44, dns: 5 });
    expect(s.servers.map((x) => x.server).sort()).toEqual(['10.1.0.2:8080', '10.1.0.3:50051', '10.96.0.10:53']);
    expect(s.folded).toEqual({ server_records: 0, route_records: 0 });
  });

  it('puts every quantile at its nearest rank', () => {
    // 201..210 ms: p50 rank 5, p90 rank 9, p99 rank 10.
    expect(route('10.1.0.2:8080', 'GET /slow').latency_ms).toMatchObject({ count: 10, p50: 205, p90: 209, p99: 210, max: 210, mean: 205.5, exact: true });
    // 0.1..2.0 ms: ranks 10, 18, 20.
    expect(route('10.1.0.2:8080', 'GET /fast').latency_ms).toMatchObject({ count: 20, p50: 1.0, p90: 1.8, p99: 2.0, exact: true });
    // 9 answered of 10 (1..9 ms): ranks 5, 9, 9.
    expect(route('10.1.0.2:8080', 'GET /items/{id}').latency_ms).toMatchObject({ count: 9, p50: 5, p90: 9, p99: 9 });
  });

  it('counts errors: HTTP 5xx, gRPC non-OK, DNS SERVFAIL; unanswered apart', () => {
    expect(route('10.1.0.2:8080', 'GET /items/{id}')).toMatchObject({ requests: 10, errors: 3, unanswered: 1, error_ratio: 0.3, codes: { '200': 6, '503': 3 } });
    expect(route('10.1.0.2:8080', 'GET /slow')).toMatchObject({ requests: 10, errors: 0 });
    expect(route('10.1.0.3:50051', 'POST /shop.Cart/Get')).toMatchObject({ protocol: 'grpc', requests: 4, errors: 1, codes: { '0': 3, '14': 1 } });
    expect(route('10.96.0.10:53', 'A cart.shop.svc.cluster.local')).toMatchObject({
      protocol: 'dns',
      requests: 5,
      errors: 1,
      unanswered: 1,
      codes: { NOERROR: 3, SERVFAIL: 1 },
      latency_ms: { count: 4, p50: 0.6, p90: 5, p99: 5 },
    });
  });

  it('sums connections, rejections, retransmissions and handshake RTTs per server', () => {
    expect(server('10.1.0.2:8080')).toMatchObject({
      connections: 3,
      rejected: 1,
      states: { closed: 2, rejected: 1 },
      packets: 62,
      retransmitted_packets: 2,
      retransmission_ratio: Math.round((2 / 62) * 1e6) / 1e6,
      handshake_rtt_ms: { count: 2, p50: 0.1, p90: 0.3, p99: 0.3, exact: true },
    });
  });

  it('folds servers past max-servers and routes past max-routes into "other", counted', () => {
    const capped = aggregateFixtures({ ...DEFAULT_AGGREGATE_LIMITS, maxServers: 1, maxRoutesPerServer: 2 });
    // The flows come first: 10.1.0.2:8080 is named, the gRPC and DNS servers are folded.
    expect(capped.servers.map((x) => x.server)).toEqual(['10.1.0.2:8080', 'other']);
    const other = capped.servers[1];
    expect(other.routes.reduce((n, r) => n + r.requests, 0)).toBe(4 + 5);
    expect(capped.folded.server_records).toBe(4 + 5);
    const named = capped.servers[0];
    expect(named.routes).toHaveLength(3); // two routes and "other"
    expect(named.routes.reduce((n, r) => n + r.requests, 0)).toBe(40);
    const folded = named.routes.find((r) => r.route === 'other')!;
    expect(capped.folded.route_records).toBe(folded.requests);
    expect(folded.requests).toBeGreaterThan(0);
  });
});

describe('latency memory bounds', () => {
  it('nearest rank positions', () => {
    expect([rankOf(0.5, 1), rankOf(0.5, 2), rankOf(0.99, 100), rankOf(0.99, 101), rankOf(0.9, 10)]).toEqual([0, 0, 98, 99, 8]);
  });

  it('exact up to the per-series bound; past it a sample, flagged, with exact count and max', () => {
    const budget = sampleBudget(1000, 10_000);
    const exact = new LatencySamples(budget);
    for (let v = 1000; v >= 1; v--) exact.add(v);
    expect(exact.quantiles()).toMatchObject({ count: 1000, p50: 500, p90: 900, p99: 990, max: 1000, exact: true });
    const over = new LatencySamples(budget);
    for (let v = 1; v <= 5000; v++) over.add(v);
    const q = over.quantiles();
    expect(q).toMatchObject({ count: 5000, max: 5000, mean: 2500.5, exact: false });
    expect(budget.used).toBe(2000); // each series holds at most 1000 values
  });

  it('the shared budget bounds all series together', () => {
    const budget = sampleBudget(1000, 1500);
    const a = new LatencySamples(budget);
    const b = new LatencySamples(budget);
    for (let v = 0; v < 1000; v++) a.add(v);
    for (let v = 0; v < 1000; v++) b.add(v);
    expect(budget.used).toBe(1500);
    expect(a.quantiles().exact).toBe(true);
    expect(b.quantiles()).toMatchObject({ count: 1000, exact: false });
  });
});

describe('records repeating their server and route', () => {
  it('count the same, named or folded, as records that change each time', () => {
    const a = new Aggregator({ ...DEFAULT_AGGREGATE_LIMITS, maxServers: 1, maxRoutesPerServer: 1 });
    const rec = (server: string, route: string, status: number) => ({ server, server_port: 80, method: 'GET', route, status, grpc_status: null, latency_ms: status / 100, duration_ms: 1 });
    // Runs of one route (the remembered one), then a route past the cap, then a server past it.
    for (const [server, route, status] of [
      ['10.0.0.1', '/a', 200], ['10.0.0.1', '/a', 200], ['10.0.0.1', '/b', 500], ['10.0.0.1', '/b', 500],
      ['10.0.0.1', '/a', 503], ['10.0.0.2', '/a', 200], ['10.0.0.2', '/a', 200], ['10.0.0.1', '/b', 200],
    ] as const) a.addHttp(rec(server, route, status));
    const s = a.summary();
    expect(s.folded).toEqual({ server_records: 2, route_records: 3 });
    const named = s.servers.find((x) => x.server === '10.0.0.1:80')!;
    expect(named.routes.map((r) => [r.route, r.requests, r.errors, r.codes])).toEqual([
      ['/a', 3, 1, { '200': 2, '503': 1 }],
      ['other', 3, 2, { '200': 1, '500': 2 }],
    ]);
    expect(named.routes[0]!.latency_ms).toMatchObject({ count: 3, p50: 2, max: 5.03 });
    const other = s.servers.find((x) => x.server === 'other')!;
    expect(other.routes.map((r) => [r.route, r.requests])).toEqual([['/a', 2]]);
  });
});

describe('quantiles by selection', () => {
  // A small deterministic generator, so a failure names a reproducible case.
  const lcg = (seed: number) => () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);

  it('picks exactly what a sort would, on every shape and size tried', () => {
    const random = lcg(7);
    const shapes: Record<string, (i: number, n: number) => number> = {
      random: () => random() * 1000,
      'few distinct': () => Math.floor(random() * 4),
      'all equal': () => 3.5,
      ascending: (i) => i,
      descending: (i, n) => n - i,
      'organ pipe': (i, n) => Math.min(i, n - i),
      'sawtooth': (i) => i % 17,
      'negative and zero': () => Math.floor(random() * 7) - 3,
    };
    for (const [shape, make] of Object.entries(shapes)) {
      for (const n of [1, 2, 3, 5, 10, 99, 100, 101, 1000, 4097, 50_000]) {
        const values = Float64Array.from({ length: n }, (_, i) => make(i, n));
        const sorted = values.slice().sort();
        const ranks = [0.5, 0.9, 0.99].map((q) => rankOf(q, n));
        expect(valuesAtRanks(values.slice(), n, ranks), `${shape}, n=${n}`).toEqual(ranks.map((r) => sorted[r]));
        // One rank, and ranks at both ends
        expect(valuesAtRanks(values.slice(), n, [0, n - 1]), `${shape}, n=${n}, ends`).toEqual([sorted[0], sorted[n - 1]]);
      }
    }
  });

  it('reads only the first n values of a longer array', () => {
    const values = Float64Array.from([5, 1, 4, 2, 3, -100, -100, -100]);
    expect(valuesAtRanks(values, 5, [0, 2, 4])).toEqual([1, 3, 5]);
  });

  it('a NaN among the latencies sorts last, as a sort places it', () => {
    const s = new LatencySamples(sampleBudget(100, 100));
    for (const v of [3, NaN, 1, 2]) s.add(v);
    expect(s.quantiles()).toMatchObject({ count: 4, p50: 2, p90: NaN, p99: NaN });
  });
});

describe('latency memory, measured', () => {
  it('5 routes x 500,000 latencies under a 1,000,000-value budget hold 8 MB, two routes exact', () => {
    const budget = sampleBudget(500_000, 1_000_000);
    const series = Array.from({ length: 5 }, () => new LatencySamples(budget));
    for (const s of series) for (let i = 0; i < 500_000; i++) s.add(i % 1000);
    expect(budget.used).toBe(1_000_000);
    // The arrays the series hold: the values, 8 bytes each, and the empty series' starting arrays.
    // (Measured process-wide, arrays outgrown and not yet collected make the figure depend on the
    // collector's timing; without the budget it would be 20 MB.)
    expect(series.map((s) => s.storedBytes())).toEqual([4_000_000, 4_000_000, 128, 128, 128]);
    expect(series.map((s) => s.quantiles().exact)).toEqual([true, true, false, false, false]);
    expect(series.map((s) => s.quantiles().count)).toEqual([500_000, 500_000, 500_000, 500_000, 500_000]);
  });
});

describe('top lists', () => {
  it('formats times with units', () => {
    expect([formatMs(0.25), formatMs(12.5), formatMs(1520), formatMs(null)]).toEqual(['250µs', '12.50ms', '1.52s', '-']);
  });

  it('prints aligned columns, slowest p99 first', () => {
    const lines = topLists(aggregateFixtures());
    expect(lines[0]).toBe('SLOWEST ROUTES (by p99 latency)');
    const header = lines[1];
    const first = lines[2];
    expect(first).toMatch(/^10\.1\.0\.2:8080\s+http\s+GET \/slow\s+10\s+205\.00ms\s+209\.00ms\s+210\.00ms\s+210\.00ms$/);
    // Right-aligned numbers end where their header ends.
    expect(first.indexOf('10 ') + 2).toBe(header.indexOf('REQUESTS') + 'REQUESTS'.length);
    const errors = lines.slice(lines.indexOf('MOST ERRORS (HTTP 5xx, gRPC non-OK, DNS SERVFAIL)'));
    expect(errors[2]).toMatch(/^10\.1\.0\.2:8080\s+http\s+GET \/items\/\{id\}\s+10\s+3\s+30\.00%\s+200:6 503:3$/);
    const retrans = lines.slice(lines.indexOf('MOST RETRANSMISSIONS'));
    expect(retrans[2]).toMatch(/^10\.1\.0\.2:8080\s+3\s+1\s+62\s+2\s+3\.23%\s+100µs\s+300µs$/);
  });
});

describe('PairCache', () => {
  it('makes each name once, finds it by its parts, and starts over past its bound', () => {
    let made = 0;
    const cache = new PairCache<string, number, string>((a, b) => (made++, `${a}:${b}`), 3);
    expect(cache.get('10.0.0.1', 80)).toBe('10.0.0.1:80');
    expect(cache.get('10.0.0.1', 80)).toBe('10.0.0.1:80');
    expect(cache.get('10.0.0.1', 443)).toBe('10.0.0.1:443');
    expect(cache.get('10.0.0.2', 80)).toBe('10.0.0.2:80');
    expect(made).toBe(3);
    expect(cache.get('10.0.0.3', 80)).toBe('10.0.0.3:80'); // a fourth: the three are dropped
    expect(cache.get('10.0.0.1', 80)).toBe('10.0.0.1:80');
    expect(made).toBe(5);
  });
});
