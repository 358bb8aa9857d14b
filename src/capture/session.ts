// The capture API: live interfaces or a capture file, optional file output (written natively),
// optional batches for JavaScript. Options arrive already validated (src/config); this module
// translates them for the addon and turns native errors into typed ones.
import { FilterError, fromNative, PodspanError, UsageError } from '../errors';
import { DEFAULT_OPEN_TIMEOUT_MS, filterTooBig } from './filter-limits';
import type { CaptureFormat } from '../pcap/format';
import { StreamEventBatch } from '../reassembly/stream-events';
import { PacketBatch } from './batch';
import { CompressedInputs } from './compressed-input';
import { isEncap, type ForwardTarget } from '../config/forward-options';
import type { AnalysisOptions, RecordBatch } from '../analysis/native-records';
import type { ExchangeBatch, ShadowCaptureOptions, ShadowStats } from '../shadow/native-exchanges';
import { native, type AnalysisStats, type ForwardStats, type NativeCapture, type NativeMessagePart, type NativeCaptureOptions, type NativeInterface, type NativeRecordScratch, type NativeStats, type NativeTypeName, type StreamStats } from './native';

const EMPTY = Buffer.alloc(0);

export type { AnalysisStats, ForwardStats, StreamStats };

/** Live interfaces, or a capture file (with `morePaths`: several read in turn as one input, tcpdump -V). */
export type CaptureSource = { kind: 'live'; interfaces: string[] } | { kind: 'file'; path: string; morePaths?: string[] };

export interface OutputOptions {
  path: string;
  format: CaptureFormat;
  /** -C: bytes per file before a new one starts. */
  rotateBytes?: number;
  /** -G: seconds per file. */
  rotateSeconds?: number;
  /** -W: keep only this many files (a ring). */
  rotateFiles?: number;
  /** tcpdump's -G with a % in -w: the path is a strftime pattern of each file's start (local time). */
  strftimeNames?: boolean;
  /** Keep the names of files rotation closes, for takeRotatedFiles() (-z). */
  listRotated?: boolean;
}

export interface CaptureOptions {
  source: CaptureSource;
  filter?: string;
  /**
   * Live: `filter` without its flow sampling. The kernel then reports each packet sampling
   * leaves out as a stub, counted in stats().sampledOut and never captured.
   */
  sampledFilter?: string;
  /** Live: the pcapng interface description (the agent puts node, pod and labels there). */
  interfaceDescription?: string;
  snaplen: number;
  promisc: boolean;
  immediate: boolean;
  bufferKiB?: number;
  timeoutMs: number;
  count?: number;
  /** Live: only packets received (in), sent (out) or both (inout, libpcap's default). */
  direction?: 'in' | 'out' | 'inout';
  /** Live "any" as LINUX_SLL2 (interface index and direction in each header) instead of LINUX_SLL. */
  anyCookedV2?: boolean;
  /** Live: this link type (a libpcap DLT value, tcpdump -y) instead of the device's first. */
  linkType?: number;
  /** Live: this time stamp type (a libpcap PCAP_TSTAMP_* value, tcpdump -j). */
  timeStampType?: number;
  /** Live: write the output file's buffer out after every ring block (for readers of a pipe). */
  flushPerBlock?: boolean;
  /** Write the output file's buffer out after every packet (tcpdump -U). */
  flushPerPacket?: boolean;
  output?: OutputOptions;
  /** Deliver batches to JavaScript (bounded queue; live capture drops and counts when full). */
  batches?: { maxPackets?: number; maxBytes?: number; flushMs?: number; queueBatches?: number };
  /** Reassemble TCP natively into one file per stream direction plus index.jsonl in `dir`. */
  streams?: { dir: string; maxFlows?: number; idleTimeoutSeconds?: number; maxDirectionBytes?: number };
  /**
   * Reassemble TCP natively and hand open/data/gap/close events to start()'s onStreamEvents in
   * batches. Reading a file waits for JavaScript; live capture never blocks: while the queue is
   * full, payload becomes gap events marked queueDrop. Exclusive with `streams`. payloadAsText:
   * data bytes as tcpflow's console shows them (outside printable ASCII, CR and LF: '.').
   */
  streamEvents?: { maxFlows?: number; idleTimeoutSeconds?: number; maxBytes?: number; maxEvents?: number; queueBatches?: number; flushMs?: number; payloadAsText?: boolean; maxDirectionBytes?: number };
  /**
   * Analytics on the capture thread: a record per TCP connection (flows), HTTP exchange and DNS
   * transaction, as JSON lines in batches (see src/analysis/native-records.ts). Reading a file
   * waits for JavaScript to take them; live capture never blocks (drops counted).
   */
  analysis?: AnalysisOptions;
  /**
   * Shadow testing on the capture thread: HTTP/1 exchanges (or raw turns) with their headers and
   * bodies, in batches of JSON lines plus data (src/shadow/native-exchanges.ts). Reading a file
   * waits for JavaScript; live capture drops whole batches when full (counted queue_full).
   */
  shadow?: ShadowCaptureOptions;
  /** Mirror every captured frame to these targets, natively on the capture thread (hosts resolved). */
  forward?: ForwardTarget[];
}

