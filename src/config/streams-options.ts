// `podspan streams` flags: the capture flags it shares with `podspan capture` (source, filter,
// count, duration) plus the output folder and the flow-table limits.
import { UsageError } from '../errors';
import { parseCaptureFlags, type CaptureRun, type RawCaptureFlags } from './capture-options';

export interface RawStreamsFlags extends Omit<RawCaptureFlags, 'write' | 'format' | 'fileSize' | 'rotateSeconds' | 'fileCount'> {
  outDir?: string;
  maxFlows?: string;
  idleTimeout?: string;
}

export function parseStreamsFlags(raw: RawStreamsFlags): CaptureRun {
  const { outDir, maxFlows, idleTimeout, ...capture } = raw;
  if (!outDir) throw new UsageError('-o DIR is required: the folder for the stream files and index.jsonl');
  const run = parseCaptureFlags(capture);
  const flows = maxFlows === undefined ? undefined : Number(maxFlows);
  if (flows !== undefined && (!Number.isInteger(flows) || flows < 1)) throw new UsageError('--max-flows takes a whole number of at least 1');
  const idle = idleTimeout === undefined ? undefined : Number(idleTimeout);
  if (idle !== undefined && !(idle > 0)) throw new UsageError('--idle-timeout takes a positive number of seconds');
  run.capture.streams = { dir: outDir, maxFlows: flows, idleTimeoutSeconds: idle };
  return run;
}
