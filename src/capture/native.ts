// Loads the compiled addon (built by node-gyp from binding.gyp on `npm install`) and describes
// its surface. Everything here is internal: src/capture/session.ts is the public API.
import path from 'node:path';
import { NativeModuleError } from '../errors';
import type { ExchangeBatch, ShadowCaptureOptions, ShadowStats } from '../shadow/native-exchanges';
import type { NativeHttp1Handle, NativeHttp1Options } from '../shadow/replay/native-http1';

export interface NativeStats {
  received: number;
  droppedKernel: number;
  droppedInterface: number;
  captured: number;
  capturedBytes: number;
  droppedQueue: number;
  /** Live, with `sampledFilter`: packets the rules accepted and flow sampling left out. */
  sampledOut: number;
}

export interface NativeInterface {
  name: string;
  description: string;
  linktype: number;
  snaplen: number;
}

export interface NativeBatch {
  data: Buffer;
  records: Buffer;
  count: number;
}

export interface NativeResult {
  error?: { code: string; message: string };
  files: string[];
  packetsRead: number;
  finished: boolean;
}

export interface NativeCaptureOptions {
  interfaces?: string[];
  readPath?: string;
  /** Files read after readPath, in order, as one input (tcpdump -V). */
  moreReadPaths?: string[];
  filter?: string;
  sampledFilter?: string;
  interfaceDescription?: string;
  snaplen?: number;
  promisc?: boolean;
  immediate?: boolean;
  bufferKiB?: number;
  timeoutMs?: number;
  count?: number;
  direction?: 'in' | 'out' | 'inout';
  anyCookedV2?: boolean;
  /** A DLT value (tcpdump -y) instead of the device's first. */
  linkType?: number;
  /** A PCAP_TSTAMP_* value (tcpdump -j). */
  timeStampType?: number;
  flushPerBlock?: boolean;
  flushPerPacket?: boolean;
  output?: {
    path: string;
    format: 'pcap' | 'pcap-ns' | 'pcapng';
    rotateBytes?: number;
    rotateSeconds?: number;
    rotateFiles?: number;
    strftimeNames?: boolean;
    listRotated?: boolean;
    bufferBytes?: number;
    application?: string;
  };
  batches?: { maxPackets?: number; maxBytes?: number; flushMs?: number; queueBatches?: number };
  streams?: { dir: string; maxFlows?: number; idleTimeoutSeconds?: number; maxDirectionBytes?: number };
  /** VXLAN, GENEVE, GRE and ERSPAN targets (one native sender; `encap` picks the header). */
  vxlan?: {
    encap: 'vxlan' | 'geneve' | 'gre' | 'erspan';
    host: string;
    truncate?: number;
    mtu: number;
    oversize: 'fragment' | 'truncate';
    port?: number;
    vni?: number;
    sourcePorts?: number;
    /** GENEVE: the podspan option with this session id. */
    session?: number;
    /** GRE: the key (K flag) and sequence numbers (S flag). */
    key?: number;
    sequence?: boolean;
    /** ERSPAN: type II or III, the 10-bit session id and (III) the 6-bit hardware id. */
    version?: 2 | 3;
    erspanSession?: number;
    hwid?: number;
  }[];
  streamEvents?: { maxFlows?: number; idleTimeoutSeconds?: number; maxBytes?: number; maxEvents?: number; queueBatches?: number; flushMs?: number; payloadAsText?: boolean; maxDirectionBytes?: number };
  analysis?: { flowTimeoutSeconds?: number; maxFlows?: number; maxBytes?: number; queueBatches?: number; flushMs?: number; detect?: NativeDetectOptions; evidence?: NativeEvidenceOptions; scanGroup?: NativeScanGroup };
  shadow?: ShadowCaptureOptions;
}

/** One detection kind's rule (native/core/detection/detect_config.h, DetectRule). */
export interface NativeDetectRule {
  /** The rate must exceed this whatever the baseline says (per second; noisyClient: the server's requests/s). */
  floor: number;
  /** ... and the baseline's mean + k standard deviations. */
  k: number;
  /** Seconds over the threshold before the alert fires. */
  minSeconds: number;
  /** Seconds under the clear threshold (mean + k/2 σ) before it clears. */
  clearSeconds: number;
}

