// HTTP/2 (h2c with prior knowledge, or h2 over TLS) and gRPC with node:http2: one session per
// captured connection, streams in the captured order (each waits for the previous answer).
import http2 from 'node:http2';
import type { Answer } from '../answer';
import type { HttpRequest, RawTurn } from './exchange';
import { http2Headers } from './http-headers';
import { BodyCollector, closeGracefully, ReplayError, replayError, type Lane, type LaneOptions } from './lane';

function headerList(h: http2.IncomingHttpHeaders, skipPseudo: boolean): [string, string][] {
  const out: [string, string][] = [];
  for (const [n, v] of Object.entries(h)) {
    if (v === undefined || (skipPseudo && n.startsWith(':'))) continue;
    for (const one of Array.isArray(v) ? v : [v]) out.push([n, String(one)]);
  }
  return out;
}

export class Http2Lane implements Lane {
  private session?: http2.ClientHttp2Session;

  constructor(private readonly opts: LaneOptions) {}

  private connect(): http2.ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const s = http2.connect(this.opts.target.origin, this.opts.target.tls ? { rejectUnauthorized: !this.opts.insecure } : {});
    s.on('error', () => {}); // each stream reports its own failure
    this.session = s;
    return s;
  }

  send(req: HttpRequest | RawTurn): Promise<Answer> {
    if (req.kind === 'raw') return Promise.reject(new ReplayError('protocol', 'an HTTP/2 lane cannot send a raw turn'));
    return new Promise<Answer>((resolve, reject) => {
      const t0 = performance.now();
      let latencyMs = 0;
      let settled = false;
      const fail = (e: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        stream.close(http2.constants.NGHTTP2_CANCEL);
        reject(e instanceof ReplayError ? e : replayError(e));
      };
      const session = this.connect();
      const scheme = this.opts.target.tls ? 'https' : 'http';
      const stream = session.request(http2Headers(req, this.opts, scheme), { endStream: req.body.length === 0 });
      const timer = setTimeout(() => fail(new ReplayError('timeout', `no complete answer within ${this.opts.timeoutMs} ms`)), this.opts.timeoutMs);
      const body = new BodyCollector(this.opts.maxBodyBytes);
      let headers: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders | undefined;
      stream.on('response', (h) => {
        latencyMs = performance.now() - t0;
        headers = h;
      });
      stream.on('trailers', (t) => (trailers = t));
      stream.on('data', (c: Buffer) => body.push(c));
      stream.on('error', fail);
      session.once('error', fail);
      stream.on('close', () => {
        if (settled) return;
        if (headers[':status'] === undefined) return fail(new ReplayError('reset', `stream closed without an answer (code ${stream.rstCode})`));
        settled = true;
        clearTimeout(timer);
        const grpc = trailers?.['grpc-status'] ?? headers['grpc-status']; // trailers-only answers carry it in headers
        resolve({
          status: Number(headers[':status']),
          headers: headerList(headers, true),
          body: body.body(),
          bodyLength: body.length,
          bodyTruncated: body.truncated,
          trailers: trailers ? headerList(trailers, true) : undefined,
          grpcStatus: grpc !== undefined ? Number(grpc) : req.grpc ? -1 : undefined,
          latencyMs,
          durationMs: performance.now() - t0,
        });
      });
      if (req.body.length) stream.end(req.body);
    });
  }

  async close(): Promise<void> {
    const s = this.session;
    if (!s || s.destroyed) return;
    await closeGracefully((done) => s.close(done), () => s.destroy());
  }
}
