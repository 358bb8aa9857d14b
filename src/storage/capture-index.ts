// The index object stored beside every capture object: what `podspan export` reads instead of the
// capture itself. Made by reading the closed file once natively (one pass, batches of packets, TCP
// connections from the native flow analytics): time range, packet and byte counts, per interface
// the node and pod (namespace, name, labels, from the interface block the collector wrote), and the
// connections it holds (capped).
import type { RecordBatch } from '../analysis/native-records';
import { FlowRows, SpanStrings } from '../analysis/record-rows';
import { CaptureSession } from '../capture/session';
import type { PacketBatch } from '../capture/batch';
import { InputFileError } from '../errors';

export const INDEX_VERSION = 1;
export const MAX_INDEX_FLOWS = 10_000;

export interface IndexedInterface {
  /** The pcapng interface block's index in the file. */
  index: number;
  name: string;
  node?: string;
  namespace?: string;
  pod?: string;
  interface: string;
  labels: Record<string, string>;
  packets: number;
  bytes: number;
  /** Nanoseconds since the epoch, as decimal strings (beyond 2^53). */
  firstNs?: string;
  lastNs?: string;
}

export interface IndexedFlow {
  proto: 'tcp';
  client: string;
  clientPort: number;
  server: string;
  serverPort: number;
  /** The connection's first and last packet in this file, ISO 8601 UTC (from the flow record). */
  first: string;
  last: string;
  packets: number;
}

export interface CaptureIndex {
  version: number;
  /** The capture object's key (set when uploaded). */
  object?: string;
  file: string;
  node: string;
  agent: string;
  sizeBytes: number;
  packets: number;
  /** Captured bytes of all packets. */
  bytes: number;
  firstNs?: string;
  lastNs?: string;
  interfaces: IndexedInterface[];
  flows: IndexedFlow[];
  /** Connection records of 5-tuples beyond MAX_INDEX_FLOWS, not listed. */
  flowsOmitted: number;
}

/**
 * The interface's node, pod and labels. The collector names an interface node/namespace/pod/interface
 * (or node/interface) with "labels k=v,..." in its description; an agent's own file names it after
 * the host interface with "node N, pod NS/NAME (k=v,...), session S" as its description.
 */
export function parseInterfaceName(name: string, description: string): Pick<IndexedInterface, 'node' | 'namespace' | 'pod' | 'interface' | 'labels'> {
  const parts = name.split('/');
  const labels: Record<string, string> = {};
  const addLabels = (list: string) => {
    for (const kv of list.split(',')) {
      const i = kv.indexOf('=');
      if (i > 0) labels[kv.slice(0, i)] = kv.slice(i + 1);
    }
  };
  const agent = parts.length === 1 ? /^node ([^,\s]+)(?:, pod ([^/\s]+)\/([^,\s]+)(?: \(([^)]*)\))?)?, session /.exec(description) : null;
  if (agent) {
    if (agent[4]) addLabels(agent[4]);
    return { node: agent[1], namespace: agent[2], pod: agent[3], interface: name, labels };
  }
  const m = /labels (.*)$/.exec(description);
  if (m) addLabels(m[1]);
  if (parts.length >= 4) return { node: parts[0], namespace: parts[1], pod: parts[2], interface: parts.slice(3).join('/'), labels };
  if (parts.length >= 2) return { node: parts[0], interface: parts.slice(1).join('/'), labels };
  return { interface: name, labels };
}

// Per-interface time bounds as (high, low) 32-bit halves of nanoseconds: no BigInt per packet.
interface Bounds {
  packets: number;
  bytes: number;
  firstHi: number;
  firstLo: number;
  lastHi: number;
  lastLo: number;
}

const RECORD_U32 = 8; // see src/capture/batch.ts

