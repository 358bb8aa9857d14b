// `podspan collector`: serves agents until SIGINT/SIGTERM, then closes every file valid and
// prints what it received and what it refused.
import { Collector } from '../collector/collector';
import { parseCollectorFlags, type RawCollectorFlags } from '../config/collector-options';
import { logger } from '../observability/logger';
import { locationUrl } from '../storage/store';
import { serveMetrics } from '../observability/metrics-server';

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
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  stopping = true;
  // Files that cannot be closed (disk full) are reported after the summary; the process still ends.
  let closeError: unknown;
  // stop() may wait on work that does not keep the event loop alive (an unref'd upload thread, a
  // store that stopped answering): with nothing else open (the metrics port, when there is one)
  // the process ended mid-stop, exit 0, no summary. Held open until stop() is done.
  const keepAlive = setInterval(() => {}, 1 << 30);
  await collector.stop().catch((e: unknown) => (closeError = e));
  clearInterval(keepAlive);
  await metrics?.close();
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
    err.write(`store: ${t.uploadedFiles} files (${t.uploadedBytes} bytes) uploaded, ${t.failures} failed attempts, ${t.spoolFiles} files (${t.spoolBytes} bytes) left in the spool, ${t.droppedFiles} dropped (spool full)\n`);
  }
  if (s.files.length) err.write(`${s.files.length} files: ${s.files.join(', ')}\n`);
  // Everything is closed and said: a request the store never answered must not keep the process.
  if (collector.storeAbandonedRequest) setTimeout(() => process.exit(), 100).unref();
  if (closeError) throw closeError;
  return listeners.some(([, l]) => l?.error) ? 1 : 0; // frames were lost: say so in the exit status too
}
