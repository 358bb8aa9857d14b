// The fixed rows the addon hands beside the JSON lines (record-rows.ts, native/core/analysis/
// record_rows.h), judged by the lines themselves: for every record of every batch, over the
// fixtures and the corpus, the row's line span is that record's line, and every value the row
// holds equals the value JSON.parse gives for the line (null where the line has null); and the
// summary and the metrics made from the rows equal those made from the parsed lines; and the
// lines the outputs get with pod fields spliced on parse to the lines PodIndex.enrich makes.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaptureSession, fileCaptureOptions } from '../../src/capture/session';
import type { RecordBatch } from '../../src/analysis/native-records';
import { parseJsonLines, type Endpoints } from '../../src/analysis/records';
import { DnsRows, dnsFacts, FlowRows, flowFacts, HttpRows, httpFacts, SAME_A, SAME_B, SAME_SERVER, SpanStrings } from '../../src/analysis/record-rows';
import { Aggregator } from '../../src/analysis/aggregate';
import { RecordPipeline } from '../../src/analysis/pipeline';
import { AnalyticsMetrics } from '../../src/analysis/metrics';
import { Registry } from 'prom-client';
import { PodIndex } from '../../src/analysis/pods';
import type { PodInfo } from '../../src/k8s/types';
import { corpusDir, corpusEntries, repoRoot } from '../helpers/tools';

async function batches(file: string, maxBytes = 4096): Promise<RecordBatch[]> {
  const session = CaptureSession.open({ ...fileCaptureOptions(file), analysis: { maxBytes } });
  const out: RecordBatch[] = [];
  session.onRecords((b) => out.push(b));
  const result = await session.start();
  if (result.error) throw result.error;
  return out;
}

const KINDS = ['flows', 'http', 'dns', 'alerts', 'flowRows', 'httpRows', 'dnsRows'] as const;

/** Batches taken borrowed (written into the same Buffers each time), each copied out while it is valid; and how many reused memory a batch before had. */
async function borrowedBatches(file: string, maxBytes: number): Promise<{ all: RecordBatch[]; reused: number }> {
  const session = CaptureSession.open({ ...fileCaptureOptions(file), analysis: { maxBytes } });
  const all: RecordBatch[] = [];
  const seen = new Set<ArrayBufferLike>();
  let reused = 0;
  session.onRecords(
    (b) => {
      if (b.http.length && seen.has(b.http.buffer)) reused++;
      if (b.http.length) seen.add(b.http.buffer);
      all.push(Object.fromEntries(KINDS.map((k) => [k, Buffer.from(b[k]!)])) as unknown as RecordBatch);
    },
    { borrowed: true },
  );
  const result = await session.start();
  if (result.error) throw result.error;
  return { all, reused };
}

/** Borrowed batches hold the bytes copied batches do, batch for batch. */
async function checkBorrowed(file: string, maxBytes: number): Promise<number> {
  const copied = await batches(file, maxBytes);
  const { all, reused } = await borrowedBatches(file, maxBytes);
  expect(all.length, file).toBe(copied.length);
  all.forEach((b, i) => {
    for (const k of KINDS) expect(b[k]!.equals(copied[i]![k] ?? Buffer.alloc(0)), `${file} batch ${i} ${k}`).toBe(true);
  });
  return reused;
}

type Line = Record<string, unknown>;
const pick = (r: Line, keys: string[]) => Object.fromEntries(keys.map((k) => [k, r[k]]));

/** Every record of the batches checked; returns how many of each kind. */
function checkBatches(file: string, all: RecordBatch[]): { flows: number; http: number; dns: number } {
  const strings = new SpanStrings(16); // small: the cache starts over often, and hits are checked too
  const n = { flows: 0, http: 0, dns: 0 };
  for (const b of all) {
    const kinds = [
      { kind: 'flows' as const, rows: new FlowRows(b.flowRows!, b.flows, strings), view: flowFacts(), read: (x: FlowRows, i: number, v: ReturnType<typeof flowFacts>) => x.read(i, v) },
      { kind: 'http' as const, rows: new HttpRows(b.httpRows!, b.http, strings), view: httpFacts(), read: (x: HttpRows, i: number, v: ReturnType<typeof httpFacts>) => x.read(i, v) },
      { kind: 'dns' as const, rows: new DnsRows(b.dnsRows!, b.dns, strings), view: dnsFacts(), read: (x: DnsRows, i: number, v: ReturnType<typeof dnsFacts>) => x.read(i, v) },
    ];
    for (const { kind, rows, view, read } of kinds) {
      const lines = parseJsonLines<Line>(b[kind], `${file} (${kind})`);
      expect(rows.count, `${file} ${kind}`).toBe(lines.length);
      lines.forEach((line, i) => {
        expect(JSON.parse(rows.line(i).toString('utf8')), `${file} ${kind} #${i} line`).toEqual(line);
        const facts = { ...(read as (x: typeof rows, i: number, v: typeof view) => typeof view)(rows, i, view) };
        expect(facts, `${file} ${kind} #${i}`).toEqual({ ...pick(line, Object.keys(facts)), server_pod: undefined });
        expect(extras(kind, rows.view, i), `${file} ${kind} #${i} extras`).toEqual(pick(line, Object.keys(extras(kind, rows.view, i))));
        if (rows instanceof FlowRows) {
          const ends = rows.ends(i);
          expect(ends, `${file} flows #${i} ends`).toEqual(pick(line, Object.keys(ends)));
        }
      });
      n[kind] += lines.length;
    }
  }
  return n;
}

