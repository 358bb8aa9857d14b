// The agent's end of podspan.v1.Mirror/Stream on node:http2 itself, not through grpc-js. grpc-js
// copies every message it sends into a new buffer with the 5-byte gRPC prefix in front
// (compression-filter.js, identity compression included; no supported option avoids it): a fresh
// 1 MiB allocation and copy per batch, and the garbage collections those allocations start. Here
// the prefix is a 5-byte buffer of its own, written with the message in one writev, and HTTP/2
// sends the message's memory as it is. The wire is what grpc-js sends: the same request headers,
// gRPC framing, TLS settings (ALPN h2, the CA, client certificate, server name override), window
// and keepalive pings; the collector is still grpc-js. TLS sessions are resumed on reconnect.
import { EventEmitter } from 'node:events';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { decodeAck, type Ack } from './frame-batch';
import { GrpcCode, grpcCodeName } from './grpc-status';

export const MIRROR_STREAM_PATH = '/podspan.v1.Mirror/Stream';

export interface MirrorStreamTarget {
  host: string;
  port: number;
  /** TLS: the CA, and a client certificate and key for mutual TLS (PEM), the name to check. */
  tls?: { ca: Buffer | null; key: Buffer | null; cert: Buffer | null; serverName?: string };
  /** Extra request headers (the bearer token's authorization). */
  headers: Record<string, string>;
  /** Our receive window (only acks come back) and keepalive, as grpc-js's channel options. */
  windowBytes: number;
  keepaliveMs: number;
  keepaliveTimeoutMs: number;
}

/** How a stream ended badly: a gRPC status code and its details, as grpc-js reports them. */
export interface StreamStatus {
  code: number;
  details: string;
}

/**
 * Opens Mirror.Stream calls to one collector, one HTTP/2 connection each (a call ends with its
 * connection), and keeps the last TLS session ticket so that a reconnect resumes it.
 */
export class MirrorConnector {
  private tlsSession?: Buffer;

  constructor(private readonly target: MirrorStreamTarget) {}

  open(): MirrorStream {
    const t = this.target;
    const host = t.host.includes(':') ? `[${t.host}]` : t.host;
    const authority = `${host}:${t.port}`;
    const options: http2.ClientSessionOptions = {
      settings: { initialWindowSize: t.windowBytes, enablePush: false },
      maxSessionMemory: Number.MAX_SAFE_INTEGER, // as grpc-js: the forwarder's queue bounds memory
      maxSendHeaderBlockLength: Number.MAX_SAFE_INTEGER,
    };
    const secure = t.tls;
    if (secure) {
      const name = secure.serverName;
      options.createConnection = () => {
        const socket = tls.connect({
          host: t.host,
          port: t.port,
          ALPNProtocols: ['h2'],
          ca: secure.ca ?? undefined,
          key: secure.key ?? undefined,
          cert: secure.cert ?? undefined,
          session: this.tlsSession,
          // SNI takes host names only; an address is checked against the certificate's IP names
          servername: name ?? (net.isIP(t.host) ? undefined : t.host),
          ...(name ? { checkServerIdentity: (_host: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(name, cert) } : {}),
        });
        socket.on('session', (s: Buffer) => (this.tlsSession = s));
        return socket;
      };
    }
    const session = http2.connect(`${secure ? 'https' : 'http'}://${authority}`, options);
    return new MirrorStream(session, authority, t);
  }
}

/**
 * One call: write(message) sends a FrameBatch; 'metadata' when the collector accepted the
 * stream, 'data' with each Ack, 'error' with a StreamStatus, 'end' when the collector ended it
 * with OK, 'drain' as a Writable's. Exactly one of 'error' or 'end' is emitted, once.
 */
export class MirrorStream extends EventEmitter {
  private readonly request: http2.ClientHttp2Stream;
  private finished = false;
  private received: Buffer = Buffer.alloc(0);
  private pingTimer?: NodeJS.Timeout;

