// The one place record batches enter JavaScript: each kind a Buffer of complete JSON lines (as the
// native side hands them, src/analysis/native-records.ts). Lines are parsed once, given pod
// fields when a PodIndex is set, then handed to the aggregator, the metrics and the outputs
// (files, the collector) that were attached. Without pod fields to add, outputs receive the
// native bytes unchanged; with them, the enriched records re-serialised.
import { ANALYTICS_KINDS, parseJsonLines, RECORD_KINDS, type RecordKind, type RecordsByKind } from './records';
import { enrichAlert, type AlertRecord } from '../detection/alert-record';
import type { Aggregator } from './aggregate';
import type { AnalyticsMetrics } from './metrics';
import type { PodIndex } from './pods';

import type { RecordBatch } from './native-records';
export type { RecordBatch };

export interface RecordOutput {
  /** `lines`: complete JSON lines of one kind (never empty). */
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

  constructor(private readonly parts: PipelineParts) {}

  /** `where` names the source in the error should a line not be JSON (a bug upstream). */
  take(batch: RecordBatch, where = 'analysis records'): RecordsByKind {
    const records = {
      flows: parseJsonLines(batch.flows, `${where} (flows)`),
      http: parseJsonLines(batch.http, `${where} (http)`),
      dns: parseJsonLines(batch.dns, `${where} (dns)`),
      alerts: batch.alerts?.length ? parseJsonLines(batch.alerts, `${where} (alerts)`) : [],
    } as RecordsByKind;
    const { aggregator, metrics, pods, outputs = [], onAlert } = this.parts;
    if (pods) {
      for (const kind of ANALYTICS_KINDS) for (const r of records[kind]) pods.enrich(r);
      for (const a of records.alerts) enrichAlert(a, pods);
    }
    for (const r of records.flows) aggregator?.addFlow(r);
    for (const r of records.http) aggregator?.addHttp(r);
    for (const r of records.dns) aggregator?.addDns(r);
    metrics?.add(records);
    for (const kind of RECORD_KINDS) {
      this.counts[kind] += records[kind].length;
      if (!records[kind].length || !outputs.length) continue;
      const lines = pods ? Buffer.from((records[kind] as object[]).map((r) => JSON.stringify(r) + '\n').join('')) : (batch[kind] as Buffer);
      for (const o of outputs) o.write(kind, lines);
    }
    if (onAlert) for (const a of records.alerts) onAlert(a);
    return records;
  }
}
