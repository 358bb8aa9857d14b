// A `podspan collector` started for a test (tracked, so killStarted() ends it), and a gRPC client
// that sends hand-made FrameBatches under any agent id, as many agents as a test needs.
import { spawn } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { encodeFrameBatch, type FrameBatch, type Source } from '../../src/forward/frame-batch';
import { MirrorClient } from '../../src/forward/mirror-service';
import { exitStatus, track, type Running } from './netns';
import { podspanBin } from './tools';

export interface StartedCollector extends Running {
  port: number;
  vxlanPort?: number;
  metricsUrl?: string;
}

/** Starts `podspan collector ARGS` here; resolves once it listens (and serves metrics if asked). */
export async function startCollector(args: string[]): Promise<StartedCollector> {
  const child = track(spawn(process.execPath, [podspanBin, 'collector', ...args], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = exitStatus(child);
  const wantMetrics = args.includes('--metrics-listen');
  const deadline = Date.now() + 15_000;
  while (!/listening on/.test(err) || (wantMetrics && !/metrics on/.test(err))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`collector did not start: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    child,
    stderr: () => err,
    exited,
    port: Number(/listening on [^\s]*:(\d+)/.exec(err)![1]),
    vxlanPort: /listening for VXLAN on \S*:(\d+)\/udp/.test(err) ? Number(/listening for VXLAN on \S*:(\d+)\/udp/.exec(err)![1]) : undefined,
    metricsUrl: /metrics on (http:\S+)/.exec(err)?.[1],
  };
}

/** A batch of `count` 60-byte frames per source (frame k of source s: bytes s, k), 1 ms apart. */
export function frameBatch(agent: string, sources: Source[], count: number, sequence = 1, tsStepNs = 1_000_000n): FrameBatch {
  const n = sources.length * count;
  const frames = Buffer.alloc(n * 60);
  const caplen = Buffer.alloc(n * 4), origlen = Buffer.alloc(n * 4), ts = Buffer.alloc(n * 8), source = Buffer.alloc(n * 4);
  for (let i = 0; i < n; i++) {
    const s = i % sources.length;
    frames.fill(0x11, i * 60, i * 60 + 12);
    frames.writeUInt16BE(0x0800, i * 60 + 12);
    frames.writeUInt32BE(s, i * 60 + 14);
    frames.writeUInt32BE(i, i * 60 + 18);
    caplen.writeUInt32LE(60, i * 4);
    origlen.writeUInt32LE(60, i * 4);
    ts.writeBigUInt64LE(1_700_000_000_000_000_000n + BigInt(i) * tsStepNs, i * 8);
    source.writeUInt32LE(s, i * 4);
  }
  return { agent, sequence, sources, frames, caplen, origlen, timestampNs: ts, source, drops: { kernel: 0, interface: 0, queueFull: 0, disconnected: 0 } };
}

export const ethSource = (node: string, iface: string, linktype = 1): Source => ({ node, interface: iface, linktype, snaplen: 262144 });

/** Sends `batches` on one stream; resolves with the frames acknowledged and the final status. */
export async function sendBatches(port: number, batches: FrameBatch[]): Promise<{ acked: number; status: grpc.StatusObject }> {
  const client = new MirrorClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    stream(): grpc.ClientDuplexStream<Buffer, Buffer>;
  };
  let acked = 0;
  const status = await new Promise<grpc.StatusObject>((resolve) => {
    const call = client.stream();
    let acks = 0;
    call.on('status', resolve);
    call.on('error', () => {});
    call.on('data', (a: { frames?: number } | Buffer) => {
      acked += Number((a as { frames?: number }).frames ?? 0);
      if (++acks === batches.length) call.end();
    });
    for (const b of batches) call.write(encodeFrameBatch(b));
  });
  client.close();
  return { acked, status };
}
