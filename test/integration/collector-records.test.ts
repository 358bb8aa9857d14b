// Analytics records from agent to collector: the Records message round-trips (and an independent
// decoder, protobufjs's generated FrameBatch type, reads the same); a real `podspan collector`
// receives them from the agent's own forwarding code (GrpcFanout → GrpcForwarder) and writes
// BASE.flows.jsonl / .http.jsonl / .dns.jsonl beside the agent's BASE.pcapng, byte for byte, in
// whole lines, rotating at -C; malformed records are refused with INVALID_ARGUMENT.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrameBatch, encodeFrameBatch, FrameBatchType, MAX_RECORD_LINES_BYTES, splitLines } from '../../src/forward/frame-batch';
import { GrpcFanout } from '../../src/forward/grpc-fanout';
import { parseForwardTarget, type GrpcTarget } from '../../src/config/forward-options';
import { logger } from '../../src/observability/logger';
import { parseJsonLines } from '../../src/analysis/records';
import { ethSource, frameBatch, sendBatches, startCollector } from '../helpers/collector';
import { killStarted, stopProcess } from '../helpers/netns';

const fixtures = path.join(__dirname, '../../fixtures/analysis');
const read = (k: string) => fs.readFileSync(path.join(fixtures, `${k}.jsonl`));
let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-collector-records-'))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
afterEach(() => killStarted());

// Two alert lines as the detector writes them (fired, then cleared).
const ALERTS = Buffer.from(
  '{"ts":"2026-11-28T10:00:03.000000000Z","kind":"syn_flood","alert_id":"A1","state":"fired","server":"10.0.0.2","server_port":80,"source":null,"route":null,"rate":5000,"baseline":0.4,"threshold":200,"unit":"syn/s","share":1,"evidence":"evidence/A1-syn_flood.pcapng","started":null,"duration_s":null,"cleared_by":null}\n' +
    '{"ts":"2026-11-28T10:00:11.000000000Z","kind":"syn_flood","alert_id":"A1","state":"cleared","server":"10.0.0.2","server_port":80,"source":null,"route":null,"rate":5000,"baseline":0.4,"threshold":200,"unit":"syn/s","share":1,"evidence":"evidence/A1-syn_flood.pcapng","started":"2026-11-28T10:00:03.000000000Z","duration_s":8,"cleared_by":"quiet"}\n',
);

describe('Records message', () => {
  it('round-trips, and protobufjs reads the same kinds and bytes', () => {
    const b = { ...frameBatch('n1/1', [ethSource('n1', 'eth0')], 2), records: [{ kind: 'http' as const, lines: read('http') }, { kind: 'dns' as const, lines: read('dns') }, { kind: 'alerts' as const, lines: ALERTS }] };
    const wire = encodeFrameBatch(b);
    const back = decodeFrameBatch(wire);
    expect(back.records!.map((r) => r.kind)).toEqual(['http', 'dns', 'alerts']);
    expect(back.records![0].lines.equals(read('http'))).toBe(true);
    expect(back.caplen.length / 4).toBe(2);
    const judged = FrameBatchType.toObject(FrameBatchType.decode(wire), { enums: String }) as { records: { kind: string; lines: Uint8Array }[] };
    expect(judged.records.map((r) => r.kind)).toEqual(['HTTP', 'DNS', 'ALERTS']);
    expect(Buffer.from(judged.records[1].lines).equals(read('dns'))).toBe(true);
  });

  it('refuses an unknown kind, a cut line, and more than 1 MiB of lines', () => {
    const base = frameBatch('a', [ethSource('a', 'eth0')], 1);
    const encode = (kind: number, lines: Buffer) => {
      const wire = encodeFrameBatch({ ...base, records: [{ kind: 'flows', lines }] });
      // Kind 1 (flows) is the byte after the sub-message's first tag (0x08): patch it.
      const at = wire.indexOf(Buffer.from([0x08, 0x01, 0x12]));
      wire[at + 1] = kind;
      return wire;
    };
    expect(() => decodeFrameBatch(encode(7, Buffer.from('{}\n')))).toThrow('records of unknown kind 7');
    expect(() => decodeFrameBatch(encode(1, Buffer.from('{}\n{"a"')))).toThrow('records that do not end with a whole line');
    expect(() => decodeFrameBatch(encode(1, Buffer.alloc(MAX_RECORD_LINES_BYTES + 1, 0x0a)))).toThrow(/records of 1048577 bytes/);
  });

  it('splitLines cuts only at line ends, each piece within the bound', () => {
    const lines = read('http');
    const pieces = splitLines(lines, 1000);
    expect(Buffer.concat(pieces).equals(lines)).toBe(true);
    for (const p of pieces) {
      expect(p.length).toBeLessThanOrEqual(1000);
      expect(p[p.length - 1]).toBe(0x0a);
    }
    expect(pieces.length).toBeGreaterThan(lines.length / 1000);
  });
});

