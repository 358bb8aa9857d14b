// The collector's live tap (proto/podspan/v1/tap.proto): lists the sources agents have sent
// (node, pod, interface) and streams to each subscriber the frames of the sources it chose that
// match its BPF expression, as they are written. Selection and filtering are native, one call per
// batch and subscriber. A subscriber whose stream backs up loses whole batches (counted); agents
// never wait for it. Subscribers need the same bearer token as agents: they see the same traffic.
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { Counter, Gauge, type Registry } from 'prom-client';
import { native, type NativeFrameFilter } from '../capture/native';
import { fromNative } from '../errors';
import { encodeFrameBatch, SourceType, type FrameBatch, type Source } from '../forward/frame-batch';
import type { Logger } from '../observability/logger';

const protoDir = path.resolve(__dirname, '..', '..', 'proto');
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => path.join(protoDir, target);
root.loadSync('podspan/v1/tap.proto');
const TapRequestType = root.lookupType('podspan.v1.TapRequest');
const SourceListType = root.lookupType('podspan.v1.SourceList');

/** What a subscriber asks for; empty fields match anything. */
export interface TapRequest {
  node: string;
  podNamespace: string;
  podName: string;
  interface: string;
  bpf: string;
  session: string;
}

export const encodeTapRequest = (r: Partial<TapRequest>): Buffer => Buffer.from(TapRequestType.encode(TapRequestType.fromObject(r)).finish());
export function decodeTapRequest(b: Buffer): TapRequest {
  const o = TapRequestType.toObject(TapRequestType.decode(b), { defaults: true }) as TapRequest;
  return { node: o.node, podNamespace: o.podNamespace, podName: o.podName, interface: o.interface, bpf: o.bpf, session: o.session };
}
export const encodeSourceList = (sources: Source[]): Buffer =>
  Buffer.from(SourceListType.encode(SourceListType.fromObject({ sources: sources.map((s) => SourceType.fromObject(s)) })).finish());
export const decodeSourceList = (b: Buffer): Source[] =>
  ((SourceListType.toObject(SourceListType.decode(b), { defaults: true }) as { sources: Source[] }).sources ?? []);

const identity = (b: Buffer) => b;

/** podspan.v1.Tap as grpc-js sees it; messages cross as bytes (see frame-batch.ts). */
export const tapService = {
  sources: {
    path: '/podspan.v1.Tap/Sources',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
    originalName: 'Sources',
  },
  subscribe: {
    path: '/podspan.v1.Tap/Subscribe',
    requestStream: false,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
    originalName: 'Subscribe',
  },
} satisfies grpc.ServiceDefinition;

export const TapClient = grpc.makeGenericClientConstructor(tapService, 'Tap');

export function sourceMatches(s: Source, r: TapRequest): boolean {
  return (
    (!r.node || s.node === r.node) &&
    (!r.podNamespace || (s.podNamespace ?? '') === r.podNamespace) &&
    (!r.podName || (s.podName ?? '') === r.podName) &&
    (!r.interface || s.interface === r.interface) &&
    (!r.session || (s.session ?? '') === r.session)
  );
}

interface Subscriber {
  request: TapRequest;
  filter: NativeFrameFilter;
  call: grpc.ServerWritableStream<Buffer, Buffer>;
  sequence: number;
}

export interface LiveTapOptions {
  /** Sources remembered for Sources() (oldest forgotten first). */
  maxSources: number;
  maxSubscribers: number;
  /** Bytes a subscriber's stream may hold unsent before its batches are dropped. */
  maxQueuedBytes: number;
  authorized(metadata: grpc.Metadata): boolean;
}

export const defaultLiveTapOptions: Omit<LiveTapOptions, 'authorized'> = { maxSources: 4096, maxSubscribers: 16, maxQueuedBytes: 16 << 20 };

export class LiveTap {
  private readonly sources = new Map<string, Source>();
  private readonly subscribers = new Set<Subscriber>();
  private readonly metrics: { frames: Counter; dropped: Counter; refused: Counter };

