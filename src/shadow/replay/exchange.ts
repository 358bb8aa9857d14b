// What the sending side works with: one captured request (HTTP/1, HTTP/2 or a raw turn) with
// production's answer, and the connection events around it. Made from the native exchange
// batches (see from-batch.ts); the scheduler and the senders know nothing of the batch format.
import type { Answer, ExchangeInfo } from '../answer';

export interface HttpRequest {
  kind: 'http' | 'h2';
  method: string;
  /** Path and query as sent (HTTP/1 request target, HTTP/2 :path). */
  target: string;
  /** As captured, names as sent; HTTP/2 pseudo-headers left out (method/target/authority carry them). */
  headers: [string, string][];
  /** Decoded (chunked framing removed). */
  body: Buffer;
  /** HTTP/2 :authority, or HTTP/1 Host. */
  authority?: string;
  /** gRPC: production's trailers carry grpc-status. */
  grpc?: boolean;
  /** HTTP/1: the exchange's row (Contract 1), which the native transport writes the request from. */
  row?: ExchangeRowRef;
}

/** One row of a batch's meta: bytes[start, end). */
export interface ExchangeRowRef {
  bytes: Buffer;
  start: number;
  end: number;
}

export interface RawTurn {
  kind: 'raw';
  /** The client's bytes of this turn. */
  bytes: Buffer;
  /** Length of production's reply: the candidate's reply is read until this many bytes (or quiet). */
  replyLength: number;
}

export interface ReplayExchange {
  info: ExchangeInfo;
  request: HttpRequest | RawTurn;
  production: Answer;
}

export type ShadowEvent =
  | { kind: 'open'; conn: string; ts: number }
  | { kind: 'exchange'; exchange: ReplayExchange }
  | { kind: 'close'; conn: string; ts: number }
  | { kind: 'skip'; reason: string; count: number };

/** Bytes an exchange holds while it waits (the queue's memory bound counts these). */
export function heldBytes(ex: ReplayExchange): number {
  const req = ex.request.kind === 'raw' ? ex.request.bytes.length : ex.request.body.length;
  return req + ex.production.body.length + 512;
}