function filesIn(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

async function sendRecords(port: number, send: (f: GrpcFanout) => void): Promise<GrpcFanout> {
  const target = parseForwardTarget(`grpc://127.0.0.1:${port}`) as GrpcTarget;
  const fanout = new GrpcFanout([target], 'node-r', logger);
  for (const f of fanout.forwarders) f.start();
  send(fanout);
  await fanout.close(10_000);
  return fanout;
}

describe('collector writes records beside the pcapng', () => {
  it('BASE.flows.jsonl, .http.jsonl, .dns.jsonl and .alerts.jsonl hold exactly the lines sent, beside BASE.pcapng', async () => {
    const out = path.join(tmp, 'plain');
    const c = await startCollector(['--listen', '127.0.0.1:0', '--out', out]);
    // Frames first (the agent's pcapng), then records from the agent's own forwarding code.
    const agent = 'node-r/' + process.pid;
    expect((await sendBatches(c.port, [frameBatch(agent, [ethSource('node-r', 'eth0')], 5)])).acked).toBe(5);
    const fanout = await sendRecords(c.port, (f) => {
      // The GrpcFanout's agent id is node/pid: the same as the frames' agent above.
      for (const k of ['flows', 'http', 'dns'] as const) f.write(k, read(k));
      f.write('alerts', ALERTS);
    });
    expect(fanout.forwarders[0].stats().recordBytes).toEqual({ delivered: read('flows').length + read('http').length + read('dns').length + ALERTS.length, droppedQueueFull: 0, droppedDisconnected: 0 });
    expect(await stopProcess(c, 'SIGTERM')).toBe(0);
    const files = filesIn(out);
    const pcapng = files.find((f) => f.endsWith('.pcapng'))!;
    const base = pcapng.replace(/\.pcapng$/, '');
    expect(files).toEqual([`${base}.alerts.jsonl`, `${base}.dns.jsonl`, `${base}.flows.jsonl`, `${base}.http.jsonl`, pcapng].sort());
    for (const k of ['flows', 'http', 'dns']) expect(fs.readFileSync(path.join(out, `${base}.${k}.jsonl`)).equals(read(k))).toBe(true);
    expect(fs.readFileSync(path.join(out, `${base}.alerts.jsonl`)).equals(ALERTS)).toBe(true);
  }, 60_000);

  it('-C rotates the JSONL files at whole lines (BASE.http.N.jsonl); -W keeps the newest', async () => {
    const out = path.join(tmp, 'rotate');
    // -C 0.002: 2,000 bytes per file; -W 3: three files of each kind.
    const c = await startCollector(['--listen', '127.0.0.1:0', '--out', out, '-C', '0.002', '-W', '3']);
    const http = read('http');
    const pieces = splitLines(http, 1500);
    await sendRecords(c.port, (f) => {
      for (const p of pieces) f.write('http', p);
    });
    expect(await stopProcess(c, 'SIGTERM')).toBe(0);
    const jsonl = filesIn(out).filter((f) => f.endsWith('.http.jsonl') || /\.http\.\d+\.jsonl$/.test(f));
    expect(jsonl).toHaveLength(3);
    const numbers = jsonl.map((f) => Number(/\.http\.(\d+)\.jsonl$/.exec(f)?.[1] ?? 1)).sort((a, b) => a - b);
    expect(numbers).toEqual([pieces.length - 2, pieces.length - 1, pieces.length]);
    const kept = numbers.map((n) => fs.readFileSync(path.join(out, jsonl.find((f) => (n === 1 ? !/\.http\.\d+\./.test(f) : f.includes(`.http.${n}.`)))!)));
    for (const k of kept) {
      expect(k.length).toBeLessThanOrEqual(2000);
      expect(parseJsonLines(k, 'kept').length).toBeGreaterThan(0);
    }
    expect(Buffer.concat(kept).equals(Buffer.concat(pieces.slice(-3)))).toBe(true);
  }, 60_000);

  it('a batch with records of an unknown kind is refused: INVALID_ARGUMENT, nothing of it written', async () => {
    const out = path.join(tmp, 'bad');
    const c = await startCollector(['--listen', '127.0.0.1:0', '--out', out]);
    const good = { ...frameBatch('bad-agent', [ethSource('n', 'eth0')], 1), records: [{ kind: 'dns' as const, lines: Buffer.from('{"a":1}\n') }] };
    const wire = encodeFrameBatch(good);
    wire[wire.indexOf(Buffer.from([0x08, 0x03, 0x12])) + 1] = 9;
    const client = new (await import('../../src/forward/mirror-service')).MirrorClient(`127.0.0.1:${c.port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
      stream(): grpc.ClientDuplexStream<Buffer, Buffer>;
    };
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      const call = client.stream();
      call.on('status', resolve);
      call.on('error', () => {});
      call.on('data', () => {});
      call.write(wire);
    });
    client.close();
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toMatch(/records of unknown kind 9/);
    expect(await stopProcess(c, 'SIGTERM')).toBe(0);
    expect(fs.existsSync(out) ? filesIn(out).filter((f) => f.endsWith('.jsonl')) : []).toEqual([]);
  }, 60_000);
});
