// `podspan shadow`: replays the requests production's clients made (from a capture file or live
// interfaces) to a candidate version, compares its answers with production's, and reports where
// they differ. Exit 0 when done, 1 when the candidate never answered (one line), 2 on bad flags.
import os from 'node:os';
import { CaptureSession, type CaptureOptions, type CaptureResult } from '../capture/session';
import { summaryLines as captureSummaryLines } from './capture-summary';
import { defaultInterface } from '../capture/default-interface';
import { parseShadowFlags, type RawShadowFlags, type ShadowRun } from '../config/shadow-options';
import { CAPTURE_THREAD_NAME } from '../capture/session';
import { lowerProcessPriorityExcept, raiseProcess } from '../runtime/thread-priority';
import { makeDirs } from '../runtime/make-dirs';
import { OutputError } from '../errors';
import { runShadow, shadowCaptureOptions, type ExchangeSource, type ShadowResult } from '../shadow/run';

/**
 * The capture session as the shadow run's source of exchanges (its result kept for the summary).
 * `afterStart` runs once the capture's threads exist (what it changes of this thread, they keep).
 */
function sessionSource(session: CaptureSession, live: boolean, afterStart: () => void): ExchangeSource & { result?: CaptureResult } {
  const source: ExchangeSource & { result?: CaptureResult } = {
    live,
    onExchanges: (fn, flow) => session.onExchanges(fn, flow),
    start: async () => {
      const running = session.start();
      afterStart();
      source.result = await running;
      return source.result;
    },
    stop: () => session.stop(),
  };
  return source;
}

const count = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
const byReason = (r: Record<string, number>) =>
  Object.entries(r)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');

/** The end-of-run lines on stderr. */
export function summaryLines(run: ShadowRun, r: ShadowResult): string[] {
  const s = r.summary;
  const secs = r.elapsedMs / 1000;
  // From a file the rate says how fast replay went; live it only says how busy production was.
  const rate = run.capture.source.kind === 'file' && secs > 0 ? ` (${Math.round(s.requests / secs)}/s)` : '';
  const lines = [
    `${s.requests} requests replayed to ${run.target.url} in ${secs.toFixed(1)} s${rate}: ` +
      `${s.compared} compared, ${s.matched} matched, ${s.differed} differed, ${s.errors} errors${s.errors ? ` (${byReason(r.replay.errors)})` : ''}`,
  ];
  const skipped = count(s.skipped);
  lines.push(`skipped: ${skipped ? byReason(s.skipped) : 'none'}; at most ${r.peakQueued} exchanges waited at once (--queue ${run.limits.queueExchanges})`);
  if (run.primary && r.replay.primaryErrors) lines.push(`primary ${run.primary.url}: ${r.replay.primaryErrors} requests unanswered (noise not cancelled for them)`);
  const diffs: [string, number][] = [];
  for (const route of s.routes) for (const [where, n] of Object.entries(route.differences)) diffs.push([`${route.method} ${route.route}: ${where}`, n]);
  diffs.sort((a, b) => b[1] - a[1]);
  for (const [what, n] of diffs.slice(0, 10)) lines.push(`  differs: ${what} (${n})`);
  if (diffs.length > 10) lines.push(`  … and ${diffs.length - 10} more (see --report)`);
  return lines;
}

export async function runShadowCommand(raw: RawShadowFlags, err: NodeJS.WritableStream): Promise<number> {
  const run = parseShadowFlags(raw);
  if (run.defaultInterface) run.capture.source = { kind: 'live', interfaces: [defaultInterface()] };
  // Made first: a folder that cannot be made (permissions, /proc) ends the command here, not after
  // every request was replayed.
  if (run.reportDir) {
    try {
      makeDirs(run.reportDir);
    } catch (e) {
      throw new OutputError(`--report ${run.reportDir}: ${(e as Error).message}`);
    }
  }
  const live = run.capture.source.kind === 'live';
  const session = CaptureSession.open({ ...run.capture, shadow: shadowCaptureOptions(run, live) } as CaptureOptions);
  for (const w of session.warnings) err.write(`podspan: warning: ${w}\n`);
  if (live) for (const i of session.interfaces()) err.write(`listening on ${i.name}\n`);
  // The replay (this thread, and V8's garbage collection and compiler threads working for it)
  // steps back for production's processes; the capture threads, started before, keep the
  // process's priority and drain the kernel's ring in time.
  const ownNice = os.getPriority(process.pid);
  const source = sessionSource(session, live, () => {
    if (run.replayNice > 0 && !lowerProcessPriorityExcept(CAPTURE_THREAD_NAME, run.replayNice)) {
      err.write(`podspan: warning: the replay's priority could not be lowered to nice ${run.replayNice}: it competes with production's processes for CPU\n`);
    }
  });
  // The first Ctrl-C ends the capture (what waits is still replayed, each within --timeout); the
  // second gives up what still waits.
  const abandon = new AbortController();
  let signals = 0;
  const stop = () => {
    if (signals++ === 0) session.stop();
    else if (!abandon.signal.aborted) {
      err.write('podspan: giving up the exchanges still waiting\n');
      abandon.abort();
      // What is left (requests in flight, the report) is bounded: back to the priority it started
      // at, where permitted, or on a machine with no idle CPU it would hardly run.
      if (run.replayNice > 0) raiseProcess(process.pid, ownNice);
    }
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const timer = run.durationSeconds ? setTimeout(stop, run.durationSeconds * 1000) : undefined;
  try {
    const result = await runShadow(run, source, err, { abandon: abandon.signal });
    for (const line of summaryLines(run, result)) err.write(line + '\n');
    // Live, what the capture lost (tcpdump's lines) and batches dropped before JavaScript took them.
    if (live && source.result) for (const line of captureSummaryLines(source.result, true)) err.write(line + '\n');
    const droppedBatches = source.result?.shadowStats?.droppedBatches ?? 0;
    if (droppedBatches) err.write(`${droppedBatches} exchange batches dropped (queue to JavaScript full)\n`);
    if (run.reportDir) {
      result.report.write(run.reportDir);
      err.write(`report in ${run.reportDir} (summary.json, diffs.jsonl, index.html)\n`);
    }
    if (result.captureError) throw result.captureError;
    if (result.replay.sent > 0 && result.replay.answered === 0) {
      err.write(`podspan: the candidate ${run.target.url} never answered: ${result.replay.sent} requests failed (${result.replay.firstError})\n`);
      return 1;
    }
    return 0;
  } finally {
    if (timer) clearTimeout(timer);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
