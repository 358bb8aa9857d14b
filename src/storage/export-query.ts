// Which stored captures an export needs, from their index objects alone: the hours in range are
// listed (one hour further back, for files begun before --since: the collector rotates at least
// hourly), the index objects read, and only the captures whose time range overlaps the query and
// that hold an interface of a matching node/pod are kept, with those interfaces.
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { StoreError, UsageError } from '../errors';
import type { CaptureIndex, IndexedInterface } from './capture-index';
import { describeS3Error, HOUR_MS, keyHourInRange, locationUrl, nodeSegment, prefixesInRange, type StoreLocation } from './store';

export interface PodFilter {
  node?: string;
  namespace?: string;
  pods: string[];
  /** Labels every matching pod carries. */
  selector: Record<string, string>;
}

export interface ExportQuery extends PodFilter {
  sinceNs: bigint;
  untilNs: bigint;
}

export interface Selected {
  index: CaptureIndex;
  interfaces: IndexedInterface[];
}

export interface Selection {
  selected: Selected[];
  /** Index objects read. */
  indexes: number;
  /** Capture objects in the hours listed that have no index (not searched). */
  unindexed: string[];
}

const LAST_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** A time: ISO 8601 (or what Date.parse takes), "now", or relative to now ("-10m", "-2h", "-30s", "-1d"). */
export function parseTime(flag: string, v: string, nowMs = Date.now()): bigint {
  const rel = /^-(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(v);
  let ms: number;
  if (v === 'now') ms = nowMs;
  else if (rel) ms = nowMs - Number(rel[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[rel[2] as 's' | 'm' | 'h' | 'd'];
  else ms = Date.parse(v);
  if (!Number.isFinite(ms)) throw new UsageError(`${flag} ${v}: not a time (ISO 8601 such as 2026-01-31T14:05:00Z, now, or -10m / -2h / -1d)`);
  if (ms < 0 || ms > LAST_MS) throw new UsageError(`${flag} ${v}: before 1970 or after 9999`);
  return BigInt(Math.round(ms)) * 1_000_000n;
}

/** `k=v[,k=v]` (repeatable) → labels. */
export function parseSelector(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of values.flatMap((v) => v.split(','))) {
    const m = /^([^=\s]+)=([^=\s]*)$/.exec(part.trim());
    if (!m) throw new UsageError(`--selector ${part}: takes KEY=VALUE[,KEY=VALUE]`);
    out[m[1]] = m[2];
  }
  return out;
}

export function interfaceMatches(i: IndexedInterface, f: PodFilter): boolean {
  if (f.node !== undefined && i.node !== f.node) return false;
  if (f.namespace !== undefined && i.namespace !== f.namespace) return false;
  if (f.pods.length && (!i.pod || !f.pods.includes(i.pod))) return false;
  for (const [k, v] of Object.entries(f.selector)) if (i.labels?.[k] !== v) return false;
  return true;
}

async function listKeys(client: S3Client, bucket: string, prefix: string, signal?: AbortSignal): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const r = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }), { abortSignal: signal });
    for (const o of r.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

async function getText(client: S3Client, bucket: string, key: string, signal?: AbortSignal): Promise<string> {
  const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
  return r.Body!.transformToString('utf8');
}

/** Lists the hours in range, reads their index objects and keeps the captures the query needs. */
export async function selectCaptures(client: S3Client, loc: StoreLocation, q: ExportQuery, signal?: AbortSignal): Promise<Selection> {
  const fromMs = Number(q.sinceNs / 1_000_000n) - HOUR_MS;
  // Nothing is filed under an hour to come (a day allowed for clocks that run ahead).
  const toMs = Math.min(Number(q.untilNs / 1_000_000n), Date.now() + 24 * HOUR_MS);
  const { prefixes, hourly } = prefixesInRange(loc.prefix, fromMs, toMs);
  const selected: Selected[] = [];
  const unindexed: string[] = [];
  let indexes = 0;
  try {
    for (const p of prefixes) {
      const listed = await listKeys(client, loc.bucket, hourly && q.node !== undefined ? `${p}${nodeSegment(q.node)}/` : p, signal);
      const keys = listed.filter((k) => keyHourInRange(loc.prefix, k, fromMs, toMs, q.node));
      const indexKeys = new Set(keys.filter((k) => k.endsWith('.index.json')));
      for (const k of keys) if (k.endsWith('.pcapng') && !indexKeys.has(`${k}.index.json`)) unindexed.push(k);
      for (const key of indexKeys) {
        const index = JSON.parse(await getText(client, loc.bucket, key, signal)) as CaptureIndex;
        indexes++;
        if (!index.firstNs || BigInt(index.firstNs) > q.untilNs || BigInt(index.lastNs!) < q.sinceNs) continue;
        const interfaces = index.interfaces.filter(
          (i) => i.packets > 0 && interfaceMatches(i, q) && BigInt(i.firstNs!) <= q.untilNs && BigInt(i.lastNs!) >= q.sinceNs,
        );
        if (interfaces.length) selected.push({ index, interfaces });
      }
    }
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    if (err instanceof SyntaxError) throw new StoreError(`${locationUrl(loc)}: an index object is not valid JSON: ${err.message}`);
    throw new StoreError(`${locationUrl(loc)}: ${describeS3Error(err)}`);
  }
  selected.sort((a, b) => (BigInt(a.index.firstNs!) < BigInt(b.index.firstNs!) ? -1 : 1));
  return { selected, indexes, unindexed };
}
