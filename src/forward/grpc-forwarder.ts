// Sends frame batches to one collector over a Mirror.Stream: a bounded queue in bytes (a batch
// that does not fit is dropped and counted, capture never waits), HTTP/2 flow control respected
// (nothing more is written until the stream drains), reconnection with jittered exponential
// backoff, TLS / mutual TLS and a bearer token. Every frame offered ends up counted once:
// acknowledged by the collector, dropped because the queue was full, or lost with a stream
// that broke before the collector acknowledged it. The stream is the agent's own HTTP/2 call
// (mirror-stream.ts), which sends each message's memory as it is, without grpc-js's copy; with
// `streams=N`, N of them (each its own connection), each message going to one that has room.
import type { GrpcTarget } from '../config/forward-options';
import type { Logger } from '../observability/logger';
import { grpcCodeName } from './grpc-status';
import { batchPieces, emptyFrameBatch, encodeFrameBatch, messageBytes, releaseMessage, type Ack, type NativeMessage, type RecordLines } from './frame-batch';
import { mirrorStreamTarget } from './mirror-target';
import { MirrorConnector, type MirrorStream, type StreamStatus } from './mirror-stream';

export interface GrpcForwarderStats {
  target: string;
  connected: boolean;
  offered: number;
  delivered: number;
  droppedQueueFull: number;
  droppedDisconnected: number;
  /** Frames of this collector's flows sent to another collector while it was down. */
  movedAway: number;
  queuedBytes: number;
  reconnects: number;
  /** Why the last stream failed (set while it never connected or after a loss). */
  lastError?: string;
  everConnected: boolean;
  /** Analytics record bytes (JSON lines) acknowledged, dropped for a full queue, lost with a stream. */
  recordBytes: { delivered: number; droppedQueueFull: number; droppedDisconnected: number };
}

/** A batch waiting to be sent: frames as the native split wrote them, or analytics records. */
type Pending = { message: NativeMessage; frames: number; bytes: number; records?: undefined } | { records: RecordLines[]; bytes: number; message?: undefined; frames?: undefined };

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

/** Buffers of sent messages kept for the next ones, per collector (within the queue's bytes). */
const MAX_SPARES = 32;

/** Targets already warned about a token sent without TLS: one warning per target and process. */
const warnedInsecure = new Set<string>();

/** One Mirror.Stream of a forwarder, and the batches written on it but not acknowledged yet. */
class Lane {
  call?: MirrorStream;
  connected = false;
  waitingDrain = false;
  attempt = 0;
  timer?: NodeJS.Timeout;
  readonly inflight = new Map<number, number>(); // sequence -> frames
  readonly inflightRecordBytes = new Map<number, number>(); // sequence -> record bytes

  constructor(readonly index: number) {}

  /** Connected, and HTTP/2 has taken what was written on it so far. */
  get writable(): boolean {
    return this.connected && !this.waitingDrain && this.call !== undefined;
  }
}

export class GrpcForwarder {
  private readonly connector: MirrorConnector;
  private readonly lanes: Lane[];
  /** The lane after the one written last: messages go round the lanes that have room. */
  private nextLane = 0;
  private closed = false;
  private queue: Pending[] = [];
  private queuedBytes = 0;
  private readonly recordBytes = { delivered: 0, droppedQueueFull: 0, droppedDisconnected: 0 };
  private sequence = 0;
  /** Buffers of sent messages, counted with the queue: queued + spare bytes stay within queueBytes. */
  private readonly spares: Buffer[] = [];
  private spareBytes = 0;
  private readonly counters = { offered: 0, delivered: 0, droppedQueueFull: 0, droppedDisconnected: 0, movedAway: 0, reconnects: 0 };
  private readonly dropsToReport = { kernel: 0, interface: 0, queueFull: 0, disconnected: 0 };
  private idleResolvers: (() => void)[] = [];
  private lastError?: string;
  private everConnected = false;

  constructor(
    private readonly target: GrpcTarget,
    private readonly agent: string,
    private readonly log: Logger,
    private readonly backoff: BackoffOptions = { initialMs: 200, maxMs: target.retryMaxMs },
  ) {
    this.connector = new MirrorConnector(mirrorStreamTarget(target));
    this.lanes = Array.from({ length: target.streams }, (_, i) => new Lane(i));
    if (target.tokenFile && !target.tls && !warnedInsecure.has(target.url)) {
      warnedInsecure.add(target.url); // validation let it through only with insecure=1 / --insecure
      log.warn({ target: target.url }, 'insecure: the bearer token is sent without TLS, readable by anyone on the path');
    }
  }

