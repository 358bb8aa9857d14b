// Contract 1's rows written from typed lines, as native/core/shadow/exchange_rows.h writes them:
// for tests that hand the sending side batches without a capture, and for the reader's own tests.
// Bodies are appended to the batch's data in the order the native writer appends them.
import type { ExchangeLine, Headers } from '../../src/shadow/native-exchanges';
import { RowKind } from '../../src/shadow/exchange-rows';

class RowWriter {
  private readonly bytes: Buffer[] = [];
  private row: Buffer[] = [];
  private rowBytes = 0;
  private readonly chunks: Buffer[] = [];
  private dataBytes = 0;

  private push(b: Buffer): void {
    this.row.push(b);
    this.rowBytes += b.length;
  }

  u8(v: number): this {
    this.push(Buffer.from([v]));
    return this;
  }

  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
    return this;
  }

  f64(v: number | null): this {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v ?? NaN);
    this.push(b);
    return this;
  }

  flag(v: boolean): this {
    return this.u8(v ? 1 : 0);
  }

  str(s: string): this {
    const b = Buffer.from(s, 'latin1');
    this.u32(b.length);
    this.push(b);
    return this;
  }

  headers(h: Headers): this {
    this.u32(h.length);
    for (const [n, v] of h) this.str(n).str(v);
    return this;
  }

  slice(b: Buffer): this {
    this.u32(this.dataBytes).u32(b.length);
    this.chunks.push(b);
    this.dataBytes += b.length;
    return this;
  }

  begin(kind: RowKind, conn: string): this {
    this.row = [];
    this.rowBytes = 0;
    this.u32(0).u8(kind).f64(Number(conn));
    return this;
  }

  end(): void {
    this.row[0].writeUInt32LE(this.rowBytes);
    this.bytes.push(...this.row);
  }

  batch(): { meta: Buffer; data: Buffer } {
    return { meta: Buffer.concat(this.bytes), data: Buffer.concat(this.chunks) };
  }
}

/** One batch holding `lines` as the native side would write them (conn ids must be numbers). */
export function encodeRows(lines: ExchangeLine[]): { meta: Buffer; data: Buffer } {
  const w = new RowWriter();
  for (const l of lines) {
    switch (l.t) {
      case 'open':
        w.begin(RowKind.Open, l.conn).str(l.client).f64(l.client_port).str(l.server).f64(l.server_port).f64(l.ts_ms);
        break;
      case 'skip':
        w.begin(RowKind.Skip, l.conn).str(l.reason).f64(l.count);
        break;
      case 'close':
        w.begin(RowKind.Close, l.conn).f64(l.ts_ms);
        break;
      case 'turn':
        w.begin(RowKind.Turn, l.conn).f64(l.seq).f64(l.ts_ms).slice(l.request).slice(l.reply).f64(l.latency_ms).f64(l.duration_ms).flag(l.reply_truncated);
        break;
      case 'http': {
        w.begin(RowKind.Http, l.conn).f64(l.seq).f64(l.ts_ms).str(l.method).str(l.target).str(l.path).str(l.route).str(l.host).str(l.version);
        w.headers(l.headers).slice(l.body).f64(l.body_length).flag(l.body_truncated).flag(l.resp !== null);
        const r = l.resp;
        if (!r) w.str(l.note ?? 'no_response');
        else w.f64(r.status).str(r.version).headers(r.headers).slice(r.body).f64(r.body_length).flag(r.body_truncated).f64(r.ts_ms).f64(r.latency_ms).f64(r.duration_ms);
        break;
      }
      case 'h2': {
        w.begin(RowKind.H2, l.conn).f64(l.stream).f64(l.ts_ms).str(l.method).str(l.path).str(l.route).str(l.authority);
        w.headers(l.headers).slice(l.body).f64(l.body_length).flag(l.body_truncated).headers(l.trailers).flag(l.grpc).flag(l.resp !== null);
        const r = l.resp;
        if (!r) w.str(l.note ?? 'no_response');
        else w.f64(r.status).headers(r.headers).slice(r.body).f64(r.body_length).flag(r.body_truncated).headers(r.trailers).f64(r.grpc_status).f64(r.ts_ms).f64(r.latency_ms).f64(r.duration_ms);
        break;
      }
    }
    w.end();
  }
  return w.batch();
}
