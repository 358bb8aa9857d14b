// The object store behind `--store s3://BUCKET/PREFIX`: the URL parsed once, an S3 client from the
// AWS SDK's standard chain (environment, shared files, web identity for IRSA/pod identity), path-
// style addressing when a custom endpoint is set (MinIO, Ceph, Versity), and the object key layout
// `PREFIX/YYYY/MM/DD/HH/NODE/FILE` partitioned by hour so that listing a time range stays cheap.
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { StoreError, UsageError } from '../errors';

export interface StoreLocation {
  bucket: string;
  /** Without leading or trailing '/'; may be empty. */
  prefix: string;
}

export interface StoreOptions extends StoreLocation {
  /** Server-side encryption for uploads: AES256 or aws:kms (with an optional key id). */
  sse?: { algorithm: 'AES256' | 'aws:kms'; kmsKeyId?: string };
}

/** `s3://BUCKET[/PREFIX]` → bucket and prefix; `flag` names the culprit in the message. */
export function parseStoreUrl(flag: string, url: string): StoreLocation {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(\/.*)?$/.exec(url);
  if (!m) throw new UsageError(`${flag} ${url}: takes s3://BUCKET/PREFIX (a bucket name of 3-63 lower-case letters, digits, '.' and '-')`);
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  if (/\/\/|(^|\/)\.\.?(\/|$)/.test(prefix)) throw new UsageError(`${flag} ${url}: the prefix has an empty or '.'/'..' part`);
  return { bucket: m[1], prefix };
}

/** `--sse AES256|aws:kms[:KEY-ID]` → the upload's encryption settings. */
export function parseSse(flag: string, v: string | undefined): StoreOptions['sse'] {
  if (v === undefined) return undefined;
  if (v === 'AES256') return { algorithm: 'AES256' };
  const m = /^aws:kms(?::(.+))?$/.exec(v);
  if (m) return { algorithm: 'aws:kms', kmsKeyId: m[1] };
  throw new UsageError(`${flag} ${v}: takes AES256, aws:kms or aws:kms:KEY-ID`);
}

/** Seconds an S3 request may go without a byte either way before it fails (and is retried). */
export const STORE_IDLE_TIMEOUT_S = 30;

/**
 * An S3 client configured only from the SDK's standard sources; path-style for a custom endpoint.
 * A store that accepts connections and then says nothing (a hung server, a path that lost its
 * state) fails a request after `idleTimeoutMs` without a byte, so the spool retries it instead of
 * waiting forever; connecting gives up after 10 s.
 */
export function s3Client(idleTimeoutMs = STORE_IDLE_TIMEOUT_S * 1000): S3Client {
  // The SDK warns on every run that its releases after January 2027 want Node 22; the CLI's stderr
  // is for the operator's lines. An operator who wants the warning sets the variable to "false".
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const endpoint = process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL;
  return new S3Client({
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    region: process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1',
    maxAttempts: 3, // the SDK's own retries with backoff; the spool retries beyond them
    requestHandler: { connectionTimeout: 10_000, socketTimeout: idleTimeoutMs },
  });
}

export function locationUrl(l: StoreLocation): string {
  return `s3://${l.bucket}${l.prefix ? `/${l.prefix}` : ''}`;
}

/** One line for an SDK error: the service's code and message, or the network's reason. */
export function describeS3Error(err: unknown): string {
  const e = err as { name?: string; message?: string; Code?: string; $metadata?: { httpStatusCode?: number }; code?: string };
  const status = e?.$metadata?.httpStatusCode;
  const name = e?.Code || e?.name || 'Error';
  const message = e?.message && e.message !== 'UnknownError' ? e.message : '';
  if (name === 'NotFound' || name === 'NoSuchBucket' || (status === 404 && name === 'UnknownError')) return 'the bucket does not exist';
  if (name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch' || name === 'Forbidden' || name === 'AccessDenied' || status === 403) {
    const why = [status ? `HTTP ${status}` : '', name !== 'Unknown' && name !== 'Forbidden' ? name : ''].filter(Boolean).join(', ');
    return `access refused (${why || name}): check the credentials (AWS_ACCESS_KEY_ID, profile, web identity)`;
  }
  if (e?.code === 'ECONNREFUSED' || e?.code === 'ENOTFOUND' || e?.code === 'ETIMEDOUT' || e?.code === 'ECONNRESET') {
    return `cannot reach the endpoint (${process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL || 'AWS S3'}): ${message}`;
  }
  if (name === 'CredentialsProviderError') return `no credentials found: ${message}`;
  return `${name}${status ? ` (HTTP ${status})` : ''}${message ? `: ${message}` : ''}`;
}

