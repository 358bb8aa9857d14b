// The results of a shadow run, per method and route: counts (compared, matched, differed, errors,
// noise), differences by where, latency percentiles of production and the candidate, skips by
// reason, and the differing exchanges. Noise as Diffy cancels it: when the primary (a second copy
// of production's version) answers differently from production at some WHERE, that WHERE is noise
// for the route from then on, and the candidate's differences there are counted as noise, not
// reported; the summary and the files apply what was learnt later to earlier exchanges too, so
// the report does not depend on the order exchanges came in. Memory is bounded: routes by maxRoutes (the rest under "other"), latencies by a
// sample budget, diffs.jsonl by bytes (the rest counted), examples by count per route.
import fs from 'node:fs';
import path from 'node:path';
import { CardinalityCaps, OTHER } from '../analysis/caps';
import { LatencySamples, sampleBudget, type SampleBudget } from '../analysis/samples';
import { OutputError } from '../errors';
import type { Answer, ExchangeInfo, Outcome } from './answer';
import { compareExchange, compileRules, type CompareRules, type Difference } from './compare';
import { decodedAnswer } from './content-encoding';
import { answerExcerpt, cutString, DEFAULT_EXCERPT_LIMITS, type AnswerExcerpt, type ExcerptLimits } from './excerpt';
import { renderReportHtml } from './report-html';
import type { ShadowMetricsSink } from './metrics';
import { makeDirs } from '../runtime/make-dirs';

export interface LatencySummary {
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

export interface RouteSummary {
  method: string;
  route: string;
  compared: number;
  matched: number;
  differed: number;
  errors: number;
  /** Differences suppressed as noise (seen between production and the primary on this route). */
  noise: number;
  differences: Record<string, number>;
  /** Errors by kind ('timeout', 'refused', ...). */
  error_kinds: Record<string, number>;
  production_ms: LatencySummary;
  candidate_ms: LatencySummary;
}

export interface ShadowTotals {
  /** Exchanges given to the report: compared + errors (skipped ones are counted apart). */
  requests: number;
  compared: number;
  matched: number;
  differed: number;
  errors: number;
  /** Differences not reported because they were noise. */
  noise: number;
}

export interface ShadowSummary extends ShadowTotals {
  skipped: Record<string, number>;
  routes: RouteSummary[];
  /** Lines in diffs.jsonl, and differing exchanges left out of it past its size bound. */
  diffs_written: number;
  diffs_omitted: number;
}

/** One differing exchange as diffs.jsonl holds it. */
export interface DiffRecord {
  time: string;
  ts_ms: number;
  connection: string;
  protocol: ExchangeInfo['protocol'];
  method: string;
  path: string;
  route: string;
  production: AnswerExcerpt;
  candidate: AnswerExcerpt;
  differences: Difference[];
  differences_omitted?: number;
}

export interface ShadowReportOptions {
  /** Distinct method+route pairs named; later ones are counted under "other". */
  maxRoutes: number;
  rules: CompareRules;
  metrics?: ShadowMetricsSink;
  /** Bound on diffs.jsonl (bytes, default 16 MiB); differing exchanges past it are counted. */
  maxDiffBytes?: number;
  /** Differing exchanges kept per route for index.html (default 5; up to twice that for new WHEREs; 8 MiB in all). */
  examplesPerRoute?: number;
  excerpt?: Partial<ExcerptLimits>;
  /** Latency values held for percentiles (per series, all series); past it a uniform sample. */
  latencySamples?: { maxPerSeries: number; maxTotal: number };
}

export interface RouteExamples {
  key: string;
  examples: DiffRecord[];
}

class RouteState {
  compared = 0;
  matched = 0;
  differed = 0;
  errors = 0;
  noise = 0;
  readonly differences = new Map<string, number>();
  readonly errorKinds = new Map<string, number>();
  readonly noisy = new Set<string>();
  /**
   * Differing exchanges by the noise keys of their differences, so that a key found noisy later
   * turns them into matches (bounded: past MAX_SIGNATURES new ones stay differed).
   */
  readonly signatures = new Map<string, number>();
  readonly shown = new Set<string>();
  readonly examples: DiffRecord[] = [];
  readonly production: LatencySamples;
  readonly candidate: LatencySamples;

