// deploy/grafana-dashboard.json: it parses, its panels are laid out without overlap, and every
// metric it queries is one the agent exports (from the agent's own registry), with only labels
// that metric has (the histogram's `le` on its buckets).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent';
import { ANALYTICS_METRIC_NAMES } from '../../src/analysis/metrics';
import { logger } from '../../src/observability/logger';
import { repoRoot } from '../helpers/tools';

interface Panel {
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets: { expr: string }[];
}
const dashboard = JSON.parse(fs.readFileSync(path.join(repoRoot, 'deploy', 'grafana-dashboard.json'), 'utf8')) as {
  panels: Panel[];
  templating: { list: { name: string; query: unknown }[] };
};
/** The agent's metrics by name, with their label names. */
const exported = new Map<string, { labelNames: string[] }>(
  new Agent('n', logger, { interfaceNames: () => [] }).registry.getMetricsAsArray().map((m) => {
    const metric = m as unknown as { name: string; labelNames: string[] };
    return [metric.name, metric];
  }),
);
const labelsOf = (m: { labelNames: string[] }) => m.labelNames;

/** `base` for podspan_x_bucket/_count/_sum when podspan_x is a histogram the agent exports. */
function baseName(name: string): { base: string; suffix: string } {
  const m = /^(.*)_(bucket|count|sum)$/.exec(name);
  if (m && !exported.has(name) && exported.has(m[1])) return { base: m[1], suffix: m[2] };
  return { base: name, suffix: '' };
}

const queries = [
  ...dashboard.panels.flatMap((p) => p.targets.map((t) => ({ where: p.title, expr: t.expr }))),
  ...dashboard.templating.list.filter((v) => typeof v.query === 'object').map((v) => ({ where: `variable ${v.name}`, expr: (v.query as { query: string }).query })),
];

describe('Grafana dashboard', () => {
  it('has panels for each area the analytics export, none overlapping', () => {
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(8);
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), p.title).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
    }
  });

  it('queries only metrics the agent exports, and every analytics metric is shown', () => {
    const used = new Set<string>();
    for (const q of queries) {
      const names = q.expr.match(/\bpodspan_[a-z_]+/g) ?? [];
      expect(names.length, q.where).toBeGreaterThan(0);
      for (const n of names) {
        const { base } = baseName(n);
        expect(exported.has(base), `${q.where}: ${n}`).toBe(true);
        used.add(base);
      }
    }
    for (const n of ANALYTICS_METRIC_NAMES) expect(used.has(n), n).toBe(true);
  });

  it('selects and groups only by labels the metric has', () => {
    for (const q of queries) {
      for (const m of q.expr.matchAll(/\b(podspan_[a-z_]+)(?:\{([^}]*)\})?/g)) {
        const { base, suffix } = baseName(m[1]);
        const labels = new Set([...labelsOf(exported.get(base)!), ...(suffix === 'bucket' ? ['le'] : [])]);
        for (const [, label] of (m[2] ?? '').matchAll(/([a-z_]+)\s*[=!]~?/g)) expect(labels.has(label), `${q.where}: ${m[1]} has no label ${label}`).toBe(true);
      }
      // sum by (a, b) (... metric ...): every grouping label exists on the metric inside.
      for (const g of q.expr.matchAll(/by \(([^)]*)\) \(([^]*?podspan_[a-z_]+)/g)) {
        const { base, suffix } = baseName(/podspan_[a-z_]+/.exec(g[2])![0]);
        const labels = new Set([...labelsOf(exported.get(base)!), ...(suffix === 'bucket' ? ['le'] : [])]);
        for (const l of g[1].split(',').map((s) => s.trim())) expect(labels.has(l), `${q.where}: by ${l}`).toBe(true);
      }
    }
  });
});
