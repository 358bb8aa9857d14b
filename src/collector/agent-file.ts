// One agent's capture file at the collector: a pcapng (rotating like `podspan capture`, -G by the
// collector's clock) with one interface block per source the agent reported, named after node,
// pod and interface, and the agent's drop counters kept for the interface statistics blocks
// written when a file closes. Sources are bounded (maxInterfaces); frames of sources refused for
// that, or for a link type pcapng cannot hold, are skipped and counted, never written wrongly.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { native } from '../capture/native';
import type { Drops, FrameBatch, Source } from '../forward/frame-batch';
import { AgentRecordFiles } from './agent-records';

export interface FileRotation {
  rotateBytes?: number;
  rotateSeconds?: number;
  rotateFiles?: number;
}

/** How an agent's capture files are written: rotated, and around the page cache or through it. */
export interface FileWriting extends FileRotation {
  /**
   * O_DIRECT where the file system takes it (native/core/pcap/direct_file.h): the kernel
   * neither allocates nor fills a page cache page per 4 KiB of frames.
   */
  directIo?: boolean;
}

interface NativeWriter {
  addInterface(i: { name: string; description: string; linktype: number; snaplen: number }): number;
  write(frames: Buffer, caplen: Buffer, origlen: Buffer, ts: Buffer, source: Buffer, count: number, map: Buffer): number;
  setDrops(iface: number, d: { kernel: number; interface: number; queue: number }): void;
  flush(): void;
  files(): string[];
  close(): void;
}

/** Why frames were not written: the per-file interface cap, or a link type above 65535. */
export type RefusedReason = 'interfaces' | 'linktype';

export interface WriteResult {
  written: number;
  refused: Partial<Record<RefusedReason, number>>;
}

/** The IDB name and description of a source: node/namespace/pod/interface. */
export function interfaceName(s: Source): { name: string; description: string } {
  const pod = s.podName ? `${s.podNamespace || 'default'}/${s.podName}` : '';
  const labels = Object.entries(s.podLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
  return {
    name: [s.node, pod, s.interface].filter(Boolean).join('/'),
    description: `node ${s.node || '?'}${pod ? `, pod ${pod}` : ''}, interface ${s.interface}${labels ? `, labels ${labels}` : ''}`,
  };
}

/**
 * The file name stem of an agent id: a readable prefix (never starting with '.') and a short hash
 * of the whole id, so ids that sanitise alike (`node/1`, `node_1`) never share a file.
 */
export function agentFileStem(agent: string): string {
  const prefix = agent.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[.]+/, '').slice(0, 64) || 'agent';
  return `${prefix}-${createHash('sha256').update(agent).digest('hex').slice(0, 12)}`;
}

const REFUSED = 0xffffffff; // the native writer skips frames of a source mapped here
const WRITE_BUFFER_BYTES = 64 * 1024; // one buffer per open agent file, handed to the kernel every second anyway

export class AgentFile {
  private readonly writer: NativeWriter;
  private readonly ifaces = new Map<string, number>();
  private readonly drops: Drops = { kernel: 0, interface: 0, queueFull: 0, disconnected: 0 };
  /** The agent's analytics records, beside the pcapng (files made on the first records). */
  private readonly records: AgentRecordFiles;
  /** Closed files already handed out by takeClosed(). */
  private readonly handedOut = new Set<string>();
  private closed = false;
  /** Date.now() of the last batch written (idle writers are closed by AgentFiles). */
  lastWriteMs = Date.now();

  constructor(
    readonly agent: string,
    file: string,
    writing: FileWriting,
    private readonly maxInterfaces: number,
  ) {
    const Writer = (native() as unknown as { NativeWriter: new (o: object) => NativeWriter }).NativeWriter;
    this.writer = new Writer({
      path: file,
      format: 'pcapng',
      ...writing,
      rotateByClock: true,
      interfacesOnFirstUse: true,
      exclusive: true,
      bufferBytes: WRITE_BUFFER_BYTES,
      application: 'podspan collector',
      comments: [`frames mirrored by podspan agent ${agent}`],
    });
    this.records = new AgentRecordFiles(file.replace(/\.pcapng$/, ''), writing);
  }

  /** Where an agent's file goes: DIR/STEM_RUN[-GENERATION].pcapng. */
  static pathFor(dir: string, agent: string, runId: string, generation: number): string {
    return path.join(dir, `${agentFileStem(agent)}_${runId}${generation > 1 ? `-${generation}` : ''}.pcapng`);
  }

  /** Writes a validated batch; throws (file untouched) if its columns do not hold together. */
  write(b: FrameBatch): WriteResult {
    const map = Buffer.alloc(b.sources.length * 4);
    const refusedSources = new Map<number, RefusedReason>();
    b.sources.forEach((s, i) => {
      const target = this.interfaceFor(s);
      if (typeof target === 'string') refusedSources.set(i, target);
      map.writeUInt32LE(typeof target === 'string' ? REFUSED : target, i * 4);
    });
    const count = b.caplen.length / 4;
    const written = this.writer.write(b.frames, b.caplen, b.origlen, b.timestampNs, b.source, count, map);
    if (b.records?.length) this.records.write(b.records);
    this.addDrops(b.drops);
    this.lastWriteMs = Date.now();
    return { written, refused: refusedSources.size ? this.countRefused(b, refusedSources) : {} };
  }

  flush(): void {
    this.writer.flush();
  }

  files(): string[] {
    return [...this.writer.files(), ...this.records.files()];
  }

  close(): void {
    this.records.close();
    this.writer.close();
    this.closed = true;
  }

  /** Files closed (rotated away from, or all after close()) not handed out before: for the store's spool. */
  takeClosed(): string[] {
    const pcaps = this.writer.files();
    const closed = [...(this.closed ? pcaps : pcaps.slice(0, -1)), ...(this.closed ? this.records.files() : this.records.closedFiles())];
    const fresh = closed.filter((f) => !this.handedOut.has(f));
    for (const f of fresh) this.handedOut.add(f);
    return fresh;
  }

  private interfaceFor(s: Source): number | RefusedReason {
    const key = JSON.stringify([s.node, s.interface, s.linktype, s.podNamespace, s.podName]);
    let idx = this.ifaces.get(key);
    if (idx === undefined) {
      if (s.linktype > 0xffff) return 'linktype';
      if (this.ifaces.size >= this.maxInterfaces) return 'interfaces';
      idx = this.writer.addInterface({ ...interfaceName(s), linktype: s.linktype || 1, snaplen: s.snaplen || 262144 });
      this.ifaces.set(key, idx);
    }
    return idx;
  }

  // Only when a batch has refused sources: how many of its frames each reason cost.
  private countRefused(b: FrameBatch, refusedSources: Map<number, RefusedReason>): WriteResult['refused'] {
    const out: WriteResult['refused'] = {};
    for (let k = 0; k < b.source.length; k += 4) {
      const reason = refusedSources.get(b.source.readUInt32LE(k)); // the column may not be 4-aligned
      if (reason) out[reason] = (out[reason] ?? 0) + 1;
    }
    return out;
  }

  // The agent's drops are agent-wide: they go with its first interface (pcapng has no agent block).
  private addDrops(d: Drops): void {
    this.drops.kernel += Number(d.kernel);
    this.drops.interface += Number(d.interface);
    this.drops.queueFull += Number(d.queueFull);
    this.drops.disconnected += Number(d.disconnected);
    if (this.ifaces.size) {
      this.writer.setDrops(0, { kernel: this.drops.kernel, interface: this.drops.interface, queue: this.drops.queueFull + this.drops.disconnected });
    }
  }
}