  constructor(
    readonly method: string,
    readonly route: string,
    budget: SampleBudget,
  ) {
    this.production = new LatencySamples(budget);
    this.candidate = new LatencySamples(budget);
  }
}

const bump = (m: Map<string, number>, k: string, n = 1) => m.set(k, (m.get(k) ?? 0) + n);
const MAX_SIGNATURES = 256;
/** What add() returns for an exchange that matched without a comparison here (read-only). */
const NO_DIFFERENCES: Difference[] = Object.freeze([]) as unknown as Difference[];
/**
 * Distinct WHEREs counted per route (and noise keys remembered): JSON whose member names are ids
 * would otherwise grow them without end. Later ones are counted under "other".
 */
export const MAX_WHERES = 256;
/** Request targets longer than this are cut in diffs.jsonl and index.html. */
const MAX_PATH_CHARS = 2048;
/** Bytes (as JSON) of the exchanges kept for index.html, all routes together. */
const MAX_EXAMPLE_BYTES = 8 << 20;

function isoTime(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

/** A route's counts with the noise known now applied to every exchange seen. */
interface RouteView {
  matched: number;
  differed: number;
  noise: number;
  differences: Map<string, number>;
}

function viewOf(r: RouteState): RouteView {
  if (!r.noisy.size) return { matched: r.matched, differed: r.differed, noise: r.noise, differences: r.differences };
  const differences = new Map<string, number>();
  let moved = 0;
  for (const [where, n] of r.differences) {
    if (r.noisy.has(noiseKey(where))) moved += n;
    else differences.set(where, n);
  }
  let nowMatched = 0;
  for (const [sig, n] of r.signatures) if (sig.split('\n').every((k) => r.noisy.has(k))) nowMatched += n;
  return { matched: r.matched + nowMatched, differed: r.differed - nowMatched, noise: r.noise + moved, differences };
}

/** A kept differing exchange without the differences now known as noise; null when none is left. */
function withoutNoise(rec: DiffRecord, r: RouteState): DiffRecord | null {
  if (!r.noisy.size) return rec;
  const differences = rec.differences.filter((d) => !r.noisy.has(noiseKey(d.where)));
  if (differences.length === rec.differences.length) return rec;
  return differences.length || rec.differences_omitted ? { ...rec, differences } : null;
}

const record = (m: Map<string, number>) => Object.fromEntries(m);

/** The key noise is remembered under: array indices generalised, so a noisy field is noisy in every element. */
export function noiseKey(where: string): string {
  return where.startsWith('body:') ? where.replace(/\[\d+\]/g, '[*]') : where;
}

/** Milliseconds an answer took: to its last byte when known, else to its first. */
function answerMs(a: Answer): number | undefined {
  return a.durationMs ?? a.latencyMs;
}

function latency(s: LatencySamples): LatencySummary {
  const q = s.quantiles();
  const r = (v: number | null) => (v === null ? null : Math.round(v * 1000) / 1000);
  return { p50: r(q.p50), p90: r(q.p90), p99: r(q.p99) };
}

/** Writes through a temporary file renamed into place: a reader sees the old file or the new one. */
export function writeFileAtomic(file: string, data: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (err) {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // not ours to remove (a directory in the way): the error below names the file
    }
    throw new OutputError(`${file}: ${(err as Error).message}`);
  }
}

export class ShadowReport {
  private readonly caps: CardinalityCaps;
  private readonly routes = new Map<string, RouteState>();
  private readonly skips = new Map<string, number>();
  private readonly budget: SampleBudget;
  private readonly excerpt: ExcerptLimits;
  private readonly maxDiffBytes: number;
  private readonly examplesPerRoute: number;
  private readonly diffs: { rec: DiffRecord; route: RouteState }[] = [];
  private diffBytes = 0;
  private exampleBytes = 0;
  private diffsOmitted = 0;

