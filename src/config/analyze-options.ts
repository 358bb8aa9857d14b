// `podspan analyze` flags: the capture flags it shares with `podspan capture` (source, filter,
// count, duration), the output folder, and the analysis limits (caps on servers and routes,
// latency values kept for exact quantiles, flow timeout). Validated here once; every message
// names its flag.
import { z } from 'zod';
import { UsageError } from '../errors';
import { DEFAULT_AGGREGATE_LIMITS, type AggregateLimits } from '../analysis/aggregate';
import { parseDetectFlags, type DetectSettings } from './detect-options';
import { parseCaptureFlags, type CaptureRun, type RawCaptureFlags } from './capture-options';
import { intFlag } from './number-flags';
import { checkOutFolder } from './out-folder';

export interface RawAnalyzeFlags extends Omit<RawCaptureFlags, 'write' | 'format' | 'fileSize' | 'rotateSeconds' | 'fileCount'> {
  outDir?: string;
  maxServers?: string;
  maxRoutes?: string;
  maxSamples?: string;
  top?: string;
  flowTimeout?: string;
  alerts?: boolean;
  detect?: string[];
}

export interface AnalyzeRun extends CaptureRun {
  outDir: string;
  limits: AggregateLimits;
  /** Rows per top list printed at the end. */
  top: number;
  /** Seconds a connection may idle before its record is written (state "timeout"). */
  flowTimeoutSeconds?: number;
  /** --alerts: detection's settings (thresholds, evidence sizes). */
  detect?: DetectSettings;
}

/** Caps and memory bounds, shared by `podspan analyze` and the agent's `analyze` option. */
export const limitsSchema = {
  maxServers: intFlag('--max-servers', 1, 100_000),
  maxRoutes: intFlag('--max-routes', 1, 100_000),
  // At most 1e9 values (8 GB): a bound an operator may raise, never an unbounded store.
  maxSamples: intFlag('--max-samples', 1, 1_000_000_000),
};

const schema = z.object({
  outDir: z.string().min(1, { message: '-o needs a folder name' }).optional(),
  ...limitsSchema,
  top: intFlag('--top', 0, 1000),
  flowTimeout: intFlag('--flow-timeout', 1, 86_400),
});

export function parseAnalyzeFlags(raw: RawAnalyzeFlags): AnalyzeRun {
  const { outDir, maxServers, maxRoutes, maxSamples, top, flowTimeout, alerts, detect, ...capture } = raw;
  if (detect?.length && !alerts) throw new UsageError('--detect sets detection thresholds: add --alerts');
  const parsed = schema.safeParse({ outDir, maxServers, maxRoutes, maxSamples, top, flowTimeout });
  if (!parsed.success) throw new UsageError(parsed.error.issues[0].message);
  const f = parsed.data;
  if (!f.outDir) throw new UsageError('-o DIR is required: the folder for flows.jsonl, http.jsonl, dns.jsonl and summary.json');
  checkOutFolder('-o', f.outDir);
  const run = parseCaptureFlags(capture);
  const samples = f.maxSamples ?? DEFAULT_AGGREGATE_LIMITS.maxSamples;
  return {
    ...run,
    outDir: f.outDir,
    limits: {
      maxServers: f.maxServers ?? DEFAULT_AGGREGATE_LIMITS.maxServers,
      maxRoutesPerServer: f.maxRoutes ?? DEFAULT_AGGREGATE_LIMITS.maxRoutesPerServer,
      maxSamples: samples,
      maxSamplesPerSeries: Math.min(samples, DEFAULT_AGGREGATE_LIMITS.maxSamplesPerSeries),
    },
    top: f.top ?? 10,
    flowTimeoutSeconds: f.flowTimeout,
    ...(alerts ? { detect: parseDetectFlags(detect) } : {}),
  };
}
