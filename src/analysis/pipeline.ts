// The one place record batches enter JavaScript: each kind a Buffer of complete JSON lines (as the
// native side hands them, src/analysis/native-records.ts) and, beside them, one fixed row per
// line (record-rows.ts). The aggregator and the metrics read the rows: no JSON is parsed for
// them. Outputs (files, the collector) receive the native bytes; where a PodIndex names an end
// of a record, its pod fields are spliced onto the end of that line (the line's own bytes kept).
// Batches without rows (made in JavaScript) are parsed, and then re-serialised when enriched.
import { ANALYTICS_KINDS, parseJsonLines, RECORD_KINDS, type AnalyticsKind, type RecordKind, type RecordsByKind } from './records';
import { DnsRows, dnsFacts, FlowRows, flowFacts, HttpRows, httpFacts, SpanStrings, type Rows, type ServerFacts } from './record-rows';
import { enrichAlert, type AlertRecord } from '../detection/alert-record';
import type { Aggregator } from './aggregate';
import type { AnalyticsMetrics } from './metrics';
import type { PodIndex, PodRef } from './pods';
import { PairCache } from './pair-cache';

import type { RecordBatch } from './native-records';
export type { RecordBatch };

export interface RecordOutput {
  /** `lines`: complete JSON lines of one kind (never empty); valid after the call only if the batch was not borrowed (CaptureSession.onRecords). */
  write(kind: RecordKind, lines: Buffer): void;
}

export interface PipelineParts {
  aggregator?: Aggregator;
  metrics?: AnalyticsMetrics;
  pods?: PodIndex;
  outputs?: RecordOutput[];
  /** Each alert (enriched with pod fields), after the outputs have its line: log, metrics, Events. */
  onAlert?: (a: AlertRecord) => void;
}

export class RecordPipeline {
  readonly counts = { flows: 0, http: 0, dns: 0, alerts: 0 };
  private readonly strings = new SpanStrings();
  private readonly views = { flows: flowFacts(), http: httpFacts(), dns: dnsFacts() };
  // The spliced pod fields of each pair of pods, made once: a connection's lines name the same two pods
  private readonly podFields = new PairCache<PodRef | undefined, PodRef | undefined, Buffer>((c, s) => Buffer.from(podFields(c, s)));

  constructor(private readonly parts: PipelineParts) {}

  /** `where` names the source in the error should a line not be JSON (a bug upstream). */
  take(batch: RecordBatch, where = 'analysis records'): void {
    const { pods, outputs = [], onAlert } = this.parts;
    const alerts = batch.alerts?.length ? parseJsonLines<AlertRecord>(batch.alerts, `${where} (alerts)`) : [];
    if (pods) for (const a of alerts) enrichAlert(a, pods);
    const rows = batch.flowRows && batch.httpRows && batch.dnsRows;
    const lines: Partial<Record<RecordKind, Buffer>> = rows ? this.takeRows(batch, outputs.length > 0) : this.takeParsed(batch, where);
    this.counts.alerts += alerts.length;
    if (alerts.length) lines.alerts = pods ? serialise(alerts) : batch.alerts;
    for (const kind of RECORD_KINDS) {
      const kindLines = lines[kind];
      if (kindLines?.length) for (const o of outputs) o.write(kind, kindLines);
    }
    if (onAlert) for (const a of alerts) onAlert(a);
  }