function addBatch(b: PacketBatch, bounds: Bounds[]): void {
  const t = b.table;
  for (let i = 0; i < b.count; i++) {
    const base = i * RECORD_U32;
    const lo = t[base], hi = t[base + 1], caplen = t[base + 3], iface = t[base + 5];
    let s = bounds[iface];
    if (!s) s = bounds[iface] = { packets: 0, bytes: 0, firstHi: hi, firstLo: lo, lastHi: hi, lastLo: lo };
    s.packets++;
    s.bytes += caplen;
    if (hi < s.firstHi || (hi === s.firstHi && lo < s.firstLo)) (s.firstHi = hi), (s.firstLo = lo);
    if (hi > s.lastHi || (hi === s.lastHi && lo > s.lastLo)) (s.lastHi = hi), (s.lastLo = lo);
  }
}

const ns = (hi: number, lo: number) => ((BigInt(hi) << 32n) | BigInt(lo)).toString();

/** Reads a closed capture file once and returns its index; `agent` names who sent it (the collector knows). */
export async function indexCaptureFile(file: string, agent: string, sizeBytes: number): Promise<CaptureIndex> {
  let session: CaptureSession;
  try {
    session = CaptureSession.open({
      source: { kind: 'file', path: file },
      snaplen: 262144,
      promisc: false,
      immediate: false,
      timeoutMs: 100,
      batches: {},
      analysis: { connectionsOnly: true }, // the index keeps connections, not requests
    });
  } catch (err) {
    throw new InputFileError(`${file}: cannot be read for its index: ${(err as Error).message}`);
  }
  const bounds: Bounds[] = [];
  // One entry per 5-tuple: the analytics make a record per connection (a repeated SYN is a new one).
  const flows = new Map<string, IndexedFlow>();
  let flowsOmitted = 0;
  const strings = new SpanStrings();
  const addFlows = (r: RecordBatch) => {
    // The rows (record-rows.ts) name each connection's ends, start and packets: no line is parsed.
    const rows = new FlowRows(r.flowRows ?? Buffer.alloc(0), r.flows, strings);
    for (let i = 0; i < rows.count; i++) {
      const f = rows.ends(i);
      const key = `${f.client}|${f.client_port}|${f.server}|${f.server_port}`;
      const first = f.ts;
      const last = new Date(Date.parse(first) + (f.duration_ms ?? 0)).toISOString();
      const packets = f.client_packets + f.server_packets;
      const known = flows.get(key);
      if (known) {
        if (first < known.first) known.first = first;
        if (last > known.last) known.last = last;
        known.packets += packets;
      } else if (flows.size >= MAX_INDEX_FLOWS) {
        flowsOmitted++;
      } else {
        flows.set(key, { proto: 'tcp', client: f.client, clientPort: f.client_port, server: f.server, serverPort: f.server_port, first, last, packets });
      }
    }
  };
  // Borrowed: each batch's rows are read before addFlows returns, and nothing of the batch is kept.
  session.onRecords(addFlows, { borrowed: true });
  const result = await session.start((b) => addBatch(b, bounds));
  if (result.error) throw new InputFileError(`${file}: ${result.error.message}`);
  const interfaces: IndexedInterface[] = result.interfaces.map((i, index) => {
    const s = bounds[index];
    return {
      index,
      name: i.name,
      ...parseInterfaceName(i.name, i.description),
      packets: s?.packets ?? 0,
      bytes: s?.bytes ?? 0,
      firstNs: s ? ns(s.firstHi, s.firstLo) : undefined,
      lastNs: s ? ns(s.lastHi, s.lastLo) : undefined,
    };
  });
  const withPackets = interfaces.filter((i) => i.packets);
  const first = withPackets.map((i) => BigInt(i.firstNs!)).reduce((a, b) => (b < a ? b : a), BigInt(Number.MAX_SAFE_INTEGER) ** 2n);
  const last = withPackets.map((i) => BigInt(i.lastNs!)).reduce((a, b) => (b > a ? b : a), -1n);
  return {
    version: INDEX_VERSION,
    file: file.split('/').pop()!,
    node: interfaces.find((i) => i.node)?.node ?? agent,
    agent,
    sizeBytes,
    packets: interfaces.reduce((n, i) => n + i.packets, 0),
    bytes: interfaces.reduce((n, i) => n + i.bytes, 0),
    firstNs: withPackets.length ? first.toString() : undefined,
    lastNs: withPackets.length ? last.toString() : undefined,
    interfaces,
    flows: [...flows.values()],
    flowsOmitted,
  };
}
