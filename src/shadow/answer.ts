// What the comparison works on: one side's answer to one request (production's from the capture,
// the candidate's and the primary's from replay), the request it answers, and how replaying it
// ended. Shared by replay (which fills them) and compare/report (which read them).

/** Which parser produced the exchange; raw: a turn of a request/response TCP protocol. */
export type ExchangeProtocol = 'http' | 'h2' | 'grpc' | 'raw';

/** One side's answer to one request. */
export interface Answer {
  /** HTTP status (raw mode: 0). */
  status: number;
  /** Header list as received, names as sent (HTTP/2: pseudo-headers may be included). */
  headers: [string, string][];
  /** The body bytes kept (decoded from chunked framing); raw mode: the reply's bytes. */
  body: Buffer;
  /** The body's whole length, also when only `body.length` bytes were kept. */
  bodyLength: number;
  bodyTruncated: boolean;
  /** HTTP/2 trailers and gRPC status (from grpc-status; absent or -1 when there is none). */
  trailers?: [string, string][];
  grpcStatus?: number;
  /** Milliseconds from the request's last byte to the answer's first byte / last byte. */
  latencyMs?: number;
  durationMs?: number;
  /**
   * The replay's transport found this answer the same as production's under the run's rules
   * (native/core/replay/same_answer.h) and handed over neither its headers nor its body.
   */
  sameAsProduction?: boolean;
}

/** The request an answer belongs to. */
export interface ExchangeInfo {
  /** The captured connection (decimal id, unique per run). */
  conn: string;
  /** When the request was captured, milliseconds since the epoch. */
  ts: number;
  method: string;
  path: string;
  /** Route template (`/api/users/{id}`); raw mode: anything stable, e.g. the server port. */
  route: string;
  protocol: ExchangeProtocol;
}

/** How replaying one request ended. */
export type Outcome =
  | { kind: 'compared'; production: Answer; candidate: Answer; primary?: Answer }
  | { kind: 'error'; production: Answer; error: string /* 'timeout' | 'refused' | 'reset' | ... */ };
