// The seam to the native side (src/analysis/native-records.ts, helper N's): a capture opened with
// { analysis: {...} } hands record batches through takeRecords(). This module only names that
// shape and drains it into a RecordPipeline, so the rest of src/analysis never sees the capture.
import { NativeModuleError } from '../errors';
import type { RecordBatch, RecordPipeline } from './pipeline';

export interface RecordSource {
  takeRecords(): RecordBatch | undefined | null;
}

export interface AnalysisCaptureOptions {
  /** Seconds a connection may idle before its record is written. */
  flowTimeoutSeconds?: number;
}

/** The session as a RecordSource, or a one-line error when this build has no native analysis. */
export function recordSource(session: unknown): RecordSource {
  const s = session as Partial<RecordSource>;
  if (typeof s.takeRecords !== 'function') {
    throw new NativeModuleError('this build of podspan has no traffic analysis (the native module lacks takeRecords): rebuild with the analysis sources');
  }
  return s as RecordSource;
}

/**
 * Everything the source holds now, into the pipeline; the number of batches taken. `handed`: a
 * batch the capture passed to its records callback itself (taken first, so none is dropped
 * whichever way the capture signals).
 */
export function drainRecords(source: RecordSource, pipeline: RecordPipeline, handed?: unknown): number {
  let n = 0;
  if (isRecordBatch(handed)) {
    pipeline.take(handed);
    n++;
  }
  for (let b = source.takeRecords(); b; b = source.takeRecords()) {
    pipeline.take(b);
    n++;
  }
  return n;
}

function isRecordBatch(v: unknown): v is RecordBatch {
  const b = v as Partial<RecordBatch> | undefined;
  return !!b && Buffer.isBuffer(b.flows) && Buffer.isBuffer(b.http) && Buffer.isBuffer(b.dns);
}
