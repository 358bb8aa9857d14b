// Contract 1's rows: how native/core/shadow/exchange_rows.h lays out each exchange in a batch's
// `meta`, read back into typed lines. Binary, not JSON lines: parsing a JSON line cost ~3.4 µs of
// the event loop per exchange, most of what a row now costs in all.
//
// A row: u32 its length in bytes (this field included), u8 its kind, f64 the connection id, then
// the kind's fields in a fixed order. Numbers are f64 (times in ms, NaN when unknown); strings
// are u32 n and n bytes, one character per byte (latin1: HTTP's bytes as they were, as Node's
// HTTP parser gives headers); headers are u32 count and that many name, value string pairs; a
// slice is u32 off, u32 len into the batch's `data`; a flag is a u8. The order per kind is
// written out in readRow() below and in the native writer, each beside its own side.
import { InputFileError } from '../errors';
import type { ExchangeLine, Headers, H2Response, HttpResponse } from './native-exchanges';

export enum RowKind {
  Open = 1,
  Http = 2,
  H2 = 3,
  Turn = 4,
  Skip = 5,
  Close = 6,
}

/** Bytes before a row's fields: u32 length, u8 kind, f64 connection. */
export const ROW_HEAD_BYTES = 13;

/** The kind of the row at `at` and where the next one starts (no other field is read). */
export function rowAt(meta: Buffer, at: number): { kind: number; end: number } {
  if (meta.length - at < ROW_HEAD_BYTES) return { kind: 0, end: meta.length + 1 };
  return { kind: meta[at + 4], end: at + meta.readUInt32LE(at) };
}

const EMPTY = Buffer.alloc(0);

/**
 * The header lists of an http row read with `headersInRow`: left in the row, read from it by
 * httpRowHeaders when wanted (the native transport writes the request and compares the answer
 * from the row; most exchanges never need either list in JavaScript).
 */
export const HEADERS_IN_ROW: Headers = Object.freeze([]) as unknown as Headers;

class RowReader {
  private readonly view: DataView;
  private readonly text: string;
  at = 0;
  end = 0;
  /** The row being read, from 1: every refusal names it. */
  row = 0;

  constructor(
    private readonly meta: Buffer,
    /** null: slices are read as empty (only a row's other fields are wanted). */
    private readonly data: Buffer | null,
    private readonly where: string,
    /** HTTP/1 rows' header lists are stepped over (HEADERS_IN_ROW). */
    readonly headersInRow = false,
  ) {
    this.view = new DataView(meta.buffer, meta.byteOffset, meta.byteLength);
    this.text = meta.toString('latin1');
  }

  /** `what` completes "row N ...". */
  fail(what: string): never {
    throw new InputFileError(`${this.where}: row ${this.row} ${what}`);
  }

  private need(n: number): void {
    if (this.end - this.at < n) this.fail('is shorter than its fields');
  }

  u8(): number {
    this.need(1);
    return this.view.getUint8(this.at++);
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.at, true);
    this.at += 4;
    return v;
  }

  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.at, true);
    this.at += 8;
    return v;
  }

  /** NaN (unknown) as null. */
  msOrNull(): number | null {
    const v = this.f64();
    return v === v ? v : null;
  }

  flag(): boolean {
    return this.u8() !== 0;
  }

  str(): string {
    const n = this.u32();
    this.need(n);
    const s = this.text.slice(this.at, this.at + n);
    this.at += n;
    return s;
  }

  headers(): Headers {
    const count = this.u32();
    // Each pair takes at least its two lengths: a count the row cannot hold is refused before
    // anything is made of it.
    if (count > (this.end - this.at) / 8) this.fail('has a header count longer than the row');
    const out: Headers = new Array(count);
    for (let i = 0; i < count; i++) out[i] = [this.str(), this.str()];
    return out;
  }

  /** An HTTP/1 row's headers, or HEADERS_IN_ROW (their strings stepped over) with headersInRow. */
  httpHeaders(): Headers {
    if (!this.headersInRow) return this.headers();
    const count = this.u32();
    if (count > (this.end - this.at) / 8) this.fail('has a header count longer than the row');
    for (let i = 0; i < 2 * count; i++) {
      const n = this.u32();
      this.need(n);
      this.at += n;
    }
    return HEADERS_IN_ROW;
  }

  slice(): Buffer {
    const off = this.u32();
    const len = this.u32();
    if (this.data === null) return EMPTY;
    if (off + len > this.data.length) this.fail("has a slice outside the batch's data");
    // Most requests have no body: one shared empty Buffer rather than a view each.
    return len === 0 ? EMPTY : this.data.subarray(off, off + len);
  }
}

/**
 * The rows of one batch, in stream order, slices as views of `data` (they share its memory).
 * A row that is not what the native side writes is an InputFileError naming `where` and the row.
 * `starts`, when given, gets each row's offset in `meta` (its length is its first u32).
 */
