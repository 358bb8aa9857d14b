// `podspan export`: from the captures collectors uploaded (collector --store), the packets of the
// selected pods/nodes over a time range, merged in time order into one pcapng (or, with --list,
// what is stored for that filter). Progress on stderr.
import os from 'node:os';
import { checkFilterSyntax } from '../capture/filter-check';
import { filterTooBig } from '../capture/filter-limits';
import { FilterError, UsageError } from '../errors';
import { exportCaptures, type ExportProgress } from '../storage/export-merge';
import { parseSelector, parseTime, selectCaptures, type ExportQuery } from '../storage/export-query';
import { checkStore, parseStoreUrl, s3Client, type StoreLocation } from '../storage/store';

export interface RawExportFlags {
  store?: string;
  since?: string;
  until?: string;
  namespace?: string;
  pod?: string[];
  selector?: string[];
  node?: string;
  filter?: string;
  write?: string;
  list?: boolean;
}

const mb = (n: number) => (n / 1e6).toFixed(1);
const iso = (ns: string | undefined) => (ns ? new Date(Number(BigInt(ns) / 1_000_000n)).toISOString() : '-');

export async function runExport(raw: RawExportFlags, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  if (!raw.store) throw new UsageError('--store s3://BUCKET/PREFIX is required');
  if (!raw.since) throw new UsageError('--since TIME is required');
  if (!raw.list && !raw.write) throw new UsageError('-w FILE (or -w - for standard output) or --list is required');
  // An empty name would match nothing and say nothing (`--node "$NODE"` with NODE unset).
  for (const [flag, v] of [['--node', raw.node], ['--namespace', raw.namespace], ...(raw.pod ?? []).map((p) => ['--pod', p])] as const) {
    if (v !== undefined && !v.trim()) throw new UsageError(`${flag} needs a name (it was given empty)`);
  }
  const loc = parseStoreUrl('--store', raw.store);
  const now = Date.now();
  const query: ExportQuery = {
    sinceNs: parseTime('--since', raw.since, now),
    untilNs: raw.until ? parseTime('--until', raw.until, now) : BigInt(now) * 1_000_000n,
    node: raw.node,
    namespace: raw.namespace,
    pods: raw.pod ?? [],
    selector: parseSelector(raw.selector ?? []),
  };
  if (query.untilNs < query.sinceNs) throw new UsageError('--until is before --since');
  if (raw.filter !== undefined) checkExportFilter(raw.filter); // before the store is asked anything
  // Ctrl-C (or SIGTERM) stops the listing or the fetching and removes what was fetched; once the
  // merge has begun it runs to the end, the file then whole.
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => interrupt.abort(new Interrupted(signal));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await exportOrList(raw, loc, query, out, err, interrupt.signal);
  } catch (e) {
    if (!(e instanceof Interrupted)) throw e;
    if ((err as NodeJS.WriteStream).isTTY) err.write('\n'); // after the progress line
    err.write(`podspan: export interrupted by ${e.signal}: nothing written${raw.write && !raw.list ? ` to ${raw.write === '-' ? 'standard output' : raw.write}` : ''}, what was fetched removed\n`);
    return 128 + os.constants.signals[e.signal];
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The abort's reason: the signal that stopped the export. */
class Interrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
  }
}

async function exportOrList(raw: RawExportFlags, loc: StoreLocation, query: ExportQuery, out: NodeJS.WritableStream, err: NodeJS.WritableStream, signal: AbortSignal): Promise<number> {
  const client = s3Client();
  await checkStore(client, loc, '--store', signal);
  const sel = await selectCaptures(client, loc, query, signal);
  if (sel.unindexed.length) err.write(`warning: ${sel.unindexed.length} capture objects have no index and were not searched (first: ${sel.unindexed[0]})\n`);
  if (raw.list) {
    for (const s of sel.selected) {
      const pods = s.interfaces.map((i) => `${i.name} (${i.packets} packets)`).join(', ');
      out.write(`${s.index.object}\t${iso(s.index.firstNs)}\t${iso(s.index.lastNs)}\t${s.index.sizeBytes} bytes\t${s.index.packets} packets\t${pods}\n`);
    }
    const bytes = sel.selected.reduce((n, s) => n + s.index.sizeBytes, 0);
    err.write(`${sel.selected.length} of ${sel.indexes} indexed files match, ${mb(bytes)} MB\n`);
    return 0;
  }
  const tty = (err as NodeJS.WriteStream).isTTY === true;
  let last = 0;
  const progress = (p: ExportProgress) => {
    if (!tty || Date.now() - last < 200) return;
    last = Date.now();
    err.write(`\r${p.objects}/${p.objectsTotal} files, ${mb(p.bytesFetched)}/${mb(p.bytesTotal)} MB fetched, ${p.packets} packets kept`);
  };
  err.write(`${sel.selected.length} of ${sel.indexes} indexed files match; fetching ${mb(sel.selected.reduce((n, s) => n + s.index.sizeBytes, 0))} MB\n`);
  const r = await exportCaptures(client, loc, sel.selected, query, raw.filter, raw.write!, progress, signal);
  if (tty) err.write('\n');
  err.write(`${r.packets} packets from ${sel.selected.length} files written to ${raw.write === '-' ? 'standard output' : raw.write} (${r.interfaces} interfaces)\n`);
  return 0;
}

function checkExportFilter(filter: string): void {
  const tooBig = filterTooBig(filter);
  if (tooBig) throw new FilterError(`-f: ${tooBig}`);
  checkFilterSyntax(filter);
}
