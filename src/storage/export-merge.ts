// `podspan export`'s second half: the selected capture objects fetched one at a time into a
// temporary folder, each read natively (with the -f filter compiled by libpcap), the packets of
// the selected interfaces inside the time range kept, then all of them written in time order
// (ties keep object, then file order) to one pcapng with one interface per node/pod/interface.
// The matching packets are held in memory until written: an export is bounded by what it selects.
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
): Promise<{ packets: number; interfaces: number }> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-export-'));
  const kept = new Kept();
  const outIfaces = new Map<string, { out: number; name: string; description: string; linktype: number; snaplen: number }>();
  const p: ExportProgress = { objects: 0, objectsTotal: selected.length, bytesFetched: 0, bytesTotal: selected.reduce((n, s) => n + s.index.sizeBytes, 0), packets: 0 };
  const [sinceHi, sinceLo] = halves(range.sinceNs);
  const [untilHi, untilLo] = halves(range.untilNs);
  try {
    for (const s of selected) {
      const file = path.join(tmp, s.index.file);
      await fetchObject(client, loc, s.index.object!, file, (n) => {
        p.bytesFetched += n;
        progress(p);
      });
      const session = openFile(file, filter, s.index.object!);
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
        p.packets = kept.count;
      });
      fs.rmSync(file, { force: true });
      if (result.error) throw new StoreError(`${s.index.object}: ${result.error.message}`);
      p.objects++;
      progress(p);
    }
    writeMerged(kept, [...outIfaces.values()], out);
    return { packets: kept.count, interfaces: outIfaces.size };
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

async function fetchObject(client: S3Client, loc: StoreLocation, key: string, file: string, onBytes: (n: number) => void): Promise<void> {
  try {
    const r = await client.send(new GetObjectCommand({ Bucket: loc.bucket, Key: key }));
    const body = r.Body as NodeJS.ReadableStream;
    body.on('data', (d: Buffer) => onBytes(d.length));
    await pipeline(body, fs.createWriteStream(file));
  } catch (err) {
    throw new StoreError(`s3://${loc.bucket}/${key}: ${describeS3Error(err)}`);
  }
}

function writeMerged(kept: Kept, ifaces: { out: number; name: string; description: string; linktype: number; snaplen: number }[], out: string): void {
  const Writer = (native() as unknown as { NativeWriter: new (o: object) => NativeWriter }).NativeWriter;
  let writer: NativeWriter;
  try {
    writer = new Writer({ path: out, format: 'pcapng', application: 'podspan export', comments: ['packets exported from object storage by podspan export'] });
  } catch (err) {
    throw fromNative(err);
  }
  const map = Buffer.alloc(ifaces.length * 4);
  for (const i of ifaces) map.writeUInt32LE(writer.addInterface({ name: i.name, description: i.description, linktype: i.linktype, snaplen: i.snaplen }), i.out * 4);
  const order = kept.order();
  for (let start = 0; start < order.length; start += WRITE_CHUNK) {
    const n = Math.min(WRITE_CHUNK, order.length - start);
    let bytes = 0;
    for (let j = 0; j < n; j++) bytes += kept.caplen[order[start + j]];
    const frames = Buffer.allocUnsafe(bytes);
    const caplen = Buffer.allocUnsafe(n * 4), origlen = Buffer.allocUnsafe(n * 4), ts = Buffer.allocUnsafe(n * 8), source = Buffer.allocUnsafe(n * 4);
    let at = 0;
    for (let j = 0; j < n; j++) {
      const i = order[start + j];
      const len = kept.caplen[i];
      kept.chunks[kept.chunk[i]].copy(frames, at, kept.offset[i], kept.offset[i] + len);
      at += len;
      caplen.writeUInt32LE(len, j * 4);
      origlen.writeUInt32LE(kept.origlen[i], j * 4);
      ts.writeUInt32LE(kept.tsLo[i], j * 8);
      ts.writeUInt32LE(kept.tsHi[i], j * 8 + 4);
      source.writeUInt32LE(kept.iface[i], j * 4);
    }
    try {
      writer.write(frames, caplen, origlen, ts, source, n, map);
    } catch (err) {
      writer.close();
      throw fromNative(err);
    }
  }
  writer.close();
}
