// A lane replays one captured connection to one target over one connection of its own (undici
// Client, HTTP/2 session or TCP socket), in the captured order. Failures are ReplayErrors whose
// kind is the reason the scheduler and the report count (timeout, refused, reset, ...).
import type { Answer } from '../answer';
import type { ShadowTarget } from '../../config/shadow-options';
import type { HttpRequest, RawTurn } from './exchange';

export interface Lane {
  /** `production`: production's answer, for a lane whose transport compares answers itself. */
  send(request: HttpRequest | RawTurn, production?: Answer): Promise<Answer>;
  /** After the last send: closes the lane's connection. */
  close(): Promise<void>;
}

export interface LaneOptions {
  target: ShadowTarget;
  timeoutMs: number;
  /** Body bytes kept of each answer (the rest is counted in bodyLength). */
  maxBodyBytes: number;
  /** HTTP: [name, value] added to every request. */
  marker?: [string, string];
  /** HTTP: the Host / :authority every request carries. */
  hostRewrite?: string;
  /** https: accept any certificate. */
  insecure?: boolean;
}

export class ReplayError extends Error {
  constructor(
    /** timeout | refused | reset | unreachable | tls | protocol | error */
    readonly kind: string,
    message: string,
  ) {
    super(message);
    this.name = 'ReplayError';
  }
}

/** A socket or client error as the reason counted for it. */
export function replayError(err: unknown): ReplayError {
  if (err instanceof ReplayError) return err;
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  // An HTTP/2 session that fails (refused, unreachable) cancels its pending streams: each is
  // counted, and told, by the session's cause, as the first request is, not as 'error'.
  const cause = e?.code === 'ERR_HTTP2_STREAM_CANCEL' ? e.cause : undefined;
  const code = cause?.code ?? e?.code ?? e?.cause?.code ?? '';
  const message = cause?.message ?? e?.message ?? String(err);
  switch (code) {
    case 'ECONNREFUSED':
      return new ReplayError('refused', message);
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'ERR_HTTP2_STREAM_ERROR':
    case 'ERR_HTTP2_SESSION_ERROR':
    case 'ERR_HTTP2_GOAWAY_SESSION':
      return new ReplayError('reset', message);
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'ETIMEDOUT':
      return new ReplayError('timeout', message);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new ReplayError('unreachable', message);
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'CERT_HAS_EXPIRED':
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return new ReplayError('tls', message);
    case 'HPE_INVALID_CONSTANT':
    case 'UND_ERR_INFO':
    case 'ERR_HTTP2_ERROR':
    case 'ERR_HTTP2_PROTOCOL_ERROR':
      return new ReplayError('protocol', message);
    default:
      return new ReplayError('error', code ? `${code}: ${message}` : message);
  }
}

/** Collects a body up to `max` bytes, counting all of it. */
export class BodyCollector {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  length = 0;

  constructor(private readonly max: number) {}

  push(chunk: Buffer): void {
    this.length += chunk.length;
    if (this.kept >= this.max) return;
    const part = chunk.length > this.max - this.kept ? chunk.subarray(0, this.max - this.kept) : chunk;
    this.chunks.push(part);
    this.kept += part.length;
  }

  body(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.kept);
  }

  get truncated(): boolean {
    return this.length > this.kept;
  }
}

/** Closes gracefully (`close` calls back when done), or destroys after CLOSE_GRACE_MS. */
export function closeGracefully(close: (done: () => void) => void, destroy: () => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      destroy();
      resolve();
    }, CLOSE_GRACE_MS);
    close(() => {
      clearTimeout(t);
      resolve();
    });
  });
}
const CLOSE_GRACE_MS = 1000;
