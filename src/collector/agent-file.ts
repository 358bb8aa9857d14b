// One agent's capture file at the collector: a pcapng (rotating like `podspan capture`) with one
// interface block per source the agent reported, named after node, pod and interface, and the
// agent's drop counters kept for the interface statistics blocks written when a file closes.
import path from 'node:path';
import { native } from '../capture/native';
import type { Drops, FrameBatch, Source } from '../forward/frame-batch';

export interface FileRotation {
  rotateBytes?: number;
  rotateSeconds?: number;
  rotateFiles?: number;
}

interface NativeWriter {
  addInterface(i: { name: string; description: string; linktype: number; snaplen: number }): number;
  write(frames: Buffer, caplen: Buffer, origlen: Buffer, ts: Buffer, source: Buffer, count: number, map: Buffer): void;
  setDrops(iface: number, d: { kernel: number; interface: number; queue: number }): void;
  flush(): void;
  files(): string[];
  close(): void;
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

const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 100) || 'agent';

export class AgentFile {
  private readonly writer: NativeWriter;
  private readonly ifaces = new Map<string, number>();
  private readonly drops: Drops = { kernel: 0, interface: 0, queueFull: 0, disconnected: 0 };

  constructor(
    readonly agent: string,
    dir: string,
    rotation: FileRotation,
    runId: string,
  ) {
    const Writer = (native() as unknown as { NativeWriter: new (o: object) => NativeWriter }).NativeWriter;
    this.writer = new Writer({
      path: path.join(dir, `${safe(agent)}_${runId}.pcapng`), // a restarted collector starts new files
      format: 'pcapng',
      ...rotation,
      application: 'podspan collector',
      comments: [`frames mirrored by podspan agent ${agent}`],
    });
  }

  /** Writes a validated batch; throws (file untouched) if its columns do not hold together. */
  write(b: FrameBatch): number {
    const map = Buffer.alloc(b.sources.length * 4);
    b.sources.forEach((s, i) => map.writeUInt32LE(this.interfaceFor(s), i * 4));
    const count = b.caplen.length / 4;
    this.writer.write(b.frames, b.caplen, b.origlen, b.timestampNs, b.source, count, map);
    this.addDrops(b.drops);
    return count;
  }

  flush(): void {
    this.writer.flush();
  }

  files(): string[] {
    return this.writer.files();
  }

  close(): void {
    this.writer.close();
  }

  private interfaceFor(s: Source): number {
    const key = JSON.stringify([s.node, s.interface, s.linktype, s.podNamespace, s.podName]);
    let idx = this.ifaces.get(key);
    if (idx === undefined) {
      idx = this.writer.addInterface({ ...interfaceName(s), linktype: s.linktype || 1, snaplen: s.snaplen || 262144 });
      this.ifaces.set(key, idx);
    }
    return idx;
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
