// Aggregates per server and route, from the records of a run (podspan analyze) or of an agent's
// capture: requests, errors, latency quantiles; per server connections, rejections,
// retransmissions and handshake RTT quantiles. A server is its pod ("namespace/name") when known,
// else its address and port; cardinality is capped (caps.ts), latency memory bounded (samples.ts).
import type { DnsFacts, FlowFacts, HttpFacts, ServerFacts } from './record-rows';
import { CardinalityCaps, OTHER, type CardinalityLimits } from './caps';
import { LatencySamples, sampleBudget, type Quantiles, type SampleBudget } from './samples';
import { PairCache } from './pair-cache';

export interface AggregateLimits extends CardinalityLimits {
  /** Latency values stored per series (a route's latencies, a server's handshake RTTs). */
  maxSamplesPerSeries: number;
  /** Latency values stored over all series. */
  maxSamples: number;
}

export const DEFAULT_AGGREGATE_LIMITS: AggregateLimits = {
  maxServers: 500,
  maxRoutesPerServer: 100,
  maxSamplesPerSeries: 1_000_000,
  // 8 bytes each: at most 64 MB of latencies.
  maxSamples: 8_000_000,
};

export type RouteProtocol = 'http' | 'grpc' | 'dns';

/** "10.0.0.7:80", "[fd00::7]:80": a server off-cluster (a server is named by its pod when known, else so). */
export function addressPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}


/** A status or code as a label value ("200"), made once per value. */
const codeTexts = new Map<number, string>();
function codeText(n: number): string {
  let t = codeTexts.get(n);
  if (t === undefined) {
    t = String(n);
    if (codeTexts.size < 4096) codeTexts.set(n, t);
  }
  return t;
}

/** What a record's request is, for aggregation: protocol, method, route, whether it failed. */
export interface RequestKey {
  protocol: RouteProtocol;
  method: string;
  route: string;
  /** HTTP status, gRPC status or DNS rcode name, as a label value; "" when unanswered. */
  code: string;
  error: boolean;
  answered: boolean;
  latencyMs: number | null;
}

const DNS_SERVFAIL = 2;

export function httpRequest(r: HttpFacts): RequestKey {
  const grpc = r.grpc_status !== null && r.grpc_status !== undefined;
  // No response: null in the native lines, 0 in records made by hand.
  const status = r.status as number | null;
  const answered = status !== null && status !== 0;
  return {
    protocol: grpc ? 'grpc' : 'http',
    method: r.method,
    route: r.route,
    code: grpc ? codeText(r.grpc_status!) : answered ? codeText(r.status) : '',
    // gRPC: any status but OK (0); HTTP: any 5xx.
    error: grpc ? r.grpc_status !== 0 : r.status >= 500,
    answered,
    latencyMs: r.latency_ms,
  };
}

export function dnsRequest(r: DnsFacts): RequestKey {
  // No response: null in the native lines, -1 in records made by hand.
  const rcode = r.rcode as number | null;
  const answered = rcode !== null && rcode >= 0;
  return {
    protocol: 'dns',
    method: r.qtype_name || String(r.qtype),
    route: r.query,
    code: answered ? r.rcode_name || String(r.rcode) : '',
    error: r.rcode === DNS_SERVFAIL,
    answered,
    latencyMs: r.latency_ms,
  };
}

interface RouteStats {
  protocol: RouteProtocol;
  method: string;
  route: string;
  requests: number;
  errors: number;
  unanswered: number;
  codes: Map<string, number>;
  latency: LatencySamples;
}

interface ServerStats {
  server: string;
  pod: boolean;
  connections: number;
  states: Map<string, number>;
  packets: number;
  retransmittedPackets: number;
  handshakeRtt: LatencySamples;
  routes: Map<string, RouteStats>;
}

export interface RouteSummary {
  protocol: RouteProtocol;
  method: string;
  route: string;
  requests: number;
  errors: number;
  error_ratio: number;
  unanswered: number;
  codes: Record<string, number>;
  latency_ms: Quantiles;
}

export interface ServerSummary {
  server: string;
  /** True when `server` is a pod ("namespace/name"), false for address:port. */
  pod: boolean;
  connections: number;
  states: Record<string, number>;
  rejected: number;
  packets: number;
  retransmitted_packets: number;
  retransmission_ratio: number;
  handshake_rtt_ms: Quantiles;
  routes: RouteSummary[];
}

export interface Summary {
  records: { flows: number; http: number; dns: number };
  limits: { max_servers: number; max_routes_per_server: number; max_samples_per_series: number; max_samples: number };
  /** Records counted under "other" because their server or route came after the caps. */
  folded: { server_records: number; route_records: number };
  quantiles: string;
  servers: ServerSummary[];
}

const round3 = (v: number | null) => (v === null ? null : Math.round(v * 1000) / 1000);
const ratio = (a: number, b: number) => (b ? Math.round((a / b) * 1e6) / 1e6 : 0);

function roundQuantiles(q: Quantiles): Quantiles {
  return { ...q, mean: round3(q.mean) };
}

export class Aggregator {
  private readonly caps: CardinalityCaps;
  private readonly budget: SampleBudget;
  private readonly servers = new Map<string, ServerStats>();
  private readonly counts = { flows: 0, http: 0, dns: 0 };
  // Names built from a record's interned strings once, then found by them (pair-cache.ts)
  private readonly serverNames = new PairCache<string, number, string>(addressPort);
  // "PROTOCOL METHOD ROUTE", the key a route is capped and kept under
  private readonly routeKeys: Record<RouteProtocol, PairCache<string, string, string>> = {
    http: new PairCache((method, route) => `http ${method} ${route}`),
    grpc: new PairCache((method, route) => `grpc ${method} ${route}`),
    dns: new PairCache((method, route) => `dns ${method} ${route}`),
  };

