// Prometheus metrics of shadow testing: podspan_shadow_requests_total{session,route,result} and
// podspan_shadow_latency_seconds{session,side}. The route label is the report's (method and
// template, capped: past the cap "other"), so series stay bounded; skipped requests carry route ""
// because they are skipped before a route is known. Several sessions share one registry: the
// metrics are registered once per registry and told apart by the session label.
import { Counter, Histogram, type Registry } from 'prom-client';
import { REQUEST_BUCKETS } from '../analysis/metrics';

export type ShadowResult = 'match' | 'differ' | 'error';

/** What ShadowReport tells a metrics sink (ShadowMetrics, or a test's recorder). */
export interface ShadowMetricsSink {
  exchange(route: string, result: ShadowResult, productionMs?: number, candidateMs?: number): void;
  skipped(reason: string, count: number): void;
}

export const SHADOW_METRIC_NAMES = ['podspan_shadow_requests_total', 'podspan_shadow_latency_seconds'] as const;

function registered<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export class ShadowMetrics implements ShadowMetricsSink {
  private readonly requests: Counter;
  private readonly latency: Histogram;

  constructor(
    registry: Registry,
    private readonly session: string,
  ) {
    const registers = [registry];
    this.requests = registered(
      registry,
      SHADOW_METRIC_NAMES[0],
      () =>
        new Counter({
          name: SHADOW_METRIC_NAMES[0],
          help: 'Requests shadowed to the candidate, by session, route and result (match, differ, error, skipped)',
          labelNames: ['session', 'route', 'result'],
          registers,
        }),
    );
    this.latency = registered(
      registry,
      SHADOW_METRIC_NAMES[1],
      () =>
        new Histogram({
          name: SHADOW_METRIC_NAMES[1],
          help: "Time from the request's last byte to the answer's last byte, by side (production from the capture, candidate as replayed)",
          labelNames: ['session', 'side'],
          buckets: REQUEST_BUCKETS,
          registers,
        }),
    );
  }

  exchange(route: string, result: ShadowResult, productionMs?: number, candidateMs?: number): void {
    this.requests.inc({ session: this.session, route, result });
    if (productionMs !== undefined) this.latency.observe({ session: this.session, side: 'production' }, productionMs / 1000);
    if (candidateMs !== undefined) this.latency.observe({ session: this.session, side: 'candidate' }, candidateMs / 1000);
  }

  skipped(_reason: string, count: number): void {
    this.requests.inc({ session: this.session, route: '', result: 'skipped' }, count);
  }
}
