// Compares production's answer to one request with another answer to it (the candidate's, or the
// primary's when telling noise from differences). In order: status (and grpc-status); when those
// agree, headers and trailers, then the body (decoded from gzip/deflate/br): JSON field by field
// with paths, anything else whole
// (digest and first differing offset). An answer with another status is another kind of answer,
// so its headers and body are not compared: the report names the status, not its consequences.
// Raw mode compares a turn's reply bytes only.
import { createHash } from 'node:crypto';
import type { Answer, ExchangeProtocol } from './answer';
import { decodedAnswer } from './content-encoding';
import type { IgnoreRule } from './ignore-rules';
import { cutString } from './excerpt';
import { ABSENT, JsonDiff, JsonTooDeep, MAX_VALUE_CHARS } from './json-diff';
import { parsePathPattern, type PatternStep } from './json-path';

export interface CompareRules {
  /** Header and trailer names not compared, in addition to DEFAULT_IGNORED_HEADERS. */
  ignoreHeaders: string[];
  /** Names from DEFAULT_IGNORED_HEADERS compared all the same (`!header:NAME`). */
  compareHeaders?: string[];
  /** JSON path patterns whose subtrees are not compared (`$` alone: the whole body). */
  ignoreJsonPaths: string[];
  /** Masks applied to header values, JSON strings and numbers and text bodies before comparing. */
  ignoreValueRegex: RegExp[];
  /** Differences kept per exchange (default DEFAULT_MAX_DIFFERENCES); the rest are counted. */
  maxDifferences?: number;
}

export interface Difference {
  /** 'status' | 'grpc-status' | 'header:NAME' | 'trailer:NAME' | 'body:$.a[3].b' | 'body' | 'turn' */
  where: string;
  production: string;
  candidate: string;
  /** Whole-body and turn differences: the first byte offset where the two differ. */
  offset?: number;
}

export interface Comparison {
  differences: Difference[];
  /** Differences past maxDifferences, not listed. */
  omitted: number;
}

/**
 * Headers that differ between any two answers without saying anything about the service: clock,
 * server identity, framing, caching validators and request/trace ids. Set-Cookie is compared by
 * cookie names only (its values are session ids).
 */
export const DEFAULT_IGNORED_HEADERS: readonly string[] = [
  'date',
  'server',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'age',
  'etag',
  'expires',
  'last-modified',
  'via',
  'x-request-id',
  'request-id',
  'x-correlation-id',
  'x-trace-id',
  'traceparent',
  'tracestate',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-amzn-requestid',
  'x-amzn-trace-id',
  'x-amz-request-id',
  'x-amz-id-2',
  'x-cloud-trace-context',
  'cf-ray',
  'x-envoy-upstream-service-time',
  'x-runtime',
  'x-response-time',
  'server-timing',
];
export const DEFAULT_MAX_DIFFERENCES = 100;

/** The rules that parsed `--ignore` rules say (the defaults apply on top of them). */
export function compareRules(rules: readonly IgnoreRule[] = [], opts: { maxDifferences?: number } = {}): CompareRules {
  const out: CompareRules = { ignoreHeaders: [], compareHeaders: [], ignoreJsonPaths: [], ignoreValueRegex: [] };
  if (opts.maxDifferences !== undefined) out.maxDifferences = opts.maxDifferences;
  for (const r of rules) {
    if (r.kind === 'header') out.ignoreHeaders.push(r.name);
    else if (r.kind === 'compare-header') out.compareHeaders!.push(r.name);
    else if (r.kind === 'body') out.ignoreJsonPaths.push(r.path);
    else out.ignoreValueRegex.push(r.regex);
  }
  return out;
}

/** Header names not compared under `rules`: the defaults, plus ignoreHeaders, minus compareHeaders. */
export function ignoredHeaders(rules: CompareRules): Set<string> {
  const names = new Set([...DEFAULT_IGNORED_HEADERS, ...rules.ignoreHeaders.map((h) => h.toLowerCase())]);
  for (const h of rules.compareHeaders ?? []) names.delete(h.toLowerCase());
  return names;
}

