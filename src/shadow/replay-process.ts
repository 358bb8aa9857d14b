// The agent's shadow replay in a child process of its own, every thread of it at nice 19: the
// replay (sending, reading answers, comparing) takes ~70 µs of CPU per request and its garbage
// collection ~25 µs more, and in the agent's process it would compete with production's
// processes at full priority (V8's collector threads are shared by all of a process's threads)
// and hold up the agent's other work (forwarding, metrics, the API server's watches). The
// capture stays in the agent (its native threads keep the agent's priority); exchange batches
// go to the child over its IPC channel, bounded by bytes in flight: past the bound a batch keeps
// only its connections' open, close and skip lines and its exchanges are counted skipped
// "queue_full", as live replay drops and counts whatever it cannot keep up with. A child that
// dies is logged (its last words) and the session's capture stopped; the agent goes on.
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { ShadowSettings } from '../config/shadow-options';
import { raiseProcess } from '../runtime/thread-priority';
import { bookkeepingOnly } from './batch-overflow';
import type { ShadowMetricsSink } from './metrics';

/** Bytes of exchange batches sent to the child and not yet taken by it. */
const MAX_BYTES_IN_FLIGHT = 64 << 20;
/** What is kept of the child's stderr, for the log line should it die. */
const LAST_WORDS_BYTES = 2048;

export interface ReplayProcessOptions {
  /** Nice value of the child's threads (0-19). */
  nice: number;
  /** Where the child writes the report files (every 30 s and at the end); none: not written. */
  reportDir?: string;
  metrics?: ShadowMetricsSink;
  /** A report that could not be written, the run's failure, the child's death. */
  onProblem: (what: string, detail: Record<string, unknown>) => void;
  /** The child asks for the capture to end (a malformed batch, its run failed, it died). */
  stopCapture: () => void;
}

/** From the child to the agent. */
export type ChildMessage =
  | { kind: 'taken'; bytes: number }
  | { kind: 'metrics'; exchanges: (string | number)[]; skipped: (string | number)[] }
  | { kind: 'problem'; what: string; detail: Record<string, unknown> }
  | { kind: 'stop' }
  | { kind: 'done' };

/** From the agent to the child: `init` first, once. */
export type ParentMessage =
  | { kind: 'init'; settings: ShadowSettings; nice: number; reportDir?: string; metrics: boolean }
  | { kind: 'batch'; meta: Buffer; data: Buffer; bytes: number }
  | { kind: 'ended' }
  | { kind: 'abandon' };

export class ReplayProcess {
  /** Resolves once the child drained, wrote its last report and exited (or died: then onProblem was told). */
  readonly done: Promise<void>;
  private readonly child: ChildProcess;
  private inFlight = 0;
  private exited = false;
  private lastWords = '';
  /** Exchanges given up here because the child was behind by more than MAX_BYTES_IN_FLIGHT. */
  droppedHere = 0;

  constructor(settings: ShadowSettings, private readonly opts: ReplayProcessOptions) {
    // Compiled, replay-child.js sits beside this file (by its folder: the CLI's bundle is elsewhere).
    // No inherited flags (the agent's own).
    this.child = fork(path.resolve(__dirname, '..', 'shadow', 'replay-child.js'), [], { serialization: 'advanced', execArgv: [], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    this.child.stderr!.on('data', (chunk: Buffer) => (this.lastWords = (this.lastWords + chunk.toString()).slice(-LAST_WORDS_BYTES)));
    this.send({ kind: 'init', settings, nice: opts.nice, reportDir: opts.reportDir, metrics: !!opts.metrics });
    let finished = false;
    this.done = new Promise<void>((resolve) => {
      this.child.on('message', (m: ChildMessage) => {
        if (m.kind === 'done') finished = true;
        else this.onMessage(m);
      });
      this.child.on('error', (err) => opts.onProblem('shadow replay process failed', { err: err.message }));
      // 'close', not 'exit': it comes once the IPC channel is read to its end ("done" included).
      this.child.on('close', (code, signal) => {
        this.exited = true;
        if (!finished) {
          opts.onProblem('shadow replay process failed', { code, signal, stderr: this.lastWords.trim().split('\n').slice(-3).join(' | ') });
          opts.stopCapture();
        }
        resolve();
      });
    });
  }

  /** A batch of the capture's exchanges (copied through the IPC channel). */
  post(batch: { meta: Buffer; data: Buffer }): void {
    let { meta, data } = batch;
    if (this.inFlight + meta.length + data.length > MAX_BYTES_IN_FLIGHT) {
      const reduced = bookkeepingOnly(meta);
      this.droppedHere += reduced.dropped;
      meta = reduced.meta;
      data = Buffer.alloc(0);
    }
    const bytes = meta.length + data.length;
    this.inFlight += bytes;
    this.send({ kind: 'batch', meta, data, bytes });
  }

  /** The capture ended: the child replays what it holds, writes its report and exits. */
  captureEnded(): void {
    this.send({ kind: 'ended' });
  }

  /**
   * Gives up the exchanges still waiting (counted "stopped"), and raises the child back to the
   * agent's priority where permitted: what is left (requests in flight, the last report) is
   * bounded, and at SCHED_IDLE on a node with no idle CPU it would never run before the agent's
   * exit deadline (the report then lost).
   */
  abandon(): void {
    this.send({ kind: 'abandon' });
    if (this.opts.nice > 0 && !this.exited && this.child.pid) raiseProcess(this.child.pid);
  }

  private send(m: ParentMessage): void {
    if (!this.exited && this.child.connected) this.child.send(m);
  }

  private onMessage(m: Exclude<ChildMessage, { kind: 'done' }>): void {
    switch (m.kind) {
      case 'taken':
        this.inFlight -= m.bytes;
        break;
      case 'metrics': {
        const sink = this.opts.metrics;
        if (!sink) break;
        const e = m.exchanges;
        for (let i = 0; i + 3 < e.length; i += 4) {
          const p = e[i + 2] as number;
          const c = e[i + 3] as number;
          sink.exchange(e[i] as string, e[i + 1] as never, p < 0 ? undefined : p, c < 0 ? undefined : c);
        }
        for (let i = 0; i + 1 < m.skipped.length; i += 2) sink.skipped(m.skipped[i] as string, m.skipped[i + 1] as number);
        break;
      }
      case 'problem':
        this.opts.onProblem(m.what, m.detail);
        break;
      case 'stop':
        this.opts.stopCapture();
        break;
    }
  }
}