  constructor(private readonly opts: ShadowReportOptions) {
    compileRules(opts.rules);
    this.caps = new CardinalityCaps({ maxServers: 1, maxRoutesPerServer: opts.maxRoutes });
    const s = opts.latencySamples ?? { maxPerSeries: 10_000, maxTotal: 1_000_000 };
    this.budget = sampleBudget(s.maxPerSeries, s.maxTotal);
    this.excerpt = { ...DEFAULT_EXCERPT_LIMITS, ...opts.excerpt };
    this.maxDiffBytes = opts.maxDiffBytes ?? 16 * 1024 * 1024;
    this.examplesPerRoute = opts.examplesPerRoute ?? 5;
  }

  private routeOf(info: ExchangeInfo): RouteState {
    const named = this.caps.route('', `${info.method} ${info.route}`);
    let r = this.routes.get(named);
    if (!r) {
      r = named === OTHER ? new RouteState('', OTHER, this.budget) : new RouteState(info.method, info.route, this.budget);
      this.routes.set(named, r);
    }
    return r;
  }

  /** Counts one exchange; returns the differences reported for it (noise removed). */
  add(info: ExchangeInfo, outcome: Outcome): Difference[] {
    const r = this.routeOf(info);
    const label = r.route === OTHER ? OTHER : `${r.method} ${r.route}`;
    const prodMs = answerMs(outcome.production);
    if (prodMs !== undefined) r.production.add(prodMs);
    if (outcome.kind === 'error') {
      r.errors++;
      bump(r.errorKinds, outcome.error);
      this.opts.metrics?.exchange(label, 'error', prodMs);
      return [];
    }
    const candMs = answerMs(outcome.candidate);
    if (candMs !== undefined) r.candidate.add(candMs);
    r.compared++;
    // The transport compared it already (same_answer.h, never with a primary): nothing to report.
    if (outcome.candidate.sameAsProduction && !outcome.primary) {
      r.matched++;
      this.opts.metrics?.exchange(label, 'match', prodMs, candMs);
      return NO_DIFFERENCES;
    }
    if (outcome.primary) {
      for (const d of compareExchange(outcome.production, outcome.primary, this.opts.rules, info.protocol).differences) {
        if (r.noisy.size < MAX_WHERES) r.noisy.add(noiseKey(d.where));
      }
    }
    const found = compareExchange(outcome.production, outcome.candidate, this.opts.rules, info.protocol);
    const reported = r.noisy.size ? found.differences.filter((d) => !r.noisy.has(noiseKey(d.where))) : found.differences;
    r.noise += found.differences.length - reported.length;
    if (!reported.length && !found.omitted) {
      r.matched++;
      this.opts.metrics?.exchange(label, 'match', prodMs, candMs);
      return reported;
    }
    r.differed++;
    for (const d of reported) bump(r.differences, r.differences.has(d.where) || r.differences.size < MAX_WHERES ? d.where : OTHER);
    const sig = [...new Set(reported.map((d) => noiseKey(d.where)))].sort().join('\n');
    if (!found.omitted && (r.signatures.has(sig) || r.signatures.size < MAX_SIGNATURES)) bump(r.signatures, sig);
    this.opts.metrics?.exchange(label, 'differ', prodMs, candMs);
    this.keep(r, info, outcome, reported, found.omitted);
    return reported;
  }

  private keep(r: RouteState, info: ExchangeInfo, o: Outcome & { kind: 'compared' }, differences: Difference[], omitted: number): void {
    const fresh = differences.some((d) => !r.shown.has(d.where));
    const wanted = r.examples.length < this.examplesPerRoute || (fresh && r.examples.length < 2 * this.examplesPerRoute);
    const full = this.diffBytes >= this.maxDiffBytes;
    if (full && (!wanted || this.exampleBytes >= MAX_EXAMPLE_BYTES)) {
      this.diffsOmitted++;
      return;
    }
    // Body windows start near the first whole-body difference, where there is one.
    const at = differences.find((d) => d.offset !== undefined)?.offset ?? 0;
    const rec: DiffRecord = {
      time: isoTime(info.ts),
      ts_ms: info.ts,
      connection: info.conn,
      protocol: info.protocol,
      method: info.method,
      path: cutString(info.path, MAX_PATH_CHARS),
      route: info.route,
      production: answerExcerpt(decodedAnswer(o.production), this.excerpt, at),
      candidate: answerExcerpt(decodedAnswer(o.candidate), this.excerpt, at),
      differences,
    };
    if (omitted) rec.differences_omitted = omitted;
    const bytes = Buffer.byteLength(JSON.stringify(rec)) + 1;
    if (wanted && this.exampleBytes + bytes <= MAX_EXAMPLE_BYTES) {
      r.examples.push(rec);
      this.exampleBytes += bytes;
      for (const d of differences) r.shown.add(d.where);
    }
    if (this.diffBytes + bytes > this.maxDiffBytes) {
      this.diffsOmitted++;
      this.diffBytes = this.maxDiffBytes;
      return;
    }
    this.diffs.push({ rec, route: r });
    this.diffBytes += bytes;
  }

