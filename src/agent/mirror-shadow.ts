// A session's `shadow` target in the agent: the capture's exchanges go to `podspan shadow`'s own
// pipeline (src/shadow/run.ts: scheduler, replay, comparison, report), in a child process at
// nice 19 (src/shadow/replay-process.ts), for as long as the capture runs. Live, so nothing ever
// waits on the candidate (a full queue drops and counts).
// Results are the agent's Prometheus metrics (podspan_shadow_requests_total,
// podspan_shadow_latency_seconds) and, where the session may write on the node, the report
// files, refreshed every 30 s and at the end.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import type { CaptureResult, CaptureSession } from '../capture/session';
import type { ShadowSettings } from '../config/shadow-options';
import { ForwardError } from '../errors';
import type { GrpcFanout } from '../forward/grpc-fanout';
import type { Logger } from '../observability/logger';
import type { ShadowMetricsSink } from '../shadow/metrics';
import { LOWEST_NICE } from '../runtime/thread-priority';
import { ReplayProcess } from '../shadow/replay-process';
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

/** Starts `session` with the shadow run, in a child process at low priority, reading its exchanges; `reportDir`: where the report files go. */
export function attachShadow(
  session: CaptureSession,
  fanout: GrpcFanout | undefined,
  settings: ShadowSettings,
  opts: { name: string; reportDir?: string; metrics?: ShadowMetricsSink; log: Logger },
): ShadowAttachment {
  const replay = new ReplayProcess(settings, {
    nice: LOWEST_NICE, // below production's processes (README, Shadow testing)
    reportDir: opts.reportDir,
    metrics: opts.metrics,
    onProblem: (what, detail) => opts.log[what.includes('failed') ? 'error' : 'warn']({ session: opts.name, ...detail }, what),
    stopCapture: () => session.stop(),
  });
  // Live: batches go to the child as they come (never waiting on the candidate).
  session.onExchanges((batch) => replay.post(batch));
  const started = session.start(undefined, undefined, fanout);
  const done = started.then(async (result) => {
    replay.captureEnded();
    await replay.done;
    if (replay.droppedHere) opts.log.warn({ session: opts.name, exchanges: replay.droppedHere }, 'shadow replay fell behind: exchanges given up (counted skipped queue_full)');
    return result;
  });
  return { done, abandon: () => replay.abandon() };
}

/** Where a session's report files go: REPORTDIR/STEM (one folder per capture). */
export function reportFolder(settings: ShadowSettings, stem: string): string | undefined {
  return settings.reportDir ? path.join(settings.reportDir, stem) : undefined;
}