export type InterfaceStats = NativeStats;

/**
 * A consumer that can fall behind (replay, a slow standard output): batches are taken only while
 * hasRoom(); onRoom's callback drains again. Reading a file waits meanwhile. Live, stream events
 * wait in their native queue, which drops and counts what it cannot hold; exchanges are taken
 * anyway (the replay's own queue drops and counts them).
 */
export interface ConsumerFlow {
  hasRoom(): boolean;
  /** The session registers one callback, to be called whenever there is room again. */
  onRoom(fn: () => void): void;
}

/** Batches as FrameBatch messages, split over `targets` collectors by flow (see start()). */
export interface ColumnsConsumer {
  targets: number;
  /** Bit t set: collector t is up and takes its share of flows. */
  upMask(): number;
  /** False: leave batches in the native queue for now (a file waits; live capture counts drops). */
  hasRoom(): boolean;
  /** The session calls back through this when the consumer has room again. */
  onRoom(fn: () => void): void;
  /** The encoded agent and sources every message starts with, for the session's interfaces now. */
  batchHead(): { bytes: Buffer; sources: number };
  /** Per collector, a buffer of a message already sent, to write the next one into (or none). */
  spareBuffers?(): (Buffer | undefined)[];
  onColumns(parts: NativeMessagePart[], unrouted: number): void;
}
export type CaptureInterface = NativeInterface;

export interface CaptureResult {
  /** Set when capture ended on an error (a damaged file, an interface gone, a full disk). */
  error?: PodspanError;
  files: string[];
  /** Files closed by rotation and not taken with takeRotatedFiles() yet (the last file is not one). */
  rotatedFiles: string[];
  packetsRead: number;
  interfaces: CaptureInterface[];
  stats: InterfaceStats[];
  /** With `streams`: decode and reassembly counters. */
  streamStats?: StreamStats;
  /** Per forwarding target: frames sent and why any were not. */
  forward: ForwardStats[];
  /** With `analysis`: records made, batches, drops. */
  analysisStats?: AnalysisStats;
  /** With `shadow`: connections, exchanges, skips by reason, dropped batches. */
  shadowStats?: ShadowStats;
}

export class CaptureSession {
  private readonly handle: NativeCapture;
  private running?: Promise<CaptureResult>;
  private recordListener?: (batch: RecordBatch) => void;
  private recordScratch?: NativeRecordScratch;
  private exchangeListener?: (batch: ExchangeBatch) => void;
  private exchangeFlow?: ConsumerFlow;
  private streamEventListener?: (batch: StreamEventBatch) => void;
  private streamEventFlow?: ConsumerFlow;
  private packetListener?: (batch: PacketBatch) => void;
  private packetFlow?: ConsumerFlow;
  /** stop() was called: a file no longer waits for room. */
  private stopping = false;
  private onStop?: () => void;

  private constructor(
    handle: NativeCapture,
    private readonly live: boolean,
    /** Compressed capture files, read through their decompressors. */
    private readonly inputs?: CompressedInputs,
  ) {
    this.handle = handle;
  }

  /** Opens interfaces / the file and the output; throws a typed error naming the culprit. */
  static open(options: CaptureOptions): CaptureSession {
    const inputs = compressedInputs(options.source);
    const o = nativeOptions(withPaths(options, inputs));
    try {
      return new CaptureSession(new (native().NativeCapture)(o), options.source.kind === 'live', inputs);
    } catch (err) {
      void inputs?.close();
      throw inputs ? inputs.rename(fromNative(err)) : fromNative(err);
    }
  }

