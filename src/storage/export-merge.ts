// `podspan export`'s second half: the selected capture objects fetched one at a time into a
// temporary folder, each read natively (with the -f filter compiled by libpcap), the packets of
// the selected interfaces inside the time range kept and written, sorted by time, to a run file
// on disk; then the runs are merged (a heap over their heads) in time order (ties keep object,
// then file order) into one pcapng with one interface per node/pod/interface. Memory follows the
// largest object's matching packets and a read buffer per run, not the size of the export.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { CaptureSession } from '../capture/session';
import { native } from '../capture/native';
import { fromNative, StoreError } from '../errors';
import type { Selected } from './export-query';
import { describeS3Error, type StoreLocation } from './store';

interface NativeWriter {
  addInterface(i: { name: string; description: string; linktype: number; snaplen: number }): number;
  write(frames: Buffer, caplen: Buffer, origlen: Buffer, ts: Buffer, source: Buffer, count: number, map: Buffer): number;
  close(): void;
}

export interface ExportProgress {
  objects: number;
  objectsTotal: number;
  bytesFetched: number;
  bytesTotal: number;
  packets: number;
}

/** The kept packets: columns in typed arrays grown by doubling, bytes referenced in batch copies. */
class Kept {
  count = 0;
  tsHi = new Uint32Array(1024);
  tsLo = new Uint32Array(1024);
  caplen = new Uint32Array(1024);
  origlen = new Uint32Array(1024);
  iface = new Uint32Array(1024);
  chunk = new Uint32Array(1024);
  offset = new Uint32Array(1024);
  readonly chunks: Buffer[] = [];

  push(hi: number, lo: number, caplen: number, origlen: number, iface: number, chunk: number, offset: number): void {
    if (this.count === this.tsHi.length) this.grow();
    const i = this.count++;
    this.tsHi[i] = hi;
    this.tsLo[i] = lo;
    this.caplen[i] = caplen;
    this.origlen[i] = origlen;
    this.iface[i] = iface;
    this.chunk[i] = chunk;
    this.offset[i] = offset;
  }

  private grow(): void {
    for (const k of ['tsHi', 'tsLo', 'caplen', 'origlen', 'iface', 'chunk', 'offset'] as const) {
      const bigger = new Uint32Array(this[k].length * 2);
      bigger.set(this[k]);
      this[k] = bigger;
    }
  }

  /** Indices in time order; equal times keep the order kept. */
  order(): Uint32Array {
    const idx = new Uint32Array(this.count);
    for (let i = 0; i < this.count; i++) idx[i] = i;
    const { tsHi, tsLo } = this;
    return idx.sort((a, b) => tsHi[a] - tsHi[b] || tsLo[a] - tsLo[b] || a - b);
  }
}

const WRITE_CHUNK = 4096;
const UNRESOLVED = -2;
const RECORD_U32 = 8; // see src/capture/batch.ts