  get name(): string {
    return this.target.url;
  }

  /** Connected and accepting: the agent routes this collector's share of flows here. */
  get up(): boolean {
    return this.lanes.some((l) => l.connected);
  }

  start(): void {
    for (const lane of this.lanes) this.connect(lane);
  }

  /** Called when the queue, having been half full or more, drains below half. */
  onRoom?: () => void;

  hasRoom(): boolean {
    return this.queuedBytes < this.target.queueBytes / 2;
  }

  /** Queues one message of `frames` frames for this collector; drops it (counted) when the queue is full. */
  offer(message: NativeMessage, frames: number): void {
    if (frames === 0) return;
    this.counters.offered += frames;
    const bytes = messageBytes(message);
    this.makeRoom(bytes);
    // A batch larger than the whole queue still goes in when the queue is empty, alone.
    if ((this.queuedBytes > 0 && this.queuedBytes + bytes > this.target.queueBytes) || this.closed) {
      this.counters.droppedQueueFull += frames;
      this.dropsToReport.queueFull += frames;
      releaseMessage(message);
      return;
    }
    this.queue.push({ message, frames, bytes });
    this.queuedBytes += bytes;
    this.pump();
  }

  /**
   * Queues analytics records (pieces of at most MAX_RECORD_LINES_BYTES each) in the same bounded
   * queue as frames, sent in a batch of their own; dropped (counted in bytes) when it is full.
   */
  offerRecords(records: RecordLines[]): void {
    const bytes = records.reduce((n, r) => n + r.lines.length, 0);
    if (!bytes) return;
    this.makeRoom(bytes);
    if ((this.queuedBytes > 0 && this.queuedBytes + bytes > this.target.queueBytes) || this.closed) {
      this.recordBytes.droppedQueueFull += bytes;
      return;
    }
    this.queue.push({ records, bytes });
    this.queuedBytes += bytes;
    this.pump();
  }

  /**
   * A buffer of a message grpc-js is done with, to write another into: steady forwarding then
   * allocates no memory for its messages (each 1 MiB allocation is also work for V8's collector).
   */
  takeSpare(): Buffer | undefined {
    const b = this.spares.pop();
    if (b) this.spareBytes -= b.length;
    return b;
  }

  /** Spare buffers give way to what is queued. */
  private makeRoom(bytes: number): void {
    while (this.spares.length && this.queuedBytes + this.spareBytes + bytes > this.target.queueBytes) this.takeSpare();
  }

  /** Keeps a sent message's buffer while the queue has room for it too. */
  private keepSpare(b: Buffer): void {
    if (this.closed || this.spares.length >= MAX_SPARES || this.queuedBytes + this.spareBytes + b.length > this.target.queueBytes) return;
    this.spares.push(b);
    this.spareBytes += b.length;
  }

  /** Frames of this collector's share that went elsewhere while it was down. */
  noteMoved(frames: number): void {
    this.counters.movedAway += frames;
  }

  /** Frames counted as lost upstream (kernel, interface), reported in the next batch. */
  noteCaptureDrops(kernel: number, iface: number): void {
    this.dropsToReport.kernel += kernel;
    this.dropsToReport.interface += iface;
  }

  stats(): GrpcForwarderStats {
    return {
      target: this.target.url,
      connected: this.up,
      queuedBytes: this.queuedBytes,
      ...this.counters,
      lastError: this.lastError,
      everConnected: this.everConnected,
      recordBytes: { ...this.recordBytes },
    };
  }

  /** Sends what is queued (waiting at most `timeoutMs` for acknowledgements), then closes. */
  async close(timeoutMs = 5000): Promise<void> {
    await this.idleWithin(timeoutMs);
    this.closed = true;
    for (const lane of this.lanes) {
      clearTimeout(lane.timer);
      lane.call?.end();
    }
    await this.idleWithin(500);
    for (const p of this.queue) {
      if (p.records) this.recordBytes.droppedDisconnected += p.bytes;
      else {
        this.counters.droppedDisconnected += p.frames;
        releaseMessage(p.message);
      }
    }
    this.queue = [];
    this.queuedBytes = 0;
    for (const lane of this.lanes) {
      this.lose(lane);
      lane.call?.cancel();
    }
  }

  /** Waits until nothing is queued or in flight, or `ms` passed (the timer is cleared either way). */
  private async idleWithin(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  }

  private get busy(): boolean {
    return this.queue.length > 0 || this.lanes.some((l) => l.inflight.size > 0 || l.inflightRecordBytes.size > 0);
  }