  /**
   * open(), but the opening (activation, libpcap's filter compile) runs on a worker thread, so
   * the event loop is never held by it; refused with a FilterError when it takes longer than
   * `timeoutMs`. `context` (e.g. "session cart") starts every error message.
   */
  static async openAsync(options: CaptureOptions, limits: { timeoutMs?: number; context?: string } = {}): Promise<CaptureSession> {
    const name = sourceName(options.source);
    const where = [limits.context, name].filter(Boolean).join(', ');
    // "session cart, eth0: …" whether or not the native message named the interface itself.
    const withContext = (err: PodspanError) => {
      if (err.message.startsWith(where)) return err;
      const message = err.message.startsWith(`${name}:`) ? `${limits.context}, ${err.message}` : `${where}: ${err.message}`;
      return new (err.constructor as new (m: string) => PodspanError)(limits.context || !err.message.startsWith(`${name}:`) ? message : err.message);
    };
    let handle: NativeCapture;
    const inputs = compressedInputs(options.source);
    const failedToOpen = (err: unknown) => {
      void inputs?.close();
      const e = fromNative(err);
      return withContext(inputs ? inputs.rename(e) : e);
    };
    try {
      handle = new (native().NativeCapture)(nativeOptions(withPaths(options, inputs), where), { deferOpen: true });
    } catch (err) {
      throw failedToOpen(err);
    }
    const timeoutMs = limits.timeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS;
    await new Promise<void>((resolve, reject) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        reject(new FilterError(`${where}: opening the capture and compiling its filter took longer than ${timeoutMs} ms: refused`));
      }, timeoutMs);
      handle.open((error) => {
        clearTimeout(timer);
        if (timedOut) handle.close(); // refused already: release what the worker opened
        else if (error) reject(failedToOpen(error));
        else resolve();
      });
    });
    return new CaptureSession(handle, options.source.kind === 'live', inputs);
  }

  /** libpcap's activation warnings, verbatim. */
  get warnings(): string[] {
    return this.handle.warnings();
  }

  interfaces(): CaptureInterface[] {
    return this.handle.interfaces();
  }

  /** The -w output's files so far (before start(): the first one, opened with the session). */
  outputFiles(): string[] {
    return this.handle.result().files;
  }

  /** With output.listRotated: the files closed by rotation since the last call, oldest first (not the last file). */
  takeRotatedFiles(): string[] {
    return this.handle.takeRotatedFiles();
  }

  stats(): InterfaceStats[] {
    return this.handle.stats();
  }

  streamStats(): StreamStats | undefined {
    return this.handle.streamStats() ?? undefined;
  }

  forwardStats(): ForwardStats[] {
    return this.handle.forwardStats();
  }

  /** With `analysis`: counters (records per kind, batches, drops), or undefined. */
  analysisStats(): AnalysisStats | undefined {
    return this.handle.analysisStats() ?? undefined;
  }

  /**
   * With `analysis`: the oldest batch of records (each kind a Buffer of complete JSON lines), or
   * undefined when none is ready. Without onRecords(), call it whenever start()'s onBatch-style
   * signal fires; reading a file waits while batches are not taken. After onRecords(fn,
   * { borrowed: true }) the batch is borrowed as described there.
   */
  takeRecords(): RecordBatch | undefined {
    if (this.recordScratch) return this.takeRecordsInPlace(this.recordScratch);
    const r = this.handle.takeRecords();
    return r === null ? undefined : { flows: r.flows, http: r.http, dns: r.dns, alerts: r.alerts, alertCount: r.alertCount, flowRows: r.flowRows, httpRows: r.httpRows, dnsRows: r.dnsRows };
  }

  /**
   * With `analysis`: `fn` gets every batch of records as it is ready (call before start()).
   * `borrowed`: each batch is written where the one before it was, with no copy, so its Buffers
   * are valid only until `fn` returns; for a consumer that writes them out at once (the files of
   * `podspan analyze`) and keeps none of them.
   */
  onRecords(fn: (batch: RecordBatch) => void, opts: { borrowed?: boolean } = {}): void {
    this.recordListener = fn;
    this.recordScratch = opts.borrowed ? {} : undefined;
  }

  private takeRecordsInPlace(scratch: NativeRecordScratch): RecordBatch | undefined {
    const n = this.handle.takeRecords(scratch);
    if (n === null) return undefined;
    const view = (kind: keyof NativeRecordScratch): Buffer => (scratch[kind] ?? EMPTY).subarray(0, n[kind]);
    return { flows: view('flows'), http: view('http'), dns: view('dns'), alerts: view('alerts'), alertCount: n.alertCount, flowRows: view('flowRows'), httpRows: view('httpRows'), dnsRows: view('dnsRows') };
  }

  /** With `shadow`: the oldest batch of exchanges, or undefined when none is ready. */
  takeExchanges(): ExchangeBatch | undefined {
    const e = this.handle.takeExchanges();
    return e === null ? undefined : { meta: e.meta, data: e.data };
  }

  /** With `shadow`: `fn` gets every batch of exchanges as it is ready (call before start()). */
  onExchanges(fn: (batch: ExchangeBatch) => void, flow?: ConsumerFlow): void {
    this.exchangeListener = fn;
    this.exchangeFlow = flow;
  }

  /**
   * `fn` gets every batch of packets, taken only while `flow` has room, live too (call before
   * start(); instead of start()'s onBatch).
   */
  onPacketBatches(fn: (batch: PacketBatch) => void, flow?: ConsumerFlow): void {
    this.packetListener = fn;
    this.packetFlow = flow;
  }

  /**
   * With `streamEvents`: `fn` gets every batch of stream events, taken only while `flow` has room,
   * live too (call before start(); instead of start()'s onStreamEvents).
   */
  onStreamEvents(fn: (batch: StreamEventBatch) => void, flow?: ConsumerFlow): void {
    this.streamEventListener = fn;
    this.streamEventFlow = flow;
  }

  /** With `shadow`: counters so far, or undefined. */
  shadowStats(): ShadowStats | undefined {
    return this.handle.shadowStats() ?? undefined;
  }

  /**
   * Starts capturing. `onBatch` runs on the event loop once per batch (never per packet), and
   * `onStreamEvents` once per batch of stream events. Resolves when capture ends: count
   * reached, file read, stop() called, or an error.
   */
  start(
    onBatch?: (batch: PacketBatch) => void,
    onStreamEvents?: (batch: StreamEventBatch) => void,
    columns?: ColumnsConsumer,
  ): Promise<CaptureResult> {
    if (this.running) return this.running;
    this.running = new Promise<CaptureResult>((resolve) => {
      let pending = false; // columns mode: batches left in the native queue for lack of room
      let exchangesPending = false; // the same for shadow exchanges (onExchanges' flow)
      let eventsPending = false; // the same for stream events (onStreamEvents' flow)
      let packetsPending = false; // the same for packet batches (onPacketBatches' flow)
      const onEvents = onStreamEvents ?? this.streamEventListener;
      const eventFlow = this.streamEventFlow;
      const onPackets = onBatch ?? this.packetListener;
      const packetFlow = this.packetFlow;
      const waiting = () => pending || exchangesPending || eventsPending || packetsPending;
      // Stopped: what waits goes to the consumer (at most the native queue's few batches).
      const roomFor = (flow: ConsumerFlow | undefined) => !flow || flow.hasRoom() || this.stopping;
      /** Hands what `take` gives to `deliver` while there is room; true when it stopped for lack of room. */
      const takeWhile = <T>(room: () => boolean, take: () => T | null, deliver: (item: T) => void): boolean => {
        for (;;) {
          if (!room()) return true;
          const item = take();
          if (item === null) return false;
          deliver(item);
        }
      };
      const drain = () => {
        if (columns) {
          pending = false;
          for (;;) {
            if (!this.live && !columns.hasRoom() && !this.stopping) {
              pending = true; // a file waits for room (its reader thread waits with it)
              break;
            }
            let c: ReturnType<NativeCapture['takeMessages']> = null;
            const spares = columns.spareBuffers?.();
            // a number: interfaces came since the head was encoded; the batch waits for a new head
            for (let tries = 0; tries < 3; tries++) {
              const head = columns.batchHead();
              c = this.handle.takeMessages(columns.targets, columns.upMask(), head.bytes, head.sources, spares);
              if (typeof c !== 'number') break;
            }
            if (c === null || typeof c === 'number') break;
            columns.onColumns(c.parts, c.unrouted);
          }
        }
        packetsPending = !columns && takeWhile(() => roomFor(packetFlow), () => this.handle.takeBatch(), (b) => onPackets?.(new PacketBatch(b.data, b.records, b.count)));
        eventsPending = takeWhile(() => roomFor(eventFlow), () => this.handle.takeStreamEvents(), (e) => onEvents?.(new StreamEventBatch(e.events, e.data, e.count)));
        const onRecords = this.recordListener;
        if (onRecords) for (let r = this.takeRecords(); r !== undefined; r = this.takeRecords()) onRecords(r);
        const onExchanges = this.exchangeListener;
        const flow = this.live ? undefined : this.exchangeFlow;
        // A file waits for room (its reader thread waits with it), stopped or not.
        exchangesPending = !!onExchanges && takeWhile(() => !flow || flow.hasRoom(), () => this.takeExchanges() ?? null, onExchanges);
      };
      let done = false;
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        const r = this.handle.result();
        const nativeError = r.error ? fromNative(r.error) : undefined;
        const result: CaptureResult = {
          error: nativeError && this.inputs ? this.inputs.rename(nativeError) : nativeError,
          files: r.files,
          rotatedFiles: this.handle.takeRotatedFiles(),
          packetsRead: r.packetsRead,
          interfaces: this.handle.interfaces(),
          stats: this.handle.stats(),
          streamStats: this.handle.streamStats() ?? undefined,
          forward: this.handle.forwardStats(),
          analysisStats: this.handle.analysisStats() ?? undefined,
          shadowStats: this.handle.shadowStats() ?? undefined,
        };
        this.handle.close();
        if (!this.inputs) return resolve(result);
        // A decompressor that failed (a damaged file) says why; the reader only saw its output end.
        void this.inputs.close().then((failed) => resolve(failed ? { ...result, error: failed } : result));
      };
      const onRoom = () => {
        drain();
        if (done && !waiting()) finish();
      };
      columns?.onRoom(onRoom);
      this.exchangeFlow?.onRoom(onRoom);
      eventFlow?.onRoom(onRoom);
      packetFlow?.onRoom(onRoom);
      this.onStop = onRoom; // stopped: what waits for room goes to the consumer now (which drops and counts what it cannot hold)
      this.handle.start((kind) => {
        drain();
        if (kind !== 'done') return;
        done = true;
        if (!waiting()) finish();
      });
    });
    return this.running;
  }

  /** Ends the capture; the promise from start() resolves once files are closed. */
  stop(): void {
    this.stopping = true;
    this.handle.stop();
    // A file waiting for room that never comes (a collector gone) ends too.
    this.onStop?.();
  }

  /**
   * With stream files: what is still queued for writing is given up (after stop(), when the
   * drain takes too long); files close as they are and index.jsonl marks each entry that lacks
   * bytes (`written: false`, `unwritten_bytes`).
   */
  abandonStreamWrites(): void {
    this.handle.abandonStreamWrites();
  }
}