  constructor(
    private readonly opt: LiveTapOptions,
    private readonly log: Logger,
    registry: Registry,
  ) {
    const subscribers = this.subscribers;
    new Gauge({
      name: 'podspan_collector_tap_subscribers',
      help: 'live-tap subscribers connected',
      registers: [registry],
      collect() {
        this.set(subscribers.size);
      },
    });
    this.metrics = {
      frames: new Counter({ name: 'podspan_collector_tap_frames_total', help: 'frames sent to live-tap subscribers', registers: [registry] }),
      dropped: new Counter({ name: 'podspan_collector_tap_dropped_frames_total', help: 'frames a live-tap subscriber did not get because its stream was backed up', registers: [registry] }),
      refused: new Counter({ name: 'podspan_collector_tap_refused_total', help: 'live-tap calls refused, by reason', labelNames: ['reason'], registers: [registry] }),
    };
  }

  implementation(): grpc.UntypedServiceImplementation {
    return {
      sources: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => {
        if (!this.opt.authorized(call.metadata)) return done(this.refuse('unauthenticated', grpc.status.UNAUTHENTICATED, 'missing or wrong bearer token'));
        done(null, encodeSourceList([...this.sources.values()]));
      },
      subscribe: (call: grpc.ServerWritableStream<Buffer, Buffer>) => this.subscribe(call),
    };
  }

  /** Remembers the batch's sources and hands each subscriber its part. */
  publish(batch: FrameBatch): void {
    for (const s of batch.sources) this.remember(s);
    if (this.subscribers.size === 0 || batch.caplen.length === 0) return;
    const linktypes = batch.sources.map((s) => s.linktype);
    for (const sub of this.subscribers) {
      const wanted = Buffer.from(batch.sources.map((s) => (sourceMatches(s, sub.request) ? 1 : 0)));
      if (!wanted.includes(1)) continue;
      const frames = batch.caplen.length / 4;
      if (sub.call.writableLength > this.opt.maxQueuedBytes) {
        this.metrics.dropped.inc(frames); // an upper bound: the batch was not filtered
        continue;
      }
      const part = sub.filter.select(batch.frames, batch.caplen, batch.origlen, batch.timestampNs, batch.source, linktypes, wanted);
      if (part.count === 0) continue;
      const { count: _count, ...columns } = part;
      sub.call.write(encodeFrameBatch({ agent: batch.agent, sequence: ++sub.sequence, sources: batch.sources, ...columns, drops: { kernel: 0, interface: 0, queueFull: 0, disconnected: 0 } }));
      this.metrics.frames.inc(part.count);
    }
  }

  /** Ends every subscription (the collector is stopping). */
  close(): void {
    for (const sub of this.subscribers) sub.call.end();
    this.subscribers.clear();
  }

  private subscribe(call: grpc.ServerWritableStream<Buffer, Buffer>): void {
    if (!this.opt.authorized(call.metadata)) return void call.emit('error', this.refuse('unauthenticated', grpc.status.UNAUTHENTICATED, 'missing or wrong bearer token'));
    if (this.subscribers.size >= this.opt.maxSubscribers) {
      return void call.emit('error', this.refuse('too_many', grpc.status.RESOURCE_EXHAUSTED, `at most ${this.opt.maxSubscribers} live-tap subscribers`));
    }
    let request: TapRequest;
    let filter: NativeFrameFilter;
    try {
      request = decodeTapRequest(call.request);
      filter = new (native().NativeFrameFilter)(request.bpf); // compiled for Ethernet here: a bad expression is refused at once
    } catch (err) {
      return void call.emit('error', this.refuse('invalid', grpc.status.INVALID_ARGUMENT, fromNative(err).message));
    }
    const sub: Subscriber = { request, filter, call, sequence: 0 };
    this.subscribers.add(sub);
    this.log.info({ peer: call.getPeer(), ...request }, 'live-tap subscriber');
    const drop = () => this.subscribers.delete(sub);
    call.on('cancelled', drop);
    call.on('close', drop);
    call.on('error', drop);
  }

  private remember(s: Source): void {
    const key = `${s.node}\0${s.podNamespace ?? ''}\0${s.podName ?? ''}\0${s.interface}\0${s.session ?? ''}`;
    if (this.sources.has(key)) return;
    if (this.sources.size >= this.opt.maxSources) this.sources.delete(this.sources.keys().next().value as string);
    this.sources.set(key, s);
  }

  private refuse(reason: string, code: grpc.status, details: string): grpc.ServiceError {
    this.metrics.refused.inc({ reason });
    this.log.warn({ reason: details }, 'live-tap call refused');
    return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() }) as grpc.ServiceError;
  }
}