export interface CompiledRules {
  headers: Set<string>;
  paths: PatternStep[][];
  wholeBody: boolean;
  mask: ((text: string) => string) | null;
  maxDifferences: number;
}

const MASK = '\u2026';
const compiledCache = new WeakMap<CompareRules, CompiledRules>();

/**
 * Checks and prepares `rules` once (cached per rules object); a JSON path that does not parse is a
 * JsonPathError (a UsageError naming it). ShadowReport calls it when made, so a bad rule stops a
 * run before its first exchange.
 */
export function compileRules(rules: CompareRules): CompiledRules {
  let c = compiledCache.get(rules);
  if (c) return c;
  const paths = rules.ignoreJsonPaths.map((p) => parsePathPattern(p));
  const masks = rules.ignoreValueRegex.map((r) => new RegExp(r.source, r.flags.includes('g') ? r.flags : `${r.flags}g`));
  c = {
    headers: ignoredHeaders(rules),
    paths,
    wholeBody: paths.some((p) => p.length === 0),
    mask: masks.length ? (text) => masks.reduce((t, re) => t.replace(re, MASK), text) : null,
    maxDifferences: rules.maxDifferences ?? DEFAULT_MAX_DIFFERENCES,
  };
  compiledCache.set(rules, c);
  return c;
}

class Collector implements Comparison {
  differences: Difference[] = [];
  omitted = 0;
  constructor(private readonly max: number) {}
  push(d: Difference): void {
    if (this.differences.length < this.max) this.differences.push(d);
    else this.omitted++;
  }
}

function grpcStatusIn(list: readonly [string, string][] | undefined): number {
  if (list) for (const [n, v] of list) if (n.length === 11 && n.toLowerCase() === 'grpc-status') return Number(v);
  return -1;
}

/** gRPC's status details: trailers, or headers of a trailers-only answer; compared as trailers either way. */
const GRPC_STATUS_ENTRIES = new Set(['grpc-message', 'grpc-status-details-bin']);

/** One answer's fields as compared, read in one pass over its headers (this runs for every exchange). */
interface AnswerFields {
  /** From the answer's field, else from its trailers, else its headers (a trailers-only answer); -1: none. */
  grpcStatus: number;
  /** Name → values in order, without pseudo-headers, ignored names, grpc-status and the gRPC status details. */
  headers: Map<string, string[]>;
  /** The gRPC status details found in the headers, then every trailer but grpc-status. */
  trailers: Map<string, string[]>;
}

function answerFields(a: Answer, r: CompiledRules): AnswerFields {
  const headers = new Map<string, string[]>();
  const trailers = new Map<string, string[]>();
  let inHeaders = -1;
  for (const [rawName, rawValue] of a.headers) {
    const name = rawName.toLowerCase();
    if (name === 'grpc-status') {
      if (inHeaders < 0) inHeaders = Number(rawValue);
      continue;
    }
    addField(GRPC_STATUS_ENTRIES.has(name) ? trailers : headers, name, rawValue, r);
  }
  if (a.trailers) for (const [rawName, rawValue] of a.trailers) addField(trailers, rawName.toLowerCase(), rawValue, r);
  let grpcStatus = a.grpcStatus !== undefined && a.grpcStatus >= 0 ? a.grpcStatus : grpcStatusIn(a.trailers);
  if (grpcStatus < 0) grpcStatus = inHeaders;
  return { grpcStatus, headers, trailers };
}

/**
 * The common case, decided without building the fields: the same header names in the same order
 * (the same server software answered both), values equal but for ignored names, no trailers and
 * the same gRPC status field. Then grpc-status, the headers and the trailers all compare equal.
 */
function sameFields(p: Answer, c: Answer, r: CompiledRules): boolean {
  if (p.trailers?.length || c.trailers?.length || p.grpcStatus !== c.grpcStatus) return false;
  const a = p.headers;
  const b = c.headers;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const name = a[i][0];
    if (name !== b[i][0]) return false;
    if (a[i][1] === b[i][1]) continue;
    const lower = name.toLowerCase();
    // A differing value passes only where the full comparison would not look at it.
    if (lower === 'grpc-status' || lower.startsWith(':') || !r.headers.has(lower)) return false;
  }
  return true;
}

