// Records through the pipeline into DIR/*.jsonl: without pod fields the native bytes are written
// unchanged; with a pod index each line gains its pod fields; summary.json is whole JSON.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Aggregator } from '../../src/analysis/aggregate';
import { RecordPipeline } from '../../src/analysis/pipeline';
import { PodIndex } from '../../src/analysis/pods';
import { RecordFiles } from '../../src/analysis/record-files';
import { parseJsonLines, type HttpRecord } from '../../src/analysis/records';

const fixtures = path.join(__dirname, '../../fixtures/analysis');
const read = (k: string) => fs.readFileSync(path.join(fixtures, `${k}.jsonl`));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-analysis-files-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('record files', () => {
  it('writes the native bytes unchanged, split over batches, and a whole summary.json', () => {
    const dir = path.join(tmp, 'plain');
    const files = new RecordFiles(dir);
    const aggregator = new Aggregator();
    const p = new RecordPipeline({ aggregator, outputs: [files] });
    const http = read('http');
    const cut = http.indexOf('\n', http.length >> 1) + 1; // two batches of whole lines
    p.take({ flows: read('flows'), http: http.subarray(0, cut), dns: Buffer.alloc(0) });
    p.take({ flows: Buffer.alloc(0), http: http.subarray(cut), dns: read('dns') });
    files.writeSummary(aggregator.summary());
    files.close();
    for (const k of ['flows', 'http', 'dns']) expect(fs.readFileSync(path.join(dir, `${k}.jsonl`)).equals(read(k))).toBe(true);
    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    expect(summary.records).toEqual({ flows: 3, http: 44, dns: 5 });
    expect(p.counts).toEqual({ flows: 3, http: 44, dns: 5, alerts: 0 });
    expect(fs.readdirSync(dir).sort()).toEqual(['dns.jsonl', 'flows.jsonl', 'http.jsonl', 'summary.json']);
  });

  it('with a pod index, each record gains its pod fields and servers are named by pod', () => {
    const dir = path.join(tmp, 'pods');
    const files = new RecordFiles(dir);
    const aggregator = new Aggregator();
    const pods = new PodIndex([
      { uid: 'u', namespace: 'shop', name: 'web-1', labels: {}, ips: ['10.1.0.2'], hostNetwork: false, phase: 'Running', nodeName: 'n1', containerPorts: [] },
    ]);
    new RecordPipeline({ aggregator, pods, outputs: [files] }).take({ flows: read('flows'), http: read('http'), dns: read('dns') });
    files.close();
    const http = parseJsonLines<HttpRecord>(fs.readFileSync(path.join(dir, 'http.jsonl')), 'http');
    expect(http).toHaveLength(44);
    expect(http.filter((r) => r.server_pod === 'shop/web-1' && r.server_node === 'n1')).toHaveLength(40);
    expect(http.filter((r) => r.server_pod === undefined)).toHaveLength(4); // the gRPC server is no known pod
    expect(aggregator.summary().servers.find((s) => s.server === 'shop/web-1')).toMatchObject({ pod: true, connections: 3 });
  });

  it('a line that is not JSON is named with its kind and line number', () => {
    const p = new RecordPipeline({});
    expect(() => p.take({ flows: Buffer.from('{"a":1}\n{oops\n'), http: Buffer.alloc(0), dns: Buffer.alloc(0) }, 'batch 3')).toThrow(
      'batch 3 (flows): line 2 is not JSON',
    );
  });

  it('an output folder that cannot be made is one OutputError naming it', () => {
    const file = path.join(tmp, 'a-file');
    fs.writeFileSync(file, '');
    expect(() => new RecordFiles(path.join(file, 'sub'))).toThrow(new RegExp(`^${file}/sub: `));
  });

});
