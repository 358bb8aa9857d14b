// The FrameBatch wire codec (proto/podspan/v1/mirror.proto). Columns travel as packed fixed32 /
// fixed64 fields, whose wire form is exactly a little-endian array: the agent writes the native
// column buffers as they are and the collector reads them back as Buffer views, so neither side
// touches a frame in JavaScript. Sub-messages (Source, Drops, Ack) use protobufjs's types.
import path from 'node:path';
import protobuf from 'protobufjs';
import { native } from '../capture/native';
import type { RecordKind } from '../analysis/records';

const root = protobuf.loadSync(path.resolve(__dirname, '..', '..', 'proto', 'podspan', 'v1', 'mirror.proto'));
export const SourceType = root.lookupType('podspan.v1.Source');
export const DropsType = root.lookupType('podspan.v1.Drops');
export const AckType = root.lookupType('podspan.v1.Ack');
export const FrameBatchType = root.lookupType('podspan.v1.FrameBatch');
export const RecordsType = root.lookupType('podspan.v1.Records');

/** Analytics records in a batch: whole JSON lines of one kind. */
export interface RecordLines {
  kind: RecordKind;
  lines: Buffer;
}

/** The most JSON-line bytes one Records message carries (the agent splits larger batches). */
export const MAX_RECORD_LINES_BYTES = 1 << 20;
const KIND_NUMBERS: Record<RecordKind, number> = { flows: 1, http: 2, dns: 3, alerts: 4 };
const KINDS_BY_NUMBER: RecordKind[] = ['flows', 'flows', 'http', 'dns', 'alerts'];

export interface Source {
  node: string;
  interface: string;
  linktype: number;
  snaplen: number;
  podNamespace?: string;
  podName?: string;
  podLabels?: Record<string, string>;
  /** The agent's mirror session that captured the frames (empty from `podspan capture --forward`). */
  session?: string;
}

export interface Drops {
  kernel: number;
  interface: number;
  queueFull: number;
  disconnected: number;
}

export interface FrameBatch {
  agent: string;
  sequence: number;
  sources: Source[];
  frames: Buffer;
  /** Little-endian uint32 per frame. */
  caplen: Buffer;
  origlen: Buffer;
  /** Little-endian uint64 per frame. */
  timestampNs: Buffer;
  /** Little-endian uint32 per frame: index into sources. */
  source: Buffer;
  drops: Drops;
  /** Analytics records (absent or empty: none). */
  records?: RecordLines[];
}

export interface Ack {
  sequence: number;
  frames: number;
}

const packed = (w: protobuf.Writer, field: number, buf: Buffer) => {
  if (buf.length) w.uint32((field << 3) | 2).bytes(buf);
};

const writeSources = (w: protobuf.Writer, sources: Source[]) => {
  for (const s of sources) SourceType.encode(SourceType.fromObject(s), w.uint32((3 << 3) | 2).fork()).ldelim();
};

/** protobufjs's finish() serialises anew on every call, into a buffer that may come from Node's shared pool: call it once and keep that view. */
const finished = (w: protobuf.Writer): Buffer => {
  const out = w.finish();
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
};

export function encodeFrameBatch(b: FrameBatch): Buffer {
  const w = protobuf.Writer.create();
  if (b.agent) w.uint32((1 << 3) | 2).string(b.agent);
  if (b.sequence) w.uint32(2 << 3).uint64(b.sequence);
  writeSources(w, b.sources);
  if (b.frames.length) w.uint32((4 << 3) | 2).bytes(b.frames);
  packed(w, 5, b.caplen);
  packed(w, 6, b.origlen);
  packed(w, 7, b.timestampNs);
  packed(w, 8, b.source);
  DropsType.encode(DropsType.fromObject(b.drops), w.uint32((9 << 3) | 2).fork()).ldelim();
  for (const r of b.records ?? []) w.uint32((10 << 3) | 2).fork().uint32(8).uint32(KIND_NUMBERS[r.kind]).uint32(18).bytes(r.lines).ldelim();
  return finished(w);
}