/**
 * The next common case, still without building the fields: the headers compared (neither
 * pseudo-headers nor ignored names) are the same names with the same values in the same order,
 * whatever else either answer has around them (the candidate runs other server software: its
 * Date, Content-Length or Connection are ignored). gRPC's status fields go the full way.
 */
function sameComparedFields(p: Answer, c: Answer, r: CompiledRules): boolean {
  if (p.trailers?.length || c.trailers?.length || p.grpcStatus !== c.grpcStatus) return false;
  const a = p.headers;
  const b = c.headers;
  let j = 0;
  for (let i = 0; i < a.length; i++) {
    const name = a[i][0].toLowerCase();
    if (isGrpcStatusField(name)) return false;
    if (!compared(name, r)) continue;
    let other = '';
    for (; j < b.length; j++) {
      other = b[j][0].toLowerCase();
      if (isGrpcStatusField(other)) return false;
      if (compared(other, r)) break;
    }
    if (j === b.length || other !== name) return false;
    if (a[i][1] !== b[j][1] && fieldValue(name, a[i][1], r) !== fieldValue(name, b[j][1], r)) return false;
    j++;
  }
  for (; j < b.length; j++) {
    const other = b[j][0].toLowerCase();
    if (isGrpcStatusField(other) || compared(other, r)) return false;
  }
  return true;
}

const isGrpcStatusField = (name: string) => name === 'grpc-status' || GRPC_STATUS_ENTRIES.has(name);

/** A header (lower-case name) that is compared: not a pseudo-header, not ignored. */
const compared = (name: string, r: CompiledRules) => !name.startsWith(':') && !r.headers.has(name);

/** A header's value as compared: trimmed, a cookie's name only, masked. */
function fieldValue(name: string, rawValue: string, r: CompiledRules): string {
  let value = rawValue.trim();
  if (name === 'set-cookie') value = value.slice(0, value.indexOf('=') < 0 ? value.length : value.indexOf('=')).trim();
  return r.mask ? r.mask(value) : value;
}

/** Adds one field (lower-case name) unless it is a pseudo-header, grpc-status or ignored. */
function addField(m: Map<string, string[]>, name: string, rawValue: string, r: CompiledRules): void {
  if (name === 'grpc-status' || !compared(name, r)) return;
  const value = fieldValue(name, rawValue, r);
  const values = m.get(name);
  if (values) values.push(value);
  else m.set(name, [value]);
}

function compareHeaders(kind: 'header' | 'trailer', p: Map<string, string[]>, c: Map<string, string[]>, out: Collector): void {
  const show = (v: string[] | undefined) => (v ? cutString(v.join(', '), MAX_VALUE_CHARS) : ABSENT);
  for (const [name, pv] of p) {
    const cv = c.get(name);
    if (!cv || cv.length !== pv.length || cv.some((v, i) => v !== pv[i])) out.push({ where: `${kind}:${name}`, production: show(pv), candidate: show(cv) });
  }
  for (const [name, cv] of c) if (!p.has(name)) out.push({ where: `${kind}:${name}`, production: ABSENT, candidate: show(cv) });
}

function contentType(a: Answer): string {
  for (const [n, v] of a.headers) if (n.toLowerCase() === 'content-type') return v.toLowerCase();
  return '';
}

/** The parsed body when it should be read as JSON (declared so, or looks like it) and parses. */
function parseJson(a: Answer): { ok: true; value: unknown } | { ok: false } {
  if (a.bodyTruncated || a.body.length === 0) return { ok: false };
  const declared = contentType(a).includes('json');
  if (!declared) {
    let i = 0;
    while (i < a.body.length && (a.body[i] === 0x20 || a.body[i] === 0x0a || a.body[i] === 0x0d || a.body[i] === 0x09)) i++;
    if (a.body[i] !== 0x7b && a.body[i] !== 0x5b) return { ok: false };
  }
  try {
    return { ok: true, value: JSON.parse(a.body.toString('utf8')) };
  } catch {
    return { ok: false };
  }
}

