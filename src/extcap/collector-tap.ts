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

/**
 * Subscribes and writes what arrives into `file` until the collector ends the stream, `stop`
 * resolves (Wireshark ends a capture with SIGTERM) or the reader goes away. Resolves with the
 * frames written; rejects with a ForwardError naming the collector when the subscription fails.
 */
export async function tapIntoFile(target: GrpcTarget, request: TapRequest, file: string, stop: Promise<void>): Promise<number> {
  const { tap, metadata } = client(target);
  const Writer = (native() as unknown as { NativeWriter: new (o: object) => NativeWriter }).NativeWriter;
  let writer: NativeWriter;
  try {
    writer = new Writer({ path: file, format: 'pcapng', application: 'podspan extcap', comments: [`live tap of ${target.url}`] });
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
  let frames = 0;
  const call = tap.subscribe(encodeTapRequest(request), metadata);
  try {
    await new Promise<void>((resolve, reject) => {
      void stop.then(() => {
        call.cancel();
        resolve();
      });
      call.on('data', (data: Buffer) => {
        try {
          const b = decodeFrameBatch(data);
          const map = Buffer.alloc(b.sources.length * 4);
          b.sources.forEach((s, i) => map.writeUInt32LE(interfaceFor(s), i * 4));
          const count = b.caplen.length / 4;
          writer.write(b.frames, b.caplen, b.origlen, b.timestampNs, b.source, count, map);
          writer.flush(); // a live view: Wireshark shows what the batch held now
          frames += count;
        } catch {
          call.cancel(); // the reader went away (EPIPE): nothing left to show
          resolve();
        }
      });
      call.on('error', (err: grpc.ServiceError) => {
        if (err.code === grpc.status.CANCELLED) resolve();
        else reject(new ForwardError(`${target.url}: ${err.details || err.message}`));
      });
      call.on('end', () => resolve());
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