/** The row fields the pipeline does not read yet, by the documented offsets (record_rows.h). */
function extras(kind: 'flows' | 'http' | 'dns', v: DataView, i: number): Line {
  const ms = (us: number) => (us < 0 ? null : us / 1000);
  if (kind === 'flows') {
    const at = i * 104;
    return { server_port: v.getUint16(at + 2, true), client_bytes: v.getFloat64(at + 48, true), server_bytes: v.getFloat64(at + 56, true), duration_ms: ms(v.getFloat64(at + 80, true)), client_port: v.getUint16(at + 96, true) };
  }
  if (kind === 'http') {
    const at = i * 88;
    return { request_bytes: v.getFloat64(at + 72, true), response_bytes: v.getFloat64(at + 80, true) };
  }
  const at = i * 72;
  return { answers: v.getUint16(at + 60, true) };
}

/** summary.json and the metrics' exposition from the batches, through the rows or (rows left out) through parsed lines. */
async function aggregates(all: RecordBatch[], rows: boolean): Promise<[unknown, string]> {
  const aggregator = new Aggregator();
  const registry = new Registry();
  const metrics = new AnalyticsMetrics(registry, { maxServers: 3, maxRoutesPerServer: 4 });
  const pipeline = new RecordPipeline({ aggregator, metrics });
  for (const b of all) pipeline.take(rows ? b : { flows: b.flows, http: b.http, dns: b.dns, alerts: b.alerts });
  return [aggregator.summary(), await registry.metrics()];
}

/**
 * What the outputs receive with a PodIndex naming every other address of the batches (some pods
 * with a node, some without): parsed, equal to the lines enriched by PodIndex.enrich; and each
 * line no pod names is the native line, byte for byte.
 */
function checkPodFields(file: string, all: RecordBatch[]): number {
  const kinds = ['flows', 'http', 'dns'] as const;
  const addresses = new Set<string>();
  for (const b of all) for (const k of kinds) for (const r of parseJsonLines<Line>(b[k], k)) addresses.add(r.client as string).add(r.server as string);
  const infos: PodInfo[] = [...addresses]
    .filter((_, i) => i % 2 === 0)
    .map((ip, i) => ({ uid: `u${i}`, namespace: 'ns', name: `p"${i}`, labels: {}, ips: [ip], hostNetwork: false, phase: 'Running', nodeName: i % 3 ? `node-${i}` : '', containerPorts: [] }));
  const pods = new PodIndex(infos);
  let enriched = 0;
  for (const b of all) {
    const got: Partial<Record<string, Buffer>> = {};
    new RecordPipeline({ pods, outputs: [{ write: (k, l) => (got[k] = l) }] }).take(b);
    for (const k of kinds) {
      const native = b[k].toString('utf8').split('\n').filter(Boolean);
      const out = (got[k] ?? Buffer.alloc(0)).toString('utf8').split('\n').filter(Boolean);
      expect(out.length, `${file} ${k}`).toBe(native.length);
      native.forEach((line, i) => {
        const want: Endpoints = pods.enrich(JSON.parse(line) as Endpoints);
        expect(JSON.parse(out[i]!), `${file} ${k} #${i}`).toEqual(want);
        if (!want.client_pod && !want.server_pod) expect(out[i], `${file} ${k} #${i}`).toBe(line);
        else enriched++;
      });
    }
  }
  return enriched;
}