  /** The aggregates and metrics from the rows; the outputs' lines are the batch's own, with pod fields spliced on. */
  private takeRows(batch: RecordBatch, output: boolean): Partial<Record<AnalyticsKind, Buffer>> {
    const { aggregator, metrics } = this.parts;
    const flows = new FlowRows(batch.flowRows!, batch.flows, this.strings);
    for (let i = 0; i < flows.count; i++) {
      const r = this.withPod(flows.read(i, this.views.flows));
      aggregator?.addFlow(r);
      metrics?.addFlow(r);
    }
    const http = new HttpRows(batch.httpRows!, batch.http, this.strings);
    for (let i = 0; i < http.count; i++) {
      const r = this.withPod(http.read(i, this.views.http));
      aggregator?.addHttp(r);
      metrics?.addHttp(r);
    }
    const dns = new DnsRows(batch.dnsRows!, batch.dns, this.strings);
    for (let i = 0; i < dns.count; i++) {
      const r = this.withPod(dns.read(i, this.views.dns));
      aggregator?.addDns(r);
      metrics?.addDns(r);
    }
    this.counts.flows += flows.count;
    this.counts.http += http.count;
    this.counts.dns += dns.count;
    const pods = this.parts.pods;
    if (!pods || !output) return { flows: batch.flows, http: batch.http, dns: batch.dns };
    const fields = this.podFields;
    return { flows: withPodFields(flows, pods, fields), http: withPodFields(http, pods, fields), dns: withPodFields(dns, pods, fields) };
  }

  /** The server's pod, as PodIndex.enrich would set it on the parsed line. */
  private withPod<T extends ServerFacts>(r: T): T {
    const pod = this.parts.pods?.lookup(r.server);
    if (pod) r.server_pod = pod.pod;
    return r;
  }

  /** Every line parsed (and enriched with pod fields when a PodIndex is set). */
  private takeParsed(batch: RecordBatch, where: string): Partial<Record<AnalyticsKind, Buffer>> {
    const { aggregator, metrics, pods } = this.parts;
    const records: Omit<RecordsByKind, 'alerts'> = {
      flows: parseJsonLines(batch.flows, `${where} (flows)`),
      http: parseJsonLines(batch.http, `${where} (http)`),
      dns: parseJsonLines(batch.dns, `${where} (dns)`),
    };
    if (pods) for (const kind of ANALYTICS_KINDS) for (const r of records[kind]) pods.enrich(r);
    for (const r of records.flows) aggregator?.addFlow(r);
    for (const r of records.http) aggregator?.addHttp(r);
    for (const r of records.dns) aggregator?.addDns(r);
    metrics?.add(records);
    const lines: Partial<Record<AnalyticsKind, Buffer>> = {};
    for (const kind of ANALYTICS_KINDS) {
      this.counts[kind] += records[kind].length;
      lines[kind] = pods ? serialise(records[kind]) : batch[kind];
    }
    return lines;
  }
}

const serialise = (records: object[]): Buffer => Buffer.from(records.map((r) => JSON.stringify(r) + '\n').join(''));

/**
 * The kind's lines with the pod fields PodIndex.enrich would add (client_pod, client_node,
 * server_pod, server_node, in that order) spliced in before each line's closing brace; runs of
 * lines with neither end a pod's are passed on as they are.
 */
function withPodFields(rows: Rows, pods: PodIndex, fields: PairCache<PodRef | undefined, PodRef | undefined, Buffer>): Buffer {
  const parts: Buffer[] = [];
  let runStart = rows.count ? rows.lineStart(0) : 0;
  for (let i = 0; i < rows.count; i++) {
    const client = pods.lookup(rows.clientAddress(i));
    const server = pods.lookup(rows.serverAddress(i));
    if (!client && !server) continue;
    const end = rows.lineEnd(i);
    parts.push(rows.json.subarray(runStart, end - 1), fields.get(client, server));
    runStart = end + 1;
  }
  if (!parts.length) return rows.json;
  parts.push(rows.json.subarray(runStart, rows.count ? rows.lineEnd(rows.count - 1) + 1 : runStart));
  return Buffer.concat(parts);
}

function podFields(client: PodRef | undefined, server: PodRef | undefined): string {
  let fields = '';
  if (client) fields += `,"client_pod":${JSON.stringify(client.pod)}${client.node ? `,"client_node":${JSON.stringify(client.node)}` : ''}`;
  if (server) fields += `,"server_pod":${JSON.stringify(server.pod)}${server.node ? `,"server_node":${JSON.stringify(server.node)}` : ''}`;
  return `${fields}}\n`;
}
