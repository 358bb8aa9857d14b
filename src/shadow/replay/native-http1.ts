// The native HTTP/1 transport of one plain-http target (native/core/replay/http1_transport.h):
// its own thread owns the connections, one per lane, and answers come back in batches, one
// wake-up of the event loop per batch. This side gathers the requests (their exchange rows, whose
// heads the transport's thread writes, or heads as strings; their bodies) and lane ends of one
// turn of the event loop and hands them over in one call
// (setImmediate: after the answers of a batch have been handled and their next requests made),
// then settles each request's promise from the answer batches.
import { native } from '../../capture/native';
import type { Answer } from '../answer';
import type { ExchangeRowRef } from './exchange';
import { ReplayError, type LaneOptions } from './lane';

/** The addon's object (native/addon/replay.cc). */
export interface NativeHttp1Handle {
  /**
   * items: [lane, requestId, flags, length] per request or lane end (flags: 1 HEAD, 2 close the
   * connection after the answer, 4 lane end); bytes: the requests back to back. Returns how many
   * requests were refused (the queue was full): the last ones of the batch.
   */
  submit(items: Uint32Array, bytes: Buffer): number;
  take(): { records: Buffer; data: Buffer; count: number } | null;
  stats(): NativeHttp1Stats;
  ref(): void;
  unref(): void;
  stop(): void;
}

export interface NativeHttp1Stats {
  submitted: number;
  completed: number;
  /** Requests refused because maxQueued were outstanding (each failed as 'error'). */
  refusedFull: number;
  connections: number;
}

export interface NativeHttp1Options {
  host: string;
  port: number;
  timeoutMs: number;
  maxBodyBytes: number;
  maxQueued: number;
  /** How the transport writes the head of a request handed over as its row (sendRow). */
  markerName?: string;
  markerValue?: string;
  hostRewrite?: string;
  /** The target's host[:port], for a request that had no Host. */
  defaultHost: string;
  /**
   * Lower-case header names the transport's check of answers against production's leaves out
   * (native/core/replay/same_answer.h): compare.ts's ignored names under the run's rules.
   */
  sameIgnoredHeaders?: string[];
}

// ReplayCompletionRecord's layout and ReplayFailure's order (http1_transport.h).
const RECORD_BYTES = 40;
const FAILURES = ['none', 'refused', 'reset', 'timeout', 'unreachable', 'protocol', 'error'];
/** Requests submitted and not yet answered, per target (the scheduler's in-flight cap is far lower). */
const MAX_QUEUED = 65536;

/** Requests handed over together at most before the turn of the event loop ends. */
const FLUSH_AT = 8;
const HEAD = 1;
const CLOSE_AFTER = 2;
const LANE_END = 4;
const FROM_ROW = 8;
const COMPARE_ANSWER = 16;
// A completion record's flags (ReplayCompletionRecord).
const BODY_TRUNCATED = 1;
const SAME_AS_PRODUCTION = 2;
const NO_HEADERS: [string, string][] = [];
const NO_BODY = Buffer.alloc(0);

interface Waiting {
  resolve: (a: Answer) => void;
  reject: (e: ReplayError) => void;
}

/** A request waiting for the next submit: its head (latin1 text) or its row, and its body. */
interface Outgoing {
  lane: number;
  id: number;
  flags: number;
  head: string;
  row?: ExchangeRowRef;
  body?: Buffer;
  /** Production's body, after the request's (COMPARE_ANSWER). */
  production?: Buffer;
}

export class NativeHttp1Transport {
  private readonly handle: NativeHttp1Handle;
  private readonly waiting = new Map<number, Waiting>();
  private nextLane = 1;
  private nextRequest = 1;
  private stopped = false;
  private outgoing: Outgoing[] = [];
  private flushing?: NodeJS.Immediate;
  /** Answers the same as production's come back as `sameAsProduction`, without headers or body. */
  readonly comparesAnswers: boolean;