/** The options of a session that reads `path` whole, as a capture file (readRecords, readExchanges). */
export function fileCaptureOptions(path: string, filter?: string): CaptureOptions {
  return { source: { kind: 'file', path }, filter, snaplen: 262144, promisc: false, immediate: false, timeoutMs: 100 };
}

function sourceName(source: CaptureSource): string {
  if (source.kind === 'live') return source.interfaces.join(', ');
  return source.morePaths?.length ? `${source.path} and ${source.morePaths.length} more files` : source.path;
}

/**
 * The kernel ring of a live capture with analytics or detection (unless -B says otherwise): 8 MiB
 * instead of libpcap's 2. The analyser stalls for a moment when its connection table grows past
 * a power of two (a SYN flood makes a connection of every packet): with 2 MiB a flood of 100 k
 * SYNs a second lost 4-6% there, with 8 MiB none (BENCHMARKS.md, detection).
 */
export const ANALYSIS_RING_KIB = 8192;

/** The decompressors of the compressed files a file source names (undefined: live, or none compressed). */
function compressedInputs(source: CaptureSource): CompressedInputs | undefined {
  return source.kind === 'file' ? CompressedInputs.open([source.path, ...(source.morePaths ?? [])]) : undefined;
}

/** The options with the source's files replaced by what the reader opens (a compressed file's FIFO). */
function withPaths(options: CaptureOptions, inputs: CompressedInputs | undefined): CaptureOptions {
  if (!inputs) return options;
  const [first, ...more] = inputs.paths;
  return { ...options, source: { kind: 'file', path: first, ...(more.length ? { morePaths: more } : {}) } };
}

