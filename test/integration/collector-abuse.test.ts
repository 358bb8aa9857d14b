// The collector under a hostile client (test/helpers/malicious-client.ts, raw HTTP/2 over
// loopback) against the real `podspan collector` process: its RSS (from /proc) stays bounded
// while streams hold huge partial messages or never read their acknowledgements, such streams
// are refused with the right gRPC status and counted by reason, a client that vanishes is
// dropped at once, SIGTERM ends the collector within its deadline while the abuser is still
// connected (also with a slow HTTP client on the metrics port), malformed batches never create
// a file, and the files that are written stay valid (capinfos).
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { emptyFrameBatch, encodeFrameBatch, type FrameBatch } from '../../src/forward/frame-batch';
import { collectorLimits } from '../../src/collector/collector';
import { TapClient } from '../../src/collector/live-tap';
import { signalAndTime, startCollector, type CollectorProcess } from '../helpers/collector-process';
import { MaliciousClient, rssBytes, watchRss } from '../helpers/malicious-client';
import { killStarted } from '../helpers/netns';
import { podspanBin, repoRoot, run, until } from '../helpers/tools';

const MiB = 1 << 20;
let tmp: string;
const clients: MaliciousClient[] = [];
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-abuse-'))));
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
afterAll(() => {
  killStarted();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const hostile = (port: number, token?: string) => {
  const c = new MaliciousClient(port, token);
  clients.push(c);
  return c;
};

const metric = async (c: CollectorProcess, pattern: RegExp): Promise<number> => {
  const m = pattern.exec(await (await fetch(c.metricsUrl!)).text());
  return m ? Number(m[1]) : 0;
};

const batch = (over: Partial<FrameBatch>): FrameBatch => ({
  ...emptyFrameBatch(),
  agent: 'node-x/1',
  sequence: 1,
  sources: [{ node: 'node-x', interface: 'eth0', linktype: 1, snaplen: 262144 }],
  ...over,
});

const u32s = (...v: number[]) => Buffer.from(new Uint32Array(v).buffer);
const u64s = (...v: bigint[]) => Buffer.from(new BigUint64Array(v).buffer);

/** A valid batch of `n` 60-byte frames. */
const frames = (n: number, seq = 1) =>
  encodeFrameBatch(
    batch({
      sequence: seq,
      frames: Buffer.alloc(60 * n, 0x42),
      caplen: u32s(...Array(n).fill(60)),
      origlen: u32s(...Array(n).fill(60)),
      timestampNs: u64s(...Array.from({ length: n }, (_, i) => 1_700_000_000_000_000_000n + BigInt(i))),
      source: u32s(...Array(n).fill(0)),
    }),
  );

const capFiles = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.pcapng')).map((f) => path.join(dir, f)) : []);

/** Every file opens in capinfos (no error) and together they hold `packets` frames. */
function expectValidFiles(dir: string, packets: number): void {
  const files = capFiles(dir);
  expect(files.length).toBeGreaterThan(0);
  const r = run('capinfos', ['-c', '-M', ...files]);
  expect(r.code, r.stderr).toBe(0);
  const counts = [...r.stdout.matchAll(/Number of packets:\s+(\d+)/g)].map((m) => Number(m[1]));
  expect(counts.reduce((a, b) => a + b, 0)).toBe(packets);
}

const forwardFixture = (port: number) =>
  run(process.execPath, [podspanBin, 'capture', '-r', path.join(repoRoot, 'fixtures', 'sample-20.pcapng'), '--forward', `grpc://127.0.0.1:${port}`], { timeoutMs: 60_000 });

// RSS bounds: an idle collector is ~60-90 MB; the attacks below grew it by 0.5-1.3 GB before
// the limits. With them the collector holds at most its stream cap times the message limit.
const RSS_GROWTH_BOUND = 150 * MiB;

describe('collector under a hostile client', () => {
  it('20 streams each sending 60 MiB of a message never finished: refused at the length prefix, RSS bounded', async () => {
    const out = path.join(tmp, 'partial');
    const c = await startCollector(['--out', out, '--metrics-listen', '127.0.0.1:0']);
    const base = rssBytes(c.pid);
    const rss = watchRss(c.pid);
    const client = hostile(c.port);
    const { written, ended } = await client.partialMessages({ streams: 20, claimed: 60 * MiB + 1, send: 60 * MiB, timeoutMs: 40_000 });
    const peak = rss.stop();
    console.log(`partial messages: RSS ${(base / MiB).toFixed(0)} MiB -> peak ${(peak / MiB).toFixed(0)} MiB; sent ${(written.reduce((a, b) => a + b, 0) / MiB).toFixed(0)} MiB`);
    expect(peak - base).toBeLessThan(RSS_GROWTH_BOUND);
    const outcomes = await Promise.all(ended);
    expect(outcomes.map((o) => o.code)).toEqual(Array(20).fill(grpc.status.RESOURCE_EXHAUSTED));
    expect(outcomes[0].details).toMatch(/larger than max/);
    expect(await metric(c, /podspan_collector_streams_refused_total\{reason="too_large"\} (\d+)/)).toBe(20);
    client.close();
    // a good agent is still served
    expect(forwardFixture(c.port).stderr).toMatch(/20 frames delivered/);
    expect((await signalAndTime(c, 'SIGTERM')).code).toBe(0);
    expectValidFiles(out, 20);
  }, 90_000);

  it('streams just under the message limit: capped per connection and in all (--max-streams), RSS bounded', async () => {
    const out = path.join(tmp, 'cap');
    const c = await startCollector(['--out', out, '--metrics-listen', '127.0.0.1:0', '--max-streams', '8']);
    const base = rssBytes(c.pid);
    const rss = watchRss(c.pid);
    // 3 connections of 4 streams (the per-connection limit), each stream 4 MiB - 1 of a 4 MiB message
    const attacks = await Promise.all([0, 1, 2].map(() => hostile(c.port).partialMessages({ streams: 4, claimed: 4 * MiB, send: 4 * MiB - 1, timeoutMs: 20_000 })));
    const ended = await Promise.all(attacks.flatMap((a) => a.ended.map((e) => Promise.race([e, new Promise<null>((r) => setTimeout(() => r(null), 2000))]))));
    const peak = rss.stop();
    console.log(`streams under the limit: RSS ${(base / MiB).toFixed(0)} MiB -> peak ${(peak / MiB).toFixed(0)} MiB`);
    const refused = ended.filter((e) => e !== null);
    expect(refused.length).toBe(4); // 8 are held open, at most 8 x 4 MiB
    for (const r of refused) expect(r).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED, details: '8 streams are open already' });
    expect(await metric(c, /podspan_collector_streams_refused_total\{reason="too_many_streams"\} (\d+)/)).toBe(4);
    // What the README bounds: each open stream's message buffer and its HTTP/2 receive window
    // (held besides the buffer while the stream is not read), plus a fixed allowance for the rest.
    const { receiveWindows } = collectorLimits;
    expect(peak - base).toBeLessThan(8 * (4 * MiB + receiveWindows.streamBytes) + 40 * MiB);
    expect((await signalAndTime(c, 'SIGTERM')).code).toBe(0);
  }, 60_000);

  it('without the token: refused with UNAUTHENTICATED before its 60 MiB are read; the live tap too', async () => {
    const out = path.join(tmp, 'token');
    fs.mkdirSync(tmp, { recursive: true });
    const tokenFile = path.join(tmp, 'token.txt');
    fs.writeFileSync(tokenFile, 's3cret\n');
    const c = await startCollector(['--out', out, '--token-file', tokenFile, '--insecure', '--metrics-listen', '127.0.0.1:0']); // plaintext: the raw client speaks h2c
    const base = rssBytes(c.pid);
    const rss = watchRss(c.pid);
    const { ended } = await hostile(c.port).partialMessages({ streams: 4, claimed: 3 * MiB, send: 3 * MiB - 1, timeoutMs: 20_000 });
    expect(rss.stop() - base).toBeLessThan(RSS_GROWTH_BOUND);
    for (const o of await Promise.all(ended)) expect(o.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(await metric(c, /podspan_collector_streams_refused_total\{reason="unauthenticated"\} (\d+)/)).toBe(4);
    // The live tap asks for the same token (gRPC metadata there, the stream's header for agents).
    type Sources = { sources(req: Buffer, md: grpc.Metadata, done: (err: grpc.ServiceError | null) => void): void; close(): void };
    const tap = new TapClient(`127.0.0.1:${c.port}`, grpc.credentials.createInsecure()) as unknown as Sources;
    const sources = (token?: string) =>
      new Promise<number>((resolve) => {
        const md = new grpc.Metadata();
        if (token !== undefined) md.set('authorization', `Bearer ${token}`);
        tap.sources(Buffer.alloc(0), md, (err) => resolve(err ? err.code : grpc.status.OK));
      });
    expect(await sources()).toBe(grpc.status.UNAUTHENTICATED);
    expect(await sources('wrong')).toBe(grpc.status.UNAUTHENTICATED);
    expect(await sources('s3cret')).toBe(grpc.status.OK);
    tap.close();
    expect((await signalAndTime(c, 'SIGTERM')).code).toBe(0);
    expect(capFiles(out)).toEqual([]);
  }, 60_000);

  it('a client that never reads its acks is no longer read from: RSS bounded; when it vanishes its stream goes at once', async () => {
    const out = path.join(tmp, 'acks');
    const c = await startCollector(['--out', out, '--metrics-listen', '127.0.0.1:0']);
    const base = rssBytes(c.pid);
    const rss = watchRss(c.pid);
    const client = hostile(c.port);
    const flood = await client.floodWithoutReading({ message: frames(1), count: 2_000_000, timeoutMs: 15_000 });
    const peak = rss.stop();
    const batches = await metric(c, /podspan_collector_batches_total (\d+)/);
    console.log(`unread acks: RSS ${(base / MiB).toFixed(0)} MiB -> peak ${(peak / MiB).toFixed(0)} MiB; ${flood.sent} batches sent, ${batches} written`);
    expect(peak - base).toBeLessThan(RSS_GROWTH_BOUND);
    // the collector stopped reading: what it wrote is what fits in the acks' backlog, not the flood
    expect(batches).toBeLessThan(20_000); // ~7,300 here: 64 KiB of acks the client never read, in HTTP/2 frames
    expect(await metric(c, /podspan_collector_streams_paused_total (\d+)/)).toBeGreaterThan(0);
    expect(await metric(c, /podspan_collector_streams_open (\d+)/)).toBe(1);
    client.close();
    await until(async () => (await metric(c, /podspan_collector_streams_open (\d+)/)) === 0, 10_000, 'the stream to be dropped');
    const stop = await signalAndTime(c, 'SIGTERM');
    console.log(`unread acks: exit after the client left took ${stop.ms} ms`);
    expect(stop.code).toBe(0);
    expect(stop.ms).toBeLessThan(5000);
    expectValidFiles(out, batches);
  }, 90_000);

  it('SIGTERM while the abuser is still connected: the collector exits within its deadline, files valid', async () => {
    const out = path.join(tmp, 'sigterm');
    const c = await startCollector(['--out', out, '--metrics-listen', '127.0.0.1:0', '--shutdown-timeout', '2']);
    const flood = await hostile(c.port).floodWithoutReading({ message: frames(1), count: 2_000_000, timeoutMs: 5_000 });
    expect(flood.sent).toBeGreaterThan(0);
    // a slow HTTP client on the metrics port: half a request, never finished
    const slow = net.connect(new URL(c.metricsUrl!).port as unknown as number, '127.0.0.1');
    await new Promise((r) => slow.once('connect', r));
    slow.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
    slow.on('error', () => {});
    const batches = await metric(c, /podspan_collector_batches_total (\d+)/);
    const stop = await signalAndTime(c, 'SIGTERM');
    slow.destroy();
    console.log(`SIGTERM with the abuser connected: exit took ${stop.ms} ms`);
    expect(stop.code).toBe(0);
    expect(stop.ms).toBeLessThan(2000 + 2000);
    expect(c.stderr()).toMatch(/shutdown deadline/);
    expectValidFiles(out, batches);
  }, 60_000);

  it('a second signal while it waits for the abuser: stops at once, still exit 0 with its files closed valid', async () => {
    const out = path.join(tmp, 'second-signal');
    const c = await startCollector(['--out', out, '--metrics-listen', '127.0.0.1:0', '--shutdown-timeout', '30']);
    const flood = await hostile(c.port).floodWithoutReading({ message: frames(1), count: 2_000_000, timeoutMs: 5_000 });
    expect(flood.sent).toBeGreaterThan(0);
    const batches = await metric(c, /podspan_collector_batches_total (\d+)/);
    const t0 = Date.now();
    c.child.kill('SIGTERM');
    await until(() => /stopping/.test(c.stderr()), 10_000);
    c.child.kill('SIGINT'); // Ctrl-C after the orchestrator's SIGTERM: do not wait the 30 s
    const code = await c.exited;
    console.log(`second signal: exit took ${Date.now() - t0} ms`);
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(c.stderr()).toMatch(/second signal: cancelling the 1 stream still open/);
    expectValidFiles(out, batches);
  }, 60_000);
});

describe('collector batch validation', () => {
  it('a length field past the end is INVALID_ARGUMENT, never an empty batch, and creates no file', async () => {
    const out = path.join(tmp, 'past-end');
    const c = await startCollector(['--out', out, '--metrics-listen', '127.0.0.1:0']);
    const client = hostile(c.port);
    // agent "evil" (a string field claiming 100 bytes with 4 present), then a Source whose name runs past it
    for (const bad of [Buffer.from([0x0a, 100, 0x65, 0x76, 0x69, 0x6c]), Buffer.from([0x1a, 3, 0x0a, 100, 0x41])]) {
      const r = await client.send([bad]);
      expect(r.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(r.details).toMatch(/malformed batch: .*past the end/);
    }
    expect(await metric(c, /podspan_collector_streams_refused_total\{reason="malformed"\} (\d+)/)).toBe(2);
    expect((await signalAndTime(c, 'SIGTERM')).code).toBe(0);
    expect(capFiles(out)).toEqual([]);
  }, 60_000);

  it('a batch whose frames name a missing source creates neither the agent file nor its interfaces', async () => {
    const out = path.join(tmp, 'bad-source');
    const c = await startCollector(['--out', out]);
    const bad = encodeFrameBatch(batch({ agent: 'evil', frames: Buffer.alloc(60), caplen: u32s(60), origlen: u32s(60), timestampNs: u64s(1n), source: u32s(7) }));
    const r = await hostile(c.port).send([bad]);
    expect(r.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(r.details).toMatch(/frame 0 names source 7 of 1/);
    expect((await signalAndTime(c, 'SIGTERM')).code).toBe(0);
    expect(capFiles(out)).toEqual([]);
  }, 30_000);
});
