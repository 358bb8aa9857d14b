// The collector's Mirror.Stream on node:http2 (src/collector/mirror-call.ts): messages read off
// the HTTP/2 DATA chunks into one buffer per stream, reused. Against the real `podspan
// collector` process over loopback, with capinfos/editcap/tshark as judges of its pcapng: the
// agent's 1500-byte frames arrive byte for byte in plaintext and over TLS (1 MiB batches, ~64
// DATA frames each, so every message is joined in the reused buffer and overwritten by the next);
// a grpc-js client of Mirror.Stream gets its acks and an OK status; a message over the size
// limit is refused at its prefix with grpc-js's status; messages cut into 3-byte DATA frames
// (prefixes split too) are whole; a stream ended, reset or cut in the middle of a message is counted,
// the whole messages before it are written and the file stays valid.
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrameBatch, type FrameBatch } from '../../src/forward/frame-batch';
import { MirrorClient } from '../../src/forward/mirror-service';
import { ethSource, frameBatch, sendBatches } from '../helpers/collector';
import { signalAndTime, startCollector, type CollectorProcess } from '../helpers/collector-process';
import { pcapFrames, pcapngFrames } from '../helpers/encap';
import { pcapHeader } from '../helpers/craft';
import { grpcMessage, grpcPrefix, MaliciousClient } from '../helpers/malicious-client';
import { killStarted } from '../helpers/netns';
import { podspanBin, repoRoot, run, until } from '../helpers/tools';

