// `podspan collector`: accepts Mirror streams from many agents at once and writes each agent's
// frames to its own pcapng. Streams without the right bearer token are refused
// (UNAUTHENTICATED), malformed batches end their stream (INVALID_ARGUMENT) without touching the
// file; both are logged. A batch is acknowledged only once written. Memory is bounded whatever
// clients do: messages over the size limit are refused at their length prefix, streams are
// capped per connection and in all, and a stream whose acks back up (its client does not read)
// is not read from until they drain. stop() stops accepting, ends every stream after
// acknowledging what was written, cancels what remains at its deadline, and closes every file
// valid.
//
// Mirror.Stream is served on node:http2 itself (mirror-call.ts: messages read off the DATA chunks
// into one reusable buffer per stream), every other service by grpc-js, on one port: grpc-js
// keeps the socket, TLS, sessions and shutdown and hands over the Mirror.Stream streams
// (mirror-route.ts explains why this and not two servers or everything on node:http2).
import fs from 'node:fs';
import type http2 from 'node:http2';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../observability/logger';
import { decodeFrameBatch, MalformedBatchError, type Ack } from '../forward/frame-batch';
import { channelOptions } from '../forward/mirror-service';
import { MIRROR_STREAM_PATH } from '../forward/mirror-stream';
import { MirrorCall } from './mirror-call';
import { routeStreams } from './mirror-route';
import { Counter, Gauge, Registry } from 'prom-client';
import type { FileRotation, RefusedReason } from './agent-file';
import { AgentFiles, AgentLimitError, defaultAgentFileLimits, type AgentFileLimits } from './agent-files';
import { Refusals } from './refusals';
import { widenReceiveWindows, type ReceiveWindows } from './receive-window';
import { defaultLiveTapOptions, LiveTap, tapService } from './live-tap';
import { EncapListeners, type EncapListenerStats } from './encap-listeners';
import { OutputError, PodspanError, UsageError } from '../errors';
import { checkStore, s3Client, type StoreOptions } from '../storage/store';
import { ABORT_WAIT_MS as SPOOL_ABORT_WAIT_MS, UploadSpool, uploaderId, type SpoolStats } from '../storage/upload-spool';
import { makeDirs } from '../runtime/make-dirs';
import { routeGrpcLogs } from '../observability/grpc-logs';

export interface CollectorOptions {
  host: string;
  port: number;
  outDir: string;
  rotation: FileRotation;
  /** Write agents' files through the page cache (--page-cache); by default around it (O_DIRECT) where the file system allows. */
  pageCache?: boolean;
  tls?: { cert: string; key: string; clientCa?: string };
  /** Bearer token agents must present (read from a file by the CLI). */
  token?: string;
  /** Also listen for VXLAN, GENEVE or GRE/ERSPAN here and write what each decapsulates to its own pcapng. */
  vxlan?: { host: string; port: number };
  geneve?: { host: string; port: number };
  gre?: { host: string };
  /** Bounds on agents, interfaces per file and idle files (defaults: defaultAgentFileLimits). */
  limits?: AgentFileLimits;
  /** (sender, id) pairs each encapsulation listener gives an interface (default 4096). */
  maxVxlanSources?: number;
  /** Bounds on what clients may hold (defaults: collectorLimits). */
  streamLimits?: Partial<CollectorLimits>;
  /** Upload every closed file to an object store (--store). */
  store?: { options: StoreOptions; capBytes: number; keepLocal: boolean; drainMs: number; idleTimeoutMs: number };
}

export interface CollectorLimits {
  /** Largest gRPC message (a FrameBatch); agents send at most ~1.4 MiB. */
  maxMessageBytes: number;
  /** Streams open at once over all connections; more are refused (RESOURCE_EXHAUSTED). */
  maxStreams: number;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS per connection (an agent uses one). */
  maxStreamsPerConnection: number;
  /** stop() cancels the streams still open after this long. */
  shutdownTimeoutMs: number;
  /**
   * HTTP/2 receive windows: a stream's room for one whole batch (agents send at most ~1.4 MiB)
   * and the next, the connection's for its streams. 64 KiB (HTTP/2's default) made each agent
   * wait a round trip every 64 KiB; larger measured no faster (BENCHMARKS.md).
   */
  receiveWindows: ReceiveWindows;
}