  private lastRoute?: { server: string; port: number; pod: string | undefined; protocol: RouteProtocol; method: string; route: string; stats: RouteStats };

  constructor(readonly limits: AggregateLimits = DEFAULT_AGGREGATE_LIMITS) {
    this.caps = new CardinalityCaps(limits);
    this.budget = sampleBudget(limits.maxSamplesPerSeries, limits.maxSamples);
  }

  private serverStats(r: ServerFacts): ServerStats {
    const name = this.caps.server(r.server_pod ?? this.serverNames.get(r.server, r.server_port));
    let s = this.servers.get(name);
    if (!s) {
      s = {
        server: name,
        pod: r.server_pod !== undefined && name === r.server_pod,
        connections: 0,
        states: new Map(),
        packets: 0,
        retransmittedPackets: 0,
        handshakeRtt: new LatencySamples(this.budget),
        routes: new Map(),
      };
      this.servers.set(name, s);
    }
    return s;
  }

  addFlow(r: FlowFacts): void {
    this.counts.flows++;
    const s = this.serverStats(r);
    s.connections++;
    s.states.set(r.state, (s.states.get(r.state) ?? 0) + 1);
    s.packets += r.client_packets + r.server_packets;
    s.retransmittedPackets += r.retransmitted_packets;
    if (r.handshake_rtt_ms !== null && r.handshake_rtt_ms !== undefined) s.handshakeRtt.add(r.handshake_rtt_ms);
  }

  addHttp(r: HttpFacts): void {
    this.counts.http++;
    this.addRequest(r, httpRequest(r));
  }

  addDns(r: DnsFacts): void {
    this.counts.dns++;
    this.addRequest(r, dnsRequest(r));
  }

  private addRequest(r: ServerFacts, k: RequestKey): void {
    const route = this.routeOf(r, k);
    route.requests++;
    if (k.error) route.errors++;
    if (!k.answered) route.unanswered++;
    else route.codes.set(k.code, (route.codes.get(k.code) ?? 0) + 1);
    if (k.latencyMs !== null && k.latencyMs !== undefined) route.latency.add(k.latencyMs);
  }

  /**
   * The route's stats. Request-dense traffic repeats a server and route record after record: the
   * last one named (neither folded) is found again by its strings, which come interned, without
   * the nine Map lookups of naming it (~130 ns a record on the main thread).
   */
  private routeOf(r: ServerFacts, k: RequestKey): RouteStats {
    const last = this.lastRoute;
    if (last && last.server === r.server && last.port === r.server_port && last.pod === r.server_pod && last.protocol === k.protocol && last.method === k.method && last.route === k.route) {
      return last.stats;
    }
    const s = this.serverStats(r);
    const key = this.routeKeys[k.protocol].get(k.method, k.route);
    const name = this.caps.route(s.server, key);
    let route = s.routes.get(name);
    if (!route) {
      const folded = name !== key;
      route = {
        protocol: k.protocol,
        method: folded ? '' : k.method,
        route: folded ? name : k.route,
        requests: 0,
        errors: 0,
        unanswered: 0,
        codes: new Map(),
        latency: new LatencySamples(this.budget),
      };
      s.routes.set(name, route);
    }
    // Folded names count every record they take (caps.ts): those are not remembered.
    const named = s.server !== OTHER && name !== OTHER; // real names never read "other": a pod is ns/name, a route key "PROTOCOL METHOD ROUTE"
    this.lastRoute = named ? { server: r.server, port: r.server_port, pod: r.server_pod, protocol: k.protocol, method: k.method, route: k.route, stats: route } : undefined;
    return route;
  }

  summary(): Summary {
    const servers = [...this.servers.values()].map((s): ServerSummary => ({
      server: s.server,
      pod: s.pod,
      connections: s.connections,
      states: Object.fromEntries(s.states),
      rejected: s.states.get('rejected') ?? 0,
      packets: s.packets,
      retransmitted_packets: s.retransmittedPackets,
      retransmission_ratio: ratio(s.retransmittedPackets, s.packets),
      handshake_rtt_ms: roundQuantiles(s.handshakeRtt.quantiles()),
      routes: [...s.routes.values()].map((r) => ({
        protocol: r.protocol,
        method: r.method,
        route: r.route,
        requests: r.requests,
        errors: r.errors,
        error_ratio: ratio(r.errors, r.requests),
        unanswered: r.unanswered,
        codes: Object.fromEntries([...r.codes].sort(([a], [b]) => a.localeCompare(b))),
        latency_ms: roundQuantiles(r.latency.quantiles()),
      })),
    }));
    return {
      records: { ...this.counts },
      limits: {
        max_servers: this.limits.maxServers,
        max_routes_per_server: this.limits.maxRoutesPerServer,
        max_samples_per_series: this.limits.maxSamplesPerSeries,
        max_samples: this.limits.maxSamples,
      },
      folded: { server_records: this.caps.foldedServerRecords, route_records: this.caps.foldedRouteRecords },
      quantiles: 'nearest rank: the value at rank ceil(q*count) of the sorted latencies; exact unless "exact": false',
      servers,
    };
  }
}