/** Checks at start-up that the bucket exists and the credentials may use it; StoreError otherwise. */
export async function checkStore(client: S3Client, l: StoreLocation, flag = '--store', signal?: AbortSignal): Promise<void> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: l.bucket }), { abortSignal: signal });
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw new StoreError(`${flag} ${locationUrl(l)}: ${describeS3Error(err)}`);
  }
}

const pad = (n: number) => String(n).padStart(2, '0');

/** `PREFIX/YYYY/MM/DD/HH/` of the UTC hour holding `ms`. */
export function hourPrefix(prefix: string, ms: number): string {
  const d = new Date(ms);
  const parts = [d.getUTCFullYear(), pad(d.getUTCMonth() + 1), pad(d.getUTCDate()), pad(d.getUTCHours())];
  return `${prefix ? `${prefix}/` : ''}${parts.join('/')}/`;
}

/** A node name made safe for one key segment. */
export function nodeSegment(node: string): string {
  return node.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[.]+/, '').slice(0, 128) || 'unknown';
}

export function objectKey(prefix: string, ms: number, node: string, file: string): string {
  return `${hourPrefix(prefix, ms)}${nodeSegment(node)}/${file}`;
}

export const HOUR_MS = 3_600_000;

/** The hour prefixes from the hour holding `fromMs` to the one holding `toMs`. */
export function hoursInRange(prefix: string, fromMs: number, toMs: number): string[] {
  const out: string[] = [];
  for (let h = Math.floor(fromMs / HOUR_MS) * HOUR_MS; h <= toMs; h += HOUR_MS) out.push(hourPrefix(prefix, h));
  return out;
}

/**
 * What to list for [fromMs, toMs]: one prefix per hour for up to two days, else per day (up to
 * two months), per month (up to three years) or per year. A listing per hour over years would be
 * tens of thousands of requests, one after another; a coarser prefix holds the same keys
 * (`keyHourInRange` then keeps those of the hours asked for). `hourly`: each prefix is an hour's,
 * so a node's keys can be listed alone.
 */
export function prefixesInRange(prefix: string, fromMs: number, toMs: number): { prefixes: string[]; hourly: boolean } {
  const first = new Date(Math.floor(fromMs / HOUR_MS) * HOUR_MS);
  const last = new Date(toMs);
  if (toMs - first.getTime() <= 48 * HOUR_MS) return { prefixes: hoursInRange(prefix, fromMs, toMs), hourly: true };
  const root = prefix ? `${prefix}/` : '';
  const [y0, m0, y1, m1] = [first.getUTCFullYear(), first.getUTCMonth(), last.getUTCFullYear(), last.getUTCMonth()];
  const months = (y1 - y0) * 12 + (m1 - m0) + 1;
  const prefixes: string[] = [];
  if (toMs - first.getTime() <= 62 * 24 * HOUR_MS) {
    const day = 24 * HOUR_MS;
    for (let d = Date.UTC(y0, m0, first.getUTCDate()); d <= toMs; d += day) prefixes.push(hourPrefix(prefix, d).replace(/\d\d\/$/, ''));
  } else if (months <= 36) {
    for (let i = 0; i < months; i++) {
      const d = new Date(Date.UTC(y0, m0 + i, 1));
      prefixes.push(`${root}${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/`);
    }
  } else {
    for (let y = y0; y <= y1; y++) prefixes.push(`${root}${y}/`);
  }
  return { prefixes, hourly: false };
}

/** Whether `key` (PREFIX/YYYY/MM/DD/HH/NODE/FILE) is of an hour in [fromMs, toMs] and of `node` when given. */
export function keyHourInRange(prefix: string, key: string, fromMs: number, toMs: number, node?: string): boolean {
  const m = /^(\d{4})\/(\d\d)\/(\d\d)\/(\d\d)\/([^/]+)\//.exec(key.slice(prefix ? prefix.length + 1 : 0));
  if (!m) return false;
  const hour = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]));
  return hour >= Math.floor(fromMs / HOUR_MS) * HOUR_MS && hour <= toMs && (node === undefined || m[5] === nodeSegment(node));
}
