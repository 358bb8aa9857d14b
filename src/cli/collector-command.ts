// `podspan collector`: serves agents until SIGINT/SIGTERM, then closes every file valid and
// prints what it received and what it refused.
import { Collector } from '../collector/collector';
import { parseCollectorFlags, type RawCollectorFlags } from '../config/collector-options';
import { logger } from '../observability/logger';
import { locationUrl } from '../storage/store';
import { serveMetrics } from '../observability/metrics-server';
import { exitDeadline, stopSignals } from '../runtime/stop-signals';

/** Beyond the stop's own bounds (streams, uploads): closing files and listeners. */
const EXIT_MARGIN_MS = 10_000;
const fmtSeconds = (ms: number) => `${+(ms / 1000).toFixed(1)} s`;

export async function runCollector(raw: RawCollectorFlags, err: NodeJS.WritableStream): Promise<number> {
  const options = parseCollectorFlags(raw);
  const collector = new Collector(options, logger);
  const port = await collector.start();
  err.write(`listening on ${options.host}:${port}${options.tls ? (options.tls.clientCa ? ' (mutual TLS)' : ' (TLS)') : ''}, writing to ${options.outDir}\n`);
  if (options.token && !options.tls) err.write('warning: --insecure: agents send the bearer token in the clear (no TLS)\n');
  if (options.store) err.write(`uploading closed files to ${locationUrl(options.store.options)}\n`);
  if (options.vxlan) err.write(`listening for VXLAN on ${options.vxlan.host}:${collector.vxlanPort}/udp\n`);
  if (options.geneve) err.write(`listening for GENEVE on ${options.geneve.host}:${collector.genevePort}/udp\n`);
  if (options.gre) err.write(`listening for GRE and ERSPAN on ${options.gre.host}\n`);
  let stopping = false;
  const metrics = options.metrics
    ? await serveMetrics(collector.registry, options.metrics.host, options.metrics.port, () => !stopping, () => collector.problem())
    : undefined;
  if (metrics) err.write(`metrics on http://${options.metrics!.host}:${metrics.port}/metrics\n`);
  const signals = stopSignals();
  await signals.first;
  stopping = true;
  const waitsFor = options.store ? "the agents' streams to end and uploads" : "the agents' streams to end";
  err.write(`podspan collector: stopping: waiting at most ${fmtSeconds(collector.stopBoundMs)} for ${waitsFor}; signal again to stop waiting\n`);
  signals.onRepeat(() => {
    const open = collector.hurry();
    err.write(`podspan collector: second signal: cancelling the ${open} stream${open === 1 ? '' : 's'} still open${options.store ? ', leaving what is not uploaded in the spool' : ''}\n`);
  });
  // Each part of the stop is bounded; this bounds them all, should one still hang (a disk).
  const bound = collector.stopBoundMs + EXIT_MARGIN_MS;
  const cancelDeadline = exitDeadline(bound, `podspan collector: stop took longer than ${fmtSeconds(bound)}, exiting`, err);
  // Files that cannot be closed (disk full) are reported after the summary; the process still ends.
  // The exit deadline's timer holds the process open until then (see exitDeadline).
  let closeError: unknown;
  await collector.stop().catch((e: unknown) => (closeError = e));
  await metrics?.close();
  cancelDeadline();
  const s = collector.stats();
  err.write(`${s.agents} agents, ${s.streams} streams, ${s.batches} batches, ${s.frames} frames written\n`);
  err.write(`${s.refusedUnauthenticated} streams refused (token), ${s.refusedMalformed} streams refused (malformed)\n`);
  const listeners = [
    ['VXLAN', s.vxlan, 'sender/VNI pairs', 'not VXLAN'],
    ['GENEVE', s.geneve, 'sender/VNI pairs', 'not GENEVE'],
    ['GRE/ERSPAN', s.gre, 'sender/key pairs', 'not opened'],
  ] as const;
  for (const [name, l, pairs, bad] of listeners) {
    if (!l) continue;
    err.write(`${name}: ${l.datagrams} datagrams, ${l.frames} frames written from ${l.sources} ${pairs}, ${l.malformed} ${bad}, ${l.refused} refused (--max-vxlan-sources)\n`);
    if (l.error) err.write(`${name}: stopped on an error: ${l.error}\n`);
  }
  if (s.store) {
    const t = s.store;
    err.write(`store: ${t.uploadedFiles} files (${t.uploadedBytes} bytes) uploaded, ${t.failures} failed attempts, ${t.spoolFiles} files (${t.spoolBytes} bytes) left in the spool, ${t.droppedFiles} dropped (spool full)${t.heldMs ? `, parts held back ${(t.heldMs / 1000).toFixed(1)} s for ingest` : ''}\n`);
  }
  if (s.files.length) err.write(`${s.files.length} files: ${s.files.join(', ')}\n`);
  // Everything is closed and said: a request the store never answered must not keep the process.
  if (collector.storeAbandonedRequest) setTimeout(() => process.exit(), 100).unref();
  if (closeError) throw closeError;
  return listeners.some(([, l]) => l?.error) ? 1 : 0; // frames were lost: say so in the exit status too
}
