// The FrameBatch messages the native split writes (native/core/forward/frame_message.h), checked
// against the encoder they replace: protobufjs decodes them to the same message as
// encodeFrameBatch's bytes for the same frames, sources (pod labels, session) and drops, the
// collector's decoder reads them alike, and a head made before interfaces came is made again.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { NativeMessagePart } from '../../src/capture/native';
import { ipv4Frame, writePcap, type CraftedPacket } from '../helpers/craft';
import { CaptureSession, fileCaptureOptions } from '../../src/capture/session';
import { native } from '../../src/capture/native';
import { BATCH_TAIL_ROOM, batchPieces, completeBatch, decodeFrameBatch, encodeBatchHead, encodeFrameBatch, FrameBatchType, type Drops, type FrameBatch, type Source } from '../../src/forward/frame-batch';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-frame-message-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** UDP frames over 40 flows, 1 ms apart, 60 to ~1500 bytes, as a pcap. */
function writeFrames(file: string, n: number): CraftedPacket[] {
  const packets = Array.from({ length: n }, (_, i) => ({
    tsNs: 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000n,
    frame: ipv4Frame({ proto: 17, src: `10.0.0.${i % 40}`, dst: '10.1.1.1', sport: 40000 + (i % 40), dport: 5000, payload: Buffer.alloc(18 + ((i * 97) % 1440), i & 0xff) }),
  }));
  writePcap(file, packets);
  return packets;
}

/** Every message the native split writes for `targets` collectors, reading `file`. */
async function nativeMessages(file: string, targets: number, head: (sources: number) => Buffer, staleFirstHead = false) {
  const session = CaptureSession.open({ ...fileCaptureOptions(file), batches: { maxBytes: 64 << 10, flushMs: 50, queueBatches: 64 } });
  const parts: NativeMessagePart[][] = [];
  let heads = 0;
  await session.start(undefined, undefined, {
    targets,
    upMask: () => 2 ** targets - 1,
    hasRoom: () => true,
    onRoom: () => undefined,
    batchHead: () => {
      heads++;
      const sources = staleFirstHead && heads === 1 ? 0 : session.interfaces().length;
      return { bytes: head(sources), sources };
    },
    onColumns: (p) => parts.push(p),
  });
  return { parts, heads };
}

/** The batch the JavaScript encoder was given for the same frames (found by their timestamps). */
function expectedBatch(all: CraftedPacket[], decoded: { timestampNs: string[] }, agent: string, sources: Source[], sequence: number, drops: Drops): FrameBatch {
  const byTs = new Map(all.map((f) => [f.tsNs.toString(), f]));
  const mine = decoded.timestampNs.map((t) => byTs.get(t)!);
  const col = (width: number, put: (b: Buffer, f: CraftedPacket, at: number) => void) => {
    const b = Buffer.alloc(mine.length * width);
    mine.forEach((f, k) => put(b, f, k * width));
    return b;
  };
  return {
    agent,
    sequence,
    sources,
    frames: Buffer.concat(mine.map((f) => f.frame)),
    caplen: col(4, (b, f, at) => b.writeUInt32LE(f.frame.length, at)),
    origlen: col(4, (b, f, at) => b.writeUInt32LE(f.frame.length, at)),
    timestampNs: col(8, (b, f, at) => b.writeBigUInt64LE(f.tsNs, at)),
    source: col(4, (b, _f, at) => b.writeUInt32LE(0, at)),
    drops,
  };
}

const generic = (wire: Buffer) => FrameBatchType.toObject(FrameBatchType.decode(wire), { longs: String, bytes: Buffer, defaults: true, arrays: true, objects: true });