export const collectorLimits: CollectorLimits = { maxMessageBytes: 4 << 20, maxStreams: 64, maxStreamsPerConnection: 4, shutdownTimeoutMs: 5000, receiveWindows: { streamBytes: 2 << 20, connectionBytes: 8 << 20 } };

export interface CollectorStats {
  vxlan?: EncapListenerStats & { port: number };
  geneve?: EncapListenerStats & { port: number };
  gre?: EncapListenerStats;
  agents: number;
  streams: number;
  batches: number;
  frames: number;
  refusedUnauthenticated: number;
  refusedMalformed: number;
  /** Streams that ended or were cut in the middle of a message (that message not written). */
  truncated: number;
  files: string[];
  store?: SpoolStats;
}

export class Collector {
  private readonly limits: CollectorLimits;
  private readonly server: grpc.Server;
  private readonly files: AgentFiles;
  private readonly refusals: Refusals;
  private readonly calls = new Set<MirrorCall>();
  private stopping = false;
  private hurried = false;
  /** While stop() waits for the streams to end: cancels them now. */
  private cancelOpenStreams?: () => void;
  private readonly counters = { streams: 0, batches: 0, frames: 0, refusedUnauthenticated: 0, refusedMalformed: 0, truncated: 0 };
  private flushTimer?: NodeJS.Timeout;
  /** The collector's counters for Prometheus (see metrics()). */
  readonly registry = new Registry();
  private readonly metrics = {
    streams: new Counter({ name: 'podspan_collector_streams_total', help: 'agent streams accepted', registers: [this.registry] }),
    refused: new Counter({ name: 'podspan_collector_streams_refused_total', help: 'agent streams refused, by reason (unauthenticated, malformed, too_large, too_many_streams, shutting_down)', labelNames: ['reason'], registers: [this.registry] }),
    open: new Gauge({ name: 'podspan_collector_streams_open', help: 'agent streams open now', registers: [this.registry] }),
    truncated: new Counter({ name: 'podspan_collector_truncated_messages_total', help: 'agent streams that ended or were cut in the middle of a message (that message is not written)', registers: [this.registry] }),
    paused: new Counter({ name: 'podspan_collector_streams_paused_total', help: 'times a stream was not read from because its client was not reading its acks', registers: [this.registry] }),
    batches: new Counter({ name: 'podspan_collector_batches_total', help: 'frame batches written and acknowledged', registers: [this.registry] }),
    frames: new Counter({ name: 'podspan_collector_frames_total', help: 'frames written, by agent', labelNames: ['agent'], registers: [this.registry] }),
    agentDrops: new Counter({ name: 'podspan_collector_agent_drops_total', help: 'frames agents reported lost before the collector, by agent and reason', labelNames: ['agent', 'reason'], registers: [this.registry] }),
    agents: new Gauge({ name: 'podspan_collector_agents', help: 'agents with an open file', registers: [this.registry], collect: (): void => this.metrics.agents.set(this.files.size) }),
    refusedFrames: new Counter({
      name: 'podspan_collector_refused_frames_total',
      help: 'frames not written because a limit was reached, by reason (interfaces: --max-interfaces; linktype: above 65535)',
      labelNames: ['reason'],
      registers: [this.registry],
    }),
    vxlan: new Gauge({
      name: 'podspan_collector_vxlan',
      help: 'VXLAN listener counters (datagrams, frames, bytes, malformed, refused: of sender/VNI pairs beyond --max-vxlan-sources, failed: 1 once a write error stopped it)',
      labelNames: ['counter'],
      registers: [this.registry],
      collect: () => {
        const v = this.encap.stats('vxlan');
        if (!v) return;
        for (const k of ['datagrams', 'frames', 'bytes', 'malformed', 'refused'] as const) this.metrics.vxlan.set({ counter: k }, v[k]);
        this.metrics.vxlan.set({ counter: 'failed' }, v.error ? 1 : 0);
      },
    }),
  };
  private readonly encap: EncapListeners;
  private spool?: UploadSpool;
  private readonly tap: LiveTap;
  private readonly runId = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '');

  constructor(
    private readonly opt: CollectorOptions,
    private readonly log: Logger,
  ) {
    this.limits = { ...collectorLimits, ...opt.streamLimits };
    this.server = new grpc.Server({
      ...channelOptions,
      'grpc.max_receive_message_length': this.limits.maxMessageBytes,
      'grpc.max_concurrent_streams': this.limits.maxStreamsPerConnection,
      // Node's HTTP/2 session memory (MB; outbound data and framing state): a session past it is
      // refused new streams. Acks are tiny, so only a client that stopped reading gets near it.
      'grpc-node.max_session_memory': 32,
    });
    if (!widenReceiveWindows(this.server, this.limits.receiveWindows)) log.warn('grpc-js changed: the HTTP/2 receive windows stay at 64 KiB (slower, still correct)');
    if (!routeStreams(this.server, MIRROR_STREAM_PATH, (stream, headers) => this.onStream(stream, headers))) {
      throw new PodspanError('ERR_INTERNAL', `@grpc/grpc-js changed its Server internals: Mirror.Stream cannot be served (src/collector/mirror-route.ts)`);
    }
    this.refusals = new Refusals(log, { streams: this.metrics.refused, frames: this.metrics.refusedFrames });
    // an agent gone idle takes its label sets along, so agent churn does not grow the registry
    this.files = new AgentFiles(opt.outDir, { ...opt.rotation, directIo: !opt.pageCache }, this.runId, opt.limits ?? defaultAgentFileLimits, log, this.refusals, (agent) => {
      this.metrics.frames.remove({ agent });
      for (const reason of ['kernel', 'interface', 'queueFull', 'disconnected']) this.metrics.agentDrops.remove({ agent, reason });
    }, (file, agent) => this.spool?.add(file, agent));
    this.tap = new LiveTap({ ...defaultLiveTapOptions, authorized: (md) => this.authorized(md.get('authorization')[0]) }, log.child({ part: 'live-tap' }), this.registry);
    this.encap = new EncapListeners(log, this.refusals, this.registry);
    this.server.addService(tapService, this.tap.implementation());
  }

  /** Binds and serves; resolves with the port (useful with port 0). */
  async start(): Promise<number> {
    routeGrpcLogs();
    try {
      makeDirs(this.opt.outDir);
    } catch (err) {
      throw new OutputError(`--out ${this.opt.outDir}: ${(err as Error).message}`);
    }
    if (this.opt.store) {
      // Refused at start-up, before any agent is accepted: wrong credentials, a missing bucket.
      const client = s3Client(this.opt.store.idleTimeoutMs);
      await checkStore(client, this.opt.store.options);
      this.spool = new UploadSpool(client, { store: this.opt.store.options, dirs: [this.opt.outDir], capBytes: this.opt.store.capBytes, keepLocal: this.opt.store.keepLocal, uploaderId: uploaderId(), idleTimeoutMs: this.opt.store.idleTimeoutMs }, this.log.child({ part: 'store' }), this.registry);
      this.spool.start();
    }
    let credentials = grpc.ServerCredentials.createInsecure();
    if (this.opt.tls) {
      const read = (f: string) => fs.readFileSync(f);
      credentials = grpc.ServerCredentials.createSsl(
        this.opt.tls.clientCa ? read(this.opt.tls.clientCa) : null,
        [{ cert_chain: read(this.opt.tls.cert), private_key: read(this.opt.tls.key) }],
        this.opt.tls.clientCa !== undefined,
      );
    }
    const address = this.opt.host.includes(':') ? `[${this.opt.host}]:${this.opt.port}` : `${this.opt.host}:${this.opt.port}`;
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, credentials, (err, p) => (err ? reject(new UsageError(`--listen ${address}: ${bindFailure(err)}`)) : resolve(p))),
    );
    const out = { outDir: this.opt.outDir, runId: this.runId, rotation: this.opt.rotation, maxSources: this.opt.maxVxlanSources ?? 4096 };
    try {
      for (const kind of ['vxlan', 'geneve', 'gre'] as const) {
        const listen = this.opt[kind];
        if (listen) this.encap.start(kind, listen, out);
      }
    } catch (err) {
      this.encap.stop();
      this.server.forceShutdown();
      throw err;
    }
    this.flushTimer = setInterval(() => this.tick(), 1000);
    return port;
  }

  /** The UDP port the VXLAN listener is bound to (when it listens). */
  get vxlanPort(): number | undefined {
    return this.encap.port('vxlan');
  }

  /** The UDP port the GENEVE listener is bound to (when it listens). */
  get genevePort(): number | undefined {
    return this.encap.port('geneve');
  }

  stats(): CollectorStats {
    return {
      store: this.spool?.stats(),
      agents: this.files.opened,
      ...this.counters,
      files: [...this.files.files(), ...this.encap.written()],
      vxlan: this.encap.stats('vxlan'),
      geneve: this.encap.stats('geneve'),
      gre: this.encap.stats('gre'),
    };
  }

  /**
   * Stops accepting, ends the streams (acknowledged up to what was written), closes files. Streams
   * still open at the shutdown deadline (a client not reading its acks) are cancelled and their
   * connections closed.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.flushTimer);
    this.tap.close();
    for (const call of this.calls) {
      call.pause(); // nothing more is read; what was written is acknowledged
      call.finish(grpc.status.OK);
    }
    await new Promise<void>((resolve) => {
      const cancelOpen = () => {
        for (const call of this.calls) call.cancel();
        this.server.forceShutdown();
        resolve();
      };
      const timer = setTimeout(() => {
        this.log.warn({ streams: this.calls.size, timeoutMs: this.limits.shutdownTimeoutMs }, 'shutdown deadline passed: cancelling the streams still open');
        cancelOpen();
      }, this.limits.shutdownTimeoutMs);
      this.cancelOpenStreams = () => {
        clearTimeout(timer);
        cancelOpen();
      };
      if (this.hurried) this.cancelOpenStreams();
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.cancelOpenStreams = undefined;
    this.calls.clear();
    this.metrics.open.set(0);
    const errors: string[] = [];
    errors.push(...this.encap.stop());
    errors.push(...this.files.closeAll());
    if (this.spool) {
      // The listeners' files (VXLAN, GENEVE, GRE/ERSPAN) have no agent: their name says the listener.
      for (const f of this.encap.written()) this.spool.add(f, path.basename(f).split('_')[0]);
      await this.spool.stop(this.opt.store!.drainMs);
    }
    if (errors.length) throw new OutputError(errors.join('; '));
  }

  /** The longest stop() waits by its own bounds: the streams' deadline, then the spool's drain and abort. */
  get stopBoundMs(): number {
    return this.limits.shutdownTimeoutMs + (this.opt.store ? this.opt.store.drainMs + SPOOL_ABORT_WAIT_MS : 0);
  }

  /**
   * A stop in progress (or the next one) waits no longer: the streams still open are cancelled now
   * (what was written stays acknowledged and in valid files) and the spool stops uploading (its
   * files wait for the next start). Returns how many streams were still open.
   */
  hurry(): number {
    const open = this.calls.size;
    this.hurried = true;
    this.cancelOpenStreams?.();
    this.spool?.hurry();
    return open;
  }

  /** The upload spool abandoned a request in flight at stop() (see UploadSpool.abandoned). */
  get storeAbandonedRequest(): boolean {
    return this.spool?.abandoned === true;
  }

  /** Why the collector is unhealthy (/healthz), or undefined: an encapsulation listener stopped on a write error. */
  problem(): string | undefined {
    return this.encap.check();
  }

  // Every second: agent files flushed and idle ones closed, the encapsulation listeners checked.
  private tick(): void {
    this.files.tick();
    this.encap.check();
  }

  /** Writes a batch into its agent's file; the frames written (refused ones are counted). */
  private writeBatch(batch: ReturnType<typeof decodeFrameBatch>, peer: string): number {
    const { written, refused } = this.files.fileFor(batch.agent || peer).write(batch);
    for (const [reason, n] of Object.entries(refused)) this.refusals.count(reason as RefusedReason, n);
    return written;
  }

  /**
   * Agents and live-tap subscribers present the same bearer token (when one is set): `authorization`
   * is the header's value (a Mirror.Stream's HTTP/2 header, a live tap's gRPC metadata).
   */
  private authorized(authorization: unknown): boolean {
    return this.opt.token === undefined || authorization === `Bearer ${this.opt.token}`;
  }

  private refuse(call: MirrorCall, reason: string, code: grpc.status, details: string, fields: object = {}): void {
    this.metrics.refused.inc({ reason });
    this.log.warn({ peer: call.peer, ...fields }, `stream refused: ${details}`);
    this.forget(call);
    call.finish(code, details);
  }

  /** A stream that ended, failed or was cancelled: dropped at once, nothing more read from it. */
  private forget(call: MirrorCall): void {
    if (!this.calls.delete(call)) return;
    this.metrics.open.set(this.calls.size);
    call.pause();
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    // as grpc-js: what is not gRPC is answered 415 (Unsupported Media Type)
    if (!String(headers['content-type'] ?? '').startsWith('application/grpc')) {
      stream.on('error', () => {});
      stream.respond({ ':status': 415 }, { endStream: true });
      return;
    }
    let paused = false;
    const call: MirrorCall = new MirrorCall(stream, headers, this.limits.maxMessageBytes, {
      message: (data) => this.onMessage(call, data, acknowledge),
      end: () => {
        this.forget(call);
        call.finish(grpc.status.OK);
      },
      close: () => this.forget(call),
      tooLarge: (bytes) => {
        this.forget(call);
        this.metrics.refused.inc({ reason: 'too_large' });
        this.log.warn({ peer: call.peer, bytes, max: this.limits.maxMessageBytes }, 'stream refused: message too large');
      },
      truncated: (bytes) => {
        this.counters.truncated++;
        this.metrics.truncated.inc();
        this.log.warn({ peer: call.peer, bytes }, 'stream ended in the middle of a message: that message is lost');
      },
    });
    const acknowledge = (ack: Ack) => {
      if (call.ack(ack) || paused) return;
      // The client is not reading its acks: stop reading its batches until they drain.
      paused = true;
      this.metrics.paused.inc();
      call.pause();
      call.onDrain(() => {
        paused = false;
        if (!this.stopping && this.calls.has(call)) call.resume();
      });
    };
    if (this.stopping) {
      this.refuse(call, 'shutting_down', grpc.status.UNAVAILABLE, 'the collector is shutting down');
      return;
    }
    if (!this.authorized(headers.authorization)) {
      this.counters.refusedUnauthenticated++;
      this.refuse(call, 'unauthenticated', grpc.status.UNAUTHENTICATED, 'missing or wrong bearer token');
      return;
    }
    if (this.calls.size >= this.limits.maxStreams) {
      this.refuse(call, 'too_many_streams', grpc.status.RESOURCE_EXHAUSTED, `${this.limits.maxStreams} streams are open already`);
      return;
    }
    this.counters.streams++;
    this.metrics.streams.inc();
    this.calls.add(call);
    this.metrics.open.set(this.calls.size);
    call.accept();
  }

  /** One whole message of a stream: decoded, written, acknowledged, published to the live tap. */
  private onMessage(call: MirrorCall, data: Buffer, acknowledge: (ack: Ack) => void): void {
    if (this.stopping || !this.calls.has(call)) return; // not written, not acknowledged: the agent counts it lost
    try {
      const batch = decodeFrameBatch(data);
      const frames = this.writeBatch(batch, call.peer);
      this.counters.batches++;
      this.counters.frames += frames;
      this.metrics.batches.inc();
      this.metrics.frames.inc({ agent: batch.agent }, frames);
      for (const [reason, n] of Object.entries(batch.drops)) if (Number(n)) this.metrics.agentDrops.inc({ agent: batch.agent, reason }, Number(n));
      acknowledge({ sequence: batch.sequence, frames });
      this.tap.publish(batch); // copies what it sends: data is reused for the next message
    } catch (err) {
      if (err instanceof AgentLimitError) {
        this.forget(call);
        call.finish(grpc.status.RESOURCE_EXHAUSTED, err.message);
        return;
      }
      if (err instanceof MalformedBatchError || (err instanceof Error && (err as { code?: string }).code === 'ERR_USAGE')) {
        this.counters.refusedMalformed++;
        this.refuse(call, 'malformed', grpc.status.INVALID_ARGUMENT, `malformed batch: ${err.message}`, { reason: err.message });
        return;
      }
      const message = err instanceof PodspanError ? err.message : String(err);
      this.log.error({ peer: call.peer, err: message }, 'writing a batch failed');
      this.forget(call);
      call.finish(grpc.status.INTERNAL, `cannot write: ${message}`);
    }
  }
}

/** grpc-js's "No address added out of total 1 resolved errors: [listen EADDRINUSE: ...]": the reason inside. */
function bindFailure(err: Error): string {
  return /errors: \[(.+)\]$/.exec(err.message)?.[1] ?? err.message;
}
