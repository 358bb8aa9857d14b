// Several collectors: each flow goes to one of them (rendezvous hashing of the inner 5-tuple,
// done natively while the batch is split into columns), so every collector sees whole flows.
// A collector that is down has its share moved to the others; with none up, every collector's
// share waits in its own bounded queue (dropped and counted when that is full). Kernel drops seen by the capture are reported to every collector.
import os from 'node:os';
import type { CaptureSession, ColumnsConsumer, InterfaceStats } from '../capture/session';
import type { NativeMessagePart } from '../capture/native';
import type { GrpcTarget } from '../config/forward-options';
import type { Logger } from '../observability/logger';
import { encodeBatchHead, MAX_RECORD_LINES_BYTES, splitLines, type Source } from './frame-batch';
import type { RecordOutput } from '../analysis/pipeline';
import type { RecordKind } from '../analysis/records';
import { GrpcForwarder, type GrpcForwarderStats } from './grpc-forwarder';

export class GrpcFanout implements ColumnsConsumer, RecordOutput {
  readonly forwarders: GrpcForwarder[];
  readonly targets: number;
  private readonly queueBytes: number[];
  private session?: CaptureSession;
  private sources: Source[] = [];
  private head: { bytes: Buffer; sources: number } = { bytes: Buffer.alloc(0), sources: -1 };
  private readonly lent: (Buffer | undefined)[] = [];
  private readonly agent: string;
  private lastDrops = { kernel: 0, iface: 0 };
  private timer?: NodeJS.Timeout;
  droppedNoCollector = 0;
  /** Record bytes of single JSON lines longer than a Records message holds (never sent). */
  droppedOversizeRecordBytes = 0;

  constructor(
    targets: GrpcTarget[],
    private readonly node: string = process.env.NODE_NAME || os.hostname(),
    log: Logger,
    /** Pod metadata for a capture interface, carried in every batch's sources. */
    private readonly podOf: (iface: string) => { namespace: string; name: string; labels: Record<string, string> } | undefined = () => undefined,
    /** The agent's session name, carried in the sources (the collector's live tap selects by it). */
    private readonly sessionName = '',
  ) {
    this.agent = `${this.node}/${process.pid}`;
    this.forwarders = targets.map((t) => new GrpcForwarder(t, this.agent, log));
    this.targets = targets.length;
    this.queueBytes = targets.map((t) => t.queueBytes);
  }

  /** The capture batches to ask for: at most a quarter of the smallest queue, so a queue holds several. */
  batchOptions(): { flushMs: number; maxBytes: number; queueBatches: number } {
    return { flushMs: 50, maxBytes: Math.min(1 << 20, Math.floor(Math.min(...this.queueBytes) / 4)), queueBatches: 64 };
  }

  /** Connects to every collector; until one is up, batches wait in the bounded queues. */
  start(session: CaptureSession): void {
    this.session = session;
    for (const f of this.forwarders) f.start();
    this.timer = setInterval(() => this.reportCaptureDrops(), 1000);
  }

  /** Reading a file: take the next batch only while every queue has room (backpressure). */
  hasRoom(): boolean {
    return this.forwarders.every((f) => f.hasRoom());
  }

  /** Calls `fn` whenever a queue that was full has room again. */
  onRoom(fn: () => void): void {
    for (const f of this.forwarders) f.onRoom = fn;
  }

  /** Collectors that are up share the flows; with none up, each keeps its own share and queues it. */
  upMask(): number {
    let mask = 0;
    this.forwarders.forEach((f, i) => {
      if (f.up) mask |= 1 << i;
    });
    return mask || 2 ** this.targets - 1;
  }

  /** The agent and a source per capture interface, encoded again only when interfaces came. */
  batchHead(): { bytes: Buffer; sources: number } {
    const ifs = this.session!.interfaces();
    if (ifs.length !== this.head.sources) {
      this.sources = ifs.map((i, k) => {
        const pod = this.podOf(i.name);
        return {
          node: this.node,
          interface: i.name || `if${k}`,
          linktype: i.linktype,
          snaplen: i.snaplen,
          ...(pod ? { podNamespace: pod.namespace, podName: pod.name, podLabels: pod.labels } : {}),
          ...(this.sessionName ? { session: this.sessionName } : {}),
        };
      });
      this.head = { bytes: encodeBatchHead(this.agent, this.sources), sources: ifs.length };
    }
    return this.head;
  }

  /** A spare buffer per collector, lent to the native split until a message is written into it. */
  spareBuffers(): (Buffer | undefined)[] {
    this.forwarders.forEach((f, t) => (this.lent[t] ??= f.takeSpare()));
    return this.lent;
  }

  onColumns(parts: NativeMessagePart[], unrouted: number): void {
    this.droppedNoCollector += unrouted;
    parts.forEach((p, t) => {
      // lent buffer now a message, or one that did not fit it (left to the garbage collector)
      if (p.message) this.lent[t] = undefined;
      if (p.moved) this.forwarders[t].noteMoved(p.moved);
      if (p.message) this.forwarders[t].offer({ message: p.message, used: p.used, frames: p.frames, framesAt: p.framesAt }, p.count);
    });
  }

  /**
   * Analytics records (whole JSON lines), in pieces the collector accepts, to one collector: the
   * first that is up (records carry their own addresses and pods; they need no flow split).
   */
  write(kind: RecordKind, lines: Buffer): void {
    const target = this.forwarders.find((f) => f.up) ?? this.forwarders[0];
    const pieces = splitLines(lines);
    for (const p of pieces) if (p.length > MAX_RECORD_LINES_BYTES) this.droppedOversizeRecordBytes += p.length;
    target.offerRecords(pieces.filter((p) => p.length <= MAX_RECORD_LINES_BYTES).map((piece) => ({ kind, lines: piece })));
  }

  async close(timeoutMs = 5000): Promise<GrpcForwarderStats[]> {
    clearInterval(this.timer);
    this.reportCaptureDrops();
    await Promise.all(this.forwarders.map((f) => f.close(timeoutMs)));
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
