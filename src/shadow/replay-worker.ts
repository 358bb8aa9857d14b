// The worker side of ReplayThread (replay-thread.ts): lowers its own priority, then runs
// `podspan shadow`'s pipeline (runShadow) on the batches the main thread sends, and sends back
// what the main thread publishes: metrics, problems, and "done" once the last report is written.
import fs from 'node:fs';
import { Writable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { lowerThreadPriority } from '../runtime/thread-priority';
import type { ShadowResult as ExchangeResult, ShadowMetricsSink } from './metrics';
import type { MainMessage, ReplayWorkerData, WorkerMessage } from './replay-thread';
import type { ShadowReport } from './report';
import { runShadow, type ExchangeSource } from './run';

/** Metrics are sent in batches, not one message per request. */
const METRICS_EVERY_MS = 250;

const port = parentPort!;
const data = workerData as ReplayWorkerData;
const send = (m: WorkerMessage) => port.postMessage(m);

class BatchedMetrics implements ShadowMetricsSink {
  private exchanges: (string | number)[] = [];
  private skips: (string | number)[] = [];

  exchange(route: string, result: ExchangeResult, productionMs?: number, candidateMs?: number): void {
    this.exchanges.push(route, result, productionMs ?? -1, candidateMs ?? -1);
  }

  skipped(reason: string, count: number): void {
    this.skips.push(reason, count);
  }

  flush(): void {
    if (!this.exchanges.length && !this.skips.length) return;
    send({ kind: 'metrics', exchanges: this.exchanges, skipped: this.skips });
    this.exchanges = [];
    this.skips = [];
  }
}

async function main(): Promise<void> {
  // libuv's thread pool is made by the first thread that needs it, at that thread's priority:
  // made now, it keeps the agent's (its file and DNS work is the agent's too).
  await fs.promises.access(__filename);
  if (data.nice > 0 && !lowerThreadPriority(data.nice)) {
    send({ kind: 'problem', what: 'shadow replay priority not lowered: it competes with production for CPU', detail: { nice: data.nice } });
  }
  const metrics = data.metrics ? new BatchedMetrics() : undefined;
  const flushing = metrics && setInterval(() => metrics.flush(), METRICS_EVERY_MS);
  let take: ((batch: { meta: Buffer; data: Buffer }) => void) | undefined;
  let ended!: () => void;
  const captureEnded = new Promise<Record<string, never>>((resolve) => (ended = () => resolve({})));
  const abandon = new AbortController();
  port.on('message', (m: MainMessage) => {
    if (m.kind === 'batch') {
      take?.({ meta: Buffer.from(m.meta.buffer, m.meta.byteOffset, m.meta.byteLength), data: Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength) });
      send({ kind: 'taken', bytes: m.bytes });
    } else if (m.kind === 'ended') ended();
    else abandon.abort();
  });
  const source: ExchangeSource = {
    live: true,
    onExchanges: (fn) => (take = fn),
    start: () => captureEnded,
    stop: () => send({ kind: 'stop' }),
  };
  const writeReport = (report: ShadowReport) => {
    if (!data.reportDir) return;
    try {
      report.write(data.reportDir);
    } catch (err) {
      send({ kind: 'problem', what: 'shadow report not written', detail: { dir: data.reportDir, err: (err as Error).message } });
    }
  };
  const discard = new Writable({ write: (_chunk, _enc, done) => done() });
  runShadow(data.settings, source, discard, { progressMs: 0, metrics, onReport: data.reportDir ? writeReport : undefined, abandon: abandon.signal })
    .then(
      (r) => writeReport(r.report),
      (err: unknown) => {
        send({ kind: 'problem', what: 'shadow run failed', detail: { err: (err as Error).message } });
        send({ kind: 'stop' });
      },
    )
    .finally(() => {
      clearInterval(flushing);
      metrics?.flush();
      send({ kind: 'done' });
      port.close();
    });
}

void main();
