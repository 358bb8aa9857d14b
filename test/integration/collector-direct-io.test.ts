// The collector writes agents' files around the page cache (O_DIRECT) where the file system
// takes it, and through it with --page-cache or on tmpfs. Judges: the kernel's own account of
// each open file (/proc/PID/fdinfo flags), capinfos and tshark, and the bytes of both files. A
// real full disk (a small ext4 on a loop device) under a gRPC stream: the stream ends INTERNAL
// naming the error and the file is cut back valid.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipv4Frame, writePcap, type CraftedPacket } from '../helpers/craft';
import * as grpc from '@grpc/grpc-js';
import { ethSource, frameBatch, sendBatches, startCollector, type StartedCollector } from '../helpers/collector';
import { killStarted, stopProcess } from '../helpers/netns';
import { capinfos, podspanBin, run, tsharkWarnings } from '../helpers/tools';

const O_DIRECT = 0o40000; // x86-64 and arm64 alike
const TMPFS = /tmpfs/.test(run('stat', ['-f', '-c', '%T', os.tmpdir()]).stdout);
if (TMPFS) console.log(`collector direct I/O: ${os.tmpdir()} is tmpfs, where files are written through the page cache; the direct case is not run`);

let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-direct-'))));
afterAll(() => {
  killStarted();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** 6,000 frames of 60 to 9,014 bytes (~20 MB: many of the writer's chunks, and sizes each side of the 512 bytes it copies below). */
function mixedCapture(file: string): number {
  const sizes = [60, 400, 1500, 9000];
  const packets: CraftedPacket[] = [];
  for (let i = 0; i < 6000; i++) {
    packets.push({
      tsNs: 1_700_000_000_000_000_000n + BigInt(i) * 1000n,
      frame: ipv4Frame({ proto: 17, src: '198.18.0.1', dst: '198.18.0.2', sport: 40000 + (i % 97), dport: 5000, payload: Buffer.alloc(sizes[i % 4], i & 0xff) }),
    });
  }
  writePcap(file, packets);
  return packets.length;
}

/** The open-file flags of the collector's descriptors on its .pcapng files. */
function pcapngFlags(pid: number): number[] {
  const fdDir = `/proc/${pid}/fd`;
  return fs
    .readdirSync(fdDir)
    .filter((fd) => {
      try {
        return fs.readlinkSync(path.join(fdDir, fd)).endsWith('.pcapng');
      } catch {
        return false; // closed meanwhile
      }
    })
    .map((fd) => parseInt(/^flags:\s+([0-7]+)/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))![1], 8));
}

/** Sends the capture through a real agent, then reads the flags of the file still open. */
async function mirror(c: StartedCollector, capture: string): Promise<number[]> {
  const r = run(process.execPath, [podspanBin, 'capture', '-r', capture, '--forward', `grpc://127.0.0.1:${c.port}`], { timeoutMs: 60_000 });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toMatch(/6000 frames delivered/);
  return pcapngFlags(c.child.pid!);
}

const pcapngIn = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith('.pcapng')).map((f) => path.join(dir, f));

describe('collector files around the page cache', () => {
  it.skipIf(TMPFS)('on a disk file system: O_DIRECT by default, the same blocks as --page-cache writes, valid for tshark', async () => {
    const capture = path.join(tmp, 'mixed.pcap');
    const frames = mixedCapture(capture);
    const files: string[] = [];
    for (const pageCache of [false, true]) {
      const out = path.join(tmp, pageCache ? 'cache' : 'direct');
      const c = await startCollector(['--listen', '127.0.0.1:0', '--out', out, ...(pageCache ? ['--page-cache'] : [])]);
      const flags = await mirror(c, capture);
      // The direct side is a second descriptor beside the one the file was created with.
      if (pageCache) expect(flags.filter((f) => f & O_DIRECT)).toEqual([]);
      else expect(flags.filter((f) => f & O_DIRECT)).toHaveLength(1);
      expect(await stopProcess(c, 'SIGTERM')).toBe(0);
      const [file] = pcapngIn(out);
      expect(capinfos([file]).get(file)!.packets).toBe(frames);
      expect(tsharkWarnings(file)).toBe('');
      files.push(file);
    }
    // Byte for byte after the section header (its comment names the agent, with its process id).
    const [direct, cached] = files.map((f) => fs.readFileSync(f)).map((b) => b.subarray(b.readUInt32LE(4)));
    expect(direct.length).toBeGreaterThan(16_000_000);
    expect(direct.equals(cached)).toBe(true);
  }, 120_000);

  it('on tmpfs, where the page cache is the file: written through it', async () => {
    if (!fs.existsSync('/dev/shm') || !/tmpfs/.test(run('stat', ['-f', '-c', '%T', '/dev/shm']).stdout)) {
      console.log('collector direct I/O: no tmpfs at /dev/shm; the tmpfs case is not run');
      return;
    }
    const dir = fs.mkdtempSync('/dev/shm/podspan-direct-');
    try {
      const capture = path.join(dir, 'mixed.pcap');
      const frames = mixedCapture(capture);
      const out = path.join(dir, 'out');
      const c = await startCollector(['--listen', '127.0.0.1:0', '--out', out]);
      expect((await mirror(c, capture)).filter((f) => f & O_DIRECT)).toEqual([]);
      expect(await stopProcess(c, 'SIGTERM')).toBe(0);
      const [file] = pcapngIn(out);
      expect(capinfos([file]).get(file)!.packets).toBe(frames);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  // The fault is real: a 4 MiB ext4 image mounted through a loop device fills up (root only).
  it.skipIf(process.getuid?.() !== 0)('a full disk under a gRPC stream: the stream ends INTERNAL naming the error, the file is cut back valid', async () => {
    const image = path.join(tmp, 'small.ext4');
    const mnt = path.join(tmp, 'small');
    fs.mkdirSync(mnt);
    fs.writeFileSync(image, '');
    fs.truncateSync(image, 4 << 20);
    execFileSync('mkfs.ext4', ['-q', '-F', image]);
    execFileSync('mount', ['-o', 'loop', image, mnt]);
    try {
      const free = fs.statfsSync(mnt).bavail * fs.statfsSync(mnt).bsize;
      const out = path.join(mnt, 'out');
      const c = await startCollector(['--listen', '127.0.0.1:0', '--out', out]);
      // 60 batches of 1,000 frames of 60 bytes (92 bytes each in pcapng): 5.5 MB into less than 4 MiB
      const batches = Array.from({ length: 60 }, (_, i) => frameBatch('full', [ethSource('f', 'eth0')], 1000, i + 1));
      const r = await sendBatches(c.port, batches);
      expect(r.status.code).toBe(grpc.status.INTERNAL);
      expect(r.status.details).toMatch(/cannot write: .*write failed: No space left on device/);
      expect(await stopProcess(c, 'SIGTERM')).toBe(0);
      const [file] = pcapngIn(out);
      expect(tsharkWarnings(file)).toBe('');
      const packets = capinfos([file]).get(file)!.packets;
      // All but what the chunks in flight held when the device refused: at least half the room.
      expect(packets).toBeGreaterThan(free / 92 / 2);
      expect(packets).toBeLessThanOrEqual(r.acked);
    } finally {
      killStarted();
      execFileSync('umount', [mnt]);
    }
  }, 60_000);
});
