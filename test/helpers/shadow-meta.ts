// Contract 1's exchange batches (meta rows + one data buffer), made in a test from real
// requests and production's real answers, for the sending side's tests before (and besides) the
// native extractor: what the capture would hand over, without a capture.
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { ExchangeSource } from '../../src/shadow/run';
import type { ConsumerFlow } from '../../src/capture/session';
import type { ExchangeLine } from '../../src/shadow/native-exchanges';
import { encodeRows } from './exchange-rows';

export class MetaBuilder {
  private lines: ExchangeLine[] = [];
  private ts = 1_700_000_000_000;

  /** Milliseconds between successive exchanges' ts_ms (pacing tests). */
  step = 1;

  open(conn: string, serverPort = 80): void {
    this.lines.push({ t: 'open', conn, client: '10.0.0.1', client_port: 40000, server: '10.0.0.2', server_port: serverPort, ts_ms: this.ts });
  }

  close(conn: string): void {
    this.lines.push({ t: 'close', conn, ts_ms: this.ts });
  }

  skip(conn: string, reason: string, count = 1): void {
    this.lines.push({ t: 'skip', conn, reason, count });
  }

  http(conn: string, seq: number, req: { method: string; target: string; route: string; headers?: [string, string][]; body?: Buffer }, resp: { status: number; headers: [string, string][]; body: Buffer }): void {
    this.ts += this.step;
    const body = req.body ?? Buffer.alloc(0);
    this.lines.push({
      t: 'http', conn, seq, ts_ms: this.ts, method: req.method, target: req.target, path: req.target.split('?')[0], route: req.route,
      host: 'shop.example', version: '1.1', headers: [['Host', 'shop.example'], ...(req.headers ?? [])],
      body, body_length: body.length, body_truncated: false,
      resp: { status: resp.status, version: '1.1', headers: resp.headers, body: resp.body, body_length: resp.body.length, body_truncated: false, ts_ms: this.ts + 1, latency_ms: 1, duration_ms: 1 },
    });
  }

  h2(conn: string, stream: number, req: { method: string; path: string; route: string; headers: [string, string][]; body?: Buffer; grpc?: boolean }, resp: H2Answer): void {
    this.ts += this.step;
    const body = req.body ?? Buffer.alloc(0);
    const grpcStatus = resp.trailers.find(([n]) => n === 'grpc-status')?.[1] ?? resp.headers.find(([n]) => n === 'grpc-status')?.[1];
    this.lines.push({
      t: 'h2', conn, stream, ts_ms: this.ts, method: req.method, path: req.path, route: req.route, authority: 'shop.example',
      headers: [[':method', req.method], [':path', req.path], [':scheme', 'http'], [':authority', 'shop.example'], ...req.headers],
      body, body_length: body.length, body_truncated: false, trailers: [], grpc: req.grpc === true,
      resp: { status: resp.status, headers: resp.headers, body: resp.body, body_length: resp.body.length, body_truncated: false, trailers: resp.trailers, grpc_status: grpcStatus === undefined ? -1 : Number(grpcStatus), ts_ms: this.ts + 1, latency_ms: 1, duration_ms: 1 },
    });
  }

  turn(conn: string, seq: number, request: Buffer, reply: Buffer): void {
    this.ts += this.step;
    this.lines.push({ t: 'turn', conn, seq, ts_ms: this.ts, request, reply, latency_ms: 0.1, duration_ms: 0.1, reply_truncated: false });
  }

  take(): { meta: Buffer; data: Buffer } {
    const b = encodeRows(this.lines);
    this.lines = [];
    return b;
  }
}

/** An ExchangeSource that hands over the given batches, one per event-loop turn; a file's waits for room. */
export function batchSource(batches: { meta: Buffer; data: Buffer }[], live: boolean): ExchangeSource & { waits: number } {
  let fn: ((b: { meta: Buffer; data: Buffer }) => void) | undefined;
  let flow: ConsumerFlow | undefined;
  let stopped = false;
  const src = {
    live,
    waits: 0,
    onExchanges: (f: typeof fn, fl: ConsumerFlow) => void ((fn = f), (flow = fl)),
    stop: () => void (stopped = true),
    async start() {
      for (const b of batches) {
        if (stopped) break;
        if (!live && flow && !flow.hasRoom()) {
          src.waits++;
          await new Promise<void>((r) => flow!.onRoom(r));
        }
        fn?.(b);
        await new Promise((r) => setImmediate(r));
      }
      return {};
    },
  };
  return src;
}

/** Production's real answer to a request (what the capture would have seen), over one keep-alive agent. */
export async function ask(port: number, agent: http.Agent, method: string, target: string, body?: Buffer): Promise<{ status: number; headers: [string, string][]; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: target, agent, headers: { host: 'shop.example' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const headers: [string, string][] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) headers.push([res.rawHeaders[i], res.rawHeaders[i + 1]]);
        resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks) });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** One raw request/reply turn on a socket: writes `request`, reads until `done(reply)`. */
export async function rawTurn(sock: net.Socket, request: Buffer, done: (reply: Buffer) => boolean): Promise<Buffer> {
  return new Promise((resolve) => {
    let reply = Buffer.alloc(0);
    const onData = (c: Buffer) => {
      reply = Buffer.concat([reply, c]);
      if (done(reply)) {
        sock.off('data', onData);
        resolve(reply);
      }
    };
    sock.on('data', onData);
    sock.write(request);
  });
}

export interface H2Answer {
  status: number;
  headers: [string, string][];
  body: Buffer;
  trailers: [string, string][];
}

const list = (h: http2.IncomingHttpHeaders): [string, string][] => Object.entries(h).flatMap(([n, v]) => (Array.isArray(v) ? v : [v]).map((x) => [n, String(x)] as [string, string]));

/** Production's real HTTP/2 answer on a client session (a captured h2 connection's stream). */
export function askH2(session: http2.ClientHttp2Session, headers: Record<string, string>, body?: Buffer): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':authority': 'shop.example', ...headers }, { endStream: !body });
    let h: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (r) => (h = r));
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', reject);
    stream.on('close', () => resolve({ status: Number(h[':status']), headers: list(h), body: Buffer.concat(chunks), trailers: list(trailers) }));
    if (body) stream.end(body);
  });
}