/** The Detector's options as the addon reads them (src/config validates them; the addon trusts them). */
export interface NativeDetectOptions {
  /** false: only alerts go to JavaScript (flows, http and dns records are not formatted). */
  records: boolean;
  baselineHalflifeS: number;
  /** request_surge, error_surge and noisy_client wait this long (capture seconds) after a server first shows. */
  warmupSeconds: number;
  synFlood: NativeDetectRule & { halfOpenShare: number };
  portScan: NativeDetectRule & { rejectedShare: number };
  requestSurge: NativeDetectRule;
  errorSurge: NativeDetectRule & { errorShare: number };
  noisyClient: NativeDetectRule & { share: number };
  maxServers: number;
  maxRoutes: number;
  maxSources: number;
  maxPairs: number;
}

/** The pre-trigger ring and evidence files (with `detect`). */
export interface NativeEvidenceOptions {
  dir: string;
  /** Seconds of packets kept before an alert (the ring keeps 2 s more). */
  preTriggerSeconds: number;
  /** The ring's memory cap in MiB (allocated once per capture). */
  preTriggerMB: number;
  /** Seconds after the alert that go on into its evidence file. */
  postTriggerSeconds: number;
  /** Evidence files per run at most; later alerts carry evidence null. */
  maxFiles: number;
}

export interface NativeRecordBatch {
  flows: Buffer;
  http: Buffer;
  dns: Buffer;
  alerts: Buffer;
  /** One fixed row per line (src/analysis/record-rows.ts). */
  flowRows: Buffer;
  httpRows: Buffer;
  dnsRows: Buffer;
  flowCount: number;
  httpCount: number;
  dnsCount: number;
  alertCount: number;
}

/** Buffers takeRecords(scratch) writes a batch into, kept from one take to the next (it replaces one too small). */
export type NativeRecordScratch = Partial<Record<'flows' | 'http' | 'dns' | 'alerts' | 'flowRows' | 'httpRows' | 'dnsRows', Buffer>>;

/** What takeRecords(scratch) wrote: the bytes at the start of each scratch Buffer, and the counts. */
export type NativeRecordLengths = { [K in keyof NativeRecordBatch]: number };

/** The Detector's counters (analysis stats, with `detect`). */
export interface DetectStats {
  alertsFired: number;
  alertsCleared: number;
  activeAlerts: number;
  keys: { servers: number; routes: number; sources: number; pairs: number };
  evicted: { servers: number; routes: number; sources: number; pairs: number };
  /** Seconds' distinct-target sets that filled up (targets then counted as distinct). */
  targetsSaturated: number;
}

export interface AnalysisStats {
  /** Records handed to JavaScript, per kind. */
  records: { flows: number; http: number; dns: number; alerts: number };
  batches: number;
  /** Live: records dropped because JavaScript did not take batches fast enough (a file waits instead). */
  droppedRecords: number;
  /** The application analyser (HTTP, HTTP/2, DNS) is built into the addon ... */
  app: boolean;
  /** ... and its counters by name (httpRequests, h2Streams, skippedH2Midstream, parseErrors, dnsQueries, ...); empty without it. */
  appCounters: Record<string, number>;
  packets: number;
  tcpPackets: number;
  udpDnsDatagrams: number;
  streams: number;
  gapBytes: number;
  /** With `detect`: the detector's counters. */
  detect?: DetectStats;
  /** With `evidence`: the pre-trigger ring and evidence files. */
  evidence?: EvidenceStats;
}

export interface EvidenceStats {
  ringPackets: number;
  ringBytes: number;
  /** Packets the memory cap pushed out while younger than preTriggerSeconds. */
  ringOverwritten: number;
  /** The time the ring holds now, first packet to the latest (ns). */
  ringSpanNs: number;
  files: number;
  /** Triggers refused by the caps (maxFiles, 4 open at once). */
  refused: number;
  /** Triggers whose file could not be made. */
  failed: number;
  packetsWritten: number;
  bytesWritten: number;
  /** Recordings stopped at 256 MiB. */
  truncatedFiles: number;
  /** Recordings ended early by a failed write (a full disk). */
  writeErrors: number;
}