/** The addon's options; refuses (naming `where`) a filter too big to compile in reasonable time. */
function nativeOptions(options: CaptureOptions, where = sourceName(options.source)): NativeCaptureOptions {
  if (options.streams && options.streamEvents) {
    throw new UsageError('streams (files) and streamEvents (events to JavaScript) cannot be combined in one session');
  }
  const o: NativeCaptureOptions = {
    filter: options.filter ?? '',
    sampledFilter: options.sampledFilter,
    interfaceDescription: options.interfaceDescription,
    snaplen: options.snaplen,
    promisc: options.promisc,
    immediate: options.immediate,
    bufferKiB: options.bufferKiB ?? (options.analysis && options.source.kind === 'live' ? ANALYSIS_RING_KIB : 0),
    timeoutMs: options.timeoutMs,
    count: options.count ?? 0,
    direction: options.direction,
    anyCookedV2: options.anyCookedV2,
    linkType: options.linkType,
    timeStampType: options.timeStampType,
    flushPerBlock: options.flushPerBlock,
    flushPerPacket: options.flushPerPacket,
    output: options.output && { ...options.output },
    batches: options.batches,
    streams: options.streams,
    streamEvents: options.streamEvents,
    analysis: options.analysis && { ...options.analysis },
    shadow: options.shadow && { ...options.shadow },
    // VXLAN, GENEVE, GRE and ERSPAN share one native sender; `encap` picks the header it writes.
    vxlan: options.forward?.filter(isEncap).map((t) => ({
      encap: t.kind,
      host: t.host,
      truncate: t.truncate,
      mtu: t.mtu,
      oversize: t.oversize,
      ...(t.kind === 'gre'
        ? { key: t.key, sequence: t.sequence }
        : t.kind === 'erspan'
          ? { version: t.version, erspanSession: t.session, hwid: t.hwid }
          : { port: t.port, vni: t.vni, sourcePorts: t.sourcePorts, session: t.kind === 'geneve' ? t.session : undefined }),
    })),
  };
  if (options.source.kind === 'live') o.interfaces = options.source.interfaces;
  else {
    o.readPath = options.source.path;
    if (options.source.morePaths?.length) o.moreReadPaths = options.source.morePaths;
  }
  for (const f of [options.filter, options.sampledFilter]) {
    const tooBig = f && filterTooBig(f);
    if (tooBig) throw new FilterError(`${where}: ${tooBig}`);
  }
  return o;
}

