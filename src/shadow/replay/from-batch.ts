// Contract 1's exchange batches (JSON meta lines, [off, len] slices of one data buffer) into
// ShadowEvents. Bodies are copied out of the batch's buffer so a batch is freed once read.
import type { Answer } from '../answer';
import type { ShadowEvent } from './exchange';

type Slice = [number, number] | null | undefined;
type Headers = [string, string][];

interface MetaResponse {
  status: number;
  headers?: Headers;
  body?: Slice;
  body_length?: number;
  body_truncated?: boolean;
  trailers?: Headers;
  grpc_status?: number;
  latency_ms?: number;
  duration_ms?: number;
}

interface Meta {
  t: string;
  conn: string;
  ts_ms?: number;
  seq?: number;
  stream?: number;
  method?: string;
  target?: string;
  path?: string;
  route?: string;
  host?: string;
  authority?: string;
  headers?: Headers;
  body?: Slice;
  body_length?: number;
  body_truncated?: boolean;
  grpc?: boolean;
  resp?: MetaResponse | null;
  request?: Slice;
  reply?: Slice;
  latency_ms?: number;
  duration_ms?: number;
  reason?: string;
  count?: number;
  server_port?: number;
}

const EMPTY = Buffer.alloc(0);

function slice(data: Buffer, s: Slice): Buffer {
  if (!s || s[1] === 0) return EMPTY;
  return Buffer.from(data.subarray(s[0], s[0] + s[1]));
}

function answer(data: Buffer, r: MetaResponse): Answer {
  const body = slice(data, r.body);
  return {
    status: r.status,
    headers: r.headers ?? [],
    body,
    bodyLength: r.body_length ?? body.length,
    bodyTruncated: r.body_truncated === true,
    trailers: r.trailers,
    grpcStatus: r.grpc_status !== undefined && r.grpc_status >= 0 ? r.grpc_status : undefined,
    latencyMs: r.latency_ms,
    durationMs: r.duration_ms,
  };
}

/**
 * Batches' events in stream order. Requests production did not answer, and requests whose body
 * was cut at the capture's limit, cannot be compared: they come out as skips ("no_response",
 * "too_large"). Raw turns are grouped by server port (route ":PORT"), known from the
 * connection's open line, kept until its close.
 */
export class BatchDecoder {
  private readonly serverPorts = new Map<string, number>();

  decode(meta: Buffer, data: Buffer): ShadowEvent[] {
    return eventsFromBatch(meta, data, this.serverPorts);
  }
}

function eventsFromBatch(meta: Buffer, data: Buffer, serverPorts: Map<string, number>): ShadowEvent[] {
  const out: ShadowEvent[] = [];
  for (const line of meta.toString('utf8').split('\n')) {
    if (!line) continue;
    const m = JSON.parse(line) as Meta;
    const ts = m.ts_ms ?? 0;
    switch (m.t) {
      case 'open':
        if (m.server_port !== undefined) serverPorts.set(m.conn, m.server_port);
        out.push({ kind: 'open', conn: m.conn, ts });
        break;
      case 'close':
        serverPorts.delete(m.conn);
        out.push({ kind: 'close', conn: m.conn, ts });
        break;
      case 'skip':
        out.push({ kind: 'skip', reason: m.reason ?? 'unknown', count: m.count ?? 1 });
        break;
      case 'http':
      case 'h2': {
        if (!m.resp) {
          out.push({ kind: 'skip', reason: 'no_response', count: 1 });
          break;
        }
        if (m.body_truncated) {
          out.push({ kind: 'skip', reason: 'too_large', count: 1 });
          break;
        }
        const h2 = m.t === 'h2';
        const headers = (m.headers ?? []).filter(([n]) => !n.startsWith(':'));
        const target = (h2 ? m.path : m.target) ?? '/';
        const protocol = h2 ? (m.grpc ? 'grpc' : 'h2') : 'http';
        out.push({
          kind: 'exchange',
          exchange: {
            info: { conn: m.conn, ts, method: m.method ?? 'GET', path: m.path ?? target.split('?')[0], route: m.route ?? m.path ?? target, protocol },
            request: { kind: h2 ? 'h2' : 'http', method: m.method ?? 'GET', target, headers, body: slice(data, m.body), authority: h2 ? m.authority : m.host, grpc: m.grpc === true },
            production: answer(data, m.resp),
          },
        });
        break;
      }
      case 'turn': {
        const reply = slice(data, m.reply);
        out.push({
          kind: 'exchange',
          exchange: {
            info: { conn: m.conn, ts, method: 'TCP', path: '', route: `:${serverPorts.get(m.conn) ?? 0}`, protocol: 'raw' },
            request: { kind: 'raw', bytes: slice(data, m.request), replyLength: reply.length },
            production: { status: 0, headers: [], body: reply, bodyLength: reply.length, bodyTruncated: false, latencyMs: m.latency_ms, durationMs: m.duration_ms },
          },
        });
        break;
      }
      default:
        break; // a kind this version does not know: ignored rather than fatal
    }
  }
  return out;
}
