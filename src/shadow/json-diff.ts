// Field-by-field comparison of two parsed JSON documents. Reports, by path: a member missing or
// added, a value of another type, another value, an array of another length (its common prefix is
// still compared element by element). Ignored subtrees are skipped; masked values compare equal
// when what is left after masking is equal. At most `maxDifferences` are kept, the rest counted.
import type { Difference } from './compare';
import { formatPath, pathMatches, type PathStep, type PatternStep } from './json-path';

export const ABSENT = '(absent)';
/** Longest rendering of one value in a difference (the report's excerpts show more). */
const MAX_VALUE_CHARS = 200;
/** Deeper documents are compared as text: recursion stays bounded whatever the body holds. */
export const MAX_JSON_DEPTH = 128;

export class JsonTooDeep extends Error {}

export interface JsonDiffOptions {
  ignored: readonly PatternStep[][];
  /** Applied to string and number leaves before they are compared (identity when no masks). */
  mask: ((text: string) => string) | null;
  maxDifferences: number;
}

export function renderValue(v: unknown): string {
  if (v === undefined) return ABSENT;
  let s: string;
  try {
    s = JSON.stringify(v);
  } catch {
    s = String(v);
  }
  return s.length > MAX_VALUE_CHARS ? `${s.slice(0, MAX_VALUE_CHARS - 1)}…` : s;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

export class JsonDiff {
  readonly differences: Difference[] = [];
  omitted = 0;
  private readonly steps: PathStep[] = [];

  constructor(private readonly opts: JsonDiffOptions) {}

  /** Compares two documents; throws JsonTooDeep past MAX_JSON_DEPTH (the caller falls back to text). */
  run(production: unknown, candidate: unknown): this {
    this.visit(production, candidate);
    return this;
  }

  private report(production: string, candidate: string): void {
    if (this.differences.length >= this.opts.maxDifferences) {
      this.omitted++;
      return;
    }
    this.differences.push({ where: `body:${formatPath(this.steps)}`, production, candidate });
  }

  private isIgnored(): boolean {
    for (const p of this.opts.ignored) if (pathMatches(p, this.steps)) return true;
    return false;
  }

  private child(step: PathStep, a: unknown, b: unknown): void {
    this.steps.push(step);
    if (this.steps.length > MAX_JSON_DEPTH) throw new JsonTooDeep();
    this.visit(a, b);
    this.steps.pop();
  }

  private visit(a: unknown, b: unknown): void {
    if (this.isIgnored()) return;
    if (a === undefined || b === undefined) return this.report(renderValue(a), renderValue(b));
    const ta = typeOf(a);
    if (ta !== typeOf(b)) return this.report(renderValue(a), renderValue(b));
    if (ta === 'array') {
      const xs = a as unknown[];
      const ys = b as unknown[];
      if (xs.length !== ys.length) this.report(`array of ${xs.length}`, `array of ${ys.length}`);
      const n = Math.min(xs.length, ys.length);
      for (let i = 0; i < n; i++) this.child(i, xs[i], ys[i]);
      return;
    }
    if (ta === 'object') {
      const x = a as Record<string, unknown>;
      const y = b as Record<string, unknown>;
      for (const k of Object.keys(x)) this.child(k, x[k], Object.hasOwn(y, k) ? y[k] : undefined);
      for (const k of Object.keys(y)) if (!Object.hasOwn(x, k)) this.child(k, undefined, y[k]);
      return;
    }
    if (a === b) return;
    const mask = this.opts.mask;
    if (mask && (ta === 'string' || ta === 'number') && mask(String(a)) === mask(String(b))) return;
    this.report(renderValue(a), renderValue(b));
  }
}
