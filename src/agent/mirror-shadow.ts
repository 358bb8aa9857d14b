// A session's `shadow` target in the agent: the capture's exchanges go to `podspan shadow`'s own
// pipeline (src/shadow/run.ts: scheduler, replay, comparison, report) for as long as the
// capture runs. Live, so nothing ever waits on the candidate (a full queue drops and counts).
// Results are the agent's Prometheus metrics (podspan_shadow_requests_total,
// podspan_shadow_latency_seconds) and, where the session may write on the node, the report
// files, refreshed every 30 s and at the end.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { CaptureResult, CaptureSession } from '../capture/session';
import type { ShadowSettings } from '../config/shadow-options';
import { ForwardError } from '../errors';
import type { GrpcFanout } from '../forward/grpc-fanout';
import type { Logger } from '../observability/logger';
import type { ShadowMetricsSink } from '../shadow/metrics';
import type { ShadowReport } from '../shadow/report';
import { runShadow, type ExchangeSource } from '../shadow/run';
import { refuseNodeTargets } from './tenancy';

export interface ShadowAttachment {
  /** The capture's result, once the capture ended and the shadow run drained. */
  done: Promise<CaptureResult>;
  /** Stopping: exchanges still waiting are given up (counted "stopped"). */
  abandon(): void;
}

/** A tenant's candidate must lie beyond the node, as its forward targets must (names resolved now). */
export async function refuseNodeCandidates(settings: ShadowSettings): Promise<void> {
  for (const t of [settings.target, settings.primary]) {
    if (!t) continue;
    let host = t.host;
    if (isIP(host) === 0) {
      try {
        host = (await lookup(host)).address;
      } catch (err) {
        throw new ForwardError(`${t.url}: cannot resolve ${t.host}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
    refuseNodeTargets([{ host, url: t.url }]);
  }
}

const discard = new Writable({ write: (_chunk, _enc, done) => done() });

/** Starts `session` with the shadow run reading its exchanges; `reportDir`: where the report files go. */
export function attachShadow(
  session: CaptureSession,
  fanout: GrpcFanout | undefined,
  settings: ShadowSettings,
  opts: { name: string; reportDir?: string; metrics?: ShadowMetricsSink; log: Logger },
): ShadowAttachment {
  let started: Promise<CaptureResult> | undefined;
  const source: ExchangeSource = {
    live: true,
    onExchanges: (fn, flow) => session.onExchanges(fn, flow),
    start: () => (started = session.start(undefined, undefined, fanout)),
    stop: () => session.stop(),
  };
  const writeReport = opts.reportDir
    ? (report: ShadowReport) => {
        try {
          report.write(opts.reportDir!);
        } catch (err) {
          opts.log.warn({ session: opts.name, dir: opts.reportDir, err: (err as Error).message }, 'shadow report not written');
        }
      }
    : undefined;
  const abandon = new AbortController();
  // runShadow starts the capture before it first waits: `started` is set when it returns.
  const run = runShadow(settings, source, discard, { progressMs: 0, metrics: opts.metrics, onReport: writeReport, abandon: abandon.signal });
  const done = run.then(
    (r) => {
      writeReport?.(r.report);
      return started!;
    },
    (err: unknown) => {
      opts.log.error({ session: opts.name, err: (err as Error).message }, 'shadow run failed');
      session.stop();
      return started!;
    },
  );
  return { done, abandon: () => abandon.abort() };
}

/** Where a session's report files go: REPORTDIR/STEM (one folder per capture). */
export function reportFolder(settings: ShadowSettings, stem: string): string | undefined {
  return settings.reportDir ? path.join(settings.reportDir, stem) : undefined;
}
