// Bounded excerpts of answers for the report: a window of the body that never cuts a UTF-8
// character (text) or, when the bytes are not text, their base64; header lists bounded in count
// and length. Bodies are hostile input: excerpts are data, escaped wherever they are shown.
import type { Answer } from './answer';

export interface BodyExcerpt {
  encoding: 'utf8' | 'base64';
  /** Byte offset of the excerpt in the body. */
  offset: number;
  /** Bytes the excerpt covers. */
  bytes: number;
  /** The body's whole length and whether the capture kept less than that. */
  length: number;
  truncated: boolean;
  text: string;
}

export interface AnswerExcerpt {
  status: number;
  grpc_status?: number;
  headers: [string, string][];
  trailers?: [string, string][];
  /** Header entries left out past the bound. */
  headers_omitted?: number;
  body: BodyExcerpt;
  latency_ms?: number;
  duration_ms?: number;
}

export interface ExcerptLimits {
  bodyBytes: number;
  headers: number;
  headerChars: number;
}

export const DEFAULT_EXCERPT_LIMITS: ExcerptLimits = { bodyBytes: 2048, headers: 64, headerChars: 512 };

const isContinuation = (b: number) => (b & 0xc0) === 0x80;

/** Length in bytes of the UTF-8 sequence a lead byte starts (1 for anything else). */
function sequenceLength(b: number): number {
  if (b >= 0xf0) return 4;
  if (b >= 0xe0) return 3;
  if (b >= 0xc0) return 2;
  return 1;
}

const fatal = new TextDecoder('utf-8', { fatal: true });
// Control characters other than tab, line feed and carriage return mark bytes as binary.
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** `max` bytes of `body` from about `from`, moved to character boundaries. */
export function bodyExcerpt(body: Buffer, bodyLength: number, truncated: boolean, from: number, max: number): BodyExcerpt {
  let start = Math.max(0, Math.min(from, body.length));
  let end = Math.min(body.length, start + max);
  let s = start;
  while (s < end && s - start < 3 && isContinuation(body[s])) s++;
  let e = end;
  if (end < body.length) {
    // Step back over a sequence the window cuts.
    for (let k = end - 1; k >= Math.max(s, end - 3); k--) {
      if (!isContinuation(body[k])) {
        if (k + sequenceLength(body[k]) > end) e = k;
        break;
      }
    }
  }
  const base = { length: bodyLength, truncated };
  if (s < e || start === end) {
    try {
      const text = fatal.decode(body.subarray(s, e));
      if (!CONTROL.test(text)) return { encoding: 'utf8', offset: s, bytes: e - s, text, ...base };
    } catch {
      // not UTF-8: base64 below
    }
  }
  return { encoding: 'base64', offset: start, bytes: end - start, text: body.subarray(start, end).toString('base64'), ...base };
}

/** A string cut to `max` UTF-16 units without splitting a surrogate pair. */
export function cutString(s: string, max: number): string {
  if (s.length <= max) return s;
  let n = max - 1;
  const c = s.charCodeAt(n - 1);
  if (c >= 0xd800 && c <= 0xdbff) n--;
  return `${s.slice(0, n)}…`;
}

function headerList(list: readonly [string, string][], l: ExcerptLimits): [string, string][] {
  return list.slice(0, l.headers).map(([n, v]) => [cutString(n, l.headerChars), cutString(v, l.headerChars)]);
}

/** The answer as the report shows it; the body window starts a little before `bodyFrom` and covers it. */
export function answerExcerpt(a: Answer, l: ExcerptLimits, bodyFrom = 0): AnswerExcerpt {
  // A little context before the difference, never so much that the window misses it.
  const from = Math.max(0, bodyFrom - Math.min(64, l.bodyBytes >> 2));
  const out: AnswerExcerpt = {
    status: a.status,
    headers: headerList(a.headers, l),
    body: bodyExcerpt(a.body, a.bodyLength, a.bodyTruncated, from, l.bodyBytes),
  };
  const omitted = Math.max(0, a.headers.length - l.headers) + Math.max(0, (a.trailers?.length ?? 0) - l.headers);
  if (omitted) out.headers_omitted = omitted;
  if (a.trailers?.length) out.trailers = headerList(a.trailers, l);
  if (a.grpcStatus !== undefined && a.grpcStatus >= 0) out.grpc_status = a.grpcStatus;
  if (a.latencyMs !== undefined) out.latency_ms = a.latencyMs;
  if (a.durationMs !== undefined) out.duration_ms = a.durationMs;
  return out;
}