const TEXT_TYPES = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded|[^;]*\+(json|xml)))/;

function isText(a: Answer): boolean {
  return TEXT_TYPES.test(contentType(a));
}

export function digestOf(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex').slice(0, 16);
}

function describeBytes(a: Answer): string {
  const kept = a.bodyTruncated ? `, ${a.body.length} kept` : '';
  return `sha256:${digestOf(a.body)} (${a.bodyLength} bytes${kept})`;
}

/** The first offset where the kept bytes differ, or where the shorter ends; -1 when equal. */
export function firstDifference(p: Answer, c: Answer): number {
  const n = Math.min(p.body.length, c.body.length);
  for (let i = 0; i < n; i++) if (p.body[i] !== c.body[i]) return i;
  if (p.body.length !== c.body.length) return n;
  // Same kept bytes: different only if the whole lengths say so (both truncated alike are taken as equal).
  return p.bodyLength === c.bodyLength ? -1 : n;
}

function compareWhole(where: 'body' | 'turn', p: Answer, c: Answer, r: CompiledRules, out: Collector): void {
  const offset = firstDifference(p, c);
  if (offset < 0) return;
  if (where === 'body' && r.mask && !p.bodyTruncated && !c.bodyTruncated && isText(p) && isText(c)) {
    if (r.mask(p.body.toString('utf8')) === r.mask(c.body.toString('utf8'))) return;
  }
  out.push({ where, production: describeBytes(p), candidate: describeBytes(c), offset });
}

function compareBody(p: Answer, c: Answer, r: CompiledRules, out: Collector): void {
  if (r.wholeBody) return;
  const pj = parseJson(p);
  const cj = pj.ok ? parseJson(c) : pj;
  if (pj.ok && cj.ok) {
    try {
      const room = r.maxDifferences - out.differences.length;
      const d = new JsonDiff({ ignored: r.paths, mask: r.mask, maxDifferences: room }).run(pj.value, cj.value);
      for (const x of d.differences) out.push(x);
      out.omitted += d.omitted;
      return;
    } catch (err) {
      if (!(err instanceof JsonTooDeep)) throw err;
    }
  }
  compareWhole('body', p, c, r, out);
}

/** Compares two answers to the same request; differences past the cap are counted in `omitted`. */
export function compareExchange(production: Answer, candidate: Answer, rules: CompareRules, protocol: ExchangeProtocol = 'http'): Comparison {
  const r = compileRules(rules);
  const out = new Collector(r.maxDifferences);
  if (protocol === 'raw') {
    compareWhole('turn', production, candidate, r, out);
    return out;
  }
  if (production.status !== candidate.status) out.push({ where: 'status', production: String(production.status), candidate: String(candidate.status) });
  if (sameFields(production, candidate, r) || sameComparedFields(production, candidate, r)) {
    if (out.differences.length) return out;
  } else {
    const p = answerFields(production, r);
    const c = answerFields(candidate, r);
    if (p.grpcStatus !== c.grpcStatus) {
      out.push({ where: 'grpc-status', production: p.grpcStatus < 0 ? ABSENT : String(p.grpcStatus), candidate: c.grpcStatus < 0 ? ABSENT : String(c.grpcStatus) });
    }
    if (out.differences.length) return out;
    compareHeaders('header', p.headers, c.headers, out);
    compareHeaders('trailer', p.trailers, c.trailers, out);
  }
  // Equal bytes are equal whatever their encoding and rules: the common case costs one memcmp.
  if (production.bodyLength === candidate.bodyLength && production.body.equals(candidate.body)) return out;
  compareBody(decodedAnswer(production), decodedAnswer(candidate), r, out);
  return out;
}

export function compareAnswers(production: Answer, candidate: Answer, rules: CompareRules, protocol: ExchangeProtocol = 'http'): Difference[] {
  return compareExchange(production, candidate, rules, protocol).differences;
}
