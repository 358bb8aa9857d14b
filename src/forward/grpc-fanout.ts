// Several collectors: each flow goes to one of them (rendezvous hashing of the inner 5-tuple,
// done natively while the batch is split into columns), so every collector sees whole flows.
// A collector that is down has its share moved to the others; with none up, frames are dropped
// and counted. Kernel drops seen by the capture are reported to every collector.
import os from 'node:os';
import type { CaptureSession, ColumnsConsumer, InterfaceStats } from '../capture/session';
import type { NativeColumnsPart } from '../capture/native';
import type { GrpcTarget } from '../config/forward-options';
import type { Logger } from '../observability/logger';
import type { Source } from './frame-batch';
import { GrpcForwarder, type GrpcForwarderStats } from './grpc-forwarder';

export class GrpcFanout implements ColumnsConsumer {
  readonly forwarders: GrpcForwarder[];
  readonly targets: number;
  private session?: CaptureSession;
  private sources: Source[] = [];
  private lastDrops = { kernel: 0, iface: 0 };
  private timer?: NodeJS.Timeout;
  droppedNoCollector = 0;

  constructor(
    targets: GrpcTarget[],
    private readonly node: string = process.env.NODE_NAME || os.hostname(),
    log: Logger,
  ) {
    const agent = `${this.node}/${process.pid}`;
    this.forwarders = targets.map((t) => new GrpcForwarder(t, agent, log));
    this.targets = targets.length;
  }

  /**
   * Connects to every collector and waits (at most `waitMs`) until all are up, so the first
   * batches have somewhere to go; returns the targets still down after the wait.
   */
  async start(session: CaptureSession, waitMs = 5000): Promise<string[]> {
    this.session = session;
    for (const f of this.forwarders) f.start();
    this.timer = setInterval(() => this.reportCaptureDrops(), 1000);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.forwarders.map((f) => f.whenUp())), new Promise((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
    return this.forwarders.filter((f) => !f.up).map((f) => f.name);
  }

  upMask(): number {
    let mask = 0;
    this.forwarders.forEach((f, i) => {
      if (f.up) mask |= 1 << i;
    });
    return mask;
  }

  onColumns(parts: NativeColumnsPart[], unrouted: number): void {
    this.droppedNoCollector += unrouted;
    const ifs = this.session!.interfaces();
    if (ifs.length !== this.sources.length) {
      this.sources = ifs.map((i, k) => ({ node: this.node, interface: i.name || `if${k}`, linktype: i.linktype, snaplen: i.snaplen }));
    }
    parts.forEach((p, t) => this.forwarders[t].offer(p, this.sources));
  }

  async close(): Promise<GrpcForwarderStats[]> {
    clearInterval(this.timer);
    this.reportCaptureDrops();
    await Promise.all(this.forwarders.map((f) => f.close()));
    return this.forwarders.map((f) => f.stats());
  }

  private reportCaptureDrops(): void {
    if (!this.session) return;
    const stats: InterfaceStats[] = this.session.stats();
    const kernel = stats.reduce((n, s) => n + s.droppedKernel, 0);
    const iface = stats.reduce((n, s) => n + s.droppedInterface, 0);
    for (const f of this.forwarders) f.noteCaptureDrops(kernel - this.lastDrops.kernel, iface - this.lastDrops.iface);
    this.lastDrops = { kernel, iface };
  }
}