describe('record rows beside the JSON lines', () => {
  it('decode to the values of every line of the fixtures (h2c and gRPC, HTTP/1.1, DNS)', async () => {
    let total = { flows: 0, http: 0, dns: 0 };
    for (const f of ['h2c-curl-go.pcap', 'sample-20.pcap']) {
      const file = path.join(repoRoot, 'fixtures', f);
      const all = await batches(file);
      const n = checkBatches(f, all);
      expect(await aggregates(all, true), f).toEqual(await aggregates(all, false));
      expect(checkPodFields(f, all), f).toBeGreaterThan(0);
      total = { flows: total.flows + n.flows, http: total.http + n.http, dns: total.dns + n.dns };
    }
    expect(total).toEqual({ flows: 11, http: 5, dns: 0 });
  });

  it('mark the strings the row before had, and read the same in any order and into any object', async () => {
    const all = await batches(path.join(repoRoot, 'fixtures', 'h2c-curl-go.pcap'));
    let marked = 0;
    for (const b of all) {
      const lines = parseJsonLines<Line>(b.http, 'http');
      const rows = new HttpRows(b.httpRows!, b.http, new SpanStrings());
      for (let i = 0; i < rows.count; i++) if (rows.view.getUint8(i * 88) & (SAME_SERVER | SAME_A | SAME_B)) marked++;
      // Backwards into one object, then every row into a fresh one, then alternating between two.
      const one = httpFacts();
      for (let i = rows.count - 1; i >= 0; i--) expect({ ...rows.read(i, one) }, `backwards #${i}`).toEqual({ ...pick(lines[i]!, Object.keys(one)), server_pod: undefined });
      const two = [httpFacts(), httpFacts()];
      for (let i = 0; i < rows.count; i++) {
        expect({ ...rows.read(i, httpFacts()) }, `fresh #${i}`).toEqual({ ...pick(lines[i]!, Object.keys(one)), server_pod: undefined });
        expect({ ...rows.read(i, two[i % 2]!) }, `alternating #${i}`).toEqual({ ...pick(lines[i]!, Object.keys(one)), server_pod: undefined });
      }
    }
    expect(marked).toBeGreaterThan(0);
  });

  it('borrowed (CaptureSession.onRecords with borrowed), are the bytes of copied batches, in Buffers used again', async () => {
    // 64 bytes: a batch per record or two, so the Buffers are written again and again, and grow.
    const reused = await checkBorrowed(path.join(repoRoot, 'fixtures', 'h2c-curl-go.pcap'), 64);
    await checkBorrowed(path.join(repoRoot, 'fixtures', 'sample-20.pcap'), 64);
    expect(reused).toBeGreaterThan(0);
  });

  const dir = corpusDir();
  if (!dir) {
    it.skip('corpus absent (set PODSPAN_CORPUS or put it at ../shared/corpus): corpus captures not run', () => {});
    return;
  }
  it('decode to the values of every line of every readable corpus capture', async () => {
    const total = { flows: 0, http: 0, dns: 0 };
    for (const e of corpusEntries(dir).filter((x) => !x.corrupt)) {
      let all;
      try {
        all = await batches(e.path);
      } catch {
        continue; // unreadable as a whole (the file reader's tests cover those)
      }
      const n = checkBatches(e.file, all);
      await checkBorrowed(e.path, 4096);
      expect(await aggregates(all, true), e.file).toEqual(await aggregates(all, false));
      checkPodFields(e.file, all);
      total.flows += n.flows;
      total.http += n.http;
      total.dns += n.dns;
    }
    // The corpus has all three kinds: a decoder that skipped one would not pass unseen.
    expect(total.flows).toBeGreaterThan(100);
    expect(total.http).toBeGreaterThan(10);
    expect(total.dns).toBeGreaterThan(10);
  });
});

describe('SpanStrings', () => {
  const json = Buffer.from('{"a":"/caf\u00e9","b":"x\\"y\\u00e9\\ufffd","c":"/caf\u00e9","d":"/cafe"}');
  const span = (key: string) => {
    const start = json.indexOf(`"${key}":`) + key.length + 3;
    let end = start + 1;
    while (json[end] !== 0x22 || json[end - 1] === 0x5c) end++;
    return [start, end + 1 - start] as const;
  };

  it('reads each value as JSON.parse does, escapes and UTF-8 alike, and null for no span', () => {
    const s = new SpanStrings();
    const parsed = JSON.parse(json.toString()) as Record<string, string>;
    for (const k of ['a', 'b', 'c', 'd', 'b', 'a']) expect(s.get(json, ...span(k))).toBe(parsed[k]);
    expect(s.get(json, 0xffffffff, 0)).toBeNull();
  });

  it('tells apart values whose hashes meet: "/8wlfaa" and "/pqdhaa" have the same FNV-1a', () => {
    const s = new SpanStrings();
    const twins = Buffer.from('"/8wlfaa""/pqdhaa"');
    for (let round = 0; round < 2; round++) {
      expect(s.get(twins, 0, 9)).toBe('/8wlfaa');
      expect(s.get(twins, 9, 9)).toBe('/pqdhaa');
    }
  });

  it('stays bounded: past maxEntries it starts over and still reads every value right', () => {
    const s = new SpanStrings(2);
    const parsed = JSON.parse(json.toString()) as Record<string, string>;
    for (const k of ['a', 'b', 'd', 'a', 'b', 'd']) expect(s.get(json, ...span(k))).toBe(parsed[k]);
    expect(s.size).toBeLessThanOrEqual(2);
  });
});
