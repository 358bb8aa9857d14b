// Alerts as JavaScript sees them: one parsed line of alerts.jsonl (written natively by
// native/core/analysis/json_records.cc; fields in the detection plan and README, Detection),
// with the pod fields the agent adds where it knows the address.
import type { PodIndex } from '../analysis/pods';

export type AlertKind = 'syn_flood' | 'port_scan' | 'request_surge' | 'error_surge' | 'noisy_client';
export const ALERT_KINDS: readonly AlertKind[] = ['syn_flood', 'port_scan', 'request_surge', 'error_surge', 'noisy_client'];

export interface AlertRecord {
  /** The capture second the alert fired (or cleared), ISO 8601. */
  ts: string;
  kind: AlertKind;
  /** "A1", "A2", ... per capture, "S1", "S2", ... for port_scan over the session's captures on a node (agent); a cleared line carries its fired line's id. */
  alert_id: string;
  state: 'fired' | 'cleared';
  server: string | null;
  server_port: number | null;
  source: string | null;
  route: string | null;
  /** Observed in the second that fired; on a cleared line, the peak. */
  rate: number;
  baseline: number;
  threshold: number;
  unit: string;
  /** The kind's second figure (half-open, rejected or error share, or the client's share). */
  share: number | null;
  /** The pcapng holding the packets before and after the alert, relative to the output folder. */
  evidence: string | null;
  started: string | null;
  duration_s: number | null;
  /** Cleared lines: "quiet" (the rate fell back), "evicted" (its key left a full table) or "capture_end" (the capture stopped while it fired). */
  cleared_by: 'quiet' | 'evicted' | 'capture_end' | null;
  /** The pod the alert is about (the server's; for port_scan the source's), when known. */
  namespace?: string;
  pod?: string;
  /** The source's pod ("namespace/name") when known. */
  source_pod?: string;
  server_pod?: string;
}

/** The pod an alert is about: the scanning source for port_scan, the server for the rest. */
export function subjectAddress(a: AlertRecord): string | null {
  return a.kind === 'port_scan' ? a.source : a.server;
}

/** Adds pod fields in place where `pods` knows the addresses. */
export function enrichAlert(a: AlertRecord, pods: PodIndex): AlertRecord {
  const server = a.server ? pods.lookup(a.server) : undefined;
  const source = a.source ? pods.lookup(a.source) : undefined;
  if (server) a.server_pod = server.pod;
  if (source) a.source_pod = source.pod;
  const subject = a.kind === 'port_scan' ? source : server;
  if (subject) {
    const slash = subject.pod.indexOf('/');
    a.namespace = subject.pod.slice(0, slash);
    a.pod = subject.pod.slice(slash + 1);
  }
  return a;
}

/** "10.0.0.2:80", "[2001:db8::1]:443", "10.9.9.9" or "" — how people and labels name the subject. */
export function subjectName(a: AlertRecord): string {
  const addr = subjectAddress(a);
  if (!addr) return '';
  const port = a.kind === 'port_scan' ? null : a.server_port;
  if (port === null || port === undefined) return addr;
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** One line for people: "alert A1 syn_flood fired: 10.0.0.2:80 at 5120 syn/s (baseline 3.2, threshold 200); evidence evidence/A1-syn_flood.pcapng". */
export function describeAlert(a: AlertRecord): string {
  const who = a.pod ? `${a.namespace}/${a.pod} (${subjectName(a)})` : subjectName(a);
  const route = a.route ? ` route ${a.route}` : '';
  const from = a.source && a.kind !== 'port_scan' ? ` from ${a.source}` : '';
  const fig = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(n < 10 ? 2 : 1));
  const share = a.share === null || a.share === undefined ? '' : `, share ${fig(a.share)}`;
  if (a.state === 'cleared') {
    const why = a.cleared_by === 'capture_end' ? ' when the capture ended' : a.cleared_by === 'evicted' ? ' (key evicted)' : '';
    return `alert ${a.alert_id} ${a.kind} cleared${why}: ${who}${route}${from} after ${fig(a.duration_s ?? 0)} s (peak ${fig(a.rate)} ${a.unit})`;
  }
  const evidence = a.evidence ? `; evidence ${a.evidence}` : '';
  return `alert ${a.alert_id} ${a.kind} fired: ${who}${route}${from} at ${fig(a.rate)} ${a.unit} (baseline ${fig(a.baseline)}, threshold ${fig(a.threshold)}${share})${evidence}`;
}
