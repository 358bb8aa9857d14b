// STAND-IN (replay branch) for Contract 2 until h/shadow-compare is merged: the types only, as
// the contract gives them. The compare helper owns this file; its version replaces this one.
export interface Answer {
  status: number;
  headers: [string, string][];
  body: Buffer;
  bodyLength: number;
  bodyTruncated: boolean;
  trailers?: [string, string][];
  grpcStatus?: number;
  latencyMs?: number;
  durationMs?: number;
}
export interface ExchangeInfo {
  conn: string;
  ts: number;
  method: string;
  path: string;
  route: string;
  protocol: 'http' | 'h2' | 'grpc' | 'raw';
}
export type Outcome =
  | { kind: 'compared'; production: Answer; candidate: Answer; primary?: Answer }
  | { kind: 'error'; production: Answer; error: string };
