// HTTP/1.1 to a plain-http target through the native transport (native-http1.ts): one lane per
// captured connection, requests in the captured order, pipelining 1. The request is written as
// undici would write it: the headers http1Headers keeps (marker, Host rewrite, Content-Length),
// then `connection: close` when the captured request asked to close, `keep-alive` otherwise. A
// request that carries its exchange row has that head written by the transport's thread from the
// row (request_head.h, the same bytes); one made otherwise (tests, a caller of its own) here.
import type { Answer } from '../answer';
import type { HttpRequest, RawTurn } from './exchange';
import { asksToClose, http1Headers } from './http-headers';
import { ReplayError, type Lane, type LaneOptions } from './lane';
import type { NativeHttp1Transport } from './native-http1';

/** The request's head as sent (request line, headers, blank line), latin1 text; its body follows. */
export function http1RequestHead(req: HttpRequest, opts: LaneOptions, close: boolean): string {
  const h = http1Headers(req, opts);
  let head = `${req.method} ${req.target} HTTP/1.1\r\n`;
  // HTTP/1.1 needs a Host: the target's, as undici sends it, when the capture had none.
  if (!(opts.hostRewrite ?? req.authority)) head += `host: ${opts.target.origin.slice(opts.target.origin.indexOf('//') + 2)}\r\n`;
  for (let i = 0; i + 1 < h.length; i += 2) head += `${h[i]}: ${h[i + 1]}\r\n`;
  return head + (close ? 'connection: close\r\n\r\n' : 'connection: keep-alive\r\n\r\n');
}

export class NativeHttp1Lane implements Lane {
  private readonly lane: number;

  constructor(
    private readonly opts: LaneOptions,
    private readonly transport: NativeHttp1Transport,
  ) {
    this.lane = transport.openLane();
  }

  send(req: HttpRequest | RawTurn, production?: Answer): Promise<Answer> {
    if (req.kind !== 'http') return Promise.reject(new ReplayError('protocol', `an HTTP/1 lane cannot send a ${req.kind} request`));
    const body = req.body.length ? req.body : undefined;
    if (req.row && production && this.transport.comparesAnswers) return this.transport.sendRowToCompare(this.lane, req.row, body, production.body);
    if (req.row) return this.transport.sendRow(this.lane, req.row, body);
    const close = asksToClose(req);
    return this.transport.send(this.lane, http1RequestHead(req, this.opts, close), body, req.method === 'HEAD', close);
  }

  close(): Promise<void> {
    this.transport.closeLane(this.lane);
    return Promise.resolve();
  }
}
