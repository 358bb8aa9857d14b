// Exchange batches (Contract 1, parsed by native-exchanges.ts) into ShadowEvents. Live, bodies
// are copied out of the batch's data, so a batch is freed once read whatever still waits to be
// sent; from a file they stay views of it (no copy per exchange): the read-ahead keeps only a few
// batches' exchanges waiting (run.ts, fileReadAhead).
import type { Answer } from '../answer';
import { HEADERS_IN_ROW, httpRowHeaders, readRows } from '../exchange-rows';
import type { ExchangeBatch, ExchangeLine, H2Line, HttpLine } from '../native-exchanges';
import type { ExchangeRowRef, ReplayExchange, ShadowEvent } from './exchange';

type Keep = (b: Buffer) => Buffer;
const copy: Keep = (b) => Buffer.from(b);
const view: Keep = (b) => b;

function withoutQuery(target: string): string {
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}

function httpEvent(m: HttpLine | H2Line, ts: number, keep: Keep, row: ExchangeRowRef | undefined): ShadowEvent {
  // Not comparable: production gave no answer (or reset the stream), or the body was cut.
  if (!m.resp) return { kind: 'skip', reason: m.note ?? 'no_response', count: 1 };
  if (m.body_truncated) return { kind: 'skip', reason: 'too_large', count: 1 };
  const h2 = m.t === 'h2';
  const target = h2 ? m.path : m.target;
  const r = m.resp;
  const production: Answer = {
    status: r.status,
    headers: r.headers,
    body: keep(r.body),
    bodyLength: r.body_length,
    bodyTruncated: r.body_truncated,
    latencyMs: r.latency_ms,
    durationMs: r.duration_ms,
    ...('trailers' in r ? { trailers: r.trailers, grpcStatus: r.grpc_status >= 0 ? r.grpc_status : undefined } : {}),
  };
  return {
    kind: 'exchange',
    exchange: {
      // An HTTP/1 line's path is its target without the query already; an HTTP/2 line's is :path as sent.
      info: { conn: m.conn, ts, method: m.method, path: h2 ? withoutQuery(target) : m.path, route: m.route, protocol: h2 ? (m.grpc ? 'grpc' : 'h2') : 'http' },
      request: {
        kind: h2 ? 'h2' : 'http',
        method: m.method,
        target,
        // Pseudo-headers are HTTP/2's only.
        headers: h2 ? m.headers.filter(([n]) => !n.startsWith(':')) : m.headers,
        body: keep(m.body),
        authority: h2 ? m.authority : m.host,
        grpc: h2 && m.grpc,
        row,
      },
      production,
    },
  };
}

/**
 * Batches' events in stream order. Raw turns are grouped by server port (route ":PORT", method
 * "TCP"), known from the connection's open line and kept until its close.
 */
export class BatchDecoder {
  private readonly serverPorts = new Map<string, number>();
  private readonly keep: Keep;

  /**
   * `views`: bodies stay views of the batch's data (a file's few waiting batches), else copies.
   * `headersInRow`: HTTP/1 exchanges' header lists stay in their rows (HEADERS_IN_ROW) until
   * headersFromRow reads them: for a replay whose transport writes requests from rows.
   */
  constructor(
    private readonly views = false,
    private readonly headersInRow = false,
  ) {
    this.keep = views ? view : copy;
  }

  decode(batch: ExchangeBatch): ShadowEvent[] {
    const starts: number[] = [];
    const lines = readRows(batch.meta, batch.data, 'shadow exchanges', starts, this.headersInRow);
    return lines.map((m, i) => this.event(m, m.t === 'http' ? this.row(batch.meta, starts[i]) : undefined));
  }

  /** An HTTP/1 request's row, for the native transport: a view of a file's batch, a copy live. */
  private row(meta: Buffer, start: number): ExchangeRowRef {
    const end = start + meta.readUInt32LE(start);
    return this.views ? { bytes: meta, start, end } : { bytes: Buffer.from(meta.subarray(start, end)), start: 0, end: end - start };
  }

  private event(m: ExchangeLine, row?: ExchangeRowRef): ShadowEvent {
    switch (m.t) {
      case 'open':
        this.serverPorts.set(m.conn, m.server_port);
        return { kind: 'open', conn: m.conn, ts: m.ts_ms };
      case 'close':
        this.serverPorts.delete(m.conn);
        return { kind: 'close', conn: m.conn, ts: m.ts_ms };
      case 'skip':
        return { kind: 'skip', reason: m.reason, count: m.count };
      case 'http':
      case 'h2':
        return httpEvent(m, m.ts_ms, this.keep, row);
      case 'turn': {
        const reply = this.keep(m.reply);
        return {
          kind: 'exchange',
          exchange: {
            info: { conn: m.conn, ts: m.ts_ms, method: 'TCP', path: '', route: `:${this.serverPorts.get(m.conn) ?? 0}`, protocol: 'raw' },
            request: { kind: 'raw', bytes: this.keep(m.request), replyLength: reply.length },
            // latency null: a turn without request (a greeting) or without reply.
            production: { status: 0, headers: [], body: reply, bodyLength: reply.length, bodyTruncated: m.reply_truncated, latencyMs: m.latency_ms ?? undefined, durationMs: m.duration_ms ?? undefined },
          },
        };
      }
    }
  }
}

/** Reads the request's and production's header lists an HTTP/1 exchange left in its row, if it did. */
export function headersFromRow(ex: ReplayExchange): void {
  const req = ex.request;
  if (req.kind !== 'http' || !req.row || (req.headers !== HEADERS_IN_ROW && ex.production.headers !== HEADERS_IN_ROW)) return;
  const h = httpRowHeaders(req.row.bytes, req.row.start, req.row.end);
  req.headers = h.request;
  ex.production.headers = h.response;
}
