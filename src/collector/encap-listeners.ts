// The collector's listeners for mirror encapsulations besides gRPC: VXLAN and GENEVE on UDP
// ports, GRE and ERSPAN on a raw IP socket (protocol 47). Each decapsulates natively on a thread
// of its own (native/core/forward/encap_receiver.*) into its own pcapng, one interface per sender
// and id (VNI, GRE key, ERSPAN session); here they are started, checked every second (a write
// error is logged once; sources beyond the cap are counted as refusals) and stopped.
import path from 'node:path';
import { Gauge, type Registry } from 'prom-client';
import { native } from '../capture/native';
import { fromNative } from '../errors';
import type { Logger } from '../observability/logger';
import type { FileRotation } from './agent-file';
import type { Refusals } from './refusals';

export type EncapKind = 'vxlan' | 'geneve' | 'gre';

export interface EncapListen {
  host: string;
  /** UDP kinds; GRE has no port. */
  port?: number;
}

export interface EncapListenerStats {
  datagrams: number;
  frames: number;
  bytes: number;
  malformed: number;
  sources: number;
  refused: number;
  error?: string;
}

interface NativeEncapReceiver {
  start(): void;
  stop(): string[];
  stats(): EncapListenerStats;
  port(): number;
}

const LABELS: Record<EncapKind, string> = { vxlan: 'VXLAN', geneve: 'GENEVE', gre: 'GRE/ERSPAN' };

interface Listener {
  kind: EncapKind;
  receiver: NativeEncapReceiver;
  errorLogged: boolean;
  refusedCounted: number;
}

export class EncapListeners {
  private readonly listeners: Listener[] = [];
  private files: string[] = [];
  private stopped = false;

  constructor(
    private readonly log: Logger,
    private readonly refusals: Refusals,
    registry: Registry,
  ) {
    const gauge: Gauge = new Gauge({
      name: 'podspan_collector_encap',
      help: 'VXLAN, GENEVE and GRE/ERSPAN listener counters, by listener (datagrams, frames, bytes, malformed, refused: sources beyond the cap, failed: 1 once a write error stopped it)',
      labelNames: ['listener', 'counter'],
      registers: [registry],
      collect: () => {
        for (const l of this.listeners) {
          const v = l.receiver.stats();
          for (const k of ['datagrams', 'frames', 'bytes', 'malformed', 'refused'] as const) gauge.set({ listener: l.kind, counter: k }, v[k]);
          gauge.set({ listener: l.kind, counter: 'failed' }, v.error ? 1 : 0);
        }
      },
    });
  }

  /** Opens and starts one listener writing to OUTDIR/KIND_RUNID.pcapng; throws a typed error naming the address. */
  start(kind: EncapKind, listen: EncapListen, out: { outDir: string; runId: string; rotation: FileRotation; maxSources: number }): void {
    const Receiver = (native() as unknown as { NativeEncapReceiver: new (o: object) => NativeEncapReceiver }).NativeEncapReceiver;
    let receiver: NativeEncapReceiver;
    try {
      receiver = new Receiver({
        kind,
        ...listen,
        path: path.join(out.outDir, `${kind}_${out.runId}.pcapng`),
        ...out.rotation,
        rotateByClock: true,
        interfacesOnFirstUse: true,
        exclusive: true,
        maxSources: out.maxSources,
      });
    } catch (err) {
      throw fromNative(err);
    }
    receiver.start();
    this.listeners.push({ kind, receiver, errorLogged: false, refusedCounted: 0 });
  }

  port(kind: EncapKind): number | undefined {
    return this.listeners.find((l) => l.kind === kind)?.receiver.port();
  }

  stats(kind: EncapKind): (EncapListenerStats & { port: number }) | undefined {
    const l = this.listeners.find((x) => x.kind === kind);
    return l && { ...l.receiver.stats(), port: l.receiver.port() };
  }

  /** Files written so far (complete after stop()). */
  written(): string[] {
    return this.files;
  }

  /** Stops every listener (their counters stay readable); their files are closed valid. Returns the errors, one line each. */
  stop(): string[] {
    const errors: string[] = [];
    if (this.stopped) return errors;
    this.stopped = true;
    for (const l of this.listeners) {
      try {
        this.files.push(...l.receiver.stop());
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    return errors;
  }

  /** The first listener stopped by a write error (for /healthz), after logging each once and counting refusals. */
  check(): string | undefined {
    let problem: string | undefined;
    for (const l of this.listeners) {
      const v = l.receiver.stats();
      if (v.error && !l.errorLogged) {
        l.errorLogged = true;
        this.log.error({ err: v.error }, `${LABELS[l.kind]} listener stopped on a write error`);
      }
      if (v.refused > l.refusedCounted) {
        this.refusals.count(`${l.kind}_sources`, v.refused - l.refusedCounted);
        l.refusedCounted = v.refused;
      }
      if (v.error && !problem) problem = `${LABELS[l.kind]} listener stopped: ${v.error}`;
    }
    return problem;
  }
}
