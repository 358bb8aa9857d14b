// One shadow run: exchanges from the capture (a file or live interfaces) go through the
// scheduler to the replayer, whose outcomes the report compares and counts. A progress line every
// 2 s on long runs, the summary on stderr at the end, the report files with --report.
import type { ShadowSettings } from '../config/shadow-options';
import type { ShadowMetricsSink } from './metrics';
import type { ConsumerFlow } from '../capture/session';
import type { ExchangeInfo, Outcome } from './answer';
import { ShadowReport, type ShadowSummary, type ShadowTotals } from './report';
import { ShadowScheduler } from './scheduler';
import { BatchDecoder } from './replay/from-batch';
import type { ShadowEvent } from './replay/exchange';
import { Replayer, type ReplayCounts } from './replay/replayer';
import type { LaneOptions } from './replay/lane';
import { compareRules } from './compare';

/** Body bytes kept per answer (production's, by the capture, and the candidate's). */
export const MAX_BODY_BYTES = 1 << 20;

/**
 * The capture session's `shadow` option (Contract 1 of the native side) for these settings. A
 * file's batches are 128 KiB (~200 keep-alive exchanges): a batch lands whole on a full read-ahead
 * (see fileReadAhead), so this bounds the overshoot; live batches stay at 512 KiB (fewer wake-ups).
 */
export function shadowCaptureOptions(run: ShadowSettings, live = true) {
  return {
    protocol: run.protocol, serverPorts: run.serverPorts, methods: run.methods, percent: run.percent, maxBodyBytes: MAX_BODY_BYTES, maxRequestBytes: MAX_BODY_BYTES,
    maxBytes: (live ? 512 : 128) * 1024,
  };
}

/**
 * Exchanges a file read keeps waiting ahead of the senders (in flight included), below --queue:
 * enough to keep every in-flight slot busy. Fewer exchanges alive at once means fewer objects
 * that outlive V8's young generation: reading 200,000 keep-alive requests with 10,000 waiting
 * cost ~11% more CPU (garbage collection) than with 256.
 */
export function fileReadAhead(maxInFlight: number): number {
  return Math.max(256, 4 * maxInFlight);
}

/** Where exchanges come from: the capture session (or, in tests, anything that produces batches). */
export interface ExchangeSource {
  live: boolean;
  /**
   * `fn` gets every batch of exchanges (Contract 1's meta lines and data). Reading a file, the
   * source takes batches only while flow.hasRoom() and again when flow's room callback runs (the
   * file reader waits meanwhile); live, it ignores `flow` and never waits.
   */
  onExchanges(fn: (batch: { meta: Buffer; data: Buffer }) => void, flow: ConsumerFlow): void;
  /** Runs the capture; resolves when it ended (file read, count, duration, stop()). */
  start(): Promise<{ error?: Error; shadowStats?: { skipped?: Record<string, number> } }>;
  stop(): void;
}

export interface ShadowResult {
  summary: ShadowSummary;
  replay: ReplayCounts;
  /** Exchanges the scheduler dropped, by reason (queue_full, stopped). */
  dropped: Record<string, number>;
  peakQueued: number;
  elapsedMs: number;
  captureError?: Error;
  report: ShadowReport;
}

function laneOptions(run: ShadowSettings, target: ShadowSettings['target']): LaneOptions {
  return { target, timeoutMs: run.limits.timeoutMs, maxBodyBytes: MAX_BODY_BYTES, marker: run.marker, hostRewrite: run.hostRewrite, insecure: run.insecure };
}

export function progressLine(s: ShadowTotals, queued: number): string {
  return `… ${s.requests} requests: ${s.matched} matched, ${s.differed} differed, ${s.errors} errors; ${queued} waiting`;
}

export interface RunOptions {
  /** The progress line's period on `err` (default 2000; 0: none, as in the agent). */
  progressMs?: number;
  /** Per exchange and skip, e.g. the agent's Prometheus metrics (ShadowMetrics). */
  metrics?: ShadowMetricsSink;
  /** Called with the report every `reportEveryMs` while the run lasts (the agent refreshes its report files). */
  onReport?: (report: ShadowReport) => void;
  reportEveryMs?: number;
  /** Aborted: exchanges still waiting are given up (counted "stopped"), e.g. on a second Ctrl-C. */
  abandon?: AbortSignal;
}

export async function runShadow(run: ShadowSettings, source: ExchangeSource, err: NodeJS.WritableStream, opts: RunOptions = {}): Promise<ShadowResult> {
  const t0 = performance.now();
  const rules = compareRules(run.ignore);
  const report = new ShadowReport({ maxRoutes: run.maxRoutes, rules, metrics: opts.metrics });
  const dropped: Record<string, number> = {};
  const replayer = new Replayer(
    { candidate: laneOptions(run, run.target), primary: run.primary && laneOptions(run, run.primary), maxIdleClients: run.limits.maxInFlight, http1Transport: run.http1Transport, rules },
    (ex, outcome: Outcome) => report.add(ex.info as ExchangeInfo, outcome),
  );
  const scheduler = new ShadowScheduler(
    source.live ? { ...run.limits, speed: 0 } : { ...run.limits, readAhead: fileReadAhead(run.limits.maxInFlight) },
    {
      send: (ex) => replayer.send(ex),
      closeConnection: (conn) => replayer.closeConnection(conn),
      dropped: (_ex, reason) => {
        dropped[reason] = (dropped[reason] ?? 0) + 1;
        report.skip(reason);
      },
    },
    // Live capture never waits on the candidate (drops); a file waits for room.
    source.live ? 'drop' : 'wait',
  );
  opts.abandon?.addEventListener('abort', () => scheduler.abandon('stopped'), { once: true });
  const methods = new Set(run.methods);
  const take = (events: ShadowEvent[]) => {
    for (const e of events) {
      if (e.kind === 'exchange') {
        // The capture filters methods already; this keeps the safety rule whatever the source.
        if (e.exchange.request.kind !== 'raw' && !methods.has(e.exchange.request.method.toUpperCase())) report.skip('method');
        else scheduler.offer(e.exchange);
      } else if (e.kind === 'close') scheduler.close(e.conn);
      else if (e.kind === 'skip') report.skip(e.reason, e.count);
    }
  };
  let failure: unknown;
  const decoder = new BatchDecoder(!source.live, replayer.headersInRow);
  source.onExchanges(
    (batch) => {
      if (failure) return;
      try {
        take(decoder.decode(batch));
      } catch (e) {
        failure = e; // a malformed batch: stop, report what was done
        source.stop();
      }
    },
    { hasRoom: () => scheduler.hasRoom(), onRoom: (fn) => scheduler.setRoomListener(fn) },
  );
  let shown = '';
  const progressMs = opts.progressMs ?? 2000;
  const progress = progressMs
    ? setInterval(() => {
        const line = progressLine(report.totals(), scheduler.counts().queued); // totals: no percentiles every 2 s
        if (line !== shown) err.write(line + '\n');
        shown = line;
      }, progressMs)
    : undefined;
  const refresh = opts.onReport && setInterval(() => opts.onReport!(report), opts.reportEveryMs ?? 30_000);
  try {
    const result = await source.start();
    await scheduler.idle();
    await replayer.closeAll();
    if (failure) throw failure;
    return { summary: report.summary(), replay: replayer.counts, dropped, peakQueued: scheduler.counts().peakQueued, elapsedMs: performance.now() - t0, captureError: result.error, report };
  } finally {
    clearInterval(progress);
    clearInterval(refresh);
  }
}
