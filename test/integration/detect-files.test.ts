// Detection from capture files (`podspan analyze -r FILE --alerts`), on crafted traffic whose every
// rate is known: a request surge (the same requests replayed twenty times faster for ten
// seconds), an error surge, one noisy client, a SYN flood after normal traffic, ten minutes of
// steady but noisy load (no alert), and a million distinct sources (memory bounded by the caps).
// Capture time drives detection, so a file gives what live traffic would.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionFrames, nthAddress, PcapStream, synFrame, udpFrame, type HttpExchange } from '../helpers/craft-traffic';
import { corpusDir, corpusEntries, podspanBin, run } from '../helpers/tools';
import { readRecords } from '../../src/analysis/native-records';
import { DEFAULT_DETECT, nativeDetectOptions } from '../../src/config/detect-options';
import type { AlertRecord } from '../../src/detection/alert-record';

const corpus = corpusDir();
if (!corpus) console.log('detection corpus test skipped: no ../shared/corpus (set PODSPAN_CORPUS to its folder)');

const T0 = 1_790_000_000e9; // ns
const S = 1e9;
const SERVER = '10.0.0.2';

let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-detect-files-'))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A seeded generator, so every run crafts the same file. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Requests of one client at `rate` per second from `from` to `to` (s), ids and jitter from `rnd`. */
function requests(rnd: () => number, from: number, to: number, rate: number, path: (i: number) => string, status: (i: number) => number = () => 200): HttpExchange[] {
  const out: HttpExchange[] = [];
  const step = S / rate;
  let i = 0;
  for (let t = from * S; t < to * S; t += step, i++) out.push({ atNs: T0 + t + Math.floor(rnd() * step * 0.5), path: path(i), status: status(i) });
  return out;
}

/** Writes the connections' frames in time order; each client's exchanges on one keep-alive connection. */
function writeConnections(file: string, clients: { addr: string; exchanges: HttpExchange[] }[]): void {
  const frames = clients.flatMap((c, i) => connectionFrames(c.addr, 40000 + i, SERVER, c.exchanges));
  frames.sort((a, b) => a.tsNs - b.tsNs);
  const out = new PcapStream(file);
  for (const f of frames) out.add(f.tsNs, f.frame);
  out.close();
}

function analyze(file: string, extra: string[] = []): { code: number; stderr: string; alerts: AlertRecord[]; dir: string } {
  const dir = path.join(tmp, path.basename(file, '.pcap'));
  const r = run('/usr/bin/time', ['-f', 'maxrss_kb=%M', process.execPath, podspanBin, 'analyze', '-r', file, '-o', dir, '--alerts', '--top', '0', ...extra], { timeoutMs: 300_000 });
  const text = fs.existsSync(path.join(dir, 'alerts.jsonl')) ? fs.readFileSync(path.join(dir, 'alerts.jsonl'), 'utf8') : '';
  const alerts = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as AlertRecord);
  return { code: r.code, stderr: r.stderr, alerts, dir };
}

const secondOf = (iso: string) => Math.floor(Date.parse(iso) / 1000) - T0 / S;
const fired = (alerts: AlertRecord[]) => alerts.filter((a) => a.state === 'fired');

