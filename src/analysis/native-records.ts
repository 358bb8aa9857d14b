// Analytics records from the native core: a capture opened with `analysis` hands over batches
// of JSON lines (flows.jsonl, http.jsonl, dns.jsonl; field names as native/core/analysis/records.h,
// written by native/core/analysis/json_records.cc). This module is the typed edge: the batch
// shape, the options, and readRecords() which runs a whole capture file through analytics.
import { CaptureSession, fileCaptureOptions, type AnalysisStats, type CaptureResult } from '../capture/session';
import { parseJsonLines } from './records';
import type { NativeDetectOptions, NativeEvidenceOptions, NativeScanGroup } from '../capture/native';

/** One batch: each kind a Buffer of complete JSON lines (possibly empty). */
export interface RecordBatch {
  flows: Buffer;
  http: Buffer;
  dns: Buffer;
  /** alerts.jsonl lines (fired and cleared; empty without `detect`), and how many (batches made in JS may leave them out). */
  alerts?: Buffer;
  alertCount?: number;
  /** One fixed row per line of each kind (src/analysis/record-rows.ts), spans into that kind's JSON; batches made in JS may leave them out. */
  flowRows?: Buffer;
  httpRows?: Buffer;
  dnsRows?: Buffer;
}

export interface AnalysisOptions {
  /** A connection idle this long is closed with state "timeout" (default 120). */
  flowTimeoutSeconds?: number;
  /** Connections tracked at once; beyond, the least recently active is closed ("timeout", close_reason "evicted"). */
  maxFlows?: number;
  /** A batch is handed over once its records take this many bytes in the compact form the capture thread keeps (numbers and strings, not JSON: record_batch.h; default 1 MiB, at most 32 MiB) ... */
  maxBytes?: number;
  /** ... or is this old (default 200 ms). */
  flushMs?: number;
  /** Batches waiting for JavaScript (default 16); live, beyond that records are dropped and counted. */
  queueBatches?: number;
  /** Connection records only: no payload is parsed (no HTTP, gRPC or DNS records; a flow's `app` is null). For a capture file's storage index; not with `detect`. */
  connectionsOnly?: boolean;
  /** Detection (src/config/detect-options.ts): alerts in each batch's `alerts`. */
  detect?: NativeDetectOptions;
  /** With `detect`: the pre-trigger ring and evidence files. */
  evidence?: NativeEvidenceOptions;
  /** With `detect`: port_scan judged with the other captures of the group (the agent's session on this node). */
  scanGroup?: NativeScanGroup;
}


export interface CaptureRecords {
  flows: Record<string, unknown>[];
  http: Record<string, unknown>[];
  dns: Record<string, unknown>[];
  /** With `analysis.detect`: the alert lines. */
  alerts: Record<string, unknown>[];
  stats: AnalysisStats | undefined;
  result: CaptureResult;
}

/**
 * Runs a capture file through analytics and returns every record, parsed, in the order made
 * (a flow's record when it closes). For tests and small files: a large file's records are
 * better streamed through CaptureSession.onRecords().
 */
export async function readRecords(file: string, analysis: AnalysisOptions = {}, filter?: string): Promise<CaptureRecords> {
  const session = CaptureSession.open({ ...fileCaptureOptions(file, filter), analysis });
  const flows: Buffer[] = [], http: Buffer[] = [], dns: Buffer[] = [], alerts: Buffer[] = [];
  session.onRecords((b) => {
    flows.push(b.flows);
    http.push(b.http);
    dns.push(b.dns);
    if (b.alerts) alerts.push(b.alerts);
  });
  const result = await session.start();
  if (result.error) throw result.error;
  return {
    flows: parseJsonLines<Record<string, unknown>>(Buffer.concat(flows), `${file} (flows)`),
    http: parseJsonLines<Record<string, unknown>>(Buffer.concat(http), `${file} (http)`),
    dns: parseJsonLines<Record<string, unknown>>(Buffer.concat(dns), `${file} (dns)`),
    alerts: parseJsonLines<Record<string, unknown>>(Buffer.concat(alerts), `${file} (alerts)`),
    stats: result.analysisStats,
    result,
  };
}