/**
 * The head of the messages the native split writes (native/core/forward/frame_message.h): the
 * agent and the sources (fields 1 and 3), encoded once for as long as the sources stay the same.
 */
export function encodeBatchHead(agent: string, sources: Source[]): Buffer {
  const w = protobuf.Writer.create();
  if (agent) w.uint32((1 << 3) | 2).string(agent);
  writeSources(w, sources);
  return finished(w);
}

/**
 * A message the native split wrote: `used` bytes, then room for writeBatchTail; with `frames`
 * (lent, not copied), those go on the wire after message[0, framesAt).
 */
export interface NativeMessage {
  message: Buffer;
  used: number;
  frames?: Buffer;
  framesAt?: number;
}

/** Bytes a native message holds (its buffer and any lent frames): what the forwarder's queue counts. */
export function messageBytes(m: NativeMessage): number {
  return m.message.length + (m.frames?.length ?? 0);
}

/**
 * The completed message (completeBatch) as the pieces that go on the wire in this order: itself,
 * or with lent frames its head, the frames and the rest, none of them copied.
 */
export function batchPieces(m: NativeMessage, sequence: number, drops: Drops): Buffer[] {
  const wire = completeBatch(m, sequence, drops);
  if (!m.frames) return [wire];
  const at = m.framesAt ?? 0;
  return [wire.subarray(0, at), m.frames, wire.subarray(at)];
}

/** Gives lent frames back to the capture (nothing to do for frames in the message). Once written or dropped; never used again. */
export function releaseMessage(m: NativeMessage): void {
  if (m.frames) native().releaseFrames(m.frames);
}

/** Bytes the native split leaves after a message for writeBatchTail (kFrameBatchTailRoom). */
export const BATCH_TAIL_ROOM = 1 + 10 + 2 + 4 * 11;

