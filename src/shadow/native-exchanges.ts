// Shadow testing's native edge (Contract 1): a capture opened with `shadow` hands over batches of
// exchanges — `meta`, rows written by native/core/shadow/extractor.cc (laid out as
// exchange-rows.ts says), and `data`, the bytes their slices point at. This module holds the
// options and batch types, turns a batch into typed lines whose bodies are Buffer views of `data`
// (subarray: no copy), and readExchanges() runs a whole capture file through the extractor
// (tests, small files).
import { CaptureSession, fileCaptureOptions, type CaptureResult } from '../capture/session';
import { readRows } from './exchange-rows';

export interface ShadowCaptureOptions {
  /** http: HTTP/1.x and HTTP/2 recognised per connection; raw: every selected connection cut into turns. */
  protocol: 'http' | 'raw';
  /** The server side when the SYN was not seen (raw: also which connections are taken). */
  serverPorts: number[];
  /** Upper case; requests with other methods are counted skipped "method". Empty: every method. */
  methods: string[];
  /** 0..100: whole connections in or out by a hash of the 4-tuple; out: skipped "percent". */
  percent: number;
  /** Response body (raw: reply) bytes kept per message (default 1 MiB); beyond: *_truncated. */
  maxBodyBytes: number;
  /** A request body (raw: turn) longer than this cannot be replayed: skipped "too_large" (default 1 MiB). */
  maxRequestBytes: number;
  /** A batch is handed over once it holds this many bytes (default 4 MiB) ... */
  maxBytes?: number;
  /** ... or is this old (default 200 ms). */
  flushMs?: number;
  /** Batches waiting for JavaScript (default 16); live, a batch that finds no room is dropped (queue_full). */
  queueBatches?: number;
  /** Connections tracked at once, and the idle timeout (as analysis). */
  maxFlows?: number;
  flowTimeoutSeconds?: number;
}

/** One batch: meta (rows) and the data their [off, len] pairs slice. */
export interface ExchangeBatch {
  meta: Buffer;
  data: Buffer;
}

export interface ShadowStats {
  /** Connections whose exchanges were taken (open lines). */
  connections: number;
  /** http, h2 and turn lines handed to JavaScript. */
  exchanges: number;
  /** By reason: tls, h2-midstream, method, too_large, gap, not_http, percent, queue_full. */
  skipped: Record<string, number>;
  /** Live: batches dropped because JavaScript did not take them fast enough. */
  droppedBatches: number;
  /** Batches handed over; packets and TCP streams seen; bytes the reassembler declared missing. */
  batches: number;
  packets: number;
  streams: number;
  gapBytes: number;
}

export type Headers = [string, string][];

export interface OpenLine {
  t: 'open';
  conn: string;
  client: string;
  client_port: number;
  server: string;
  server_port: number;
  ts_ms: number;
}

export interface HttpResponse {
  status: number;
  version: string;
  headers: Headers;
  body: Buffer;
  body_length: number;
  body_truncated: boolean;
  ts_ms: number;
  latency_ms: number;
  duration_ms: number;
}

export interface HttpLine {
  t: 'http';
  conn: string;
  seq: number;
  ts_ms: number;
  method: string;
  target: string;
  path: string;
  route: string;
  host: string;
  version: string;
  headers: Headers;
  body: Buffer;
  body_length: number;
  body_truncated: boolean;
  resp: HttpResponse | null;
  note?: 'no_response';
}

export interface H2Response {
  status: number;
  headers: Headers;
  body: Buffer;
  body_length: number;
  body_truncated: boolean;
  trailers: Headers;
  /** -1 when absent */
  grpc_status: number;
  ts_ms: number;
  latency_ms: number;
  duration_ms: number;
}

/** One HTTP/2 stream (prior knowledge or h2c Upgrade; gRPC when its content type says so). */
export interface H2Line {
  t: 'h2';
  conn: string;
  stream: number;
  ts_ms: number;
  method: string;
  /** :path as sent, query included. */
  path: string;
  route: string;
  authority: string;
  /** Pseudo-headers included, in the order decoded. */
  headers: Headers;
  body: Buffer;
  body_length: number;
  body_truncated: boolean;
  trailers: Headers;
  grpc: boolean;
  resp: H2Response | null;
  note?: 'no_response' | 'reset';
}

export interface TurnLine {
  t: 'turn';
  conn: string;
  seq: number;
  ts_ms: number;
  request: Buffer;
  reply: Buffer;
  /** Null when the turn had no request (a server greeting) or no reply. */
  latency_ms: number | null;
  duration_ms: number | null;
  reply_truncated: boolean;
}

export interface SkipLine {
  t: 'skip';
  conn: string;
  reason: string;
  count: number;
}

export interface CloseLine {
  t: 'close';
  conn: string;
  ts_ms: number;
}

export type ExchangeLine = OpenLine | HttpLine | H2Line | TurnLine | SkipLine | CloseLine;

/**
 * The rows of one batch (Contract 1, exchange-rows.ts), in stream order, slices as views of
 * `batch.data` (they share its memory: copy a body to keep it beyond the batch's life, if that
 * matters). A row that is not what the native side writes is an InputFileError naming `where`.
 */
export function parseExchangeBatch(batch: ExchangeBatch, where = 'shadow exchanges'): ExchangeLine[] {
  return readRows(batch.meta, batch.data, where);
}

export const DEFAULT_SHADOW_CAPTURE: ShadowCaptureOptions = {
  protocol: 'http',
  serverPorts: [],
  methods: [],
  percent: 100,
  maxBodyBytes: 1 << 20,
  maxRequestBytes: 1 << 20,
};

export interface CaptureExchanges {
  lines: ExchangeLine[];
  stats: ShadowStats | undefined;
  result: CaptureResult;
}

/**
 * Runs a capture file through the shadow extractor and returns every line, parsed, in order.
 * For tests and small files: a long capture is better streamed through CaptureSession.onExchanges().
 */
export async function readExchanges(file: string, options: Partial<ShadowCaptureOptions> = {}, filter?: string): Promise<CaptureExchanges> {
  const session = CaptureSession.open({ ...fileCaptureOptions(file, filter), shadow: { ...DEFAULT_SHADOW_CAPTURE, ...options } });
  const lines: ExchangeLine[] = [];
  session.onExchanges((b) => lines.push(...parseExchangeBatch(b, file)));
  const result = await session.start();
  if (result.error) throw result.error;
  return { lines, stats: result.shadowStats, result };
}
