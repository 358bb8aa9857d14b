// Forwarding to a collector that is not there, or that never answers: one readable line each, a
// non-zero exit, every frame counted. Split from cli.test.ts: these wait on the forwarder's own
// deadlines (~15 s) and judge no time, rate or memory, so they run in the "live" group beside
// other files rather than with the machine to themselves.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipv4Frame, samplePackets, writePcap } from '../helpers/craft';
import { podspan, podspanBin } from '../helpers/tools';
import { exitStatus } from '../helpers/netns';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-cli-forward-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('podspan capture --forward, when the collector fails', () => {
  it('a collector that is not running: one readable line, no JSON logs, exit 1', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const file = path.join(tmp, 'to-nowhere.pcap');
    writePcap(file, samplePackets(5));
    const r = podspan(['capture', '-r', file, '--forward', `grpc://127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain('{');
    expect(r.stderr).toContain(`grpc://127.0.0.1:${port}: 0 frames delivered`);
    expect(r.stderr.trim().split('\n').at(-1)).toBe(`podspan: grpc://127.0.0.1:${port}: never connected: connect ECONNREFUSED 127.0.0.1:${port}`);
  });

  it('a collector that accepts and then never answers: reading a file says once that it waits, ends on SIGTERM, every frame counted', async () => {
    // A real TCP listener that takes the bytes and says nothing: the forwarder's bounded queue
    // fills and the file's reader waits for room, which used to make SIGTERM wait forever.
    const frames = 30_000;
    const file = path.join(tmp, 'to-silent.pcap');
    writePcap(file, Array.from({ length: frames }, (_, i) => ({ tsNs: 1_700_000_000_000_000_000n + BigInt(i) * 1000n, frame: ipv4Frame({ proto: 17, src: '10.0.0.1', dst: '10.0.0.2', sport: 40000 + (i % 50), dport: 9000, payload: Buffer.alloc(1400, i % 251) }) })));
    let received = 0;
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((s) => {
      sockets.add(s);
      s.on('data', (d) => (received += d.length));
      s.on('error', () => {});
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    const child = spawn(process.execPath, [podspanBin, 'capture', '-r', file, '--forward', `grpc://127.0.0.1:${port}?queue=1048576`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = exitStatus(child);
    try {
      // Its queues full, the reader waits; after 3 s without room the capture says so, once.
      const notice = `podspan: reading waits for grpc://127.0.0.1:${port}?queue=1048576 (no answer) to take more frames; Ctrl-C stops, counting what was not delivered`;
      for (let i = 0; i < 1500 && !stderr.includes(notice); i++) await new Promise((r) => setTimeout(r, 20));
      expect(stderr).toContain(notice);
      expect(received).toBeGreaterThan(0); // the HTTP/2 preface came
      child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running 30 s after SIGTERM'), 30_000))]);
      // It never acknowledged anything: exit 1 with the "never connected" line.
      expect(code, stderr).toBe(1);
      expect(stderr.split(notice)).toHaveLength(2); // said once
      expect(stderr).toMatch(new RegExp(`^podspan: grpc://127\\.0\\.0\\.1:${port}\\?queue=1048576: never connected`, 'm'));
      const m = /(\d+) frames delivered, (\d+) dropped \(queue full\), (\d+) dropped \(not acknowledged/.exec(stderr);
      expect(m, stderr).not.toBeNull();
      const read = Number(/^(\d+) packets read$/m.exec(stderr)?.[1]);
      // The reader's last batch, which found no room when stopped, is counted by the capture.
      const notQueued = Number(/^(\d+) packets dropped by podspan \(output queue full\)$/m.exec(stderr)?.[1] ?? 0);
      expect(Number(m![1])).toBe(0); // the listener acknowledged nothing
      expect(notQueued + Number(m![2]) + Number(m![3]), stderr).toBe(read);
      expect(read).toBeLessThan(frames); // stopped before the end of the file
    } finally {
      child.kill('SIGKILL');
      for (const s of sockets) s.destroy();
      silent.close();
    }
  }, 60_000);
});
