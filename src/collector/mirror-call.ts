// The collector's end of one podspan.v1.Mirror/Stream call, on the node:http2 stream itself
// rather than through grpc-js. grpc-js joins each message from its HTTP/2 DATA chunks into a
// fresh buffer (Buffer.concat per message: an allocation, a copy and the page faults of new
// memory, ~0.3 µs per 1500-byte frame). Here the length-prefixed messages are read off the
// chunks into ONE buffer per call, reused for every message (a message lying whole inside one
// chunk is handed over as a view of it, no copy). The handler must be done with a message when
// it returns: the next one overwrites it. The wire is what grpc-js answers: response headers
// (application/grpc+proto, identity encoding only), acks in gRPC framing, the status in trailers
// (or trailers-only before any header), grpc-message percent-encoded as grpc-js does.
import http2 from 'node:http2';
import { encodeAck, type Ack } from '../forward/frame-batch';
import { GrpcCode } from '../forward/grpc-status';

/** What a call reports to its owner (the collector). */
export interface MirrorCallEvents {
  /** A whole message; valid only until this returns. */
  message(message: Buffer): void;
  /** The client half-closed after whole messages: the owner ends the call (finish(OK)). */
  end(): void;
  /** The call is over (status sent, client gone, connection cut); once. */
  close(): void;
  /** A message over the size limit, refused at its length prefix (the call is finished). */
  tooLarge(bytes: number): void;
  /** The client ended or cut the stream in the middle of a message (that message is lost). */
  truncated(bytes: number): void;
}

/** A message buffer starts this large and doubles as messages need (up to the size limit). */
const FIRST_BUFFER_BYTES = 64 << 10;
const PREFIX_BYTES = 5;

