// Between capture and replay: exchanges wait here in per-connection lanes (each connection's
// exchanges go out one after another, in order; connections go out concurrently) under four
// limits: requests in flight, requests per second (token bucket), pacing from the captured
// timestamps (--speed), and a bounded queue (exchanges and bytes). Live capture never waits on
// the candidate: when the queue is full an exchange is dropped and counted ("queue_full"). A
// file may instead wait for room (overflow "wait": offer() accepts, hasRoom() turns false, at the
// read-ahead when that is lower than the queue, and the room listener says when to read on).
import { heldBytes, type ReplayExchange } from './replay/exchange';

export interface SchedulerLimits {
  maxInFlight: number;
  ratePerSecond?: number;
  /** 0: as fast as possible; 1: original pacing (from the exchanges' ts). */
  speed: number;
  queueExchanges: number;
  queueBytes: number;
  /** Overflow "wait" (a file): hasRoom() turns false at this many exchanges already, if below queueExchanges. */
  readAhead?: number;
}

export interface SchedulerHooks {
  /** Sends one exchange (to the candidate, and the primary); resolves when it is done, never rejects. */
  send(ex: ReplayExchange): Promise<void>;
  /** The connection's last exchange is done (or dropped): close its replay connections. */
  closeConnection(conn: string): void;
  /** An exchange not sent, and why. */
  dropped(ex: ReplayExchange, reason: string): void;
}

interface ConnectionQueue {
  conn: string;
  waiting: ReplayExchange[];
  busy: boolean;
  closing: boolean;
  ready: boolean;
}

export interface SchedulerCounts {
  queued: number;
  queuedBytes: number;
  inFlight: number;
  sent: number;
  dropped: number;
  /** Most exchanges ever waiting at once (the queue bound holds: at most queueExchanges). */
  peakQueued: number;
}

export class ShadowScheduler {
  private readonly conns = new Map<string, ConnectionQueue>();
  private readonly readyList: ConnectionQueue[] = [];
  private queued = 0;
  private queuedBytes = 0;
  private inFlight = 0;
  private sent = 0;
  private droppedCount = 0;
  private peakQueued = 0;
  private tokens: number;
  private lastRefill = performance.now();
  private timer?: NodeJS.Timeout;
  private timerAt = Infinity;
  // Pacing: the first exchange's capture time maps to the wall-clock time it was offered.
  private paceOrigin?: { ts: number; wall: number };
  private readonly roomAt: number;
  private roomWanted = false;
  private roomListener?: () => void;
  private idleListeners: (() => void)[] = [];

  constructor(
    private readonly limits: SchedulerLimits,
    private readonly hooks: SchedulerHooks,
    private readonly overflow: 'drop' | 'wait',
  ) {
    this.roomAt = overflow === 'wait' && limits.readAhead ? Math.min(limits.readAhead, limits.queueExchanges) : limits.queueExchanges;
    this.tokens = limits.ratePerSecond ? Math.max(1, Math.min(limits.ratePerSecond, limits.maxInFlight)) : 0;
  }

  counts(): SchedulerCounts {
    return { queued: this.queued, queuedBytes: this.queuedBytes, inFlight: this.inFlight, sent: this.sent, dropped: this.droppedCount, peakQueued: this.peakQueued };
  }

  hasRoom(): boolean {
    const room = this.queued < this.roomAt && this.queuedBytes < this.limits.queueBytes;
    if (!room) this.roomWanted = true;
    return room;
  }

  /** `fn` is called (on a later tick) whenever there is room again after hasRoom() said no. */
  setRoomListener(fn: () => void): void {
    this.roomListener = fn;
  }

  /** Takes an exchange; false when it was dropped (queue full, overflow "drop"). */
  offer(ex: ReplayExchange): boolean {
    const bytes = heldBytes(ex);
    if (this.overflow === 'drop' && !this.hasRoom()) {
      this.droppedCount++;
      this.hooks.dropped(ex, 'queue_full');
      return false;
    }
    let c = this.conns.get(ex.info.conn);
    if (!c) this.conns.set(ex.info.conn, (c = { conn: ex.info.conn, waiting: [], busy: false, closing: false, ready: false }));
    c.waiting.push(ex);
    this.queued++;
    this.queuedBytes += bytes;
    if (this.queued > this.peakQueued) this.peakQueued = this.queued;
    this.markReady(c);
    this.pump();
    return true;
  }