  /** `sameIgnoredHeaders`: answers are compared with production's here (sendRow with production's body). */
  constructor(opts: LaneOptions, sameIgnoredHeaders?: string[]) {
    const options: NativeHttp1Options = {
      host: opts.target.host,
      port: opts.target.port,
      timeoutMs: opts.timeoutMs,
      maxBodyBytes: opts.maxBodyBytes,
      maxQueued: MAX_QUEUED,
      markerName: opts.marker?.[0],
      markerValue: opts.marker?.[1],
      hostRewrite: opts.hostRewrite,
      defaultHost: opts.target.origin.slice(opts.target.origin.indexOf('//') + 2),
      sameIgnoredHeaders,
    };
    this.comparesAnswers = sameIgnoredHeaders !== undefined;
    this.handle = new (native().NativeHttp1Transport)(options, () => this.drain());
  }

  /** A lane id: one captured connection. */
  openLane(): number {
    const id = this.nextLane;
    this.nextLane = id >= 0xffffffff ? 1 : id + 1;
    return id;
  }

  /** `head`: the request line and headers with the blank line, as latin1 text; `body` follows it. */
  send(lane: number, head: string, body: Buffer | undefined, isHead: boolean, close: boolean): Promise<Answer> {
    return this.submitOne({ lane, id: 0, flags: (isHead ? HEAD : 0) | (close ? CLOSE_AFTER : 0), head, row: undefined, body, production: undefined });
  }

  /**
   * The request of an exchange row (Contract 1): the transport's thread writes its head from the
   * row (native/core/replay/request_head.h, the same as http1RequestHead writes), so no string is
   * made here for it.
   */
  sendRow(lane: number, row: ExchangeRowRef, body: Buffer | undefined): Promise<Answer> {
    return this.submitOne({ lane, id: 0, flags: FROM_ROW, head: '', row, body, production: undefined });
  }

  /**
   * sendRow, and the answer compared with production's on the transport's thread (comparesAnswers):
   * one found the same comes back as `sameAsProduction` with neither headers nor body.
   */
  sendRowToCompare(lane: number, row: ExchangeRowRef, body: Buffer | undefined, production: Buffer): Promise<Answer> {
    return this.submitOne({ lane, id: 0, flags: FROM_ROW | COMPARE_ANSWER, head: '', row, body, production });
  }

  private submitOne(o: Outgoing): Promise<Answer> {
    if (this.stopped) return Promise.reject(new ReplayError('error', 'the replay has stopped'));
    o.id = this.nextRequest;
    this.nextRequest = o.id >= 0xffffffff ? 1 : o.id + 1;
    this.queue(o);
    // The event loop stays alive while answers are due, as with sockets of its own.
    if (this.waiting.size === 0) this.handle.ref();
    return new Promise<Answer>((resolve, reject) => this.waiting.set(o.id, { resolve, reject }));
  }

  /** The lane's connection closes once its last request is answered. */
  closeLane(lane: number): void {
    if (!this.stopped) this.queue({ lane, id: 0, flags: LANE_END, head: '', row: undefined, body: undefined, production: undefined });
  }

  private queue(o: Outgoing): void {
    this.outgoing.push(o);
    // A few at a time rather than all at the end of the turn: the transport sends them while
    // this thread is still comparing the batch's other answers.
    if (this.outgoing.length >= FLUSH_AT) this.flush();
    else this.flushing ??= setImmediate(() => this.flush());
  }

