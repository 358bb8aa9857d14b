// JSON paths as the comparison names them (`$.items[3].price`, `$['a b']`) and the patterns of
// `--ignore body:PATH` rules, which add wildcards: `[*]` or `.*` (any one member or element) and
// `..name` (at any depth). A pattern names a subtree: everything under a matched path is ignored.
import { UsageError } from '../errors';

/** One step of a concrete path: an object member or an array element. */
export type PathStep = string | number;

export type PatternStep =
  | { kind: 'key'; key: string }
  | { kind: 'index'; index: number }
  | { kind: 'any' }
  | { kind: 'descend' };

/** A JSON path pattern that does not parse; names the pattern and the offending position. */
export class JsonPathError extends UsageError {
  constructor(
    readonly pattern: string,
    readonly position: number,
    readonly reason: string,
  ) {
    super(`JSON path "${pattern}": ${reason} at character ${position + 1}`);
  }
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** The path as people read it: `$.a[3]['b c']`. */
export function formatPath(steps: readonly PathStep[]): string {
  let out = '$';
  for (const s of steps) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (IDENTIFIER.test(s)) out += `.${s}`;
    else out += `['${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`;
  }
  return out;
}

/** The same path with every array index replaced by `[*]` (the key noise is remembered under). */
export function generalizePath(steps: readonly PathStep[]): string {
  return formatPath(steps.map((s) => (typeof s === 'number' ? -1 : s))).replace(/\[-1\]/g, '[*]');
}

export function parsePathPattern(pattern: string): PatternStep[] {
  if (pattern[0] !== '$') throw new JsonPathError(pattern, 0, 'expected "$"');
  const steps: PatternStep[] = [];
  let i = 1;
  const fail = (reason: string): never => {
    throw new JsonPathError(pattern, i, reason);
  };
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === '.') {
      i++;
      if (pattern[i] === '.') {
        i++;
        steps.push({ kind: 'descend' });
        if (pattern[i] === '[') continue;
      }
      if (pattern[i] === '*') {
        i++;
        steps.push({ kind: 'any' });
        continue;
      }
      const m = /^[A-Za-z_$][A-Za-z0-9_$-]*/.exec(pattern.slice(i));
      if (!m) fail('expected a member name');
      steps.push({ kind: 'key', key: m![0] });
      i += m![0].length;
    } else if (c === '[') {
      i++;
      const q = pattern[i];
      if (q === '*') {
        i++;
        steps.push({ kind: 'any' });
      } else if (q === "'" || q === '"') {
        let key = '';
        for (i++; ; i++) {
          if (i >= pattern.length) fail(`unclosed ${q}`);
          if (pattern[i] === '\\' && i + 1 < pattern.length) key += pattern[++i];
          else if (pattern[i] === q) break;
          else key += pattern[i];
        }
        i++;
        steps.push({ kind: 'key', key });
      } else {
        const m = /^\d+/.exec(pattern.slice(i));
        if (!m) fail('expected an index, * or a quoted name');
        steps.push({ kind: 'index', index: Number(m![0]) });
        i += m![0].length;
      }
      if (pattern[i] !== ']') fail('expected "]"');
      i++;
    } else {
      fail(`unexpected "${c}"`);
    }
  }
  return steps;
}

function stepMatches(p: PatternStep, s: PathStep): boolean {
  if (p.kind === 'any') return true;
  if (p.kind === 'key') return s === p.key;
  if (p.kind === 'index') return s === p.index;
  return false;
}

/** True when `steps` is the pattern's path or lies under it. */
export function pathMatches(pattern: readonly PatternStep[], steps: readonly PathStep[], pi = 0, si = 0): boolean {
  if (pi === pattern.length) return true;
  const p = pattern[pi];
  if (p.kind === 'descend') {
    for (let k = si; k < steps.length; k++) if (pathMatches(pattern, steps, pi + 1, k)) return true;
    return false;
  }
  if (si === steps.length) return false;
  return stepMatches(p, steps[si]) && pathMatches(pattern, steps, pi + 1, si + 1);
}