describe('detection from capture files', () => {
  it('a request surge: the same requests twenty times faster for ten seconds fire request_surge on their route, and it clears', () => {
    const rnd = random(1);
    const items = (i: number) => `/api/items/${1000 + i}`;
    const clients = [0, 1, 2, 3].map((c) => ({
      addr: `10.1.0.${c + 1}`,
      // 300 s at 5 req/s each (20 in all), then 10 s at 100 each (the replay at speed 20), then 60 s at 5.
      exchanges: [...requests(rnd, 0, 300, 5, items), ...requests(rnd, 300, 310, 100, items), ...requests(rnd, 310, 370, 5, items)],
    }));
    clients.push({ addr: '10.1.0.9', exchanges: requests(rnd, 0, 370, 2, () => '/health') });
    const file = path.join(tmp, 'surge.pcap');
    writeConnections(file, clients);
    const r = analyze(file);
    expect(r.code, r.stderr).toBe(0);
    const surge = fired(r.alerts).filter((a) => a.kind === 'request_surge' && a.route === '/api/items/{id}');
    expect(surge, JSON.stringify(r.alerts)).toHaveLength(1);
    const a = surge[0];
    expect(a).toMatchObject({ server: SERVER, server_port: 80, unit: 'req/s' });
    expect(a.rate).toBeGreaterThanOrEqual(350);
    expect(a.baseline).toBeLessThan(30);
    expect(secondOf(a.ts)).toBeGreaterThanOrEqual(300);
    expect(secondOf(a.ts)).toBeLessThanOrEqual(305);
    // Only this surge: nothing about /health, no other kind (the server alone may alert as well).
    for (const o of fired(r.alerts)) expect(o.kind === 'request_surge' && (o.route === null || o.route === '/api/items/{id}'), JSON.stringify(o)).toBe(true);
    const cleared = r.alerts.find((c) => c.state === 'cleared' && c.alert_id === a.alert_id);
    expect(cleared, 'cleared after the surge').toBeTruthy();
    expect(secondOf(cleared!.ts)).toBeLessThanOrEqual(330);
    expect(cleared!.started).toBe(a.ts);
    expect(r.stderr).toMatch(/^alert A\d+ request_surge fired: 10\.0\.0\.2:80 route \/api\/items\/\{id\} at \d+ req\/s/m);
  });

  it('an error surge: 60% 503s for ten seconds fire error_surge on the server; a steady 40 req/s does not', () => {
    const rnd = random(2);
    const items = (i: number) => `/api/items/${i}`;
    const failing = (i: number) => (i % 5 < 3 ? 503 : 200);
    const clients = [0, 1, 2, 3].map((c) => ({
      addr: `10.2.0.${c + 1}`,
      exchanges: [...requests(rnd, 0, 300, 10, items), ...requests(rnd, 300, 310, 10, items, failing), ...requests(rnd, 310, 340, 10, items)],
    }));
    const file = path.join(tmp, 'errors.pcap');
    writeConnections(file, clients);
    const r = analyze(file);
    expect(r.code, r.stderr).toBe(0);
    expect(fired(r.alerts).map((a) => a.kind), JSON.stringify(r.alerts)).toEqual(['error_surge']);
    const a = fired(r.alerts)[0];
    expect(a).toMatchObject({ server: SERVER, server_port: 80, unit: 'errors/s' });
    expect(a.share!).toBeGreaterThan(0.5);
    expect(secondOf(a.ts)).toBeGreaterThanOrEqual(300);
    expect(secondOf(a.ts)).toBeLessThanOrEqual(305);
  });

  it('one noisy client: a source whose share of the server jumps from a tenth to two thirds', () => {
    const rnd = random(3);
    const items = (i: number) => `/api/items/${i}`;
    const clients = Array.from({ length: 10 }, (_, c) => ({
      addr: `10.3.0.${c + 1}`,
      exchanges: c === 7 ? [...requests(rnd, 0, 300, 10, items), ...requests(rnd, 300, 310, 200, items), ...requests(rnd, 310, 340, 10, items)] : requests(rnd, 0, 340, 10, items),
    }));
    const file = path.join(tmp, 'noisy.pcap');
    writeConnections(file, clients);
    const r = analyze(file);
    expect(r.code, r.stderr).toBe(0);
    const noisy = fired(r.alerts).filter((a) => a.kind === 'noisy_client');
    expect(noisy, JSON.stringify(r.alerts)).toHaveLength(1);
    expect(noisy[0]).toMatchObject({ server: SERVER, server_port: 80, source: '10.3.0.8' });
    expect(noisy[0].share!).toBeGreaterThan(0.6);
  });

  it('ten minutes of steady, noisy load (bursts of twice the mean) raise no alert', () => {
    const rnd = random(4);
    // 8 clients, each 25 req/s on average, every second's count drawn between 0.5x and 1.5x.
    const clients = Array.from({ length: 8 }, (_, c) => {
      const exchanges: HttpExchange[] = [];
      for (let sec = 0; sec < 600; sec++) {
        const n = Math.round(25 * (0.5 + rnd()));
        for (let k = 0; k < n; k++) exchanges.push({ atNs: T0 + sec * S + Math.floor(((k + rnd() * 0.5) / n) * S), path: `/r/${k % 3}/${sec}`, status: rnd() < 0.01 ? 500 : 200 });
      }
      return { addr: `10.4.0.${c + 1}`, exchanges };
    });
    const file = path.join(tmp, 'steady.pcap');
    writeConnections(file, clients);
    const r = analyze(file);
    expect(r.code, r.stderr).toBe(0);
    expect(r.alerts, JSON.stringify(r.alerts)).toEqual([]);
    expect(r.stderr).toMatch(/^0 alerts \(0 still firing at the end\)/m);
  });

  it('a SYN flood after normal traffic: one syn_flood on the server, evidence from before the alert, read by tshark', () => {
    const rnd = random(5);
    const frames = connectionFrames('10.5.0.1', 40001, SERVER, requests(rnd, 0, 60, 5, (i) => `/x/${i}`));
    // 20 s of normal traffic, then 10 s of 5000 SYNs/s from random-looking sources, then 30 s normal.
    for (let i = 0; i < 50_000; i++) frames.push({ tsNs: T0 + 20 * S + i * 200_000, frame: synFrame(nthAddress(i * 7919 % 1_000_000), 1024 + (i % 60000), SERVER, 80) });
    frames.sort((a, b) => a.tsNs - b.tsNs);
    const file = path.join(tmp, 'synflood.pcap');
    const out = new PcapStream(file);
    for (const f of frames) out.add(f.tsNs, f.frame);
    out.close();
    const r = analyze(file, ['--detect', 'preTriggerSeconds=5', '--detect', 'postTriggerSeconds=3']);
    expect(r.code, r.stderr).toBe(0);
    expect(fired(r.alerts).map((a) => a.kind), JSON.stringify(r.alerts)).toEqual(['syn_flood']);
    const a = fired(r.alerts)[0];
    expect(a).toMatchObject({ server: SERVER, server_port: 80, unit: 'syn/s', evidence: 'evidence/A1-syn_flood.pcapng' });
    expect(a.rate).toBeGreaterThanOrEqual(4900);
    expect(secondOf(a.ts) - 20).toBeLessThanOrEqual(5);
    expect(r.alerts.some((c) => c.state === 'cleared' && c.alert_id === a.alert_id)).toBe(true);
    // The evidence, judged by tshark: the comment names the alert; packets from before the alert
    // (at most preTriggerSeconds) to postTriggerSeconds after it.
    const ev = path.join(r.dir, a.evidence!);
    const fields = run('tshark', ['-r', ev, '-T', 'fields', '-e', 'frame.time_epoch']);
    expect(fields.code, fields.stderr).toBe(0);
    const times = fields.stdout.trim().split('\n').map(Number);
    const alertAt = Date.parse(a.ts) / 1000;
    expect(times[0]).toBeLessThan(alertAt);
    expect(times[0]).toBeGreaterThanOrEqual(alertAt - 5 - 2 - 1e-6); // the ring keeps 2 s more (README)
    expect(times[times.length - 1]).toBeLessThanOrEqual(alertAt + 3 + 1);
    expect(times.length).toBeGreaterThan(5000 * 3); // the flood from its start, and postTriggerSeconds of it after the alert
    const info = run('capinfos', ['-k', ev]);
    expect(info.stdout).toMatch(/Capture comment: +.*A1.*syn_flood.*10\.0\.0\.2/);
  });

  it('a million distinct sources: the detector keeps at most maxSources of them and memory stays bounded', () => {
    const make = (name: string, distinct: number) => {
      const file = path.join(tmp, name);
      const out = new PcapStream(file);
      // Each source probes two ports in a row; with portScan.floor 8 a source gets a key from its
      // second probe of a second (at the default floor, from its eighth: a million one-off
      // sources would make no keys at all).
      for (let i = 0; i < 2_000_000; i++) out.add(T0 + i * 5_000, udpFrame(nthAddress((i >> 1) % distinct), 40000, SERVER, 5000 + (i % 7)));
      out.close();
      return file;
    };
    const many = analyze(make('million.pcap', 1_000_000), ['--detect', 'portScan.floor=8']);
    const few = analyze(make('thousand.pcap', 1_000), ['--detect', 'portScan.floor=8']);
    for (const r of [many, few]) expect(r.code, r.stderr).toBe(0);
    const rss = (r: { stderr: string }) => Number(/maxrss_kb=(\d+)/.exec(r.stderr)![1]) * 1024;
    console.log(`a million sources: peak RSS ${(rss(many) / 2 ** 20).toFixed(0)} MiB, a thousand: ${(rss(few) / 2 ** 20).toFixed(0)} MiB`);
    // The key tables are capped (65,536 sources by default): a million sources cost no more than a
    // thousand beyond those tables' few MiB.
    expect(rss(many) - rss(few), `${rss(many)} vs ${rss(few)}`).toBeLessThan(48 * 2 ** 20);
    expect(many.stderr).toMatch(/detector: 65536 sources tracked \(maxSources 65536\), \d+ evicted/);
    const evicted = Number(/sources tracked \(maxSources 65536\), (\d+) evicted/.exec(many.stderr)![1]);
    expect(evicted).toBeGreaterThanOrEqual(1_000_000 - 65536);
  }, 300_000);

  it.skipIf(!corpus)('every readable capture of the third-party corpus, at the default thresholds: no alert', async () => {
    const entries = corpusEntries(corpus!).filter((e) => !e.corrupt);
    expect(entries.length).toBeGreaterThan(100);
    const found: string[] = [];
    for (const e of entries) {
      const r = await readRecords(e.path, { detect: nativeDetectOptions(DEFAULT_DETECT, false) }).catch(() => undefined); // unreadable ones: the corpus test's business
      for (const a of r?.alerts ?? []) found.push(`${e.file}: ${JSON.stringify(a)}`);
      if (r) expect(r.flows.length + r.http.length + r.dns.length, `${e.file}: records: false`).toBe(0);
    }
    expect(found).toEqual([]);
  }, 240_000);
});
