// The collector's side of podspan's Wireshark sources: the sources it knows (for the interface
// list) and a live-tap subscription written as pcapng into Wireshark's fifo, one interface block
// per source (node/namespace/pod/interface, as the collector names them in its own files).
import * as grpc from '@grpc/grpc-js';
import { native } from '../capture/native';
import { interfaceName } from '../collector/agent-file';
import { decodeSourceList, encodeTapRequest, TapClient, type TapRequest } from '../collector/live-tap';
import type { GrpcTarget } from '../config/forward-options';
import { ForwardError, fromNative } from '../errors';
import { decodeFrameBatch, type Source } from '../forward/frame-batch';
import { collectorChannel } from '../forward/collector-channel';

type Tap = grpc.Client & {
  sources(req: Buffer, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Buffer) => void): void;
  subscribe(req: Buffer, md: grpc.Metadata): grpc.ClientReadableStream<Buffer>;
};

function client(target: GrpcTarget): { tap: Tap; metadata: grpc.Metadata } {
  const ch = collectorChannel(target);
  return { tap: new TapClient(ch.address, ch.credentials, ch.options) as unknown as Tap, metadata: ch.metadata };
}

export function listCollectorSources(target: GrpcTarget, timeoutMs = 3000): Promise<Source[]> {
  const { tap, metadata } = client(target);
  return new Promise((resolve, reject) => {
    tap.sources(Buffer.alloc(0), metadata, { deadline: Date.now() + timeoutMs }, (err, res) => {
      tap.close();
      if (err) reject(new ForwardError(`${target.url}: ${err.details || err.message}`));
      else resolve(decodeSourceList(res ?? Buffer.alloc(0)));
    });
  });
}

interface NativeWriter {
  addInterface(i: { name: string; description: string; linktype: number; snaplen: number }): number;
  write(frames: Buffer, caplen: Buffer, origlen: Buffer, ts: Buffer, source: Buffer, count: number, map: Buffer): void;
  flush(): void;
  close(): void;
}

export interface TapOptions {
  /** Stop after this many frames (0: no limit). */
  count?: number;
  format?: 'pcap' | 'pcapng';
  /** The writer's application name in the pcapng section header. */
  application?: string;
}

/**
 * Subscribes (one stream per request, all into one file) and writes what arrives into `file`
 * (a path, a fifo, or `-` for standard output) until the collector ends every stream, `stop`
 * resolves (Wireshark ends a capture with SIGTERM), `count` frames were written or the reader
 * goes away. Resolves with the frames written; rejects with a ForwardError naming the collector
 * when a subscription fails.
 */
export async function tapIntoFile(target: GrpcTarget, requests: Partial<TapRequest>[], file: string, stop: Promise<void>, opts: TapOptions = {}): Promise<number> {
  const { tap, metadata } = client(target);
  const Writer = (native() as unknown as { NativeWriter: new (o: object) => NativeWriter }).NativeWriter;
  let writer: NativeWriter;
  try {
    writer = new Writer({ path: file, format: opts.format ?? 'pcapng', application: opts.application ?? 'podspan extcap', comments: [`live tap of ${target.url}`] });
  } catch (err) {
    tap.close();
    throw fromNative(err);
  }
  const ifaces = new Map<string, number>();
  const interfaceFor = (s: Source) => {
    const key = JSON.stringify([s.node, s.interface, s.linktype, s.podNamespace, s.podName]);
    let idx = ifaces.get(key);
    if (idx === undefined) ifaces.set(key, (idx = writer.addInterface({ ...interfaceName(s), linktype: s.linktype || 1, snaplen: s.snaplen || 262144 })));
    return idx;
  };
  const limit = opts.count ?? 0;
  let frames = 0;
  const calls = requests.map((r) => tap.subscribe(encodeTapRequest(r), metadata));
  try {
    await new Promise<void>((resolve, reject) => {
      let open = calls.length;
      const finish = () => {
        for (const c of calls) c.cancel();
        resolve();
      };
      void stop.then(finish);
      for (const call of calls) {
        call.on('data', (data: Buffer) => {
          if (limit && frames >= limit) return;
          try {
            const b = decodeFrameBatch(data);
            const count = Math.min(b.caplen.length / 4, limit ? limit - frames : Infinity);
            const map = Buffer.alloc(b.sources.length * 4);
            b.sources.forEach((s, i) => map.writeUInt32LE(interfaceFor(s), i * 4));
            // The first `count` frames of the batch: its columns cut to that length.
            let bytes = 0;
            for (let k = 0; k < count; k++) bytes += b.caplen.readUInt32LE(k * 4);
            writer.write(b.frames.subarray(0, bytes), b.caplen.subarray(0, count * 4), b.origlen.subarray(0, count * 4), b.timestampNs.subarray(0, count * 8), b.source.subarray(0, count * 4), count, map);
            writer.flush(); // a live view: the reader sees what the batch held now
            frames += count;
            if (limit && frames >= limit) finish();
          } catch {
            finish(); // the reader went away (EPIPE): nothing left to show
          }
        });
        call.on('error', (err: grpc.ServiceError) => {
          if (err.code === grpc.status.CANCELLED) return;
          for (const c of calls) c.cancel();
          reject(new ForwardError(`${target.url}: ${err.details || err.message}`));
        });
        call.on('end', () => {
          if (--open === 0) resolve();
        });
      }
    });
  } finally {
    tap.close();
    try {
      writer.close();
    } catch {
      // the fifo's reader is gone: nothing to keep valid
    }
  }
  return frames;
}
