// The gRPC tests' collector and judge (grpc.test.ts, grpc-live.test.ts): `podspan collector`
// started here or in a namespace, and what tshark sees of the frames it wrote.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { exitStatus, startInNs, track, type Running } from './netns';
import { podspanBin, run } from './tools';

/** Starts `podspan collector` (in a namespace, or here) and returns it with its bound port. */
export async function collector(args: string[], ns?: string): Promise<Running & { port: number }> {
  const cmd = [process.execPath, podspanBin, 'collector', ...args];
  const r = ns
    ? await startInNs(ns, cmd, /listening on/)
    : await new Promise<Running>((resolve, reject) => {
        const child = track(spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] }));
        let err = '';
        const exited = exitStatus(child);
        child.stderr!.on('data', (d) => {
          err += d;
          if (/listening on/.test(err)) resolve({ child, stderr: () => err, exited });
        });
        exited.then(() => reject(new Error(`collector exited: ${err}`)));
      });
  const port = Number(/listening on [^\s]*:(\d+)/.exec(r.stderr())![1]);
  return { ...r, port };
}

/** What tshark sees of each frame: time, length and bytes, in file order. */
export function frames(files: string[]): string[] {
  return files.flatMap((f) =>
    run('tshark', ['-r', f, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.len', '-e', 'frame.cap_len', '-e', 'udp.srcport', '-e', 'data.data']).stdout.trim().split('\n').filter(Boolean),
  );
}

export const collected = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith('.pcapng')).map((f) => path.join(dir, f));
