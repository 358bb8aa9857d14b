// Raw TCP (--protocol raw): one socket per captured connection; each turn's client bytes are
// written, and the candidate's reply is read until it is as long as production's reply, or the
// target stays quiet (QUIET_MS) after some bytes, or nothing came within the timeout. Bytes that
// arrive after a turn's reply was taken count towards the next turn's reply.
import net from 'node:net';
import tls from 'node:tls';
import type { Answer } from '../answer';
import type { HttpRequest, RawTurn } from './exchange';
import { BodyCollector, closeGracefully, ReplayError, replayError, type Lane, type LaneOptions } from './lane';

const QUIET_MS = 200;

export class RawLane implements Lane {
  private socket?: net.Socket;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private wake?: () => void;
  private ended?: ReplayError;

  constructor(private readonly opts: LaneOptions) {}

  private connect(): net.Socket {
    if (this.socket && !this.socket.destroyed) return this.socket;
    this.ended = undefined;
    const { host, port, tls: useTls } = this.opts.target;
    const s = useTls ? tls.connect({ host, port, rejectUnauthorized: !this.opts.insecure }) : net.connect({ host, port });
    s.setNoDelay(true);
    s.on('data', (c: Buffer) => {
      this.pending.push(c);
      this.pendingBytes += c.length;
      this.wake?.();
    });
    s.on('error', (e) => {
      this.ended = replayError(e);
      this.wake?.();
    });
    s.on('close', () => {
      this.ended ??= new ReplayError('reset', 'the target closed the connection');
      this.wake?.();
    });
    this.socket = s;
    return s;
  }

  async send(req: HttpRequest | RawTurn): Promise<Answer> {
    if (req.kind !== 'raw') throw new ReplayError('protocol', 'a raw lane sends raw turns only');
    const s = this.connect();
    const t0 = performance.now();
    let first = 0;
    s.write(req.bytes);
    const reply = new BodyCollector(this.opts.maxBodyBytes);
    const take = () => {
      for (const c of this.pending) reply.push(c);
      this.pending = [];
      this.pendingBytes = 0;
    };
    const deadline = t0 + this.opts.timeoutMs;
    for (;;) {
      take();
      if (reply.length && !first) first = performance.now() - t0;
      if (reply.length >= req.replyLength && (req.replyLength > 0 || reply.length > 0)) break;
      if (this.ended) {
        if (reply.length) break;
        throw this.ended;
      }
      const now = performance.now();
      if (now >= deadline) {
        if (reply.length || req.replyLength === 0) break;
        throw new ReplayError('timeout', `no reply within ${this.opts.timeoutMs} ms`);
      }
      // Wait for bytes; after some bytes (or when production's reply was empty) a quiet gap ends the turn.
      const quiet = reply.length > 0 || req.replyLength === 0;
      const waitMs = quiet ? Math.min(QUIET_MS, deadline - now) : deadline - now;
      const woke = await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), waitMs);
        this.wake = () => {
          clearTimeout(t);
          resolve(true);
        };
      });
      this.wake = undefined;
      if (!woke && quiet && this.pendingBytes === 0) break;
    }
    return {
      status: 0,
      headers: [],
      body: reply.body(),
      bodyLength: reply.length,
      bodyTruncated: reply.truncated,
      latencyMs: first || undefined,
      durationMs: performance.now() - t0,
    };
  }

  async close(): Promise<void> {
    const s = this.socket;
    if (!s || s.destroyed) return;
    await closeGracefully(
      (done) => {
        s.once('close', done);
        s.end();
      },
      () => s.destroy(),
    );
  }
}
