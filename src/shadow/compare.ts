// STAND-IN (replay branch) for Contract 2 until h/shadow-compare is merged: status, headers and
// whole bodies only. The compare helper owns this file; its version replaces this one.
import type { Answer } from './answer';

export interface CompareRules {
  ignoreHeaders: string[];
  ignoreJsonPaths: string[];
  ignoreValueRegex: RegExp[];
}
export interface Difference {
  where: string;
  production: string;
  candidate: string;
}
const DEFAULT_IGNORED = ['date', 'server', 'set-cookie', 'content-length', 'transfer-encoding', 'age', 'etag', 'x-request-id', 'connection', 'keep-alive'];

export function compareAnswers(production: Answer, candidate: Answer, rules: CompareRules): Difference[] {
  const out: Difference[] = [];
  if (production.status !== candidate.status) out.push({ where: 'status', production: String(production.status), candidate: String(candidate.status) });
  const ignored = new Set([...DEFAULT_IGNORED, ...rules.ignoreHeaders]);
  const byName = (h: [string, string][]) => {
    const m = new Map<string, string>();
    for (const [n, v] of h) if (!ignored.has(n.toLowerCase())) m.set(n.toLowerCase(), m.has(n.toLowerCase()) ? `${m.get(n.toLowerCase())}, ${v}` : v);
    return m;
  };
  const p = byName(production.headers);
  const c = byName(candidate.headers);
  for (const name of new Set([...p.keys(), ...c.keys()])) {
    if (p.get(name) !== c.get(name)) out.push({ where: `header:${name}`, production: p.get(name) ?? '', candidate: c.get(name) ?? '' });
  }
  if (!production.body.equals(candidate.body)) out.push({ where: production.status === 0 ? 'turn' : 'body', production: production.body.toString('latin1', 0, 200), candidate: candidate.body.toString('latin1', 0, 200) });
  return out;
}