export interface NativeStreamEvents {
  events: Buffer;
  data: Buffer;
  count: number;
}

export interface StreamStats {
  packets: number;
  tcpPackets: number;
  files: number;
  /** Stream files given up when stopped (abandonStreamWrites), and the payload they lack. */
  unwrittenFiles?: number;
  unwrittenBytes?: number;
  decode: { ok: number; truncated: number; unknownLinktype: number; notIp: number; malformed: number; fragments: number; tunnels: number; tunnelsOpened: number };
  defrag: { fragments: number; reassembled: number; timedOut: number; dropped: number; overlapConflicts: number };
  streams: number;
  bytes: number;
  gaps: number;
  gapBytes: number;
  retransmittedBytes: number;
  overlapBytes: number;
  overlapConflicts: number;
  peakBufferedBytes: number;
  /** Out-of-order bytes held now, and flows open now. */
  bufferedBytes: number;
  /** What the out-of-order payload costs with its bookkeeping (the caps bound this), now and at peak. */
  bufferedMemory: number;
  peakBufferedMemory: number;
  flows: number;
  closed: Record<'fin' | 'rst' | 'timeout' | 'evicted' | 'end', number>;
  /** With stream events: batches and events handed over, payload turned into queue-drop gaps. */
  eventBatches?: number;
  events?: number;
  droppedDataBytes?: number;
  droppedEvents?: number;
  /** Payload beyond maxDirectionBytes (tcpflow -b): not written, not handed over. */
  truncatedBytes: number;
}

export interface ForwardStats {
  target: string;
  /** Outer UDP source ports in use (VXLAN). */
  sourcePorts: number[];
  frames: number;
  bytes: number;
  truncated: number;
  oversizeFragmented: number;
  oversizeTruncated: number;
  syntheticEthernet: number;
  unsupported: number;
  sendErrors: number;
}

/** One collector's share of a capture batch, as a FrameBatch message (native/core/forward/frame_message.h). */
export interface NativeMessagePart {
  /** The message's first `used` bytes, then room for its sequence and drops; null without frames. */
  message: Buffer | null;
  used: number;
  /**
   * The frames, not copied: a Buffer lent over the capture batch's storage, which goes on the
   * wire between message[0, framesAt) and message[framesAt, used); undefined when the frames are
   * in the message. Handed back with releaseFrames once written.
   */
  frames?: Buffer;
  framesAt?: number;
  count: number;
  /** Frames of this collector's flows that went to another collector because it was down. */
  moved: number;
}

export interface NativeCapture {
  start(onEvent: (kind: 'batch' | 'done') => void): void;
  stop(): void;
  abandonStreamWrites(): void;
  takeBatch(): NativeBatch | null;
  takeStreamEvents(): NativeStreamEvents | null;
  takeRecords(): NativeRecordBatch | null;
  /** The batch written into scratch's Buffers, no copy made: valid until the next take. */
  takeRecords(scratch: NativeRecordScratch): NativeRecordLengths | null;
  analysisStats(): AnalysisStats | null;
  takeExchanges(): ExchangeBatch | null;
  shadowStats(): ShadowStats | null;
  /**
   * The next batch split over `targets` collectors, each share one message after `head` (agent
   * and sources, for `headSources` interfaces); a number (the session's interfaces) when the head
   * needs another count of sources: the batch waits for the next call. spares[t]: a buffer of
   * a message sent before, written into (and returned as parts[t].message) when it fits.
   */
  takeMessages(
    targets: number,
    upMask: number,
    head: Buffer,
    headSources: number,
    spares?: (Buffer | undefined)[],
  ): { count: number; unrouted: number; parts: NativeMessagePart[] } | number | null;
  stats(): NativeStats[];
  interfaces(): NativeInterface[];
  warnings(): string[];
  result(): NativeResult;
  /** The output's files closed by rotation since the last call, oldest first. */
  takeRotatedFiles(): string[];
  streamStats(): StreamStats | null;
  forwardStats(): ForwardStats[];
  /** Made with {deferOpen: true}: opens (activation, filter compile) on a worker thread. */
  open(callback: (error: unknown) => void): void;
  close(): void;
}

