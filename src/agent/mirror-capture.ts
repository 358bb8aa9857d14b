// One running capture of the agent: one mirror session on one interface, with that session's
// outputs (a rotating pcap/pcapng file, reassembled streams, VXLAN and gRPC targets). Captures
// are per interface so that a pod coming or going starts or stops only its own capture.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ClosedFiles } from '../storage/closed-files';
import type { UploadSpool } from '../storage/upload-spool';
import { CaptureSession, type CaptureResult, type InterfaceStats } from '../capture/session';
import type { ResolvedSession } from '../config/agent-config';
import { isEncap } from '../config/forward-options';
import { GrpcFanout } from '../forward/grpc-fanout';
import type { GrpcForwarderStats } from '../forward/grpc-forwarder';
import { resolveTargets } from '../forward/resolve';
import { OutputError } from '../errors';
import type { PodInfo } from '../k8s/types';
import type { Logger } from '../observability/logger';
import { interfacePackets } from '../observability/interface-counters';
import { withCredentialFiles } from './credentials';
import { sessionDirection, sessionFilters } from './filter';
import { refuseNodeTargets, resolvesInside } from './tenancy';
import { attachShadow, refuseNodeCandidates, reportFolder, type ShadowAttachment } from './mirror-shadow';
import type { ShadowMetricsSink } from '../shadow/metrics';
import { shadowCaptureOptions } from '../shadow/run';
import { RecordPipeline } from '../analysis/pipeline';
import type { AnalyticsMetrics } from '../analysis/metrics';
import type { PodIndex } from '../analysis/pods';
import type { AnalysisOptions } from '../analysis/native-records';
import { nativeDetectOptions } from '../config/detect-options';
import type { NativeScanGroup } from '../capture/native';
import type { AlertRecord } from '../detection/alert-record';
import { makeDirs } from '../runtime/make-dirs';

/** The analysis a session asks for: records (analyze), alerts (detect), or both. */
function detectAnalysis(s: ResolvedSession, evidenceDir: string | undefined, scanGroup: NativeScanGroup | undefined): AnalysisOptions {
  const d = s.detectSettings;
  if (!d) return {};
  return { detect: nativeDetectOptions(d, s.analyze), ...(evidenceDir ? { evidence: { dir: evidenceDir, ...d.evidence } } : {}), ...(scanGroup ? { scanGroup } : {}) };
}

/** What a session with analyze: true feeds: the agent's metrics, with pod names from its pod index. */
export interface AgentAnalytics {
  metrics: AnalyticsMetrics;
  pods: PodIndex;
  /** Sessions with a shadow target: their metrics, by session name. */
  shadowMetrics?: (session: string) => ShadowMetricsSink;
  /** Sessions with detect: each alert (pod fields added; evidence a full path), and the capture it came from. */
  onAlert?: (a: AlertRecord, capture: { key: string; session: string; iface: string }) => void;
  /** A capture with detect ended: its alerts still firing are watched no more. */
  onCaptureEnd?: (key: string) => void;
  /** Sessions with detect: the scan group their captures share on this node. */
  scanGroup?: (session: ResolvedSession) => NativeScanGroup | undefined;
}


export interface CaptureSpec {
  /** Identity: a capture whose spec key is unchanged keeps running across reloads. */
  key: string;
  session: ResolvedSession;
  iface: string;
  pod?: PodInfo;
  /** Extra BPF for this source (a hostNetwork pod: its ports). */
  extraFilter?: string;
}