  /** The captured connection ended: close its replay connections once its exchanges are done. */
  close(conn: string): void {
    const c = this.conns.get(conn);
    if (!c) return; // nothing was ever sent on it
    c.closing = true;
    this.maybeFinish(c);
  }

  /** Resolves when nothing waits and nothing is in flight. */
  idle(): Promise<void> {
    if (this.queued === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleListeners.push(resolve));
  }

  /** Gives up what still waits (counted as `reason`), e.g. on a second Ctrl-C. */
  abandon(reason: string): void {
    for (const c of this.conns.values()) {
      for (const ex of c.waiting) {
        this.droppedCount++;
        this.queuedBytes -= heldBytes(ex);
        this.hooks.dropped(ex, reason);
      }
      this.queued -= c.waiting.length;
      c.waiting = [];
      this.maybeFinish(c);
    }
    this.readyList.length = 0;
    for (const c of this.conns.values()) c.ready = false;
    this.checkIdle();
  }

  private markReady(c: ConnectionQueue): void {
    if (c.busy || c.ready || !c.waiting.length) return;
    c.ready = true;
    this.readyList.push(c);
  }

  private maybeFinish(c: ConnectionQueue): void {
    if (!c.closing || c.busy || c.waiting.length) return;
    this.conns.delete(c.conn);
    this.hooks.closeConnection(c.conn);
  }

  /** Earliest wall-clock time (ms, performance.now()) `ex` may go out under --speed. */
  private dueAt(ex: ReplayExchange): number {
    if (!this.limits.speed) return 0;
    if (!this.paceOrigin) this.paceOrigin = { ts: ex.info.ts, wall: performance.now() };
    return this.paceOrigin.wall + (ex.info.ts - this.paceOrigin.ts) / this.limits.speed;
  }

  private takeToken(now: number): number {
    const rate = this.limits.ratePerSecond;
    if (!rate) return 0;
    const burst = Math.max(1, Math.min(rate, this.limits.maxInFlight));
    this.tokens = Math.min(burst, this.tokens + ((now - this.lastRefill) * rate) / 1000);
    this.lastRefill = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return ((1 - this.tokens) * 1000) / rate; // ms until the next token
  }

  private wakeAt(at: number): void {
    if (this.timer && at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.pump();
    }, Math.max(0, at - performance.now()));
  }

  private pump(): void {
    while (this.inFlight < this.limits.maxInFlight && this.readyList.length) {
      const c = this.readyList[0];
      const now = performance.now();
      const due = this.dueAt(c.waiting[0]);
      if (due > now) return this.wakeAt(due);
      const wait = this.takeToken(now);
      if (wait > 0) return this.wakeAt(now + wait);
      this.readyList.shift();
      c.ready = false;
      this.start(c);
    }
  }

  private start(c: ConnectionQueue): void {
    const ex = c.waiting.shift()!;
    const bytes = heldBytes(ex);
    c.busy = true;
    this.inFlight++;
    // send() never rejects (SchedulerHooks); both paths end the exchange all the same.
    const done = () => {
      this.queued--;
      this.queuedBytes -= bytes;
      this.inFlight--;
      this.sent++;
      c.busy = false;
      this.markReady(c);
      this.maybeFinish(c);
      if (this.roomWanted && this.hasRoom()) {
        this.roomWanted = false;
        const fn = this.roomListener;
        if (fn) setImmediate(fn);
      }
      this.pump();
      this.checkIdle();
    };
    this.hooks.send(ex).then(done, done);
  }

  private checkIdle(): void {
    if (this.queued !== 0 || this.inFlight !== 0) return;
    const listeners = this.idleListeners;
    this.idleListeners = [];
    for (const fn of listeners) fn();
  }
}
