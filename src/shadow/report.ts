// STAND-IN (replay branch) for Contract 2 until h/shadow-compare is merged: counts and
// per-route differences, summary.json only. The compare helper owns this file; its version
// replaces this one.
import fs from 'node:fs';
import path from 'node:path';
import type { ExchangeInfo, Outcome } from './answer';
import { compareAnswers, type CompareRules, type Difference } from './compare';

interface RouteCounts {
  method: string;
  route: string;
  compared: number;
  differed: number;
  errors: number;
  differences: Record<string, number>;
}
export interface ShadowSummary {
  requests: number;
  compared: number;
  matched: number;
  differed: number;
  errors: number;
  skipped: Record<string, number>;
  routes: RouteCounts[];
}

export class ShadowReport {
  private readonly s: ShadowSummary = { requests: 0, compared: 0, matched: 0, differed: 0, errors: 0, skipped: {}, routes: [] };
  private readonly routes = new Map<string, RouteCounts>();
  readonly errorsByKind: Record<string, number> = {};
  constructor(private readonly opts: { maxRoutes: number; rules: CompareRules }) {}

  add(info: ExchangeInfo, outcome: Outcome): Difference[] {
    this.s.requests++;
    const key = `${info.method} ${info.route}`;
    let r = this.routes.get(key);
    if (!r) this.routes.set(key, (r = { method: info.method, route: info.route, compared: 0, differed: 0, errors: 0, differences: {} }));
    if (outcome.kind === 'error') {
      this.s.errors++;
      r.errors++;
      this.errorsByKind[outcome.error] = (this.errorsByKind[outcome.error] ?? 0) + 1;
      return [];
    }
    this.s.compared++;
    r.compared++;
    let diffs = compareAnswers(outcome.production, outcome.candidate, this.opts.rules);
    if (outcome.primary) {
      const noise = new Set(compareAnswers(outcome.production, outcome.primary, this.opts.rules).map((d) => d.where));
      diffs = diffs.filter((d) => !noise.has(d.where));
    }
    if (diffs.length) {
      this.s.differed++;
      r.differed++;
      for (const d of diffs) r.differences[d.where] = (r.differences[d.where] ?? 0) + 1;
    } else this.s.matched++;
    return diffs;
  }

  skip(reason: string, count = 1): void {
    this.s.skipped[reason] = (this.s.skipped[reason] ?? 0) + count;
  }

  summary(): ShadowSummary {
    return { ...this.s, skipped: { ...this.s.skipped }, routes: [...this.routes.values()] };
  }

  write(dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify(this.summary(), null, 2) + '\n');
  }
}