  private idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((r) => this.idleResolvers.push(r));
  }

  private checkIdle(): void {
    if (this.busy) return;
    for (const r of this.idleResolvers.splice(0)) r();
  }

  /** A lane to write on (round the lanes), or none while every lane is down or waiting. */
  private writableLane(): Lane | undefined {
    for (let i = 0; i < this.lanes.length; i++) {
      const lane = this.lanes[(this.nextLane + i) % this.lanes.length];
      if (lane.writable) {
        this.nextLane = (lane.index + 1) % this.lanes.length;
        return lane;
      }
    }
    return undefined;
  }

  private connect(lane: Lane): void {
    if (this.closed) return;
    const call = this.connector.open();
    lane.call = call;
    const where = this.lanes.length > 1 ? { target: this.target.url, stream: lane.index + 1 } : { target: this.target.url };
    call.on('metadata', () => {
      lane.connected = true;
      this.everConnected = true;
      lane.attempt = 0;
      this.log.info(where, 'collector stream open');
      this.pump();
    });
    call.on('data', (ack: Ack) => {
      const recordBytes = lane.inflightRecordBytes.get(ack.sequence);
      if (recordBytes !== undefined) {
        lane.inflightRecordBytes.delete(ack.sequence);
        this.recordBytes.delivered += recordBytes;
      }
      const frames = lane.inflight.get(ack.sequence);
      if (frames !== undefined) {
        lane.inflight.delete(ack.sequence);
        this.counters.delivered += frames;
      }
      this.checkIdle();
    });
    call.on('drain', () => {
      lane.waitingDrain = false;
      this.pump();
    });
    call.on('error', (err: StreamStatus) => this.broken(lane, call, `${grpcCodeName(err.code) ?? err.code}: ${err.details}`));
    call.on('end', () => this.broken(lane, call, 'the collector ended the stream'));
  }

  private broken(lane: Lane, call: MirrorStream, why: string): void {
    if (lane.call !== call) return;
    this.lastError = why;
    lane.call = undefined;
    lane.connected = false;
    lane.waitingDrain = false;
    this.lose(lane);
    if (this.closed) return;
    const delay = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** lane.attempt) * (0.5 + Math.random() / 2);
    lane.attempt++;
    this.counters.reconnects++;
    this.log.warn({ target: this.target.url, ...(this.lanes.length > 1 ? { stream: lane.index + 1 } : {}), reason: why, retryInMs: Math.round(delay) }, 'collector stream lost');
    lane.timer = setTimeout(() => this.connect(lane), delay);
    this.pump(); // what is queued goes on the lanes still up
  }

  /** Batches written on a lane but not acknowledged are gone with its stream: count them. */
  private lose(lane: Lane): void {
    for (const frames of lane.inflight.values()) {
      this.counters.droppedDisconnected += frames;
      this.dropsToReport.disconnected += frames;
    }
    lane.inflight.clear();
    for (const bytes of lane.inflightRecordBytes.values()) this.recordBytes.droppedDisconnected += bytes;
    lane.inflightRecordBytes.clear();
    this.checkIdle();
  }

  private pump(): void {
    for (let lane = this.writableLane(); lane && this.queue.length; lane = this.writableLane()) {
      const call = lane.call!;
      const p = this.queue.shift()!;
      const hadNoRoom = !this.hasRoom();
      this.queuedBytes -= p.bytes;
      if (hadNoRoom && this.hasRoom()) setImmediate(() => this.onRoom?.());
      const sequence = ++this.sequence;
      const drops = { ...this.dropsToReport };
      this.dropsToReport.kernel = this.dropsToReport.interface = this.dropsToReport.queueFull = this.dropsToReport.disconnected = 0;
      let message: Buffer | Buffer[];
      let written: ((err?: Error | null) => void) | undefined;
      if (p.records) {
        lane.inflightRecordBytes.set(sequence, p.bytes);
        message = encodeFrameBatch({ ...emptyFrameBatch(), agent: this.agent, sequence, drops, records: p.records });
      } else {
        lane.inflight.set(sequence, p.frames);
        message = batchPieces(p.message, sequence, drops);
        const sent = p.message;
        // called back once HTTP/2 has written the message out: its memory is free again (after
        // a failed write, lent frames are left to the garbage collector, which takes them only
        // once nothing refers to them)
        written = (err) => {
          if (err) return;
          this.keepSpare(sent.message);
          releaseMessage(sent);
        };
      }
      // HTTP/2 flow control: nothing more on this lane until it drains
      if (!call.write(message, written)) lane.waitingDrain = true;
    }
  }
}