  skip(reason: string, count = 1): void {
    bump(this.skips, reason, count);
    this.opts.metrics?.skipped(reason, count);
  }

  /** The kept differing exchanges as they are to be written (noise known now removed). */
  private liveDiffs(): DiffRecord[] {
    const out: DiffRecord[] = [];
    for (const { rec, route } of this.diffs) {
      const live = withoutNoise(rec, route);
      if (live) out.push(live);
    }
    return out;
  }

  /** The top-level counts alone: cheap enough for a progress line (no percentiles). */
  totals(): ShadowTotals {
    const t: ShadowTotals = { requests: 0, compared: 0, matched: 0, differed: 0, errors: 0, noise: 0 };
    for (const r of this.routes.values()) {
      const v = viewOf(r);
      t.compared += r.compared;
      t.errors += r.errors;
      t.matched += v.matched;
      t.differed += v.differed;
      t.noise += v.noise;
    }
    t.requests = t.compared + t.errors;
    return t;
  }

  summary(): ShadowSummary {
    return this.summaryWith(this.liveDiffs().length);
  }

  private summaryWith(diffsWritten: number): ShadowSummary {
    const states = [...this.routes.values()].sort((a, b) => {
      if ((a.route === OTHER) !== (b.route === OTHER)) return a.route === OTHER ? 1 : -1;
      return b.compared + b.errors - (a.compared + a.errors) || `${a.method} ${a.route}`.localeCompare(`${b.method} ${b.route}`);
    });
    const routes: RouteSummary[] = states.map((r) => {
      const v = viewOf(r);
      return {
        method: r.method,
        route: r.route,
        compared: r.compared,
        matched: v.matched,
        differed: v.differed,
        errors: r.errors,
        noise: v.noise,
        differences: record(new Map([...v.differences].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])))),
        error_kinds: record(r.errorKinds),
        production_ms: latency(r.production),
        candidate_ms: latency(r.candidate),
      };
    });
    const sum = (k: 'compared' | 'matched' | 'differed' | 'errors' | 'noise') => routes.reduce((n, r) => n + r[k], 0);
    return {
      requests: sum('compared') + sum('errors'),
      compared: sum('compared'),
      matched: sum('matched'),
      differed: sum('differed'),
      errors: sum('errors'),
      noise: sum('noise'),
      skipped: record(this.skips),
      routes,
      diffs_written: diffsWritten,
      diffs_omitted: this.diffsOmitted,
    };
  }

  /** Each route's kept differing exchanges (noise known now removed), in the summary's route order. */
  examples(summary = this.summary()): RouteExamples[] {
    return summary.routes.map((s) => {
      const key = s.route === OTHER ? OTHER : `${s.method} ${s.route}`;
      const r = this.routes.get(key);
      const examples = r ? r.examples.map((e) => withoutNoise(e, r)).filter((e): e is DiffRecord => e !== null) : [];
      return { key, examples };
    });
  }

  /** Writes DIR/summary.json, DIR/diffs.jsonl and DIR/index.html; may be called again to refresh them. */
  write(dir: string): void {
    try {
      makeDirs(dir);
    } catch (err) {
      throw new OutputError(`${dir}: ${(err as Error).message}`);
    }
    const diffs = this.liveDiffs();
    const summary = this.summaryWith(diffs.length);
    writeFileAtomic(path.join(dir, 'diffs.jsonl'), diffs.map((d) => `${JSON.stringify(d)}\n`).join(''));
    writeFileAtomic(path.join(dir, 'index.html'), renderReportHtml(summary, this.examples(summary)));
    writeFileAtomic(path.join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  }
}