function putVarint(buf: Buffer, at: number, v: number): number {
  // numbers up to 2^53: division, not 32-bit shifts
  while (v >= 0x80) {
    buf[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[at++] = v;
  return at;
}

/**
 * Completes a natively written message with what is known only when it is sent: the sequence
 * (field 2) and the drops (field 9, always present, as encodeFrameBatch writes it) after its
 * `used` bytes. Returns the whole message, a view of the same memory.
 */
export function completeBatch(m: NativeMessage, sequence: number, drops: Drops): Buffer {
  const buf = m.message;
  let at = m.used;
  if (sequence) at = putVarint(buf, putVarint(buf, at, 2 << 3), sequence);
  buf[at] = (9 << 3) | 2;
  let end = at + 2;
  for (const [field, v] of [[1, drops.kernel], [2, drops.interface], [3, drops.queueFull], [4, drops.disconnected]] as const) {
    end = putVarint(buf, putVarint(buf, end, field << 3), v); // zeros too, as protobufjs wrote them
  }
  buf[at + 1] = end - at - 2; // at most 44: a one-byte length
  return buf.subarray(0, end);
}

/** A batch with no agent, sources or frames (what an empty message decodes to). */
export function emptyFrameBatch(): FrameBatch {
  return {
    agent: '',
    sequence: 0,
    sources: [],
    frames: Buffer.alloc(0),
    caplen: Buffer.alloc(0),
    origlen: Buffer.alloc(0),
    timestampNs: Buffer.alloc(0),
    source: Buffer.alloc(0),
    drops: { kernel: 0, interface: 0, queueFull: 0, disconnected: 0 },
  };
}

/** Thrown for a batch that does not hold together; the collector refuses the stream. */
export class MalformedBatchError extends Error {}

const toNumber = (v: unknown): number => (typeof v === 'number' ? v : Number(v as { toString(): string }));

/**
 * Decodes a received batch after checking it completely (native/core/forward/frame_batch.h: every length
 * within the message, columns consistent, lengths adding up, sources present), so a batch that
 * does not hold together is refused before anything acts on it.
 */
export function decodeFrameBatch(data: Buffer): FrameBatch {
  const problem = native().checkFrameBatch(data);
  if (problem !== undefined) throw new MalformedBatchError(problem);
  const r = protobuf.Reader.create(data);
  const b = emptyFrameBatch();
  const view = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  const columns: Record<number, Buffer[]> = { 5: [], 6: [], 7: [], 8: [] };
  try {
    while (r.pos < r.len) {
      const tag = r.uint32();
      const field = tag >>> 3, wire = tag & 7;
      if (field === 1 && wire === 2) b.agent = r.string();
      else if (field === 2 && wire === 0) b.sequence = toNumber(r.uint64());
      else if (field === 3 && wire === 2) {
        const s = SourceType.toObject(SourceType.decode(r, r.uint32()), { defaults: true }) as Source;
        b.sources.push(s);
      } else if (field === 4 && wire === 2) b.frames = view(r.bytes());
      else if (field >= 5 && field <= 8 && wire === 2) columns[field].push(view(r.bytes()));
      else if ((field === 5 || field === 6 || field === 8) && wire === 5) {
        const one = Buffer.alloc(4);
        one.writeUInt32LE(r.fixed32());
        columns[field].push(one); // the unpacked form some encoders write
      } else if (field === 7 && wire === 1) {
        const one = Buffer.alloc(8);
        one.writeBigUInt64LE(BigInt(r.fixed64().toString()));
        columns[7].push(one);
      } else if (field === 9 && wire === 2) {
        const d = DropsType.toObject(DropsType.decode(r, r.uint32()), { defaults: true, longs: Number }) as Drops;
        b.drops = d;
      } else if (field === 10 && wire === 2) {
        (b.records ??= []).push(decodeRecords(r.bytes()));
      } else r.skipType(wire);
    }
  } catch (err) {
    if (err instanceof MalformedBatchError) throw err;
    throw new MalformedBatchError(`not a FrameBatch: ${(err as Error).message}`);
  }
  const col = (f: number) => (columns[f].length === 1 ? columns[f][0] : Buffer.concat(columns[f]));
  b.caplen = col(5);
  b.origlen = col(6);
  b.timestampNs = col(7);
  b.source = col(8);
  return b;
}

/** One Records message, checked: a known kind, whole lines, within MAX_RECORD_LINES_BYTES. */
function decodeRecords(data: Uint8Array): RecordLines {
  const m = RecordsType.toObject(RecordsType.decode(data), { defaults: true, enums: Number }) as { kind: number; lines: Uint8Array };
  if (m.kind < 1 || m.kind >= KINDS_BY_NUMBER.length) throw new MalformedBatchError(`records of unknown kind ${m.kind}`);
  const lines = Buffer.from(m.lines.buffer, m.lines.byteOffset, m.lines.byteLength);
  if (lines.length > MAX_RECORD_LINES_BYTES) throw new MalformedBatchError(`records of ${lines.length} bytes (at most ${MAX_RECORD_LINES_BYTES})`);
  if (lines.length && lines[lines.length - 1] !== 0x0a) throw new MalformedBatchError('records that do not end with a whole line');
  return { kind: KINDS_BY_NUMBER[m.kind], lines };
}

/** `lines` (whole JSON lines) cut at line ends into pieces of at most `max` bytes (a longer line alone). */
export function splitLines(lines: Buffer, max = MAX_RECORD_LINES_BYTES): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  while (start < lines.length) {
    let end = Math.min(lines.length, start + max);
    if (end < lines.length) {
      const cut = lines.lastIndexOf(0x0a, end - 1);
      end = cut >= start ? cut + 1 : lines.indexOf(0x0a, end) + 1 || lines.length;
    }
    out.push(lines.subarray(start, end));
    start = end;
  }
  return out;
}

export function encodeAck(a: Ack): Buffer {
  return Buffer.from(AckType.encode(AckType.fromObject(a)).finish());
}

export function decodeAck(data: Buffer): Ack {
  return AckType.toObject(AckType.decode(data), { defaults: true, longs: Number }) as Ack;
}
