// The FrameBatch codec against protobufjs's generic decoder (wire compatibility of the packed
// columns written as raw little-endian arrays), and malformed batches refused.
import { describe, expect, it } from 'vitest';
import { decodeFrameBatch, encodeFrameBatch, FrameBatchType, MalformedBatchError, type FrameBatch } from '../../src/forward/frame-batch';

function sample(): FrameBatch {
  const caplen = Buffer.alloc(12), origlen = Buffer.alloc(12), ts = Buffer.alloc(24), source = Buffer.alloc(12);
  [3, 1, 2].forEach((v, i) => {
    caplen.writeUInt32LE(v, i * 4);
    origlen.writeUInt32LE(v + 100, i * 4);
    ts.writeBigUInt64LE(1_700_000_000_123_456_789n + BigInt(i), i * 8);
    source.writeUInt32LE(i === 2 ? 1 : 0, i * 4);
  });
  return {
    agent: 'node-1/42',
    sequence: 7,
    sources: [
      { node: 'node-1', interface: 'veth1', linktype: 1, snaplen: 262144, podNamespace: 'shop', podName: 'cart-0', podLabels: { app: 'cart' } },
      { node: 'node-1', interface: 'eth0', linktype: 1, snaplen: 262144 },
    ],
    frames: Buffer.from('abcdef'),
    caplen,
    origlen,
    timestampNs: ts,
    source,
    drops: { kernel: 5, interface: 0, queueFull: 2, disconnected: 1 },
  };
}

describe('FrameBatch codec', () => {
  it('writes what protobufjs reads as the proto says, and reads it back as views', () => {
    const wire = encodeFrameBatch(sample());
    const generic = FrameBatchType.toObject(FrameBatchType.decode(wire), { longs: String, bytes: Buffer }) as Record<string, unknown>;
    expect(generic.caplen).toEqual([3, 1, 2]);
    expect(generic.origlen).toEqual([103, 101, 102]);
    expect(generic.timestampNs).toEqual(['1700000000123456789', '1700000000123456790', '1700000000123456791']);
    expect(generic.source).toEqual([0, 0, 1]);
    expect(generic.agent).toBe('node-1/42');
    expect((generic.sources as { podLabels: object }[])[0].podLabels).toEqual({ app: 'cart' });
    const back = decodeFrameBatch(wire);
    expect(back.frames.toString()).toBe('abcdef');
    expect(back.caplen.equals(sample().caplen)).toBe(true);
    expect(back.timestampNs.equals(sample().timestampNs)).toBe(true);
    expect(back.drops).toEqual({ kernel: 5, interface: 0, queueFull: 2, disconnected: 1 });
    expect(back.sources[0]).toMatchObject({ podName: 'cart-0', podNamespace: 'shop' });
    expect(back.sequence).toBe(7);
  });

  it('encodes small batches correctly however Node\'s buffer pool turns over (each is decoded back)', () => {
    // Small messages come from Node's shared 8 KiB pool; an encoder that serialised twice and
    // mixed the two buffers sent garbage whenever the pool turned over in between.
    for (let i = 0; i < 3000; i++) {
      const b = sample();
      b.sequence = i + 1;
      const wire = encodeFrameBatch(b);
      Buffer.allocUnsafe(100 + (i % 700)); // churn the pool
      expect(decodeFrameBatch(wire).sequence).toBe(i + 1);
    }
  });

  it('reads the unpacked form other encoders may write', () => {
    const generic = FrameBatchType.encode(FrameBatchType.fromObject({ agent: 'a', sequence: 1, sources: [{ node: 'n' }], frames: Buffer.from('xy'), caplen: [2], origlen: [2], timestampNs: ['5'], source: [0] })).finish();
    const b = decodeFrameBatch(Buffer.from(generic));
    expect(b.caplen.readUInt32LE(0)).toBe(2);
    expect(b.timestampNs.readBigUInt64LE(0)).toBe(5n);
  });

  it('refuses bytes that are not a FrameBatch and columns that disagree', () => {
    expect(() => decodeFrameBatch(Buffer.from([0x0a, 0xff, 0xff, 0xff]))).toThrow(MalformedBatchError);
    const bad = sample();
    bad.origlen = bad.origlen.subarray(0, 8);
    expect(() => decodeFrameBatch(encodeFrameBatch(bad))).toThrow(/columns disagree/);
  });

  it('refuses a length past the end at any depth (protobufjs read these as agent "A" and a Source)', () => {
    expect(() => decodeFrameBatch(Buffer.from([0x0a, 100, 0x41]))).toThrow(/batch field 1 \(agent\) at byte 0: length 100 runs past the end \(1 bytes left\)/);
    expect(() => decodeFrameBatch(Buffer.from([0x1a, 3, 0x0a, 100, 0x41]))).toThrow(/source field 1 \(node\) at byte 2: length 100 runs past the end/);
  });

  it('refuses frames that name a missing source or whose lengths do not add up, before anything is written', () => {
    const missing = sample();
    missing.source.writeUInt32LE(2, 8);
    expect(() => decodeFrameBatch(encodeFrameBatch(missing))).toThrow(/frame 2 names source 2 of 2/);
    const short = sample();
    short.frames = Buffer.from('abcde');
    expect(() => decodeFrameBatch(encodeFrameBatch(short))).toThrow(/frame lengths add up to 6 bytes, the frames field holds 5/);
  });
});
