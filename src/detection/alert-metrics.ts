// Prometheus metrics of alerts: podspan_alerts_total{kind,namespace,pod} (fired) and
// podspan_alert_active{kind,namespace,pod} (firing now). The pod labels name the alert's subject
// (the server, or the scanning source) as the analytics metrics do: its pod when known, else
// namespace "" and pod "address:port" (or the address). A scan from thousands of spoofed
// addresses must not make thousands of series: past maxSubjects, pod "other".
import { Counter, Gauge, type Registry } from 'prom-client';
import { OTHER } from '../analysis/caps';
import { subjectName, type AlertRecord } from './alert-record';

export const ALERT_METRIC_NAMES = ['podspan_alerts_total', 'podspan_alert_active'] as const;

export class AlertMetrics {
  private readonly fired: Counter;
  private readonly active: Gauge;
  private readonly subjects = new Set<string>();
  /** Labels of each firing alert by id, so its clear lowers the same series. */
  private readonly open = new Map<string, { kind: string; namespace: string; pod: string }>();

  constructor(
    registry: Registry,
    private readonly maxSubjects = 1000,
  ) {
    const registers = [registry];
    const labelNames = ['kind', 'namespace', 'pod'];
    this.fired = new Counter({ name: 'podspan_alerts_total', help: 'Alerts fired, by kind and the pod (or address) they are about', labelNames, registers });
    this.active = new Gauge({ name: 'podspan_alert_active', help: 'Alerts firing now, by kind and the pod (or address) they are about', labelNames, registers });
  }

  private labels(a: AlertRecord): { kind: string; namespace: string; pod: string } {
    const namespace = a.pod ? a.namespace ?? '' : '';
    let pod = a.pod ?? subjectName(a);
    const key = `${namespace}/${pod}`;
    if (!this.subjects.has(key)) {
      if (this.subjects.size >= this.maxSubjects) pod = OTHER;
      else this.subjects.add(key);
    }
    return { kind: a.kind, namespace: pod === OTHER ? '' : namespace, pod };
  }

  add(a: AlertRecord, scope = ''): void {
    const id = `${scope}|${a.alert_id}`;
    if (a.state === 'fired') {
      const l = this.labels(a);
      this.open.set(id, l);
      this.fired.inc(l);
      this.active.inc(l);
      return;
    }
    const l = this.open.get(id);
    if (!l) return;
    this.open.delete(id);
    this.active.dec(l);
  }

  /** A capture ended: its alerts still firing are no longer watched (their series drop to 0). */
  endScope(scope: string): void {
    for (const [id, l] of this.open) {
      if (!id.startsWith(`${scope}|`)) continue;
      this.active.dec(l);
      this.open.delete(id);
    }
  }
}
