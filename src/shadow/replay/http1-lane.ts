// HTTP/1.1 to the target with undici: one Client per captured connection (pipelining 1), so the
// candidate sees the original connection boundaries and each connection's order.
import { Client } from 'undici';
import type { Answer } from '../answer';
import type { HttpRequest, RawTurn } from './exchange';
import { http1Headers } from './http-headers';
import { BodyCollector, ReplayError, replayError, type Lane, type LaneOptions } from './lane';

function rawHeaders(raw: Buffer[] | string[] | unknown): [string, string][] {
  const list = raw as (Buffer | string)[];
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < list.length; i += 2) out.push([list[i].toString('latin1'), list[i + 1].toString('latin1')]);
  return out;
}

export class Http1Lane implements Lane {
  private readonly client: Client;

  constructor(private readonly opts: LaneOptions) {
    this.client = new Client(opts.target.origin, {
      pipelining: 1,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      connect: { timeout: opts.timeoutMs, ...(opts.target.tls ? { rejectUnauthorized: !opts.insecure } : {}) },
    });
    this.client.on('connectionError', () => {}); // each request reports its own failure
  }

  async send(req: HttpRequest | RawTurn): Promise<Answer> {
    if (req.kind !== 'http') throw new ReplayError('protocol', `an HTTP/1 lane cannot send a ${req.kind} request`);
    const ac = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, this.opts.timeoutMs);
    const t0 = performance.now();
    try {
      const res = await this.client.request({
        method: req.method,
        path: req.target,
        headers: http1Headers(req, this.opts),
        body: req.body.length ? req.body : undefined,
        responseHeaders: 'raw',
        signal: ac.signal,
        // undici closes the connection after a HEAD by default; the captured connection went on.
        ...(req.method === 'HEAD' ? { reset: false } : {}),
      });
      const latencyMs = performance.now() - t0;
      const body = new BodyCollector(this.opts.maxBodyBytes);
      for await (const chunk of res.body) body.push(chunk as Buffer);
      const trailers = Object.entries(res.trailers ?? {}).map(([n, v]) => [n, String(v)] as [string, string]);
      return {
        status: res.statusCode,
        headers: rawHeaders(res.headers),
        body: body.body(),
        bodyLength: body.length,
        bodyTruncated: body.truncated,
        ...(trailers.length ? { trailers } : {}),
        latencyMs,
        durationMs: performance.now() - t0,
      };
    } catch (err) {
      if (timedOut) throw new ReplayError('timeout', `no complete answer within ${this.opts.timeoutMs} ms`);
      throw replayError(err);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.client.close().catch(() => this.client.destroy().catch(() => {}));
  }
}