export interface NativeDevice {
  name: string;
  description: string;
  flags: string[];
  addresses: { family: string; address: string; netmask?: string; broadcast?: string; destination?: string }[];
}

/** A link type or time stamp type as libpcap names it (name "" when it has none). */
export interface NativeTypeName {
  value: number;
  name: string;
  description: string;
}

/**
 * One session's port_scan across its captures (native/core/detection/scan_group.h): given to each
 * capture as analysis.scanGroup, it judges the probes of all of them together (alert ids S1, S2, ...).
 */
export interface NativeScanGroup {
  /** Opaque: only the addon reads it. */
  readonly __scanGroup?: never;
}

/** A BPF expression applied to FrameBatch columns (native/addon/live_tap_filter.cc). */
export interface NativeFrameFilter {
  select(
    frames: Buffer,
    caplen: Buffer,
    origlen: Buffer,
    timestampNs: Buffer,
    source: Buffer,
    linktypes: number[],
    wanted: Buffer,
  ): { frames: Buffer; caplen: Buffer; origlen: Buffer; timestampNs: Buffer; source: Buffer; count: number };
}

export interface NativeAddon {
  NativeCapture: new (options: NativeCaptureOptions, how?: { deferOpen: boolean }) => NativeCapture;
  /** Compiled for Ethernet; throws a filter error when it does not compile. */
  NativeFrameFilter: new (expression: string) => NativeFrameFilter;
  /** null when `expression` compiles (unoptimised; still slow for many terms: bound the size first) for one of `linkTypes`, else why not for the first. */
  filterCompileError(expression: string, linkTypes: number[]): string | null;
  NativeScanGroup: new (detect: NativeDetectOptions) => NativeScanGroup;
  /** Shadow replay's HTTP/1 transport to a plain-http target (native/addon/replay.cc). */
  NativeHttp1Transport: new (options: NativeHttp1Options, onReady: () => void) => NativeHttp1Handle;
  listInterfaces(): NativeDevice[];
  libpcapVersion(): string;
  /** The link types a device offers once activated (tcpdump -L); needs the right to capture. */
  deviceLinkTypes(device: string): NativeTypeName[];
  /** The time stamp types a device can be asked for (tcpdump -J); empty when it cannot be set. */
  deviceTimeStampTypes(device: string): NativeTypeName[];
  /** libpcap's value for a link type name (EN10MB, LINUX_SLL2, …; any case), -1 when unknown. */
  linkTypeValue(name: string): number;
  /** libpcap's value for a time stamp type name (host, adapter, …), -1 when unknown. */
  timeStampTypeValue(name: string): number;
  /** libpcap's name and description of a link type value (both "" when it has none). */
  linkTypeName(value: number): NativeTypeName;
  /** undefined for a well-formed FrameBatch message, else why not (native/core/forward/frame_batch.h). */
  checkFrameBatch(message: Buffer): string | undefined;
  /** Hands back a part's lent `frames` once written: detached, its storage back to the capture (native/addon/lent_frames.h). */
  releaseFrames(frames: Buffer): void;
  /** The values at `ranks` (ascending, below n) of values[0, n) once sorted, by selection; no NaN among them. Reorders values[0, n) (native/core/analysis/quantiles.h). */
  valuesAtRanks(values: Float64Array, n: number, ranks: readonly number[]): number[];
  /** Puts one thread (by id) in SCHED_IDLE; false when the kernel refused (native/addon/scheduling.cc). */
  setThreadIdle(tid: number): boolean;
  /** Puts one thread (by id) back in SCHED_OTHER; false when refused (native/addon/scheduling.cc). */
  setThreadNormal(tid: number): boolean;
}

let addon: NativeAddon | undefined;

export function native(): NativeAddon {
  if (addon) return addon;
  const root = path.resolve(__dirname, '..', '..');
  const candidates = ['build/Release/podspan.node', 'build/Debug/podspan.node'].map((p) => path.join(root, p));
  for (const file of candidates) {
    try {
      addon = require(file) as NativeAddon;
      return addon;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') {
        throw new NativeModuleError(`cannot load ${file}: ${(err as Error).message}`);
      }
    }
  }
  throw new NativeModuleError('the native module is not built: run `npm install` (it needs libpcap-dev and a C++ compiler)');
}
