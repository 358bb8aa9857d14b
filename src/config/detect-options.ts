// Detection settings (`podspan analyze --alerts`, the agent's `detect:`): thresholds per kind, the
// baseline's half-life, caps on tracked keys, and the evidence recorder's sizes. One schema for
// both places: the agent's YAML object as it is, the command's `--detect PATH=VALUE` flags turned
// into the same object first. Validated here once; the detector trusts what it is given.
import { z } from 'zod';
import { UsageError } from '../errors';
import type { NativeDetectOptions, NativeEvidenceOptions } from '../capture/native';

/** What a user sets: the addon's options less `records` (which the caller decides), and the evidence sizes. */
export interface DetectSettings extends Omit<NativeDetectOptions, 'records'> {
  evidence: EvidenceSettings;
}

/** The evidence recorder's sizes (its folder is the caller's to choose). */
export type EvidenceSettings = Omit<NativeEvidenceOptions, 'dir'>;

/** Defaults a steady, normal workload does not trip (see README, Detection); the same as native/core/detection/detect_config.h. */
export const DEFAULT_DETECT: DetectSettings = {
  baselineHalflifeS: 300,
  warmupSeconds: 60,
  synFlood: { floor: 200, k: 6, minSeconds: 2, clearSeconds: 5, halfOpenShare: 0.5 },
  // A scanner on a LAN covers a thousand ports within a second: one second over is enough.
  portScan: { floor: 30, k: 6, minSeconds: 1, clearSeconds: 5, rejectedShare: 0.5 },
  requestSurge: { floor: 100, k: 6, minSeconds: 3, clearSeconds: 10 },
  errorSurge: { floor: 10, k: 6, minSeconds: 3, clearSeconds: 10, errorShare: 0.2 },
  noisyClient: { floor: 50, k: 6, minSeconds: 5, clearSeconds: 10, share: 0.5 },
  maxServers: 4096,
  maxRoutes: 16384,
  maxSources: 65536,
  maxPairs: 65536,
  evidence: { preTriggerSeconds: 10, preTriggerMB: 64, postTriggerSeconds: 10, maxFiles: 32 },
};

const share = z.number().min(0).max(1);
const ruleFields = {
  floor: z.number().min(0).max(1e9),
  k: z.number().min(0).max(100),
  minSeconds: z.number().int().min(1).max(3600),
  clearSeconds: z.number().int().min(1).max(3600),
};
const rule = <T extends z.ZodRawShape>(extra: T) => z.object({ ...ruleFields, ...extra }).partial().strict().optional();
const cap = z.number().int().min(16).max(10_000_000);

export const detectSchema = z
  .object({
    baselineHalflifeS: z.number().min(1).max(7 * 86_400),
    warmupSeconds: z.number().int().min(0).max(86_400),
    synFlood: rule({ halfOpenShare: share }),
    portScan: rule({ rejectedShare: share }),
    requestSurge: rule({}),
    errorSurge: rule({ errorShare: share }),
    noisyClient: rule({ share }),
    maxServers: cap,
    maxRoutes: cap,
    maxSources: cap,
    maxPairs: cap,
    preTriggerSeconds: z.number().int().min(0).max(3600),
    // The ring is one allocation per capture: bounded so a typo cannot ask for all of memory.
    preTriggerMB: z.number().int().min(1).max(4096),
    postTriggerSeconds: z.number().int().min(0).max(3600),
    maxEvidenceFiles: z.number().int().min(0).max(100_000),
  })
  .partial()
  .strict();
export type DetectConfig = z.infer<typeof detectSchema>;

/** "synFlood.floor: Number must be ...", "unknown field synflood (known: ...)" */
function issueText(issue: z.ZodIssue): string {
  const where = issue.path.join('.');
  const message = issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.join(', ')} (known: ${knownFields(issue.path).join(', ')})` : issue.message;
  return where ? `${where}: ${message}` : message;
}

/** The fields the object at `path` of detectSchema takes. */
function knownFields(path: (string | number)[]): string[] {
  const unwrap = (t: z.ZodTypeAny): z.ZodTypeAny => (t instanceof z.ZodOptional ? unwrap(t.unwrap()) : t);
  let t: z.ZodTypeAny = detectSchema;
  for (const key of path) {
    const o = unwrap(t);
    if (!(o instanceof z.ZodObject)) return [];
    t = (o.shape as Record<string, z.ZodTypeAny>)[String(key)];
    if (!t) return [];
  }
  const o = unwrap(t);
  return o instanceof z.ZodObject ? Object.keys(o.shape) : [];
}

/** The agent's `detect:` object (or the flags' object) as settings; `where` prefixes messages. */
export function parseDetectConfig(raw: unknown, where: string): DetectSettings {
  const parsed = detectSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new UsageError(`${where}: ${issueText(parsed.error.issues[0])}`);
  const c = parsed.data;
  const d = DEFAULT_DETECT;
  return {
    baselineHalflifeS: c.baselineHalflifeS ?? d.baselineHalflifeS,
    warmupSeconds: c.warmupSeconds ?? d.warmupSeconds,
    synFlood: { ...d.synFlood, ...c.synFlood },
    portScan: { ...d.portScan, ...c.portScan },
    requestSurge: { ...d.requestSurge, ...c.requestSurge },
    errorSurge: { ...d.errorSurge, ...c.errorSurge },
    noisyClient: { ...d.noisyClient, ...c.noisyClient },
    maxServers: c.maxServers ?? d.maxServers,
    maxRoutes: c.maxRoutes ?? d.maxRoutes,
    maxSources: c.maxSources ?? d.maxSources,
    maxPairs: c.maxPairs ?? d.maxPairs,
    evidence: {
      preTriggerSeconds: c.preTriggerSeconds ?? d.evidence.preTriggerSeconds,
      preTriggerMB: c.preTriggerMB ?? d.evidence.preTriggerMB,
      postTriggerSeconds: c.postTriggerSeconds ?? d.evidence.postTriggerSeconds,
      maxFiles: c.maxEvidenceFiles ?? d.evidence.maxFiles,
    },
  };
}

/**
 * `--detect synFlood.floor=500 --detect preTriggerSeconds=30`: each flag one PATH=VALUE (a number,
 * as in the agent's YAML) into the same object the agent's `detect:` holds, then validated alike.
 */
export function parseDetectFlags(flags: string[] = []): DetectSettings {
  const raw: Record<string, unknown> = {};
  for (const flag of flags) {
    const m = /^([A-Za-z]+)(?:\.([A-Za-z]+))?=(.+)$/.exec(flag);
    if (!m) throw new UsageError(`--detect ${flag}: give PATH=NUMBER, e.g. synFlood.floor=500 or preTriggerSeconds=30`);
    const [, top, field, text] = m;
    const value = Number(text);
    if (!Number.isFinite(value)) throw new UsageError(`--detect ${flag}: ${text} is not a number`);
    if (field) {
      const inner = raw[top];
      if (inner !== undefined && (typeof inner !== 'object' || inner === null)) throw new UsageError(`--detect ${flag}: ${top} is not a group of thresholds`);
      raw[top] = { ...((inner as object) ?? {}), [field]: value };
    } else raw[top] = value;
  }
  return parseDetectConfig(raw, '--detect');
}

/** What the addon reads: the settings minus the evidence part, and whether records go to JavaScript. */
export function nativeDetectOptions(s: DetectSettings, records: boolean): NativeDetectOptions {
  const { evidence: _evidence, ...rest } = s;
  return { ...rest, records };
}
