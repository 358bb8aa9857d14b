// The agent's shadow replay in a worker thread of its own, at low CPU priority: the replay
// (sending, reading answers, comparing) takes ~70 µs of CPU per request, and on the agent's main
// thread it would compete with production's processes at full priority and hold up the agent's
// other work (forwarding, metrics, the API server's watches). The capture stays on the main
// side (its native threads keep the agent's priority); exchange batches are copied to the
// worker, bounded by bytes in flight: past the bound a batch keeps only its connections' open,
// close and skip lines and its exchanges are counted skipped "queue_full", as live replay drops
// and counts whatever it cannot keep up with.
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ShadowSettings } from '../config/shadow-options';
import { bookkeepingOnly } from './batch-overflow';
import type { ShadowMetricsSink } from './metrics';

/** Bytes of exchange batches sent to the worker and not yet taken by it. */
const MAX_BYTES_IN_FLIGHT = 64 << 20;

export interface ReplayThreadOptions {
  /** Nice value of the worker thread (0-19). */
  nice: number;
  /** Where the worker writes the report files (every 30 s and at the end); none: not written. */
  reportDir?: string;
  metrics?: ShadowMetricsSink;
  /** A report that could not be written, or the run's failure. */
  onProblem: (what: string, detail: Record<string, unknown>) => void;
  /** The worker asks for the capture to end (a malformed batch). */
  stopCapture: () => void;
}

/** From the worker to the main thread. */
export type WorkerMessage =
  | { kind: 'taken'; bytes: number }
  | { kind: 'metrics'; exchanges: (string | number)[]; skipped: (string | number)[] }
  | { kind: 'problem'; what: string; detail: Record<string, unknown> }
  | { kind: 'stop' }
  | { kind: 'done' };

/** From the main thread to the worker. */
export type MainMessage = { kind: 'batch'; meta: Uint8Array; data: Uint8Array; bytes: number } | { kind: 'ended' } | { kind: 'abandon' };

export interface ReplayWorkerData {
  settings: ShadowSettings;
  nice: number;
  reportDir?: string;
  metrics: boolean;
}

export class ReplayThread {
  /** Resolves once the worker drained and wrote its last report (or died: then onProblem was told). */
  readonly done: Promise<void>;
  private readonly worker: Worker;
  private inFlight = 0;
  /** Exchanges given up here because the worker was behind by more than MAX_BYTES_IN_FLIGHT. */
  droppedHere = 0;

  constructor(settings: ShadowSettings, private readonly opts: ReplayThreadOptions) {
    const workerData: ReplayWorkerData = { settings, nice: opts.nice, reportDir: opts.reportDir, metrics: !!opts.metrics };
    // Compiled, replay-worker.js sits beside this file.
    this.worker = new Worker(path.join(__dirname, 'replay-worker.js'), { workerData });
    this.done = new Promise<void>((resolve) => {
      this.worker.on('message', (m: WorkerMessage) => {
        if (m.kind === 'done') resolve();
        else this.onMessage(m);
      });
      this.worker.on('error', (err) => {
        opts.onProblem('shadow replay thread failed', { err: err.message });
        opts.stopCapture();
        resolve();
      });
      this.worker.on('exit', () => resolve());
    });
  }

  /** A batch of the capture's exchanges (copied: the native buffers stay the capture's). */
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
    this.worker.postMessage({ kind: 'batch', meta, data, bytes } satisfies MainMessage);
  }

  /** The capture ended: the worker replays what it holds, writes its report and says done. */
  captureEnded(): void {
    this.worker.postMessage({ kind: 'ended' } satisfies MainMessage);
  }

  /** Gives up the exchanges still waiting (counted "stopped"). */
  abandon(): void {
    this.worker.postMessage({ kind: 'abandon' } satisfies MainMessage);
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private onMessage(m: Exclude<WorkerMessage, { kind: 'done' }>): void {
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