export function specKey(session: ResolvedSession, iface: string, extraFilter?: string): string {
  const { name, filter, sampleOneIn, countSampledOut, truncate, targets, vni, credentialsDigest, analyze, detect } = session;
  return JSON.stringify([name, iface, filter, sampleOneIn, countSampledOut, truncate, targets, vni, extraFilter ?? '', credentialsDigest ?? '', analyze === true, detect ?? null]);
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_');

/**
 * Longest file or folder name we make before the suffixes added later: a start-time stamp
 * (unusedPath, 18), rotation's _NNNNN_YYYYMMDDhhmmss (21) and the extension (7) stay under the
 * 255 bytes Linux allows.
 */
export const MAX_NAME_BYTES = 200;

/**
 * `name` made safe for a file name and at most MAX_NAME_BYTES long: a name too long (a pod name
 * and namespace can reach 316 bytes) keeps its beginning and ends with a hash of the whole, so it
 * stays readable and two long names never meet.
 */
export function fileName(name: string): string {
  const s = safe(name);
  if (s.length <= MAX_NAME_BYTES) return s;
  const hash = crypto.createHash('sha256').update(name).digest('hex').slice(0, 12);
  return `${s.slice(0, MAX_NAME_BYTES - hash.length - 1)}~${hash}`;
}

/**
 * `file`, or where an earlier capture of the same session, interface and pod left a file of that
 * name (a pod relabelled out and back, a restarted agent), that name stamped with the start time
 * (UTC, as rotation names are), so attaching again never truncates what was captured before.
 */
export function unusedPath(file: string, now = new Date()): string {
  if (!fs.existsSync(file)) return file;
  const ext = path.extname(file);
  const stem = file.slice(0, file.length - ext.length);
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  for (let n = 1; ; n++) {
    const candidate = `${stem}_${stamp}${n > 1 ? `_${n}` : ''}${ext}`;
    if (!fs.existsSync(candidate)) return candidate;
  }
}

/** "node n1, pod shop/cart-1 (app=cart), session cart": what a pcapng reader sees per interface. */
function describe(node: string, spec: CaptureSpec): string {
  const pod = spec.pod;
  const labels = pod ? Object.entries(pod.labels).map(([k, v]) => `${k}=${v}`).join(',') : '';
  return `node ${node}${pod ? `, pod ${pod.namespace}/${pod.name}${labels ? ` (${labels})` : ''}` : ''}, session ${spec.session.name}`;
}

interface CaptureUpload {
  spool: UploadSpool;
  closed: ClosedFiles;
  agent: string;
  timer: NodeJS.Timeout;
}

export class MirrorCapture {
  private constructor(
    readonly spec: CaptureSpec,
    private readonly session: CaptureSession,
    private readonly fanout: GrpcFanout | undefined,
    private readonly done: Promise<CaptureResult>,
    /** The interface's rx + tx packets when the capture started (undefined: "any"). */
    private readonly ifacePacketsAtStart: number | undefined,
    private readonly records?: RecordPipeline,
    /** With a pcap target's store: its closed files go to the upload spool. */
    private readonly upload?: CaptureUpload,
    private readonly shadow?: ShadowAttachment,
  ) {
    if (upload) void done.finally(() => this.handOut(true));
  }

  private handOut(stopped: boolean): void {
    if (!this.upload) return;
    if (stopped) clearInterval(this.upload.timer);
    for (const f of this.upload.closed.take(stopped)) this.upload.spool.add(f, this.upload.agent);
  }

  /** `spool`: where a pcap target with a store hands its closed files (AgentStores.spoolFor). */
  static async start(spec: CaptureSpec, node: string, log: Logger, analytics?: AgentAnalytics, spool?: UploadSpool): Promise<MirrorCapture> {
    const s = spec.session;
    // Refused before anything is opened when this build cannot analyse (one line in the failures).
    const pcap = s.targets.find((t) => 'pcap' in t) as { pcap: { dir: string; format: 'pcap' | 'pcapng'; rotateMB?: number; rotateSeconds?: number; keepFiles?: number; store?: string } } | undefined;
    const store = pcap?.pcap.store;
    const streams = s.targets.find((t) => 'streams' in t) as { streams: { dir: string; maxBytes?: number } } | undefined;
    // Checked again here: a symbolic link may have appeared since the session was accepted.
    for (const dir of [pcap?.pcap.dir, streams?.streams.dir, s.detect?.evidenceDir]) {
      if (dir !== undefined && s.filesRoot !== undefined && !resolvesInside(dir, s.filesRoot)) throw new OutputError(`${dir}: not inside ${s.filesRoot} (symbolic links resolved)`);
    }
    const forward = await resolveTargets(s.forward);
    if (s.origin?.kind === 'namespace') refuseNodeTargets(forward);
    if (s.shadow && s.origin?.kind === 'namespace') await refuseNodeCandidates(s.shadow);
    // A MirrorSession's Secret material goes to the forwarders through files that live only while they read them.
    const fanout = withCredentialFiles(forward, s.credentials, (targets) => {
      const grpc = targets.filter((t) => t.kind === 'grpc');
      return grpc.length ? new GrpcFanout(grpc, node, log, (iface) => (iface === spec.iface && spec.pod ? spec.pod : undefined), s.name) : undefined;
    });
    // IFACE[_NAMESPACE_POD]: what a file or stream folder holds, readable without opening it.
    const stem = fileName(`${spec.iface}${spec.pod ? `_${spec.pod.namespace}_${spec.pod.name}` : ''}`);
    const named = pcap && path.join(pcap.pcap.dir, fileName(s.name), `${stem}.${pcap.pcap.format}`);
    // Folders this start makes, removed again when the capture cannot open: a failing session leaves nothing behind.
    const made: { dir: string; first: string }[] = [];
    const mkdir = (dir: string) => {
      const first = makeDirs(dir);
      if (first) made.push({ dir, first });
    };
    if (named) mkdir(path.dirname(named));
    const file = named && unusedPath(named);
    // Evidence of this capture's alerts: a folder of its own (alert ids restart with each capture).
    const evidenceDir = s.detectSettings && s.detect?.evidenceDir ? unusedPath(path.join(s.detect.evidenceDir, fileName(s.name), stem)) : undefined;
    const streamsDir = streams && unusedPath(path.join(streams.streams.dir, fileName(s.name), stem));
    if (streamsDir) {
      // Stream files carry no metadata of their own: the folder says whose streams they are.
      mkdir(streamsDir);
      const pod = spec.pod && { namespace: spec.pod.namespace, name: spec.pod.name, labels: spec.pod.labels };
      fs.writeFileSync(path.join(streamsDir, 'source.json'), `${JSON.stringify({ node, session: s.name, interface: spec.iface, pod })}\n`);
    }
    const ifacePacketsAtStart = interfacePackets(spec.iface);
    // Made before the writer opens: files already there are an earlier capture's (the spool resumed them).
    const closed = spool && file ? new ClosedFiles(file) : undefined;
    // Off the event loop: libpcap's compile of a big filter takes seconds (refused past a limit).
    const session = await CaptureSession.openAsync({
      source: { kind: 'live', interfaces: [spec.iface] },
      ...sessionFilters(s, spec.extraFilter),
      direction: sessionDirection(s),
      interfaceDescription: describe(node, spec),
      snaplen: s.truncate || 262144,
      promisc: !spec.pod,
      immediate: false,
      timeoutMs: 100,
      output: file
        ? {
            path: file,
            format: pcap!.pcap.format,
            rotateBytes: pcap!.pcap.rotateMB ? Math.round(pcap!.pcap.rotateMB * 1e6) : undefined,
            // With a store, at least hourly: objects are filed by the hour of their first packet.
            rotateSeconds: pcap!.pcap.rotateSeconds ?? (store ? 3600 : undefined),
            rotateFiles: pcap!.pcap.keepFiles,
          }
        : undefined,
      streams: streamsDir ? { dir: streamsDir, maxDirectionBytes: streams!.streams.maxBytes } : undefined,
      forward: forward.filter(isEncap),
      batches: fanout?.batchOptions(),
      ...(s.analyze || s.detectSettings ? { analysis: detectAnalysis(s, evidenceDir, analytics?.scanGroup?.(s)) } : {}),
      ...(s.shadow ? { shadow: shadowCaptureOptions(s.shadow) } : {}),
    } as Parameters<typeof CaptureSession.openAsync>[0], { context: `session ${s.name}` }).catch((err: unknown) => {
      if (streamsDir) {
        fs.rmSync(path.join(streamsDir, 'source.json'), { force: true });
        const index = path.join(streamsDir, 'index.jsonl'); // opened before the capture failed: empty
        if (fs.statSync(index, { throwIfNoEntry: false })?.size === 0) fs.rmSync(index);
      }
      for (const m of made.reverse()) removeEmptyUpTo(m.dir, m.first);
      throw err;
    });
    fanout?.start(session);
    const onAlert = analytics?.onAlert;
    const alerts =
      s.detectSettings && onAlert
        ? (a: AlertRecord) => onAlert(evidenceDir && a.evidence ? { ...a, evidence: path.join(path.dirname(evidenceDir), a.evidence) } : a, { key: spec.key, session: s.name, iface: spec.iface })
        : undefined;
    const pipeline =
      s.analyze || s.detectSettings
        ? new RecordPipeline({ metrics: analytics?.metrics, pods: analytics?.pods, outputs: fanout ? [fanout] : [], ...(alerts ? { onAlert: alerts } : {}) })
        : undefined;
    if (pipeline) {
      session.onRecords((batch) => {
        try {
          pipeline.take(batch);
        } catch (err) {
          log.error({ session: s.name, err: (err as Error).message }, 'analytics records could not be taken');
        }
      });
    }
    const shadow =
      s.shadow && attachShadow(session, fanout, s.shadow, { name: s.name, reportDir: reportFolder(s.shadow, path.join(fileName(s.name), stem)), metrics: analytics?.shadowMetrics?.(s.name), log });
    const done = shadow ? shadow.done : session.start(undefined, undefined, fanout);
    const ended = analytics?.onCaptureEnd;
    if (s.detectSettings && ended) void done.finally(() => ended(spec.key)).catch(() => undefined);
    log.info({ session: s.name, interface: spec.iface, pod: spec.pod && `${spec.pod.namespace}/${spec.pod.name}`, file, analyze: s.analyze, shadow: s.shadow?.target.url }, 'capture attached');
    let upload: CaptureUpload | undefined;
    if (spool && closed) {
      const agent = `${node}/${process.pid}`;
      // Every second: the files rotated away from go to the spool (all of them once the capture ends).
      const timer = setInterval(() => {
        for (const f of closed.take(false)) spool.add(f, agent);
      }, 1000);
      upload = { spool, closed, agent, timer };
    }
    return new MirrorCapture(spec, session, fanout, done, ifacePacketsAtStart, pipeline, upload, shadow);
  }

  /** With analyze: records taken so far, per kind. */
  recordCounts(): RecordPipeline['counts'] | undefined {
    return this.records?.counts;
  }

  /** With a streams target: reassembly counters (flows open, bytes held out of order). */
  streamStats(): ReturnType<CaptureSession['streamStats']> {
    return this.session.streamStats();
  }

  interfaceStats(): InterfaceStats | undefined {
    return this.session.stats()[0];
  }

  /**
   * Packets the interface carried since the start that the session's filter did not accept:
   * the interface's own counters minus what the kernel handed over (undefined for "any").
   * Approximate by the capture's 250 ms counter refresh.
   */
  filteredPackets(): number | undefined {
    const now = interfacePackets(this.spec.iface);
    const st = this.interfaceStats();
    if (now === undefined || this.ifacePacketsAtStart === undefined || !st) return undefined;
    return Math.max(0, now - this.ifacePacketsAtStart - st.received);
  }

  forwardStats(): { vxlan: ReturnType<CaptureSession['forwardStats']>; grpc: GrpcForwarderStats[] } {
    return { vxlan: this.session.forwardStats(), grpc: this.fanout?.forwarders.map((f) => f.stats()) ?? [] };
  }

  /** A capture that ended by itself (an interface gone, a disk full) reports it here. */
  get finished(): Promise<CaptureResult> {
    return this.done;
  }

  /**
   * Stops capturing, closes files valid and drains forwarders (bounded by the forwarder timeout).
   * A streams target gets timeoutMs to write what is queued; what is left then is given up and
   * marked in its index.jsonl, so the agent's exit deadline never cuts files off unrecorded.
   */
  async stop(timeoutMs = 3000): Promise<CaptureResult> {
    this.session.stop();
    this.shadow?.abandon(); // what waits for the candidate is given up; in-flight requests end within their timeout
    const giveUp = setTimeout(() => this.session.abandonStreamWrites(), timeoutMs);
    const result = await this.done.finally(() => clearTimeout(giveUp));
    if (this.fanout) await this.fanout.close(timeoutMs);
    return result;
  }
}

/** Removes `dir` and its parents up to `first` (the first folder mkdir created), as long as they are empty. */
function removeEmptyUpTo(dir: string, first: string): void {
  for (let d = dir; ; d = path.dirname(d)) {
    try {
      fs.rmdirSync(d);
    } catch {
      return; // not empty (something else is in it) or already gone
    }
    if (d === first || path.dirname(d) === d) return;
  }
}