export function readRows(meta: Buffer, data: Buffer, where: string, starts?: number[], headersInRow = false): ExchangeLine[] {
  const out: ExchangeLine[] = [];
  const r = new RowReader(meta, data, where, headersInRow);
  while (r.end < meta.length) {
    const at = r.end;
    r.row++;
    if (meta.length - at < ROW_HEAD_BYTES) r.fail('is cut short');
    const length = meta.readUInt32LE(at);
    if (length < ROW_HEAD_BYTES || length > meta.length - at) r.fail(`has a length (${length}) its batch cannot hold`);
    r.at = at + 4;
    r.end = at + length;
    const line = readRow(r);
    if (r.at !== r.end) r.fail(`has ${r.end - r.at} bytes past its fields`);
    out.push(line);
    starts?.push(at);
  }
  return out;
}

function readRow(r: RowReader): ExchangeLine {
  const kind = r.u8();
  const conn = String(r.f64());
  switch (kind) {
    case RowKind.Open:
      return { t: 'open', conn, client: r.str(), client_port: r.f64(), server: r.str(), server_port: r.f64(), ts_ms: r.f64() };
    case RowKind.Skip:
      return { t: 'skip', conn, reason: r.str(), count: r.f64() };
    case RowKind.Close:
      return { t: 'close', conn, ts_ms: r.f64() };
    case RowKind.Turn:
      return {
        t: 'turn',
        conn,
        seq: r.f64(),
        ts_ms: r.f64(),
        request: r.slice(),
        reply: r.slice(),
        latency_ms: r.msOrNull(),
        duration_ms: r.msOrNull(),
        reply_truncated: r.flag(),
      };
    case RowKind.Http: {
      const line = {
        t: 'http' as const,
        conn,
        seq: r.f64(),
        ts_ms: r.f64(),
        method: r.str(),
        target: r.str(),
        path: r.str(),
        route: r.str(),
        host: r.str(),
        version: r.str(),
        headers: r.httpHeaders(),
        body: r.slice(),
        body_length: r.f64(),
        body_truncated: r.flag(),
        resp: null as HttpResponse | null,
      };
      if (!r.flag()) return { ...line, note: note(r, 'no_response') };
      line.resp = {
        status: r.f64(),
        version: r.str(),
        headers: r.httpHeaders(),
        body: r.slice(),
        body_length: r.f64(),
        body_truncated: r.flag(),
        ts_ms: r.f64(),
        latency_ms: r.f64(),
        duration_ms: r.f64(),
      };
      return line;
    }
    case RowKind.H2: {
      const line = {
        t: 'h2' as const,
        conn,
        stream: r.f64(),
        ts_ms: r.f64(),
        method: r.str(),
        path: r.str(),
        route: r.str(),
        authority: r.str(),
        headers: r.headers(),
        body: r.slice(),
        body_length: r.f64(),
        body_truncated: r.flag(),
        trailers: r.headers(),
        grpc: r.flag(),
        resp: null as H2Response | null,
      };
      if (!r.flag()) return { ...line, note: note(r, 'no_response', 'reset') };
      line.resp = {
        status: r.f64(),
        headers: r.headers(),
        body: r.slice(),
        body_length: r.f64(),
        body_truncated: r.flag(),
        trailers: r.headers(),
        grpc_status: r.f64(),
        ts_ms: r.f64(),
        latency_ms: r.f64(),
        duration_ms: r.f64(),
      };
      return line;
    }
    default:
      return r.fail(`is of an unknown kind (${kind})`);
  }
}

/**
 * The request's and production's header lists of one http row (`bytes[start, end)`), read with
 * headersInRow before: what HEADERS_IN_ROW stood for.
 */
export function httpRowHeaders(bytes: Buffer, start: number, end: number): { request: Headers; response: Headers } {
  // No batch data: the row's slices are stepped over.
  const r = new RowReader(bytes, null, 'shadow exchanges');
  r.row = 1;
  r.at = start + 4;
  r.end = end;
  const line = readRow(r);
  if (line.t !== 'http') return r.fail('is not an HTTP/1 exchange');
  return { request: line.headers, response: line.resp?.headers ?? [] };
}

/** Why a request has no response: one of `known`. */
function note<T extends string>(r: RowReader, ...known: T[]): T {
  const v = r.str();
  if ((known as string[]).includes(v)) return v as T;
  return r.fail(`has an unknown note ${JSON.stringify(v)}`);
}

/** A skip row of connection 0, as the native queue writes one for what it dropped. */
export function skipRow(reason: string, count: number): Buffer {
  const length = ROW_HEAD_BYTES + 4 + Buffer.byteLength(reason, 'latin1') + 8;
  const b = Buffer.alloc(length);
  let at = b.writeUInt32LE(length, 0);
  at = b.writeUInt8(RowKind.Skip, at);
  at = b.writeDoubleLE(0, at);
  at = b.writeUInt32LE(length - ROW_HEAD_BYTES - 12, at);
  at += b.write(reason, at, 'latin1');
  b.writeDoubleLE(count, at);
  return b;
}