describe('native FrameBatch messages', () => {
  const agent = 'node-7/4242';
  const source: Source = { node: 'node-7', interface: 'veth9', linktype: 1, snaplen: 262144, podNamespace: 'shop', podName: 'cart-0', podLabels: { app: 'cart', tier: 'web' }, session: 'shop/mirror' };
  const drops: Drops = { kernel: 3, interface: 0, queueFull: 2 ** 40, disconnected: 1 };

  it('decode as the JavaScript encoder\'s bytes do, split over two collectors, every frame once', async () => {
    const file = path.join(tmp, 'mixed.pcap');
    const frames = writeFrames(file, 1200);
    const { parts } = await nativeMessages(file, 2, () => encodeBatchHead(agent, [source]));
    let seen = 0;
    let sequence = 0;
    const perCollector = [0, 0];
    for (const batch of parts) {
      for (const p of batch) {
        if (!p.message) {
          expect(p.count).toBe(0);
          continue;
        }
        const wire = completeBatch({ message: p.message, used: p.used }, ++sequence, drops);
        expect(wire.buffer).toBe(p.message.buffer); // the bytes written natively, not a copy
        const got = generic(wire);
        const want = generic(encodeFrameBatch(expectedBatch(frames, got as { timestampNs: string[] }, agent, [source], sequence, drops)));
        expect(got).toEqual(want);
        expect(got.caplen).toHaveLength(p.count);
        // the collector's own decoder (and its native check) reads both alike
        const a = decodeFrameBatch(wire);
        const b = decodeFrameBatch(encodeFrameBatch(expectedBatch(frames, got as { timestampNs: string[] }, agent, [source], sequence, drops)));
        expect({ ...a, frames: a.frames.equals(b.frames) }).toEqual({ ...b, frames: true });
        seen += p.count;
      }
      batch.forEach((p, t) => (perCollector[t] += p.count));
    }
    expect(seen).toBe(frames.length);
    expect(Math.min(...perCollector)).toBeGreaterThan(frames.length / 5); // 40 flows: both collectors have a share
  }, 30_000);

  it('the tail is the JavaScript encoder\'s bytes (zero drops written too), sequences and drops up to 2^53-1', () => {
    for (const [sequence, d] of [
      [1, { kernel: 0, interface: 0, queueFull: 0, disconnected: 0 }],
      [Number.MAX_SAFE_INTEGER, { kernel: Number.MAX_SAFE_INTEGER, interface: 2 ** 40, queueFull: 127, disconnected: 128 }],
    ] as const) {
      const empty = Buffer.alloc(0);
      const tail = completeBatch({ message: Buffer.alloc(BATCH_TAIL_ROOM, 0xee), used: 0 }, sequence, d);
      const before = encodeFrameBatch({ agent: '', sequence, sources: [], frames: empty, caplen: empty, origlen: empty, timestampNs: empty, source: empty, drops: d });
      expect(tail.toString('hex')).toBe(before.toString('hex'));
      // with a head, the sequence comes after the sources: another order, the same message
      const head = encodeBatchHead(agent, [source]);
      const message = Buffer.alloc(head.length + BATCH_TAIL_ROOM, 0xee);
      head.copy(message);
      const wire = completeBatch({ message, used: head.length }, sequence, d);
      expect(generic(wire)).toEqual(generic(encodeFrameBatch({ agent, sequence, sources: [source], frames: empty, caplen: empty, origlen: empty, timestampNs: empty, source: empty, drops: d })));
    }
  });

  it('a spare buffer is written into when the message fits it (and is at least half of it), and decodes alike', async () => {
    const file = path.join(tmp, 'spares.pcap');
    const frames = writeFrames(file, 1200);
    const session = CaptureSession.open({ ...fileCaptureOptions(file), batches: { maxBytes: 64 << 10, flushMs: 50, queueBatches: 64 } });
    let spares: (Buffer | undefined)[] = [Buffer.alloc(1 << 20, 0xee), Buffer.alloc(16, 0xee)]; // too big, too small: not used
    let reused = 0, sequence = 0, seen = 0;
    await session.start(undefined, undefined, {
      targets: 2,
      upMask: () => 3,
      hasRoom: () => true,
      onRoom: () => undefined,
      batchHead: () => ({ bytes: encodeBatchHead(agent, [source]), sources: session.interfaces().length }),
      spareBuffers: () => spares,
      onColumns: (parts) => {
        parts.forEach((p, t) => {
          if (!p.message) return;
          if (p.message === spares[t]) reused++;
          // checked now: its buffer is handed back below and written over by a later batch
          const wire = completeBatch({ message: p.message, used: p.used }, ++sequence, drops);
          const got = generic(wire);
          expect(got).toEqual(generic(encodeFrameBatch(expectedBatch(frames, got as { timestampNs: string[] }, agent, [source], sequence, drops))));
          seen += p.count;
        });
        spares = parts.map((p) => p.message ?? undefined); // as the forwarder does once grpc-js is done with them
      },
    });
    expect(seen).toBe(frames.length);
    expect(reused).toBeGreaterThan(0);
  });

  it('one collector: the frames are lent from the capture batch, not copied, and the pieces are the encoder\'s message', async () => {
    const file = path.join(tmp, 'lent.pcap');
    const frames = writeFrames(file, 1200);
    const { parts } = await nativeMessages(file, 1, () => encodeBatchHead(agent, [source]));
    let seen = 0, sequence = 0;
    for (const [p] of parts) {
      expect(p.frames).toBeInstanceOf(Buffer);
      const m = { message: p.message!, used: p.used, frames: p.frames, framesAt: p.framesAt };
      const pieces = batchPieces(m, ++sequence, drops);
      expect(pieces).toHaveLength(3);
      expect(pieces[1]).toBe(p.frames); // the capture batch's own bytes, written as they are
      expect(pieces[0].buffer).toBe(p.message!.buffer);
      const wire = Buffer.concat(pieces);
      const got = generic(wire);
      expect(got).toEqual(generic(encodeFrameBatch(expectedBatch(frames, got as { timestampNs: string[] }, agent, [source], sequence, drops))));
      expect(decodeFrameBatch(wire).frames.length).toBe(p.frames!.length);
      seen += p.count;
      // handed back: detached, so nothing can read the storage the capture fills again
      native().releaseFrames(p.frames!);
      expect(p.frames!.length).toBe(0);
      native().releaseFrames(p.frames!); // twice is harmless
    }
    expect(seen).toBe(frames.length);
    // only lent frames can be handed back: Node's own memory is never detached
    const own = Buffer.from('not lent');
    expect(() => native().releaseFrames(own)).toThrow(/not a Buffer of lent frames/);
    expect(own.toString()).toBe('not lent');
  });

  it('a head encoded before interfaces came is asked for again; the batch waits for it', async () => {
    const file = path.join(tmp, 'small.pcap');
    const frames = writeFrames(file, 50);
    const { parts, heads } = await nativeMessages(file, 1, (n) => encodeBatchHead(agent, Array(n).fill(source)), true);
    expect(heads).toBeGreaterThan(1);
    const total = parts.flat().reduce((n, p) => n + p.count, 0);
    expect(total).toBe(frames.length);
    for (const p of parts.flat()) expect(decodeFrameBatch(Buffer.concat(batchPieces({ message: p.message!, used: p.used, frames: p.frames, framesAt: p.framesAt }, 1, drops))).sources).toHaveLength(1);
  });
});