  constructor(
    private readonly session: http2.ClientHttp2Session,
    authority: string,
    target: MirrorStreamTarget,
  ) {
    super();
    // Worded as grpc-js does, so that `podspan capture` prints the cause alone ("never connected: …")
    const unconnected = (err: Error) => this.fail(GrpcCode.UNAVAILABLE, `No connection established. Last error: ${err.message}`);
    session.on('error', unconnected);
    session.on('goaway', (code) => code !== 0 && this.fail(GrpcCode.UNAVAILABLE, `the collector closed the connection (GOAWAY ${code})`));
    session.on('close', () => this.fail(GrpcCode.UNAVAILABLE, 'connection closed'));
    this.request = session.request(
      {
        ':method': 'POST',
        ':path': MIRROR_STREAM_PATH,
        ':authority': authority,
        'content-type': 'application/grpc',
        te: 'trailers',
        'grpc-accept-encoding': 'identity',
        'user-agent': 'podspan-mirror-stream',
        ...target.headers,
      },
      { endStream: false },
    );
    const r = this.request;
    r.on('response', (headers) => this.onHeaders(headers, true));
    r.on('trailers', (headers) => this.onHeaders(headers, false));
    r.on('data', (chunk: Buffer) => this.onData(chunk));
    r.on('drain', () => this.emit('drain'));
    // a stream cancelled because its connection failed carries the connection's error
    r.on('error', (err: Error & { cause?: Error }) => (err.cause ? unconnected(err.cause) : this.fail(GrpcCode.UNAVAILABLE, err.message)));
    r.on('close', () => this.fail(GrpcCode.UNAVAILABLE, `stream closed without a status (HTTP/2 code ${r.rstCode ?? 0})`));
    this.keepalive(target.keepaliveMs, target.keepaliveTimeoutMs);
  }

  /**
   * Writes one message: its gRPC prefix (uncompressed, length) and its bytes, as they are (one
   * buffer, or the pieces it is in, in order). `written` is called once HTTP/2 no longer needs
   * the message's memory. False: wait for 'drain'.
   */
  write(message: Buffer | Buffer[], written?: (err?: Error | null) => void): boolean {
    const pieces = Array.isArray(message) ? message : [message];
    const prefix = Buffer.allocUnsafe(5);
    prefix[0] = 0;
    prefix.writeUInt32BE(pieces.reduce((n, p) => n + p.length, 0), 1);
    this.request.cork();
    this.request.write(prefix);
    let ok = true;
    pieces.forEach((p, i) => (ok = this.request.write(p, i === pieces.length - 1 ? written : undefined)));
    this.request.uncork(); // all in one writev: one DATA frame sequence, no copy
    return ok;
  }

  /** The connection resumed an earlier TLS session (no full handshake). */
  get tlsResumed(): boolean {
    const socket = this.session.socket as unknown as { isSessionReused?: () => boolean } | undefined;
    return socket?.isSessionReused?.() ?? false;
  }

  /** Half-closes: no more messages; the collector ends the call once it read them. */
  end(): void {
    if (!this.request.closed) this.request.end();
  }

  /** Drops the call and its connection. */
  cancel(): void {
    this.fail(GrpcCode.CANCELLED, 'cancelled by the agent');
  }

  private onHeaders(headers: http2.IncomingHttpHeaders, first: boolean): void {
    const code = headers['grpc-status'];
    if (first && code === undefined) {
      const httpStatus = Number(headers[':status']);
      const type = String(headers['content-type'] ?? '');
      if (httpStatus !== 200 || !type.startsWith('application/grpc')) {
        this.fail(GrpcCode.UNKNOWN, `not a gRPC answer: HTTP ${httpStatus}, content-type ${type || 'none'}`);
      } else this.emit('metadata', headers);
      return;
    }
    const n = Number(code ?? GrpcCode.UNKNOWN);
    const details = decodeURIComponent(String(headers['grpc-message'] ?? ''));
    if (n === GrpcCode.OK) this.finish(() => this.emit('end'));
    else this.fail(n, details || grpcCodeName(n) || `status ${n}`);
  }

  /** Acks, in gRPC framing over any DATA frame boundaries. */
  private onData(chunk: Buffer): void {
    this.received = this.received.length ? Buffer.concat([this.received, chunk]) : chunk;
    while (this.received.length >= 5) {
      const length = this.received.readUInt32BE(1);
      if (this.received.length < 5 + length) break;
      const message = this.received.subarray(5, 5 + length);
      this.received = this.received.subarray(5 + length);
      let ack: Ack;
      try {
        ack = decodeAck(message);
      } catch (err) {
        this.fail(GrpcCode.INTERNAL, `a malformed acknowledgement: ${(err as Error).message}`);
        return;
      }
      this.emit('data', ack);
    }
  }

  /** An HTTP/2 ping every keepaliveMs; no answer within keepaliveTimeoutMs fails the call. */
  private keepalive(everyMs: number, timeoutMs: number): void {
    this.pingTimer = setInterval(() => {
      const timer = setTimeout(() => this.fail(GrpcCode.UNAVAILABLE, 'keepalive ping not answered'), timeoutMs).unref();
      const answered = this.session.ping(() => clearTimeout(timer));
      if (!answered) clearTimeout(timer);
    }, everyMs);
    this.pingTimer.unref();
  }

  private fail(code: number, details: string): void {
    this.finish(() => this.emit('error', { code, details } satisfies StreamStatus));
  }

  private finish(report: () => void): void {
    if (this.finished) return;
    this.finished = true;
    clearInterval(this.pingTimer);
    this.request.close(http2.constants.NGHTTP2_CANCEL);
    this.session.close();
    this.session.destroy();
    report();
  }
}