export class MirrorCall {
  /** As grpc-js's getPeer(): "address:port" (the agent's name when its batches carry none). */
  readonly peer: string;
  private readonly prefix = Buffer.alloc(PREFIX_BYTES);
  private prefixHave = 0;
  /** The reusable message buffer. */
  private buffer = Buffer.alloc(0);
  /** The length of the message being received, -1 between messages. */
  private want = -1;
  private have = 0;
  private responded = false;
  private statusSent = false;
  private closed = false;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    readonly headers: http2.IncomingHttpHeaders,
    private readonly maxMessageBytes: number,
    private readonly events: MirrorCallEvents,
  ) {
    const socket = stream.session?.socket;
    this.peer = socket?.remoteAddress ? (socket.remotePort ? `${socket.remoteAddress}:${socket.remotePort}` : socket.remoteAddress) : 'unknown';
    stream.on('error', () => {}); // 'close' follows and says what matters
    stream.on('close', () => this.onClose());
  }

  /** Accepts the call: response headers now, then acks; reading starts. */
  accept(): void {
    if (this.statusSent || this.closed) return;
    this.responded = true;
    this.stream.respond(
      { ':status': 200, 'content-type': 'application/grpc+proto', 'grpc-accept-encoding': 'identity', 'grpc-encoding': 'identity' },
      { waitForTrailers: true },
    );
    this.stream.on('data', (chunk: Buffer) => this.onData(chunk));
    this.stream.on('end', () => this.onEnd());
  }

  /** Sends an ack; false when the client is not reading them (wait for onDrain). */
  ack(a: Ack): boolean {
    if (this.statusSent || this.closed) return true;
    const m = encodeAck(a);
    const framed = Buffer.allocUnsafe(PREFIX_BYTES + m.length);
    framed[0] = 0;
    framed.writeUInt32BE(m.length, 1);
    m.copy(framed, PREFIX_BYTES);
    return this.stream.write(framed);
  }

  onDrain(then: () => void): void {
    this.stream.once('drain', then);
  }

  /**
   * Stops reading (HTTP/2 flow control then holds the client back). Not once the status is sent:
   * what the client still sends is then read and dropped, or it would sit in the HTTP/2 session's
   * memory until the client stops, and a session past its limit refuses its next streams
   * (ENHANCE_YOUR_CALM) instead of answering them with a status.
   */
  pause(): void {
    if (!this.statusSent) this.stream.pause();
  }

  resume(): void {
    if (!this.statusSent && !this.closed) this.stream.resume();
  }

  get cancelled(): boolean {
    return this.closed;
  }

  /**
   * Ends the call with a status (after the acks already written). Before any response header it
   * is a trailers-only response. Whatever the client still sends is read and dropped.
   */
  finish(code: number, details = ''): void {
    if (this.statusSent || this.closed || this.stream.destroyed) return;
    this.statusSent = true;
    const status = { 'grpc-status': String(code), 'grpc-message': encodeURI(details) };
    this.stream.removeAllListeners('data');
    this.stream.on('data', () => {});
    this.stream.resume();
    if (!this.responded) {
      this.responded = true;
      this.stream.respond({ ':status': 200, 'content-type': 'application/grpc+proto', ...status }, { endStream: true });
      return;
    }
    this.stream.once('wantTrailers', () => this.stream.sendTrailers(status));
    this.stream.end();
  }

  /** Drops the call at once (RST_STREAM CANCEL): shutdown's last resort. */
  cancel(): void {
    if (!this.stream.destroyed) this.stream.close(http2.constants.NGHTTP2_CANCEL);
  }

  /** Splits a DATA chunk into messages: each prefix, then its bytes into the call's buffer. */
  private onData(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && !this.statusSent) {
      if (this.want < 0) {
        let flags: number, length: number;
        if (this.prefixHave === 0 && chunk.length - at >= PREFIX_BYTES) {
          flags = chunk[at];
          length = chunk.readUInt32BE(at + 1);
          at += PREFIX_BYTES;
        } else {
          const n = Math.min(PREFIX_BYTES - this.prefixHave, chunk.length - at);
          chunk.copy(this.prefix, this.prefixHave, at, at + n);
          this.prefixHave += n;
          at += n;
          if (this.prefixHave < PREFIX_BYTES) return;
          this.prefixHave = 0;
          flags = this.prefix[0];
          length = this.prefix.readUInt32BE(1);
        }
        if (flags !== 0) {
          // grpc-accept-encoding says identity: a conforming client never compresses
          this.finish(GrpcCode.UNIMPLEMENTED, 'compressed messages are not accepted (grpc-accept-encoding: identity)');
          return;
        }
        if (length > this.maxMessageBytes) {
          // grpc-js's words, so clients see the same status either way
          this.finish(GrpcCode.RESOURCE_EXHAUSTED, `Received message larger than max (${length} vs ${this.maxMessageBytes})`);
          this.events.tooLarge(length);
          return;
        }
        if (chunk.length - at >= length) {
          at += length;
          this.events.message(chunk.subarray(at - length, at)); // whole in this chunk: a view
          continue;
        }
        this.want = length;
        this.have = 0;
        if (this.buffer.length < length) this.buffer = Buffer.allocUnsafeSlow(Math.min(this.maxMessageBytes, Math.max(FIRST_BUFFER_BYTES, 2 ** Math.ceil(Math.log2(length)))));
      }
      const n = Math.min(this.want - this.have, chunk.length - at);
      chunk.copy(this.buffer, this.have, at, at + n);
      this.have += n;
      at += n;
      if (this.have === this.want) {
        const message = this.buffer.subarray(0, this.want);
        this.want = -1;
        this.events.message(message);
      }
    }
  }

  /** Bytes of a message begun and not finished (its prefix included). */
  private get partial(): number {
    return this.want >= 0 ? PREFIX_BYTES + this.have : this.prefixHave;
  }

  private onEnd(): void {
    if (this.statusSent) return;
    const partial = this.partial;
    if (partial > 0) {
      this.events.truncated(partial);
      this.want = -1; // counted once, whatever follows
      this.prefixHave = 0;
      this.finish(GrpcCode.INTERNAL, `the stream ended in the middle of a message (${partial} bytes of it received)`);
      return;
    }
    this.events.end();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.statusSent && this.partial > 0) this.events.truncated(this.partial);
    this.events.close();
  }
}