let tmp: string;
const clients: MaliciousClient[] = [];
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-collector-h2-'))));
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
afterAll(() => {
  killStarted();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const pcapngs = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith('.pcapng')).map((f) => path.join(dir, f));

/** capinfos opens every file of `dir` without error; the frames they hold together. */
function validPackets(dir: string): number {
  const files = pcapngs(dir);
  expect(files.length).toBeGreaterThan(0);
  const r = run('capinfos', ['-c', '-M', ...files]);
  expect(r.code, r.stderr).toBe(0);
  return [...r.stdout.matchAll(/Number of packets:\s+(\d+)/g)].reduce((a, m) => a + Number(m[1]), 0);
}

/** Every frame the collector wrote to `dir`, in order (editcap + our pcap reader). */
const writtenFrames = (dir: string): Buffer[] => pcapngs(dir).flatMap((f) => pcapngFrames(f).frames);

const metric = async (c: CollectorProcess, pattern: RegExp): Promise<number> => {
  const m = pattern.exec(await (await fetch(c.metricsUrl!)).text());
  return m ? Number(m[1]) : 0;
};

/** The frames of batch `b`, one Buffer each. */
const batchFrames = (b: FrameBatch): Buffer[] => {
  const out: Buffer[] = [];
  for (let i = 0, at = 0; i < b.caplen.length / 4; i++) {
    const len = b.caplen.readUInt32LE(i * 4);
    out.push(b.frames.subarray(at, at + len));
    at += len;
  }
  return out;
};

describe('Mirror.Stream on node:http2', () => {
  it('the agent in plaintext and over TLS: 3000 frames of 1500 bytes arrive byte for byte', async () => {
    // random bytes after an Ethernet header: a message reassembled wrongly cannot match
    const input = path.join(tmp, 'big.pcap');
    const parts = [pcapHeader()];
    for (let i = 0; i < 3000; i++) {
      const rec = Buffer.alloc(16);
      rec.writeUInt32LE(1_700_000_000 + i, 0);
      rec.writeUInt32LE(1500, 8);
      rec.writeUInt32LE(1500, 12);
      parts.push(rec, Buffer.concat([Buffer.from('020000000001020000000002', 'hex'), Buffer.from([0x88, 0xb5]), crypto.randomBytes(1486)]));
    }
    fs.writeFileSync(input, Buffer.concat(parts));
    const sent = pcapFrames(input);
    const pki = path.join(tmp, 'pki');
    execFileSync('sh', [path.join(repoRoot, 'scripts', 'make-collector-certs.sh'), '--out', pki, '--ip', '127.0.0.1'], { stdio: 'ignore' });
    for (const secure of [false, true]) {
      const out = path.join(tmp, secure ? 'agent-tls' : 'agent-plain');
      const c = await startCollector(['--out', out, ...(secure ? ['--tls-cert', path.join(pki, 'tls.crt'), '--tls-key', path.join(pki, 'tls.key')] : [])]);
      const url = secure ? `grpc://127.0.0.1:${c.port}?tls=1&ca=${path.join(pki, 'ca.crt')}` : `grpc://127.0.0.1:${c.port}`;
      const r = run(process.execPath, [podspanBin, 'capture', '-r', input, '--forward', url], { timeoutMs: 60_000 });
      expect(r.stderr).toMatch(/: 3000 frames delivered, 0 dropped/);
      expect((await signalAndTime(c, 'SIGTERM')).code).toBe(0);
      expect(c.stderr()).toMatch(/1 agents, 1 streams, \d+ batches, 3000 frames written/);
      expect(validPackets(out)).toBe(3000);
      const got = writtenFrames(out);
      expect(got.length).toBe(3000);
      expect(got.every((f, i) => f.equals(sent[i])), secure ? 'TLS' : 'plaintext').toBe(true);
    }
  }, 120_000);

  it('a grpc-js client of Mirror.Stream: every batch acknowledged, OK, its frames written byte for byte', async () => {
    const out = path.join(tmp, 'grpc-js');
    const c = await startCollector(['--out', out]);
    // 500 frames of 60 bytes: ~42 KiB per message, over three DATA frames
    const batches = Array.from({ length: 40 }, (_, i) => frameBatch('grpcjs/1', [ethSource('grpcjs', 'eth0')], 500, i + 1));
    const { acked, status } = await sendBatches(c.port, batches);
    expect(status.code).toBe(grpc.status.OK);
    expect(acked).toBe(40 * 500);
    expect((await signalAndTime(c, 'SIGTERM')).code).toBe(0);
    expect(c.stderr()).toContain('1 agents, 1 streams, 40 batches, 20000 frames written');
    expect(validPackets(out)).toBe(20000);
    const got = writtenFrames(out);
    const want = batches.flatMap(batchFrames);
    expect(got.length).toBe(want.length);
    expect(got.every((f, i) => f.equals(want[i]))).toBe(true);
  }, 60_000);

  it('a message over the size limit: RESOURCE_EXHAUSTED at its prefix (grpc-js client), counted; the next stream is served', async () => {
    const out = path.join(tmp, 'too-large');
    const c = await startCollector(['--out', out, '--max-message-mb', '1', '--metrics-listen', '127.0.0.1:0']);
    const client = new MirrorClient(`127.0.0.1:${c.port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & { stream(): grpc.ClientDuplexStream<Buffer, unknown> };
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      const call = client.stream();
      call.on('status', resolve);
      call.on('error', () => {});
      call.on('data', () => {});
      call.write(Buffer.alloc((1 << 20) + 1, 0x41));
    });
    client.close();
    expect(status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(status.details).toBe('Received message larger than max (1048577 vs 1048576)');
    expect(await metric(c, /podspan_collector_streams_refused_total\{reason="too_large"\} (\d+)/)).toBe(1);
    const ok = await sendBatches(c.port, [frameBatch('after/1', [ethSource('after', 'eth0')], 10)]);
    expect(ok).toMatchObject({ acked: 10, status: { code: grpc.status.OK } });
    expect((await signalAndTime(c, 'SIGTERM')).code).toBe(0);
    expect(validPackets(out)).toBe(10);
  }, 60_000);

  it('messages cut into 3-byte DATA frames (every prefix split across frames): every frame whole', async () => {
    const out = path.join(tmp, 'split');
    const c = await startCollector(['--out', out]);
    const client = new MaliciousClient(c.port);
    clients.push(client);
    await client.ready;
    const batches = [1, 2, 3].map((seq) => frameBatch('split/1', [ethSource('split', 'eth0')], 20, seq));
    const wire = Buffer.concat(batches.map((b) => grpcMessage(encodeFrameBatch(b))));
    const { stream, outcome } = client.open();
    stream.on('data', () => {});
    for (let at = 0; at < wire.length; at += 3) {
      // one write at a time, each sent before the next: one DATA frame each
      await new Promise<void>((resolve) => stream.write(wire.subarray(at, at + 3), () => setImmediate(resolve)));
    }
    stream.end();
    expect(await outcome).toMatchObject({ code: grpc.status.OK });
    expect((await signalAndTime(c, 'SIGTERM')).code).toBe(0);
    expect(c.stderr()).toContain('1 agents, 1 streams, 3 batches, 60 frames written');
    const got = writtenFrames(out);
    const want = batches.flatMap(batchFrames);
    expect(got.length).toBe(60);
    expect(got.every((f, i) => f.equals(want[i]))).toBe(true);
  }, 60_000);

  it('streams ended, reset and cut in the middle of a message: each counted once, the whole messages written, the file valid', async () => {
    const out = path.join(tmp, 'cut');
    const c = await startCollector(['--out', out, '--metrics-listen', '127.0.0.1:0']);
    /** Two whole messages, then the prefix and half of a third. */
    const partial = (agent: string) => {
      const whole = [1, 2].map((seq) => grpcMessage(encodeFrameBatch(frameBatch(agent, [ethSource(agent, 'eth0')], 30, seq))));
      const third = encodeFrameBatch(frameBatch(agent, [ethSource(agent, 'eth0')], 30, 3));
      return Buffer.concat([...whole, grpcPrefix(third.length), third.subarray(0, third.length >> 1)]);
    };
    const batches = () => metric(c, /podspan_collector_batches_total (\d+)/);
    const truncated = () => metric(c, /podspan_collector_truncated_messages_total (\d+)/);
    // ended: the client half-closes after half a message and is told so
    const ending = new MaliciousClient(c.port);
    clients.push(ending);
    const e = ending.open();
    e.stream.on('data', () => {});
    e.stream.end(partial('ended/1'));
    const ended = await e.outcome;
    expect(ended.code).toBe(grpc.status.INTERNAL);
    expect(ended.details).toMatch(/ended in the middle of a message/);
    expect(await truncated()).toBe(1);
    // reset: RST_STREAM once the two whole messages are written
    const resetting = new MaliciousClient(c.port);
    clients.push(resetting);
    const r = resetting.open();
    r.stream.on('data', () => {});
    r.stream.write(partial('reset/1'));
    await until(async () => (await batches()) === 4, 15_000, 'the reset stream\'s whole batches');
    r.stream.close(http2.constants.NGHTTP2_CANCEL);
    await until(async () => (await truncated()) === 2, 15_000, 'the reset counted');
    // cut: the connection goes once the two whole messages are written
    const cutting = new MaliciousClient(c.port);
    clients.push(cutting);
    const k = cutting.open();
    k.stream.on('data', () => {});
    k.stream.write(partial('cut/1'));
    await until(async () => (await batches()) === 6, 15_000, 'the cut stream\'s whole batches');
    cutting.close();
    await until(async () => (await truncated()) === 3, 15_000, 'the cut counted');
    expect((await signalAndTime(c, 'SIGTERM')).code).toBe(0);
    expect(c.stderr()).toContain('3 agents, 3 streams, 6 batches, 180 frames written');
    expect(c.stderr().match(/in the middle of a message: that message is lost/g)?.length).toBe(3);
    expect(validPackets(out)).toBe(180);
  }, 60_000);
});