/** A native call whose CaptureError (a device's, naming it) comes out typed, as src/errors.ts has it. */
function typed<T>(call: () => T): T {
  try {
    return call();
  } catch (err) {
    throw fromNative(err);
  }
}

export function listInterfaces() {
  return typed(() => native().listInterfaces());
}

/** The link types `device` offers (tcpdump -L). Throws a typed error naming the device. */
export function deviceLinkTypes(device: string): NativeTypeName[] {
  return typed(() => native().deviceLinkTypes(device));
}

/** The time stamp types `device` can be asked for (tcpdump -J); empty when it cannot be set. */
export function deviceTimeStampTypes(device: string): NativeTypeName[] {
  return typed(() => native().deviceTimeStampTypes(device));
}

/** libpcap's value for a link type name (-y) or a time stamp type name (-j); undefined when unknown. */
export function pcapTypeValue(kind: 'link' | 'time-stamp', name: string): number | undefined {
  const value = kind === 'link' ? native().linkTypeValue(name) : native().timeStampTypeValue(name);
  return value >= 0 ? value : undefined;
}

/** A link type as tcpdump names it: "EN10MB (Ethernet)", or "linktype N" when libpcap has no name for it. */
export function linkTypeText(value: number): string {
  const t = native().linkTypeName(value);
  return t.name ? `${t.name} (${t.description})` : `linktype ${value}`;
}

export function libpcapVersion(): string {
  return native().libpcapVersion();
}

/** What podspan's native capture threads are called (native/core/capture/capture_session.cc). */
export const CAPTURE_THREAD_NAME = 'podspan-capture';
