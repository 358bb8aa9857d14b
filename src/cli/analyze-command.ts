// `podspan analyze`: connection, HTTP and DNS records from a capture file or live interfaces
// into DIR/flows.jsonl, http.jsonl, dns.jsonl, the per-server and per-route aggregates into
// DIR/summary.json, and the top lists (slowest routes, most errors, most retransmissions) on
// standard output at the end.
import { CaptureSession, type CaptureOptions } from '../capture/session';
import { defaultInterface } from '../capture/default-interface';
import { parseAnalyzeFlags, type RawAnalyzeFlags } from '../config/analyze-options';
import { Aggregator } from '../analysis/aggregate';
import { RecordPipeline } from '../analysis/pipeline';
import { RecordFiles } from '../analysis/record-files';
import { ANALYTICS_KINDS, RECORD_KINDS } from '../analysis/records';
import type { AnalysisOptions } from '../analysis/native-records';
import { nativeDetectOptions } from '../config/detect-options';
import { describeAlert, type AlertRecord } from '../detection/alert-record';
import path from 'node:path';
import { topLists } from '../analysis/top-list';
import { summaryLines } from './capture-summary';
import type { TextOut } from './stdout-errors';

export async function runAnalyze(raw: RawAnalyzeFlags, out: TextOut, err: TextOut): Promise<number> {
  const run = parseAnalyzeFlags(raw);
  if (run.defaultInterface) run.capture.source = { kind: 'live', interfaces: [defaultInterface()] };
  const detect = run.detect;
  const analysis: AnalysisOptions = {
    flowTimeoutSeconds: run.flowTimeoutSeconds,
    ...(detect ? { detect: nativeDetectOptions(detect, true), evidence: { dir: path.join(run.outDir, 'evidence'), ...detect.evidence } } : {}),
  };
  const files = new RecordFiles(run.outDir, detect ? RECORD_KINDS : ANALYTICS_KINDS);
  const aggregator = new Aggregator(run.limits);
  const firing = new Set<string>();
  let fired = 0;
  const onAlert = (a: AlertRecord) => {
    if (a.state === 'fired') {
      fired++;
      firing.add(a.alert_id);
    } else firing.delete(a.alert_id);
    err.write(describeAlert(a) + '\n');
  };
  const pipeline = new RecordPipeline({ aggregator, outputs: [files], ...(detect ? { onAlert } : {}) });
  let session: CaptureSession;
  try {
    session = CaptureSession.open({ ...run.capture, analysis } as CaptureOptions);
  } catch (e) {
    files.close();
    throw e;
  }
  for (const w of session.warnings) err.write(`podspan: warning: ${w}\n`);
  if (run.capture.source.kind === 'live') for (const i of session.interfaces()) err.write(`listening on ${i.name}\n`);

  let failure: unknown;
  // Every batch as the capture hands it over (its wake-ups, and once more when it ends), borrowed:
  // the files write each batch's lines before take() returns and nothing else keeps them.
  session.onRecords(
    (batch) => {
      if (failure) return;
      try {
        pipeline.take(batch);
      } catch (e) {
        failure = e; // a full disk: stop, keep what was written
        session.stop();
      }
    },
    { borrowed: true },
  );
  const stop = () => session.stop();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const timer = run.durationSeconds ? setTimeout(stop, run.durationSeconds * 1000) : undefined;
  // Long runs: what was found so far, every 2 s (as `podspan streams` does).
  let shown = '';
  const progress = setInterval(() => {
    const c = pipeline.counts;
    const line = `… ${c.flows} connections, ${c.http} HTTP/gRPC exchanges, ${c.dns} DNS queries`;
    if (line !== shown) err.write(line + '\n');
    shown = line;
  }, 2000);
  try {
    const result = await session.start();
    if (failure) throw failure;
    const summary = aggregator.summary();
    const src = run.capture.source;
    const capture = { ...(src.kind === 'file' ? { file: src.path } : { interfaces: src.interfaces }), filter: run.capture.filter ?? '', packets: result.packetsRead };
    const summaryFile = files.writeSummary({ capture, ...summary });
    if (run.top > 0) for (const line of topLists(summary, run.top)) out.write(line + '\n');
    const c = pipeline.counts;
    // Live, packetsRead stays 0 (nothing is read from a file): the packets the capture took.
    const packets = src.kind === 'live' ? result.stats.reduce((n, st) => n + st.captured, 0) : result.packetsRead;
    err.write(`${packets} packets; ${c.flows} connections, ${c.http} HTTP/gRPC exchanges, ${c.dns} DNS queries\n`);
    // Live, what was lost on the way (tcpdump's lines), and records dropped behind a full queue.
    if (src.kind === 'live') for (const line of summaryLines(result, true)) err.write(line + '\n');
    const droppedRecords = result.analysisStats?.droppedRecords ?? 0;
    if (droppedRecords > 0) err.write(`${droppedRecords} records dropped (queue to JavaScript full)\n`);
    if (detect) {
      err.write(`${fired} alerts (${firing.size} still firing at the end) in ${path.join(run.outDir, 'alerts.jsonl')}\n`);
      const keys = result.analysisStats?.detect;
      if (keys) {
        const caps = { servers: detect.maxServers, routes: detect.maxRoutes, sources: detect.maxSources, pairs: detect.maxPairs };
        const names = { servers: 'maxServers', routes: 'maxRoutes', sources: 'maxSources', pairs: 'maxPairs' } as const;
        for (const t of ['servers', 'routes', 'sources', 'pairs'] as const) {
          if (keys.evicted[t]) err.write(`detector: ${keys.keys[t]} ${t} tracked (${names[t]} ${caps[t]}), ${keys.evicted[t]} evicted (the least recently active)\n`);
        }
      }
      const ev = result.analysisStats?.evidence;
      if (ev?.refused) err.write(`${ev.refused} evidence files refused (at most ${detect.evidence.maxFiles} per run, 4 at once: --detect maxEvidenceFiles=N)\n`);
      if (ev?.ringOverwritten) err.write(`${ev.ringOverwritten} packets left the pre-trigger ring early (its ${detect.evidence.preTriggerMB} MiB filled before ${detect.evidence.preTriggerSeconds} s)\n`);
    }
    err.write(`records in ${run.outDir} (flows.jsonl, http.jsonl, dns.jsonl), aggregates in ${summaryFile}\n`);
    if (summary.folded.server_records || summary.folded.route_records) {
      err.write(
        `caps: ${summary.folded.server_records} records of servers past --max-servers ${run.limits.maxServers} and ` +
          `${summary.folded.route_records} of routes past --max-routes ${run.limits.maxRoutesPerServer} counted under "other"\n`,
      );
    }
    if (result.error) throw result.error;
    return 0;
  } finally {
    clearInterval(progress);
    if (timer) clearTimeout(timer);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    files.close();
  }
}
