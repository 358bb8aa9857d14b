// A hostile Mirror client over raw HTTP/2 (node:http2), to prove what the collector does under
// abuse: it speaks gRPC's framing itself so it can do what no well-behaved client does: claim a
// huge message and send only part of it, never read acknowledgements, send bytes that are no
// FrameBatch. Every attack is bounded in bytes and time, and close() ends every stream it opened.
import fs from 'node:fs';
import http2 from 'node:http2';

export interface StreamOutcome {
  /** grpc-status of the answer (-1: the stream ended without one, e.g. reset). */
  code: number;
  details: string;
  /** Bytes of request body the collector let us write before the stream ended or the attack stopped. */
  written: number;
}

const STREAM_PATH = '/podspan.v1.Mirror/Stream';

/** The 5-byte gRPC length prefix (uncompressed) for a message of `length` bytes. */
export function grpcPrefix(length: number): Buffer {
  const b = Buffer.alloc(5);
  b.writeUInt32BE(length, 1);
  return b;
}

/** `message` framed as one gRPC message. */
export const grpcMessage = (message: Buffer): Buffer => Buffer.concat([grpcPrefix(message.length), message]);

export class MaliciousClient {
  private readonly session: http2.ClientHttp2Session;
  private readonly streams = new Set<http2.ClientHttp2Stream>();
  /** The collector's SETTINGS arrived (its stream limit applies from then on). */
  readonly ready: Promise<void>;

  constructor(
    port: number,
    private readonly token?: string,
  ) {
    // The client's own session memory limit (10 MB by default) must not end the attack first.
    this.session = http2.connect(`http://127.0.0.1:${port}`, { maxSessionMemory: 1 << 20 });
    this.session.on('error', () => {}); // a reset session is an outcome, read from the streams
    this.ready = new Promise((resolve) => this.session.once('remoteSettings', () => resolve()));
  }

  /** Opens a Mirror stream; its outcome resolves when the collector answers with a status or resets it. */
  open(): { stream: http2.ClientHttp2Stream; outcome: Promise<Omit<StreamOutcome, 'written'>> } {
    const headers: http2.OutgoingHttpHeaders = { ':method': 'POST', ':path': STREAM_PATH, 'content-type': 'application/grpc', te: 'trailers' };
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    const stream = this.session.request(headers);
    this.streams.add(stream);
    const outcome = new Promise<Omit<StreamOutcome, 'written'>>((resolve) => {
      let code = -1;
      let details = '';
      // The status ends the call even while our half stays open: resolve on it, and reset the
      // stream as gRPC clients do so it stops counting against the connection's stream limit.
      const status = (h: http2.IncomingHttpHeaders) => {
        if (h['grpc-status'] === undefined) return;
        code = Number(h['grpc-status']);
        details = decodeURIComponent(String(h['grpc-message'] ?? ''));
        resolve({ code, details });
        stream.close(http2.constants.NGHTTP2_CANCEL);
      };
      stream.on('response', status); // a trailers-only answer carries the status in the headers
      stream.on('trailers', status);
      stream.on('error', () => {});
      stream.on('close', () => {
        this.streams.delete(stream);
        resolve({ code, details });
      });
    });
    return { stream, outcome };
  }

  /**
   * Opens `streams` streams, each announcing a message of `claimed` bytes and sending `send` bytes
   * of it (never the rest), in `chunk`-byte writes that respect flow control. Resolves once every
   * stream has sent its part or ended; the streams stay open (with their partial message) until
   * close(). Outcomes of streams that ended are in `ended`.
   */
  async partialMessages(o: { streams: number; claimed: number; send: number; chunk?: number; timeoutMs: number }): Promise<{ written: number[]; ended: Promise<Omit<StreamOutcome, 'written'>>[] }> {
    const chunk = Buffer.alloc(o.chunk ?? 256 << 10, 0x41);
    await this.ready;
    const deadline = Date.now() + o.timeoutMs;
    const opened = Array.from({ length: o.streams }, () => this.open());
    const written = await Promise.all(
      opened.map(async ({ stream, outcome }) => {
        let closed = false;
        void outcome.then(() => (closed = true));
        let sent = 0;
        const write = (b: Buffer) => new Promise<void>((resolve) => (stream.write(b) ? resolve() : waitDrainOrClose(stream, resolve)));
        await write(grpcPrefix(o.claimed));
        while (sent < o.send && !closed && Date.now() < deadline) {
          const piece = chunk.subarray(0, Math.min(chunk.length, o.send - sent));
          await write(piece);
          if (!closed) sent += piece.length;
        }
        return sent;
      }),
    );
    return { written, ended: opened.map((s) => s.outcome) };
  }

  /**
   * One stream sending `count` copies of `message` without ever reading what comes back (the
   * collector's acks pile up on its side). Writes `perWrite` messages at a time, respecting flow
   * control, for at most `timeoutMs`. Resolves with the outcome so far and the messages written.
   */
  async floodWithoutReading(o: { message: Buffer; count: number; perWrite?: number; timeoutMs: number }): Promise<{ sent: number; stream: http2.ClientHttp2Stream; outcome: Promise<Omit<StreamOutcome, 'written'>> }> {
    const { stream, outcome } = this.open();
    stream.pause(); // never read: no WINDOW_UPDATE for the collector's responses
    let closed = false;
    void outcome.then(() => (closed = true));
    const per = o.perWrite ?? 4096;
    const block = Buffer.concat(Array.from({ length: per }, () => grpcMessage(o.message)));
    const deadline = Date.now() + o.timeoutMs;
    let sent = 0;
    while (sent < o.count && !closed && Date.now() < deadline) {
      const n = Math.min(per, o.count - sent);
      const piece = n === per ? block : block.subarray(0, n * (o.message.length + 5));
      const drained = stream.write(piece);
      sent += n;
      if (!drained) await Promise.race([new Promise<void>((r) => waitDrainOrClose(stream, r)), sleep(Math.max(0, deadline - Date.now()))]);
    }
    return { sent, stream, outcome };
  }

  /** Sends `messages` on one stream, half-closes it and reads the answer (acks discarded). */
  async send(messages: Buffer[], timeoutMs = 10_000): Promise<Omit<StreamOutcome, 'written'>> {
    const { stream, outcome } = this.open();
    stream.on('data', () => {});
    for (const m of messages) stream.write(grpcMessage(m));
    stream.end();
    const timer = setTimeout(() => stream.close(http2.constants.NGHTTP2_CANCEL), timeoutMs);
    const r = await outcome;
    clearTimeout(timer);
    return r;
  }

  /** Ends every stream and the connection at once (a client that vanishes). */
  close(): void {
    for (const s of this.streams) s.close(http2.constants.NGHTTP2_CANCEL);
    this.session.destroy();
  }
}

function waitDrainOrClose(stream: http2.ClientHttp2Stream, done: () => void): void {
  const finish = () => {
    stream.off('drain', finish);
    stream.off('close', finish);
    done();
  };
  stream.on('drain', finish);
  stream.on('close', finish);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resident set size of process `pid` in bytes (VmRSS from /proc), 0 once it is gone. */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Samples rssBytes(pid) every `everyMs` until stop() and returns the peak seen. */
export function watchRss(pid: number, everyMs = 50): { peak: () => number; stop: () => number } {
  let peak = rssBytes(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), everyMs);
  return {
    peak: () => peak,
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, rssBytes(pid));
    },
  };
}
