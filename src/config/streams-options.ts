// `podspan streams` flags: the capture flags it shares with `podspan capture` (source, filter,
// count, duration) plus the output folder and the flow-table limits.
import { UsageError } from '../errors';
import { parseCaptureFlags, type CaptureRun, type RawCaptureFlags } from './capture-options';
import { flagValue, intFlag, positiveNumber } from './number-flags';
import { checkOutFolder } from './out-folder';

// A flow table of 100 M flows is tens of GB; an idle time as analyze's --flow-timeout allows.
const MAX_FLOWS = 100_000_000;
const MAX_IDLE_SECONDS = 86_400;

export interface RawStreamsFlags extends Omit<RawCaptureFlags, 'write' | 'format' | 'fileSize' | 'rotateSeconds' | 'fileCount'> {
  outDir?: string;
  maxFlows?: string;
  idleTimeout?: string;
}

export function parseStreamsFlags(raw: RawStreamsFlags): CaptureRun {
  const { outDir, maxFlows, idleTimeout, ...capture } = raw;
  if (!outDir) throw new UsageError('-o DIR is required: the folder for the stream files and index.jsonl');
  checkOutFolder('-o', outDir);
  const run = parseCaptureFlags(capture);
  const flows = flagValue(intFlag('--max-flows', 1, MAX_FLOWS), maxFlows);
  const idle = flagValue(positiveNumber('--idle-timeout', MAX_IDLE_SECONDS).optional(), idleTimeout);
  run.capture.streams = { dir: outDir, maxFlows: flows, idleTimeoutSeconds: idle };
  return run;
}

