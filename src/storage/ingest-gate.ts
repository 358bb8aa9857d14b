// Uploads give way to ingest. The capture path a spool serves (a collector's gRPC streams, an
// agent's record pipeline) runs on the main thread's event loop. When that thread was busy for
// most of the last sample and waited for a CPU part of it (something else ran on its core), the
// upload thread starts no new part (nor index read) until the thread is less busy. At nice 19
// alone the uploads still took 0.26-0.42 s of a collector's one core during a 2 s ingest, and its
// event loop waited 59-104 ms longer for that core (BENCHMARKS.md, issue 16). Held, they take
// almost none of it then, and catch up when ingest eases. Where they run on another
// core, the main thread does not wait for its own and they are not held. Bounded, so that a
// collector busy for good still uploads rather than filling its spool: no part is held longer
// than MAX_HOLD_MS, and none once the spool holds half its cap.
//
// The gate is an Int32Array over shared memory: the main thread sets it, the upload thread reads
// it before each part and adds the time it waited. The load is the kernel's schedstat of the
// loop's thread (Linux; where it cannot be read, nothing is held): the event loop's own
// utilisation counts a wait for a CPU that follows a wake-up in epoll as idle, and read 0.6-0.7
// for a collector whose main thread wanted its core 81% of the time.
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';

/** Slots of the shared gate. */
const CLOSED = 0; // 1: the loop's thread is busy and short of CPU, parts wait
const HELD_MS = 1; // milliseconds parts have waited, summed over the thread's lanes
const WAITING = 2; // parts waiting now

/** What the loop's thread did over a sample, as shares of its wall time. */
export interface LoopLoad {
  /** Ran, or was runnable and waited for a CPU. */
  busy: number;
  /** Was runnable and waited for a CPU. */
  waited: number;
}

/**
 * Parts start to wait when the thread was busy at least SATURATED of a sample and waited for a
 * CPU at least CONTENDED of it; they go again when it is busy less than RELEASED (its wait is
 * not asked then: holding the uploads is what removed it). Between the two the gate keeps what it
 * was rather than flapping from one sample to the next. Low enough for a VM, where the time its
 * host takes the CPU away (steal) counts as neither: a thread spinning alone read 0.8 busy on a
 * shared one; a collector's main thread under load read 0.6-0.99, idle 0.01-0.17.
 */
export const SATURATED = 0.5;
export const CONTENDED = 0.05;
export const RELEASED = 0.3;
/** How often the main thread samples its thread. */
export const SAMPLE_MS = 100;
/** The longest one part waits (then it goes, at nice 19). */
export const MAX_HOLD_MS = 5000;

/** ES2024's Atomics.waitAsync (in Node since 16; the project's lib is ES2022). */
interface WithWaitAsync {
  waitAsync(a: Int32Array, index: number, value: number, timeoutMs: number): { async: false; value: string } | { async: true; value: Promise<string> };
}

export function newGate(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT));
}

/** Whether parts wait now, given the last sample, whether they waited already and the spool's fill (cap 0: none). */
export function shouldHold(load: LoopLoad, holding: boolean, spoolBytes: number, capBytes: number): boolean {
  if (capBytes > 0 && spoolBytes >= capBytes / 2) return false;
  return holding ? load.busy >= RELEASED : load.busy >= SATURATED && load.waited >= CONTENDED;
}

export function setHold(gate: Int32Array, hold: boolean): void {
  if (Atomics.exchange(gate, CLOSED, hold ? 1 : 0) === 1 && !hold) Atomics.notify(gate, CLOSED);
}

export const heldMs = (gate: Int32Array): number => Atomics.load(gate, HELD_MS);
export const partsWaiting = (gate: Int32Array): number => Atomics.load(gate, WAITING);

/**
 * The upload thread's side: resolves when the gate is open, maxHoldMs have passed, or `signal`
 * aborts. Without the thread's own event loop blocked: the other lanes' requests go on.
 */
export async function giveWay(gate: Int32Array, maxHoldMs: number, signal?: AbortSignal): Promise<void> {
  if (Atomics.load(gate, CLOSED) === 0) return;
  const start = performance.now();
  Atomics.add(gate, WAITING, 1);
  try {
    for (;;) {
      const left = maxHoldMs - (performance.now() - start);
      if (Atomics.load(gate, CLOSED) === 0 || left <= 0 || signal?.aborted) return;
      // In slices, so that an abort is seen within 50 ms.
      const w = (Atomics as unknown as WithWaitAsync).waitAsync(gate, CLOSED, 1, Math.min(left, 50));
      if (w.async) await w.value;
    }
  } finally {
    Atomics.sub(gate, WAITING, 1);
    Atomics.add(gate, HELD_MS, Math.round(performance.now() - start));
  }
}

/** The calling thread's time on a CPU and runnable waiting for one, in ns (undefined: not readable here). */
export function threadSchedStat(): { ranNs: number; waitedNs: number } | undefined {
  try {
    const [ran, waited] = fs.readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ');
    const r = { ranNs: Number(ran), waitedNs: Number(waited) };
    return Number.isFinite(r.ranNs) && Number.isFinite(r.waitedNs) ? r : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The loop's side, run on the loop's own thread: every SAMPLE_MS, that thread's load since the last
 * sample; `spool` says how full the spool is. The timer keeps no process alive.
 */
export class LoopSampler {
  private last?: { ranNs: number; waitedNs: number; atMs: number };
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly gate: Int32Array,
    private readonly spool: () => { bytes: number; capBytes: number },
    /** Called after each sample (the spool counts the time held). */
    private readonly sampled: () => void = () => {},
    private readonly sampleMs = SAMPLE_MS,
    private readonly read = threadSchedStat,
  ) {}

  start(): void {
    if (this.timer) return;
    this.last = this.reading();
    if (!this.last) return; // no schedstat: parts never wait (nice 19 alone)
    this.timer = setInterval(() => this.sample(), this.sampleMs).unref();
  }

  /** The gate open for good (the capture path has ended: the drain must not wait). */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    setHold(this.gate, false);
  }

  private reading(): { ranNs: number; waitedNs: number; atMs: number } | undefined {
    const r = this.read();
    return r && { ...r, atMs: performance.now() };
  }

  private sample(): void {
    const now = this.reading();
    const last = this.last;
    if (!now || !last) return;
    this.last = now;
    const wallNs = (now.atMs - last.atMs) * 1e6;
    if (wallNs <= 0) return;
    const waited = (now.waitedNs - last.waitedNs) / wallNs;
    const load = { busy: (now.ranNs - last.ranNs) / wallNs + waited, waited };
    const { bytes, capBytes } = this.spool();
    setHold(this.gate, shouldHold(load, Atomics.load(this.gate, CLOSED) === 1, bytes, capBytes));
    this.sampled();
  }
}
