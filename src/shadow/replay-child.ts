// The child side of ReplayProcess (replay-process.ts): lowers all of its threads, then runs
// `podspan shadow`'s pipeline (runShadow) on the batches the agent sends, and sends back what
// the agent publishes: metrics, problems, and "done" once the last report is written.
import { Writable } from 'node:stream';
import { lowerProcessPriorityExcept } from '../runtime/thread-priority';
import type { ShadowResult as ExchangeResult, ShadowMetricsSink } from './metrics';
import type { ChildMessage, ParentMessage } from './replay-process';
import type { ShadowReport } from './report';
import { runShadow, type ExchangeSource } from './run';

/** Metrics are sent in batches, not one message per request. */
const METRICS_EVERY_MS = 250;

const send = (m: ChildMessage, then?: () => void) => process.send!(m, undefined, {}, then);
const asBuffer = (b: Uint8Array) => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

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

function run(init: Extract<ParentMessage, { kind: 'init' }>): void {
  // Every thread of this process (JavaScript, V8's collector and compiler threads, libuv's pool)
  // works for the replay: all step back.
  if (init.nice > 0 && !lowerProcessPriorityExcept(undefined, init.nice)) {
    send({ kind: 'problem', what: 'shadow replay priority not lowered: it competes with production for CPU', detail: { nice: init.nice } });
  }
  const metrics = init.metrics ? new BatchedMetrics() : undefined;
  const flushing = metrics && setInterval(() => metrics.flush(), METRICS_EVERY_MS);
  let take: ((batch: { meta: Buffer; data: Buffer }) => void) | undefined;
  let ended!: () => void;
  const captureEnded = new Promise<Record<string, never>>((resolve) => (ended = () => resolve({})));
  const abandon = new AbortController();
  process.on('message', (m: ParentMessage) => {
    if (m.kind === 'batch') {
      take?.({ meta: asBuffer(m.meta), data: asBuffer(m.data) });
      send({ kind: 'taken', bytes: m.bytes });
    } else if (m.kind === 'ended') ended();
    else if (m.kind === 'abandon') abandon.abort();
  });
  const source: ExchangeSource = {
    live: true,
    onExchanges: (fn) => (take = fn),
    start: () => captureEnded,
    stop: () => send({ kind: 'stop' }),
  };
  const writeReport = (report: ShadowReport) => {
    if (!init.reportDir) return;
    try {
      report.write(init.reportDir);
    } catch (err) {
      send({ kind: 'problem', what: 'shadow report not written', detail: { dir: init.reportDir, err: (err as Error).message } });
    }
  };
  const discard = new Writable({ write: (_chunk, _enc, done) => done() });
  runShadow(init.settings, source, discard, { progressMs: 0, metrics, onReport: init.reportDir ? writeReport : undefined, abandon: abandon.signal })
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
      send({ kind: 'done' }, () => process.exit(0));
    });
}

// The agent gone, nothing is left to replay for.
process.on('disconnect', () => process.exit(0));
process.once('message', (m: ParentMessage) => {
  if (m.kind === 'init') run(m);
});
