// DIR/index.html: one self-contained page, no script and no network. A Content-Security-Policy
// forbids every fetch (images, styles, frames, scripts) besides the inline style, and every piece
// of text is escaped: bodies and headers come from the traffic, hostile by assumption.
import type { DiffRecord, LatencySummary, RouteExamples, ShadowSummary } from './report';
import type { AnswerExcerpt } from './excerpt';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0}
th,td{border:1px solid #ccc;padding:.2em .5em;text-align:right}
th{background:#f3f3f3}
td.l,th.l{text-align:left}
tr.differ td.n-differed{background:#fde2e2}
tr.error td.n-errors{background:#fff1c2}
pre{white-space:pre-wrap;word-break:break-all;background:#f7f7f7;padding:.4em;margin:.2em 0;max-height:24em;overflow:auto}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:1em}
.ex{border-top:1px solid #ddd;margin-top:.8em;padding-top:.4em}
.where{font-family:monospace}
`;

const ms = (v: number | null) => (v === null ? '–' : String(v));
const cell = (v: string | number, cls = '') => `<td${cls ? ` class="${cls}"` : ''}>${escapeHtml(String(v))}</td>`;
const latencyCells = (l: LatencySummary) => cell(ms(l.p50)) + cell(ms(l.p90)) + cell(ms(l.p99));

function routesTable(s: ShadowSummary): string {
  const head =
    '<tr><th class="l" rowspan="2">Method</th><th class="l" rowspan="2">Route</th><th rowspan="2">Compared</th><th rowspan="2">Matched</th>' +
    '<th rowspan="2">Differed</th><th rowspan="2">Errors</th><th rowspan="2">Noise</th>' +
    '<th colspan="3">Production ms</th><th colspan="3">Candidate ms</th></tr>' +
    '<tr><th>p50</th><th>p90</th><th>p99</th><th>p50</th><th>p90</th><th>p99</th></tr>';
  const rows = s.routes.map((r, i) => {
    const cls = [r.differed ? 'differ' : '', r.errors ? 'error' : ''].filter(Boolean).join(' ');
    const name = r.differed ? `<a href="#route-${i}">${escapeHtml(r.route)}</a>` : escapeHtml(r.route);
    return (
      `<tr class="route ${cls}">${cell(r.method, 'l')}<td class="l">${name}</td>${cell(r.compared, 'n-compared')}${cell(r.matched, 'n-matched')}` +
      `${cell(r.differed, 'n-differed')}${cell(r.errors, 'n-errors')}${cell(r.noise, 'n-noise')}${latencyCells(r.production_ms)}${latencyCells(r.candidate_ms)}</tr>`
    );
  });
  const total =
    `<tr class="total"><td class="l" colspan="2">All routes</td>${cell(s.compared, 'n-compared')}${cell(s.matched, 'n-matched')}` +
    `${cell(s.differed, 'n-differed')}${cell(s.errors, 'n-errors')}${cell(s.noise, 'n-noise')}<td colspan="6"></td></tr>`;
  return `<table id="routes"><thead>${head}</thead><tbody>${rows.join('')}</tbody><tfoot>${total}</tfoot></table>`;
}

function skippedTable(s: ShadowSummary): string {
  const entries = Object.entries(s.skipped);
  if (!entries.length) return '<p id="skipped">Nothing skipped.</p>';
  const rows = entries.map(([k, v]) => `<tr>${cell(k, 'l')}${cell(v)}</tr>`).join('');
  return `<table id="skipped"><thead><tr><th class="l">Skipped</th><th>Count</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function headersText(list: [string, string][] | undefined): string {
  return (list ?? []).map(([n, v]) => `${n}: ${v}`).join('\n');
}

function side(title: string, a: AnswerExcerpt): string {
  const b = a.body;
  const grpc = a.grpc_status !== undefined ? ` grpc-status ${a.grpc_status}` : '';
  const range = b.bytes < b.length || b.offset ? ` (bytes ${b.offset}–${b.offset + b.bytes} of ${b.length}${b.truncated ? ', capture truncated' : ''})` : '';
  const enc = b.encoding === 'base64' ? ' base64' : '';
  const trailers = a.trailers?.length ? `<pre class="trailers">${escapeHtml(headersText(a.trailers))}</pre>` : '';
  return (
    `<div class="side"><h4>${escapeHtml(title)}: status ${a.status}${grpc}</h4>` +
    `<pre class="headers">${escapeHtml(headersText(a.headers))}</pre>` +
    `<div class="meta">body${enc}${escapeHtml(range)}</div><pre class="body">${escapeHtml(b.text)}</pre>${trailers}</div>`
  );
}

function example(e: DiffRecord): string {
  const diffs = e.differences
    .map((d) => {
      const at = d.offset !== undefined ? ` at byte ${d.offset}` : '';
      return `<tr><td class="l where">${escapeHtml(d.where)}${at}</td><td class="l">${escapeHtml(d.production)}</td><td class="l">${escapeHtml(d.candidate)}</td></tr>`;
    })
    .join('');
  const more = e.differences_omitted ? `<p>${e.differences_omitted} more differences not listed.</p>` : '';
  return (
    `<div class="ex"><div>${escapeHtml(e.time)} connection ${escapeHtml(e.connection)}: <code>${escapeHtml(`${e.method} ${e.path}`)}</code></div>` +
    `<table class="diffs"><thead><tr><th class="l">Where</th><th class="l">Production</th><th class="l">Candidate</th></tr></thead><tbody>${diffs}</tbody></table>${more}` +
    `<div class="pair">${side('Production', e.production)}${side('Candidate', e.candidate)}</div></div>`
  );
}

function routeSections(s: ShadowSummary, examples: RouteExamples[]): string {
  return s.routes
    .map((r, i) => {
      if (!r.differed) return '';
      const counts = Object.entries(r.differences)
        .map(([w, n]) => `<tr><td class="l where">${escapeHtml(w)}</td>${cell(n)}</tr>`)
        .join('');
      const shown = examples[i]?.examples ?? [];
      return (
        `<section class="route-diffs" id="route-${i}"><h3>${escapeHtml(`${r.method} ${r.route}`)}</h3>` +
        `<table class="where-counts"><thead><tr><th class="l">Where</th><th>Exchanges</th></tr></thead><tbody>${counts}</tbody></table>` +
        `${shown.map(example).join('')}</section>`
      );
    })
    .join('');
}

export function renderReportHtml(s: ShadowSummary, examples: RouteExamples[]): string {
  const omitted = s.diffs_omitted ? ` (${s.diffs_omitted} more differing exchanges not written to diffs.jsonl)` : '';
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<title>podspan shadow report</title><style>${STYLE}</style></head>
<body>
<h1>podspan shadow report</h1>
<p id="totals">${s.requests} requests: ${s.compared} compared, ${s.matched} matched, ${s.differed} differed, ${s.errors} errors, ${s.noise} noise differences suppressed${escapeHtml(omitted)}.</p>
<h2>Routes</h2>
${routesTable(s)}
${skippedTable(s)}
<h2>Differences</h2>
${routeSections(s, examples) || '<p>No differences.</p>'}
</body></html>
`;
}
