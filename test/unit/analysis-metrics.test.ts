// The Prometheus exposition of analytics, parsed back: exact counter values per label set,
// histogram counts and buckets, pod labels from the pod index, and the caps folding servers and
// routes into "other" so series stay bounded.
import fs from 'node:fs';
import path from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AnalyticsMetrics, ANALYTICS_METRIC_NAMES } from '../../src/analysis/metrics';
import { RecordPipeline } from '../../src/analysis/pipeline';
import { PodIndex } from '../../src/analysis/pods';
import type { PodInfo } from '../../src/k8s/types';

const batch = () => {
  const read = (k: string) => fs.readFileSync(path.join(__dirname, '../../fixtures/analysis', `${k}.jsonl`));
  return { flows: read('flows'), http: read('http'), dns: read('dns') };
};

const pod = (namespace: string, name: string, ips: string[], extra: Partial<PodInfo> = {}): PodInfo => ({
  uid: `${namespace}-${name}`,
  namespace,
  name,
  labels: {},
  ips,
  hostNetwork: false,
  phase: 'Running',
  nodeName: 'node-1',
  containerPorts: [],
  ...extra,
});

/** Exposition text → Map of `name{a="x",b="y"}` (labels sorted) → value. */
export function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels = [...(m[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => `${k}="${v}"`).sort();
    out.set(`${m[1]}{${labels.join(',')}}`, Number(m[3]));
  }
  return out;
}

async function exposition(pods?: PodIndex, limits = { maxServers: 100, maxRoutesPerServer: 100 }) {
  const registry = new Registry();
  const metrics = new AnalyticsMetrics(registry, limits);
  new RecordPipeline({ metrics, pods }).take(batch());
  return parseExposition(await registry.metrics());
}

describe('analytics metrics', () => {
  it('counts requests by pod, method, route and code, with pod labels from the pod index', async () => {
    const pods = new PodIndex([pod('shop', 'web-1', ['10.1.0.2']), pod('shop', 'cart-1', ['10.1.0.3'])]);
    const m = await exposition(pods);
    const req = (labels: string) => m.get(`podspan_http_requests_total{${labels}}`);
    expect(req('code="200",grpc_status="",method="GET",namespace="shop",pod="web-1",route="/slow"')).toBe(10);
    expect(req('code="503",grpc_status="",method="GET",namespace="shop",pod="web-1",route="/items/{id}"')).toBe(3);
    expect(req('code="none",grpc_status="",method="GET",namespace="shop",pod="web-1",route="/items/{id}"')).toBe(1);
    expect(req('code="200",grpc_status="14",method="POST",namespace="shop",pod="cart-1",route="/shop.Cart/Get"')).toBe(1);
    // duration_ms = latency + 0.5 ms: /slow's ten fall in (0.2, 0.25] s.
    const slow = 'method="GET",namespace="shop",pod="web-1",route="/slow"';
    expect(m.get(`podspan_http_request_duration_seconds_bucket{le="0.1",${slow}}`)).toBe(0);
    expect(m.get(`podspan_http_request_duration_seconds_bucket{le="0.25",${slow}}`)).toBe(10);
    expect(m.get(`podspan_http_request_duration_seconds_count{${slow}}`)).toBe(10);
    expect(m.get(`podspan_http_request_duration_seconds_sum{${slow}}`)).toBeCloseTo((201 + 210) * 5 / 1000 + 10 * 0.0005, 9);
  });

  it('counts connections by state, retransmissions, handshake RTTs, DNS rcodes', async () => {
    const m = await exposition(new PodIndex([pod('shop', 'web-1', ['10.1.0.2'])]));
    const web = 'namespace="shop",pod="web-1"';
    expect(m.get(`podspan_tcp_connections_total{${web},state="closed"}`)).toBe(2);
    expect(m.get(`podspan_tcp_connections_total{${web},state="rejected"}`)).toBe(1);
    expect(m.get(`podspan_tcp_retransmitted_packets_total{${web}}`)).toBe(2);
    expect(m.get(`podspan_tcp_handshake_rtt_seconds_bucket{le="0.0001",${web}}`)).toBe(1);
    expect(m.get(`podspan_tcp_handshake_rtt_seconds_bucket{le="0.0005",${web}}`)).toBe(2);
    expect(m.get(`podspan_tcp_handshake_rtt_seconds_count{${web}}`)).toBe(2);
    expect(m.get('podspan_dns_requests_total{rcode="NOERROR"}')).toBe(3);
    expect(m.get('podspan_dns_requests_total{rcode="SERVFAIL"}')).toBe(1);
    expect(m.get('podspan_dns_requests_total{rcode="none"}')).toBe(1);
    expect(m.get('podspan_dns_request_duration_seconds_count{}')).toBe(4);
    expect(m.get('podspan_dns_request_duration_seconds_bucket{le="0.001"}')).toBe(3);
  });

  it('an address no pod owns is labelled by address:port', async () => {
    const m = await exposition();
    expect(m.get('podspan_tcp_connections_total{namespace="",pod="10.1.0.2:8080",state="closed"}')).toBe(2);
  });

  it('caps servers and routes: the rest under "other", series bounded', async () => {
    const m = await exposition(undefined, { maxServers: 1, maxRoutesPerServer: 1 });
    const series = [...m.keys()].filter((k) => k.startsWith('podspan_http_requests_total{'));
    const pods = new Set(series.map((k) => /pod="([^"]*)"/.exec(k)![1]));
    expect([...pods].sort()).toEqual(['10.1.0.2:8080', 'other']);
    const routes = new Set(series.filter((k) => k.includes('pod="10.1.0.2:8080"')).map((k) => /route="([^"]*)"/.exec(k)![1]));
    expect(routes.size).toBe(2); // the first route and "other"
    expect(routes.has('other')).toBe(true);
    const total = series.reduce((n, k) => n + m.get(k)!, 0);
    expect(total).toBe(44);
  });

  it('exports exactly the documented metric names', async () => {
    const registry = new Registry();
    new AnalyticsMetrics(registry, { maxServers: 1, maxRoutesPerServer: 1 });
    expect(registry.getMetricsAsArray().map((x) => x.name).sort()).toEqual([...ANALYTICS_METRIC_NAMES].sort());
  });
});

describe('pod index', () => {
  it('adds pod and node to both ends; IPv6 in any spelling; running pods win an address; hostNetwork pods left out', () => {
    const idx = new PodIndex([
      pod('shop', 'old', ['10.1.0.2'], { phase: 'Succeeded' }),
      pod('shop', 'web-1', ['10.1.0.2', 'FD00:0:0::2']),
      pod('shop', 'old2', ['10.1.0.2'], { phase: 'Failed' }),
      pod('kube-system', 'proxy', ['10.1.0.9'], { hostNetwork: true }),
    ]);
    const r = idx.enrich({ client: '10.1.0.9', client_port: 1, server: '10.1.0.2', server_port: 80 });
    expect(r).toEqual({ client: '10.1.0.9', client_port: 1, server: '10.1.0.2', server_port: 80, server_pod: 'shop/web-1', server_node: 'node-1' });
    expect(idx.lookup('fd00::2')).toEqual({ pod: 'shop/web-1', node: 'node-1' });
    idx.update([]);
    expect(idx.lookup('10.1.0.2')).toBeUndefined();
  });
});
