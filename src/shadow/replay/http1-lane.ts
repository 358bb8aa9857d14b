// HTTP/1.1 to the target with undici: one connection per captured connection (pipelining 1), so
// the candidate sees the original connection boundaries and each connection's order. The Client
// comes from Http1Clients, which reuses it for a later captured connection once this one closed.
import type { Answer } from '../answer';
import type { HttpRequest, RawTurn } from './exchange';
import { asksToClose, http1Headers } from './http-headers';
import type { Http1Clients, PooledClient } from './http1-clients';
import { BodyCollector, ReplayError, replayError, type Lane, type LaneOptions } from './lane';

function rawHeaders(raw: Buffer[] | string[] | unknown): [string, string][] {
  const list = raw as (Buffer | string)[];
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < list.length; i += 2) out.push([list[i].toString('latin1'), list[i + 1].toString('latin1')]);
  return out;
}

export class Http1Lane implements Lane {
  private readonly pooled: PooledClient;
  /** The last request sent asked for the connection to close after its answer. */
  private closing = false;

  constructor(
    private readonly opts: LaneOptions,
    private readonly clients: Http1Clients,
  ) {
    this.pooled = clients.acquire();
  }

  send(req: HttpRequest | RawTurn): Promise<Answer> {
    if (req.kind !== 'http') return Promise.reject(new ReplayError('protocol', `an HTTP/1 lane cannot send a ${req.kind} request`));
    // undici's dispatcher with a handler of our own: no response stream, no promise per chunk,
    // no AbortController (the request's CPU is most of a replay's).
    const close = asksToClose(req);
    this.closing = close;
    return new Promise<Answer>((resolve, reject) => {
      const t0 = performance.now();
      let latencyMs = 0;
      let status = 0;
      let headers: [string, string][] = [];
      const body = new BodyCollector(this.opts.maxBodyBytes);
      let abort: ((reason?: Error) => void) | undefined;
      let timedOut = false;
      // Our own timer: undici's headersTimeout runs on its 1 s-resolution fast timers, so a 200 ms
      // --timeout would let answers of up to ~1.2 s count as in time.
      const timer = setTimeout(() => {
        timedOut = true;
        abort?.(new Error('timeout'));
      }, this.opts.timeoutMs);
      const fail = (err: unknown) => {
        clearTimeout(timer);
        reject(timedOut ? new ReplayError('timeout', `no answer within ${this.opts.timeoutMs} ms`) : replayError(err));
      };
      this.pooled.client.dispatch(
        {
          method: req.method,
          path: req.target,
          headers: http1Headers(req, this.opts),
          body: req.body.length ? req.body : undefined,
          // As the captured connection did: closed after this answer when the client asked (undici
          // then sends `connection: close`), kept open otherwise, also after a HEAD (which undici
          // would close by default).
          reset: close,
        },
        {
          onConnect: (abortRequest: (reason?: Error) => void) => {
            abort = abortRequest;
            if (timedOut) abortRequest(new Error('timeout'));
          },
          onHeaders: (statusCode: number, raw: Buffer[]) => {
            if (statusCode < 200) return true; // 1xx: the final answer follows
            status = statusCode;
            headers = rawHeaders(raw);
            latencyMs = performance.now() - t0;
            return true;
          },
          onData: (chunk: Buffer) => {
            body.push(chunk);
            return true;
          },
          onComplete: (rawTrailers: Buffer[] | null) => {
            clearTimeout(timer);
            const trailers = rawTrailers?.length ? rawHeaders(rawTrailers) : [];
            resolve({
              status,
              headers,
              body: body.body(),
              bodyLength: body.length,
              bodyTruncated: body.truncated,
              ...(trailers.length ? { trailers } : {}),
              latencyMs,
              durationMs: performance.now() - t0,
            });
          },
          onError: fail,
        } as unknown as Parameters<PooledClient['client']['dispatch']>[1],
      );
    });
  }

  close(): Promise<void> {
    return this.clients.release(this.pooled, this.closing);
  }
}
