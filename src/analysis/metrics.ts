// Prometheus metrics over records, named as Hubble and service meshes name theirs. A server is
// labelled by its pod (namespace, pod) when known, else namespace "" and pod "address:port".
// Servers and routes are capped as in the summary (caps.ts): past the caps, pod or route "other",
// so the number of series stays bounded however many addresses and paths the traffic carries.
import { Counter, Histogram, type Registry } from 'prom-client';
import { CardinalityCaps, OTHER, type CardinalityLimits } from './caps';
import { addressPort, dnsRequest, httpRequest } from './aggregate';
import { PairCache } from './pair-cache';
import type { RecordsByKind } from './records';
import type { DnsFacts, FlowFacts, HttpFacts, ServerFacts } from './record-rows';

/** Request latency buckets (seconds): 0.5 ms to 30 s, as Istio's. */
export const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Handshake RTT buckets (seconds): 50 µs (same node) to 1 s (another continent and losses). */
export const RTT_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

export const ANALYTICS_METRIC_NAMES = [
  'podspan_http_requests_total',
  'podspan_http_request_duration_seconds',
  'podspan_tcp_connections_total',
  'podspan_tcp_handshake_rtt_seconds',
  'podspan_tcp_retransmitted_packets_total',
  'podspan_dns_requests_total',
  'podspan_dns_request_duration_seconds',
] as const;

type CounterSeries = ReturnType<Counter['labels']>;
type HistogramSeries = ReturnType<Histogram['labels']>;

/** One label value of a series key: length-prefixed so that no two label lists make one key; null and undefined apart. */
const part = (v: string | null | undefined): string => (v === null ? '~n' : v === undefined ? '~u' : `${v.length}:${v}`);

export class AnalyticsMetrics {
  private readonly caps: CardinalityCaps;
  // Names built from a record's interned strings once, then found by them (pair-cache.ts)
  private readonly serverNames = new PairCache<string, number, string>(addressPort);
  private readonly routeKeys = new PairCache<string, string, string>((method, route) => `${method} ${route}`);
  // Each series' prom-client child by its label values, so a record finds its series without
  // prom-client hashing a label object (most of what a record cost here). As many as the series.
  private readonly flowSeries = new Map<string, { connections: CounterSeries; retransmitted: CounterSeries; rtt: HistogramSeries }>();
  private readonly httpSeries = new Map<string, { requests: CounterSeries; duration: HistogramSeries }>();
  private readonly dnsSeries = new Map<string, CounterSeries>();
  private readonly httpRequests: Counter;
  private readonly httpDuration: Histogram;
  private readonly tcpConnections: Counter;
  private readonly handshakeRtt: Histogram;
  private readonly retransmitted: Counter;
  private readonly dnsRequests: Counter;
  private readonly dnsDuration: Histogram;

  constructor(registry: Registry, limits: CardinalityLimits) {
    this.caps = new CardinalityCaps(limits);
    const registers = [registry];
    const server = ['namespace', 'pod'];
    this.httpRequests = new Counter({
      name: 'podspan_http_requests_total',
      help: 'HTTP and gRPC requests by server pod, method, route and status (code "none": no response seen; grpc_status "" for HTTP)',
      labelNames: [...server, 'method', 'route', 'code', 'grpc_status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'podspan_http_request_duration_seconds',
      help: "HTTP and gRPC request duration: the request's last byte to the response's last byte, as seen at the capture point",
      labelNames: [...server, 'method', 'route'],
      buckets: REQUEST_BUCKETS,
      registers,
    });
    this.tcpConnections = new Counter({
      name: 'podspan_tcp_connections_total',
      help: 'TCP connections by server pod and how they ended (established: still open at the end of the capture)',
      labelNames: [...server, 'state'],
      registers,
    });
    this.handshakeRtt = new Histogram({
      name: 'podspan_tcp_handshake_rtt_seconds',
      help: 'TCP handshake round-trip time: SYN to the ACK of the SYN/ACK, by server pod',
      labelNames: server,
      buckets: RTT_BUCKETS,
      registers,
    });
    this.retransmitted = new Counter({
      name: 'podspan_tcp_retransmitted_packets_total',
      help: 'TCP packets retransmitted, both directions, by server pod',
      labelNames: server,
      registers,
    });
    this.dnsRequests = new Counter({
      name: 'podspan_dns_requests_total',
      help: 'DNS queries by response code (rcode "none": no response seen)',
      labelNames: ['rcode'],
      registers,
    });
    this.dnsDuration = new Histogram({
      name: 'podspan_dns_request_duration_seconds',
      help: 'DNS query to response time',
      buckets: REQUEST_BUCKETS,
      registers,
    });
  }

  private serverLabels(r: ServerFacts): { namespace: string; pod: string } {
    const name = this.caps.server(r.server_pod ?? this.serverNames.get(r.server, r.server_port));
    if (name === OTHER || name !== r.server_pod) return { namespace: '', pod: name };
    const slash = name.indexOf('/');
    return { namespace: name.slice(0, slash), pod: name.slice(slash + 1) };
  }

  addFlow(r: FlowFacts): void {
    const l = this.serverLabels(r);
    const key = part(l.namespace) + part(l.pod) + part(r.state);
    let c = this.flowSeries.get(key);
    if (!c) {
      c = { connections: this.tcpConnections.labels({ ...l, state: r.state }), retransmitted: this.retransmitted.labels(l), rtt: this.handshakeRtt.labels(l) };
      this.flowSeries.set(key, c);
    }
    c.connections.inc();
    if (r.retransmitted_packets) c.retransmitted.inc(r.retransmitted_packets);
    if (r.handshake_rtt_ms !== null && r.handshake_rtt_ms !== undefined) c.rtt.observe(r.handshake_rtt_ms / 1000);
  }

  addHttp(r: HttpFacts): void {
    const l = this.serverLabels(r);
    const k = httpRequest(r);
    const server = l.namespace ? `${l.namespace}/${l.pod}` : l.pod;
    const route = this.caps.route(server, this.routeKeys.get(k.method, k.route));
    const folded = route === OTHER;
    const method = folded ? '' : k.method;
    const routeLabel = folded ? OTHER : k.route;
    const code = r.status ? String(r.status) : 'none';
    const grpcStatus = k.protocol === 'grpc' ? k.code : '';
    const key = part(l.namespace) + part(l.pod) + part(method) + part(routeLabel) + part(code) + part(grpcStatus);
    let c = this.httpSeries.get(key);
    if (!c) {
      const labels = { ...l, method, route: routeLabel };
      c = { requests: this.httpRequests.labels({ ...labels, code, grpc_status: grpcStatus }), duration: this.httpDuration.labels(labels) };
      this.httpSeries.set(key, c);
    }
    c.requests.inc();
    const ms = r.duration_ms ?? r.latency_ms;
    if (ms !== null && ms !== undefined) c.duration.observe(ms / 1000);
  }

  addDns(r: DnsFacts): void {
    const rcode = dnsRequest(r).code || 'none';
    let c = this.dnsSeries.get(rcode);
    if (!c) this.dnsSeries.set(rcode, (c = this.dnsRequests.labels({ rcode })));
    c.inc();
    if (r.latency_ms !== null && r.latency_ms !== undefined) this.dnsDuration.observe(r.latency_ms / 1000);
  }

  add(records: Partial<RecordsByKind>): void {
    for (const r of records.flows ?? []) this.addFlow(r);
    for (const r of records.http ?? []) this.addHttp(r);
    for (const r of records.dns ?? []) this.addDns(r);
  }
}