  /** Hands the gathered requests and lane ends over: one copy into one buffer, one call. */
  private flush(): void {
    if (this.flushing) clearImmediate(this.flushing);
    this.flushing = undefined;
    const list = this.outgoing;
    if (!list.length) return;
    this.outgoing = [];
    let total = 0;
    for (const o of list) total += (o.row ? o.row.end - o.row.start : o.head.length) + (o.body?.length ?? 0) + (o.production?.length ?? 0);
    const bytes = Buffer.allocUnsafe(total);
    const items = new Uint32Array(list.length * 4);
    let off = 0;
    for (let i = 0; i < list.length; i++) {
      const o = list[i];
      const start = off;
      if (o.row) off += o.row.bytes.copy(bytes, off, o.row.start, o.row.end);
      else off += bytes.write(o.head, off, 'latin1');
      if (o.body) off += o.body.copy(bytes, off);
      if (o.production) off += o.production.copy(bytes, off);
      items[i * 4] = o.lane;
      items[i * 4 + 1] = o.id;
      items[i * 4 + 2] = o.flags;
      items[i * 4 + 3] = off - start;
    }
    let refused = this.handle.submit(items, bytes);
    for (let i = list.length - 1; i >= 0 && refused > 0; i--) {
      if (list[i].flags & LANE_END) continue;
      refused--;
      this.settle(list[i].id)?.reject(new ReplayError('error', `the native transport's queue is full (${MAX_QUEUED} requests)`));
    }
  }

  private settle(id: number): Waiting | undefined {
    const w = this.waiting.get(id);
    this.waiting.delete(id);
    return w;
  }

  get stats(): NativeHttp1Stats {
    return this.handle.stats();
  }

  /** Stops the thread: requests still unanswered fail. */
  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.flush();
    this.drain();
    this.handle.stop();
    for (const w of this.waiting.values()) w.reject(new ReplayError('error', 'the replay stopped before the answer'));
    if (this.waiting.size) this.handle.unref();
    this.waiting.clear();
  }

  private drain(): void {
    for (let batch = this.handle.take(); batch; batch = this.handle.take()) {
      const { records, data, count } = batch;
      const view = new DataView(records.buffer, records.byteOffset, records.byteLength);
      let off = 0;
      for (let i = 0; i < count; i++) {
        const r = i * RECORD_BYTES;
        const id = view.getUint32(r, true);
        const failure = view.getUint8(r + 4);
        const headersLen = view.getUint32(r + 8, true);
        const bodyLen = view.getUint32(r + 12, true);
        const flags = view.getUint8(r + 5);
        const waiting = this.settle(id);
        if (waiting) {
          if (flags & SAME_AS_PRODUCTION) {
            // Nothing of it was handed over: nothing in it differs from production's.
            waiting.resolve({
              status: view.getUint16(r + 6, true),
              headers: NO_HEADERS,
              body: NO_BODY,
              bodyLength: view.getFloat64(r + 16, true),
              bodyTruncated: false,
              latencyMs: view.getFloat64(r + 24, true),
              durationMs: view.getFloat64(r + 32, true),
              sameAsProduction: true,
            });
          } else if (failure !== 0) {
            waiting.reject(new ReplayError(FAILURES[failure] ?? 'error', data.toString('latin1', off, off + headersLen)));
          } else {
            waiting.resolve({
              status: view.getUint16(r + 6, true),
              headers: headerPairs(data.toString('latin1', off, off + headersLen)),
              // A view, not a copy: the answer lives until it is compared (the report keeps
              // excerpts as strings, never a body), and the batch with it.
              body: data.subarray(off + headersLen, off + headersLen + bodyLen),
              bodyLength: view.getFloat64(r + 16, true),
              bodyTruncated: (flags & BODY_TRUNCATED) !== 0,
              latencyMs: view.getFloat64(r + 24, true),
              durationMs: view.getFloat64(r + 32, true),
              sameAsProduction: false,
            });
          }
        }
        off += headersLen + bodyLen;
      }
    }
    if (this.waiting.size === 0 && !this.stopped) this.handle.unref();
  }
}

/** "name\0value\0..." as pairs (sliced in place: no array of all the parts first). */
function headerPairs(block: string): [string, string][] {
  const out: [string, string][] = [];
  for (let at = 0; ; ) {
    const name = block.indexOf('\0', at);
    const value = name < 0 ? -1 : block.indexOf('\0', name + 1);
    if (value < 0) return out;
    out.push([block.slice(at, name), block.slice(name + 1, value)]);
    at = value + 1;
  }
}