export async function exportCaptures(
  client: S3Client,
  loc: StoreLocation,
  selected: Selected[],
  range: { sinceNs: bigint; untilNs: bigint },
  filter: string | undefined,
  out: string,
  progress: (p: ExportProgress) => void,
  signal?: AbortSignal,
): Promise<{ packets: number; interfaces: number }> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-export-'));
  const runs: string[] = [];
  let total = 0;
  const outIfaces = new Map<string, { out: number; name: string; description: string; linktype: number; snaplen: number }>();
  const p: ExportProgress = { objects: 0, objectsTotal: selected.length, bytesFetched: 0, bytesTotal: selected.reduce((n, s) => n + s.index.sizeBytes, 0), packets: 0 };
  const [sinceHi, sinceLo] = halves(range.sinceNs);
  const [untilHi, untilLo] = halves(range.untilNs);
  try {
    for (const s of selected) {
      signal?.throwIfAborted();
      const file = path.join(tmp, s.index.file);
      await fetchObject(client, loc, s.index.object!, file, (n) => {
        p.bytesFetched += n;
        progress(p);
      }, signal);
      const session = openFile(file, filter, s.index.object!);
      const stopReading = () => session.stop();
      signal?.addEventListener('abort', stopReading, { once: true });
      // The file's interfaces (by index) → output interface (-1: not selected). A pcapng's
      // interface blocks are known as the reader reaches them: resolved on first use.
      const wanted = new Map(s.interfaces.map((i) => [i.index, i]));
      const route = new Int32Array(Math.max(0, ...s.index.interfaces.map((i) => i.index)) + 1).fill(UNRESOLVED);
      const resolve = (index: number): number => {
        const i = wanted.get(index);
        const f = session.interfaces()[index];
        if (!i || !f) return (route[index] = -1);
        const key = `${i.name}\u0000${f.linktype}`;
        let o = outIfaces.get(key);
        if (!o) outIfaces.set(key, (o = { out: outIfaces.size, name: i.name, description: f.description, linktype: f.linktype, snaplen: f.snaplen }));
        return (route[index] = o.out);
      };
      const kept = new Kept();
      const result = await session.start((b) => {
        const t = b.table;
        let chunk = -1;
        for (let k = 0; k < b.count; k++) {
          const base = k * RECORD_U32;
          const lo = t[base], hi = t[base + 1], iface = t[base + 5];
          const o = iface >= route.length ? -1 : route[iface] === UNRESOLVED ? resolve(iface) : route[iface];
          if (o < 0) continue;
          if (hi < sinceHi || (hi === sinceHi && lo < sinceLo) || hi > untilHi || (hi === untilHi && lo > untilLo)) continue;
          if (chunk < 0) {
            kept.chunks.push(Buffer.from(b.data)); // the batch's bytes are the addon's: keep a copy
            chunk = kept.chunks.length - 1;
          }
          kept.push(hi, lo, t[base + 3], t[base + 4], o, chunk, t[base + 2]);
        }
        p.packets = total + kept.count;
      });
      signal?.removeEventListener('abort', stopReading);
      signal?.throwIfAborted(); // what was read of the object is not all of it
      fs.rmSync(file, { force: true });
      if (result.error) throw new StoreError(`${s.index.object}: ${result.error.message}`);
      if (kept.count) runs.push(writeRun(kept, path.join(tmp, `run-${runs.length}`)));
      total += kept.count;
      p.objects++;
      progress(p);
    }
    writeMerged(runs, [...outIfaces.values()], out);
    return { packets: total, interfaces: outIfaces.size };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function halves(ns: bigint): [number, number] {
  return [Number(ns >> 32n), Number(ns & 0xffffffffn)];
}

function openFile(file: string, filter: string | undefined, key: string): CaptureSession {
  try {
    return CaptureSession.open({ source: { kind: 'file', path: file }, filter, snaplen: 262144, promisc: false, immediate: false, timeoutMs: 100, batches: {} });
  } catch (err) {
    const e = fromNative(err);
    throw filter && e.code === 'ERR_FILTER' ? e : new StoreError(`${key}: ${e.message}`);
  }
}

async function fetchObject(client: S3Client, loc: StoreLocation, key: string, file: string, onBytes: (n: number) => void, signal?: AbortSignal): Promise<void> {
  try {
    const r = await client.send(new GetObjectCommand({ Bucket: loc.bucket, Key: key }), { abortSignal: signal });
    const body = r.Body as NodeJS.ReadableStream;
    body.on('data', (d: Buffer) => onBytes(d.length));
    await pipeline(body, fs.createWriteStream(file), { signal });
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw new StoreError(`s3://${loc.bucket}/${key}: ${describeS3Error(err)}`);
  }
}

// A run file: per packet RUN_HEADER bytes (ts high, ts low, caplen, origlen, output interface;
// little-endian u32) and its bytes, in time order.
const RUN_HEADER = 20;
const RUN_BUFFER = 1 << 20;

function writeRun(kept: Kept, file: string): string {
  const fd = fs.openSync(file, 'w');
  try {
    // Frames are at most the readers' snaplen (256 KiB): a record always fits the buffer.
    const buf = Buffer.allocUnsafe(RUN_BUFFER);
    let used = 0;
    const flush = () => {
      for (let off = 0; off < used; ) off += fs.writeSync(fd, buf, off, used - off);
      used = 0;
    };
    for (const i of kept.order()) {
      const len = kept.caplen[i];
      if (used + RUN_HEADER + len > buf.length) flush();
      const src = kept.chunks[kept.chunk[i]].subarray(kept.offset[i], kept.offset[i] + len);
      buf.writeUInt32LE(kept.tsHi[i], used);
      buf.writeUInt32LE(kept.tsLo[i], used + 4);
      buf.writeUInt32LE(len, used + 8);
      buf.writeUInt32LE(kept.origlen[i], used + 12);
      buf.writeUInt32LE(kept.iface[i], used + 16);
      src.copy(buf, used + RUN_HEADER);
      used += RUN_HEADER + len;
    }
    flush();
  } finally {
    fs.closeSync(fd);
  }
  return file;
}

/** Reads a run file record by record through one buffer (grown only for a record larger than it). */
class RunReader {
  private buf = Buffer.allocUnsafe(RUN_BUFFER);
  private start = 0;
  private end = 0;
  private eof = false;
  /** The current record's header fields and where its bytes are (valid until next()). */
  hi = 0;
  lo = 0;
  caplen = 0;
  origlen = 0;
  iface = 0;
  at = 0;

  constructor(private readonly fd: number) {}

  /** Moves to the next record; false at the end. */
  next(): boolean {
    if (this.caplen || this.at) this.start = this.at + this.caplen;
    if (!this.ensure(RUN_HEADER)) return false;
    const b = this.buf, s = this.start;
    this.hi = b.readUInt32LE(s);
    this.lo = b.readUInt32LE(s + 4);
    const caplen = b.readUInt32LE(s + 8);
    this.origlen = b.readUInt32LE(s + 12);
    this.iface = b.readUInt32LE(s + 16);
    if (!this.ensure(RUN_HEADER + caplen)) throw new StoreError('export: a temporary run file ends inside a packet (disk full?)');
    this.caplen = caplen;
    this.at = this.start + RUN_HEADER;
    return true;
  }

  bytes(): Buffer {
    return this.buf.subarray(this.at, this.at + this.caplen);
  }

  private ensure(n: number): boolean {
    if (this.end - this.start >= n) return true;
    // Keep what is left at the front, grow for an oversized record, refill.
    if (n > this.buf.length) {
      const bigger = Buffer.allocUnsafe(n);
      this.buf.copy(bigger, 0, this.start, this.end);
      this.buf = bigger;
    } else this.buf.copy(this.buf, 0, this.start, this.end);
    this.end -= this.start;
    this.start = 0;
    this.at = 0;
    this.caplen = 0;
    while (!this.eof && this.end < this.buf.length) {
      const got = fs.readSync(this.fd, this.buf, this.end, this.buf.length - this.end, null);
      if (got === 0) this.eof = true;
      this.end += got;
    }
    return this.end - this.start >= n;
  }
}

/** Heap order: earlier time first; equal times keep run (object) order. */
function before(a: RunReader, ai: number, b: RunReader, bi: number): boolean {
  return a.hi !== b.hi ? a.hi < b.hi : a.lo !== b.lo ? a.lo < b.lo : ai < bi;
}

function writeMerged(runs: string[], ifaces: { out: number; name: string; description: string; linktype: number; snaplen: number }[], out: string): void {
  const Writer = (native() as unknown as { NativeWriter: new (o: object) => NativeWriter }).NativeWriter;
  let writer: NativeWriter;
  try {
    writer = new Writer({ path: out, format: 'pcapng', application: 'podspan export', comments: ['packets exported from object storage by podspan export'] });
  } catch (err) {
    throw fromNative(err);
  }
  const map = Buffer.alloc(ifaces.length * 4);
  for (const i of ifaces) map.writeUInt32LE(writer.addInterface({ name: i.name, description: i.description, linktype: i.linktype, snaplen: i.snaplen }), i.out * 4);
  const fds = runs.map((r) => fs.openSync(r, 'r'));
  try {
    const readers = fds.map((fd) => new RunReader(fd));
    // A binary heap of run indices by their current record.
    const heap: number[] = [];
    const less = (x: number, y: number) => before(readers[heap[x]], heap[x], readers[heap[y]], heap[y]);
    const swap = (x: number, y: number) => ([heap[x], heap[y]] = [heap[y], heap[x]]);
    const down = (i: number) => {
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < heap.length && less(l, m)) m = l;
        if (r < heap.length && less(r, m)) m = r;
        if (m === i) return;
        swap(i, m);
        i = m;
      }
    };
    for (let i = 0; i < readers.length; i++) if (readers[i].next()) heap.push(i);
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i);

    // A chunk goes out early when the next frame does not fit (frames are at most 256 KiB).
    const frames = Buffer.allocUnsafe(4 << 20);
    const caplen = Buffer.allocUnsafe(WRITE_CHUNK * 4), origlen = Buffer.allocUnsafe(WRITE_CHUNK * 4), ts = Buffer.allocUnsafe(WRITE_CHUNK * 8), source = Buffer.allocUnsafe(WRITE_CHUNK * 4);
    let n = 0, at = 0;
    const flush = () => {
      if (!n) return;
      writer.write(frames.subarray(0, at), caplen.subarray(0, n * 4), origlen.subarray(0, n * 4), ts.subarray(0, n * 8), source.subarray(0, n * 4), n, map);
      n = 0;
      at = 0;
    };
    try {
      while (heap.length) {
        const r = readers[heap[0]];
        if (n === WRITE_CHUNK || at + r.caplen > frames.length) flush();
        r.bytes().copy(frames, at);
        at += r.caplen;
        caplen.writeUInt32LE(r.caplen, n * 4);
        origlen.writeUInt32LE(r.origlen, n * 4);
        ts.writeUInt32LE(r.lo, n * 8);
        ts.writeUInt32LE(r.hi, n * 8 + 4);
        source.writeUInt32LE(r.iface, n * 4);
        n++;
        if (!r.next()) {
          heap[0] = heap[heap.length - 1];
          heap.pop();
        }
        if (heap.length) down(0);
      }
      flush();
    } catch (err) {
      writer.close();
      throw err instanceof StoreError ? err : fromNative(err);
    }
    writer.close();
  } finally {
    for (const fd of fds) fs.closeSync(fd);
  }
}
