// `podspan extcap`: podspan as a Wireshark extcap program (extcap(4)), and `podspan extcap
// install` to put it where Wireshark looks. Wireshark then lists this host's interfaces and,
// with a collector configured, all mirrored traffic and each node and pod the collector knows;
// picking one starts a live capture into Wireshark's fifo.
import { parseArgs } from 'node:util';
// Wireshark runs this once per interface and question at its start: only --capture and the
// collector's interface list load gRPC (collector-tap), so the other answers stay quick.
import { configText, dltText, interfacesText, parseInterfaceValue, type ExtcapInterface } from '../extcap/protocol';
import { listInterfaces } from '../capture/session';
import { parseGrpcUrl, type GrpcTarget } from '../config/forward-options';
import { UsageError } from '../errors';
import type { Source } from '../forward/frame-batch';

function collectorTarget(url: string | undefined): GrpcTarget | undefined {
  return url ? parseGrpcUrl('--collector', url) : undefined;
}

async function interfaces(collector: GrpcTarget | undefined): Promise<ExtcapInterface[]> {
  const out: ExtcapInterface[] = listInterfaces()
    .filter((d) => d.name !== 'any')
    .map((d) => ({ value: `podspan/local/${d.name}`, display: `podspan: ${d.name} on this host` }));
  if (!collector) return out;
  const where = `${collector.host}:${collector.port}`;
  let sources: Source[] = [];
  let note = '';
  try {
    sources = await (await import('../extcap/collector-tap')).listCollectorSources(collector);
  } catch {
    note = ', not reachable now';
  }
  out.push({ value: 'podspan/all', display: `podspan: all mirrored traffic (collector ${where}${note})` });
  const nodes = [...new Set(sources.map((s) => s.node).filter(Boolean))].sort();
  for (const n of nodes) out.push({ value: `podspan/node/${n}`, display: `podspan: node ${n} (collector ${where})` });
  const pods = new Map<string, string>();
  for (const s of sources) if (s.podName) pods.set(`${s.podNamespace || 'default'}/${s.podName}`, s.node);
  for (const [pod, node] of [...pods].sort()) out.push({ value: `podspan/pod/${pod}`, display: `podspan: pod ${pod} on ${node} (collector ${where})` });
  return out;
}

function stopSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
}

export async function runExtcap(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    strict: false, // Wireshark may add options of newer protocol versions
    allowPositionals: true,
    options: {
      'extcap-interfaces': { type: 'boolean' },
      'extcap-version': { type: 'string' },
      'extcap-interface': { type: 'string' },
      'extcap-dlts': { type: 'boolean' },
      'extcap-config': { type: 'boolean' },
      'extcap-capture-filter': { type: 'string' },
      capture: { type: 'boolean' },
      fifo: { type: 'string' },
      collector: { type: 'string', multiple: true },
      dir: { type: 'string' },
    },
  });
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const collectorUrl = (values.collector as string[] | undefined)?.at(-1);
  const collector = collectorTarget(collectorUrl);

  if (positionals[0] === 'install') {
    const file = (await import('../extcap/install')).installExtcap({ dir: str(values.dir), collector: collectorUrl });
    out.write(`installed ${file}: Wireshark (and tshark -D) now list podspan's sources${collector ? `, with collector ${collectorUrl}` : ''}\n`);
    return 0;
  }
  if (positionals.length) throw new UsageError(`extcap ${positionals[0]}: unknown (expected install, or Wireshark's --extcap-* options)`);
  if (values['extcap-interfaces']) {
    out.write(interfacesText(await interfaces(collector), '1.0'));
    return 0;
  }
  const iface = str(values['extcap-interface']);
  if (!iface) throw new UsageError('extcap: give --extcap-interfaces, or --extcap-interface with --extcap-dlts, --extcap-config or --capture (or: podspan extcap install)');
  const source = parseInterfaceValue(iface);
  if (values['extcap-dlts']) {
    // What Wireshark is told up front; the pcapng itself names each interface's own link type.
    out.write(dltText(1, 'EN10MB'));
    return 0;
  }
  if (values['extcap-config']) {
    out.write(configText(collectorUrl));
    return 0;
  }
  if (!values.capture) throw new UsageError(`extcap ${iface}: nothing asked (--extcap-dlts, --extcap-config or --capture)`);
  const fifo = str(values.fifo);
  if (!fifo) throw new UsageError('extcap --capture: --fifo is required');
  const filter = str(values['extcap-capture-filter']) ?? '';
  if (source.kind === 'local') {
    const { main } = await import('./main');
    await main([process.argv0, 'podspan', 'capture', '-i', source.iface, '-w', fifo, '--format', 'pcapng', ...(filter ? ['-f', filter] : [])]);
    return Number(process.exitCode ?? 0);
  }
  if (!collector) throw new UsageError(`extcap ${iface}: no collector configured (podspan extcap install --collector grpc://HOST:PORT)`);
  const frames = await (await import('../extcap/collector-tap')).tapIntoFile(collector, [{ ...source.request, bpf: filter }], fifo, stopSignal());
  err.write(`${frames} frames from ${collectorUrl}\n`);
  return 0;
}
