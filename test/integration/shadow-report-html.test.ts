// index.html judged by a real browser: Debian's Chromium (headless) loads the page written by
// ShadowReport and dumps the DOM it built. The routes table rows and counts must be those of the
// summary, and hostile bodies and headers (a <script>, an <img> and a stylesheet pointing at a
// local server) must show as text: the page makes no request at all. A control page with a bare
// <img> proves that the same browser and server do see a request when a page makes one.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Answer, ExchangeInfo } from '../../src/shadow/answer';
import { compareRules } from '../../src/shadow/compare';
import { ShadowReport } from '../../src/shadow/report';

const chromium = ['chromium', 'chromium-browser'].map((c) => path.join('/usr/bin', c)).find((p) => fs.existsSync(p));
if (!chromium) console.warn('shadow-report-html: skipped, no chromium installed (apt-get install chromium)');

let work: string;
let server: http.Server;
let port = 0;
const hits: string[] = [];

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'shadow-html-'));
  server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    res.end('x');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  fs.rmSync(work, { recursive: true, force: true });
});

/** Chromium's DOM of `file` after loading it (its own profile directory, removed afterwards). */
function dumpDom(file: string): Promise<string> {
  const profile = fs.mkdtempSync(path.join(work, 'profile-'));
  const args = ['--headless', '--disable-gpu', '--no-sandbox', '--no-first-run', `--user-data-dir=${profile}`, '--virtual-time-budget=3000', '--dump-dom', `file://${file}`];
  return new Promise((resolve, reject) => {
    execFile(chromium!, args, { timeout: 90_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      fs.rmSync(profile, { recursive: true, force: true });
      if (err) reject(new Error(`chromium failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

const stripTags = (s: string) => s.replace(/<[^>]*>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&');

/** Rows of the table with id `id` in Chromium's serialised DOM: each row's cell texts. */
function tableRows(dom: string, id: string, part: 'tbody' | 'tfoot'): string[][] {
  const table = new RegExp(`<table id="${id}">([\\s\\S]*?)</table>`).exec(dom)?.[1] ?? '';
  const section = new RegExp(`<${part}>([\\s\\S]*?)</${part}>`).exec(table)?.[1] ?? '';
  return [...section.matchAll(/<tr[^>]*>([\s\S]*?)<\/tr>/g)].map((m) => [...m[1].matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((c) => stripTags(c[1])));
}

describe.skipIf(!chromium)('index.html in headless Chromium', () => {
  it('a control page with an <img> does reach the local server (the judge works)', async () => {
    const file = path.join(work, 'control.html');
    fs.writeFileSync(file, `<!DOCTYPE html><html><body><img src="http://127.0.0.1:${port}/control.png"></body></html>`);
    await dumpDom(file);
    expect(hits).toContain('/control.png');
  });

  it('renders the routes table with the summary counts, hostile content as text, and makes no request', async () => {
    hits.length = 0;
    const hostile = `<script>document.title='pwned';fetch('http://127.0.0.1:${port}/script')</script><img src="http://127.0.0.1:${port}/img.png" onerror="document.title='pwned'"><link rel="stylesheet" href="http://127.0.0.1:${port}/style.css"><style>@import url(http://127.0.0.1:${port}/import.css)</style>`;
    const report = new ShadowReport({ maxRoutes: 10, rules: compareRules() });
    const answer = (body: string, extra: Partial<Answer> = {}): Answer => {
      const b = Buffer.from(body);
      return { status: 200, headers: [['Content-Type', 'application/json']], body: b, bodyLength: b.length, bodyTruncated: false, durationMs: 10, ...extra };
    };
    const info = (i: number, route: string, p = route): ExchangeInfo => ({ conn: String(i), ts: 1_700_000_000_000 + i, method: 'GET', path: p, route, protocol: 'http' });
    for (let i = 0; i < 6; i++) report.add(info(i, '/api/users/{id}', `/api/users/${i}`), { kind: 'compared', production: answer(JSON.stringify({ id: i, bio: 'ok' })), candidate: answer(JSON.stringify({ id: i, bio: i < 2 ? hostile : 'ok' }), { durationMs: 30 }) });
    for (let i = 0; i < 3; i++)
      report.add(info(10 + i, `/<b>page</b>"'`), {
        kind: 'compared',
        production: answer(`<html>${hostile}</html>`, { headers: [['Content-Type', 'text/html'], ['X-Evil', `"><img src="http://127.0.0.1:${port}/header.png">`]] }),
        candidate: answer(`<html>${hostile}!</html>`, { headers: [['Content-Type', 'text/html'], ['X-Evil', 'fine']] }),
      });
    report.add(info(20, '/health'), { kind: 'error', production: answer('{}'), error: 'timeout' });
    report.skip('method', 3);
    const dir = path.join(work, 'report');
    report.write(dir);
    const summary = report.summary();

    const dom = await dumpDom(path.join(dir, 'index.html'));
    expect(hits).toEqual([]);
    expect(/<title>([^<]*)<\/title>/.exec(dom)?.[1]).toBe('podspan shadow report');
    // Nothing from the bodies became an element: no script, image or stylesheet link exists.
    expect(dom).not.toMatch(/<(script|img|link|iframe)\b/i);
    expect(dom).toContain('&lt;script&gt;document.title=');

    const rows = tableRows(dom, 'routes', 'tbody');
    expect(rows).toEqual(
      summary.routes.map((r) => [
        r.method,
        r.route,
        String(r.compared),
        String(r.matched),
        String(r.differed),
        String(r.errors),
        String(r.noise),
        ...[r.production_ms, r.candidate_ms].flatMap((l) => [l.p50, l.p90, l.p99].map((v) => (v === null ? '–' : String(v)))),
      ]),
    );
    expect(rows.map((r) => r.slice(0, 6))).toEqual([
      ['GET', '/api/users/{id}', '6', '4', '2', '0'],
      ['GET', `/<b>page</b>"'`, '3', '0', '3', '0'],
      ['GET', '/health', '0', '0', '0', '1'],
    ]);
    expect(tableRows(dom, 'routes', 'tfoot')[0].slice(0, 6)).toEqual(['All routes', '9', '4', '5', '1', '0']);
    expect(tableRows(dom, 'skipped', 'tbody')).toEqual([['method', '3']]);
    // Each differing route has its section with the differences by where and side-by-side excerpts.
    const sections = [...dom.matchAll(/<section class="route-diffs" id="route-(\d+)">([\s\S]*?)<\/section>/g)];
    expect(sections.map((s) => s[1])).toEqual(['0', '1']);
    expect(stripTags(sections[0][2])).toContain('body:$.bio');
    expect(stripTags(sections[1][2])).toContain('header:x-evil');
    expect(stripTags(sections[1][2])).toContain(`X-Evil: "><img src="http://127.0.0.1:${port}/header.png">`);
    expect((sections[0][2].match(/<div class="pair">/g) ?? []).length).toBe(2);
  });
});
