// `podspan streams` stopped by real signals while its writers are far behind: a generated
// capture of 200,000 short connections (a file per direction, so creating files is most of the
// work), SIGTERM once (drain for at most 5 s, then give up the rest) or SIGINT twice (give up at
// once). Either way it exits within bounds, and index.jsonl agrees exactly with the files on
// disk: every file listed, every listed file holding exactly the bytes its entry claims, and
// those bytes the connection's own (the generator's payload is a function of flow and offset).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { podspanBin, readIndex, repoRoot, run, type IndexEntry } from '../helpers/tools';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `podspan-signals-${process.pid}-`));
const capture = path.join(tmp, 'flows.pcap');

beforeAll(() => {
  const gen = path.join(repoRoot, 'bench', 'make-flows-capture.js');
  const r = run(process.execPath, [gen, capture, '--flows', '200000', '--mbytes', '200', '--reorder', '0', '--retransmit', '0'], { timeoutMs: 120_000 });
  expect(r.code, r.stderr).toBe(0);
}, 130_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// bench/make-flows-capture.js's payload: byte o of flow f (either direction) is PATTERN[(o + 7919 f) mod 65536].
const PATTERN = (() => {
  let seed = 0x9e3779b9;
  const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const p = Buffer.alloc(1 << 16);
  for (let i = 0; i < p.length; i++) p[i] = Math.floor(rand() * 256);
  return p;
})();
function flowOf(e: IndexEntry): number {
  const [, b, c, d] = (e.sport === 80 ? e.dst : e.src).split('.').map(Number);
  return ((b - 1) << 16) | (c << 8) | d;
}

interface Stopped {
  code: number | null;
  secondsAfterSignal: number;
  stderr: string;
}

/** Runs `podspan streams` and, at its first progress line (2 s in: writers busy), sends `signals` gapMs apart. */
function streamsStoppedBy(out: string, signals: NodeJS.Signals[], gapMs: number): Promise<Stopped> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [podspanBin, 'streams', '-r', capture, '-o', out], { stdio: ['ignore', 'ignore', 'pipe'] });
    const guard = setTimeout(() => child.kill('SIGKILL'), 120_000); // never left running
    let stderr = '';
    let signalledAt = 0;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (signalledAt === 0 && stderr.includes('… ')) {
        signalledAt = Date.now();
        signals.forEach((s, i) => setTimeout(() => child.kill(s), i * gapMs));
      }
    });
    child.on('error', reject);
    let exitedAt = 0;
    child.on('exit', () => (exitedAt = Date.now()));
    // 'close', after the last of its stderr ('exit' may come before it)
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, secondsAfterSignal: signalledAt ? (exitedAt - signalledAt) / 1000 : NaN, stderr });
    });
  });
}

type Entry = IndexEntry & { written?: boolean; unwritten_bytes?: number };

/** Checks the index against the disk exactly; returns how many entries say they were not fully written. */
function expectIndexMatchesDisk(out: string): number {
  const index = readIndex(out) as Entry[];
  const listed = new Set(index.map((e) => e.file));
  const unlisted = fs.readdirSync(out).filter((f) => f !== 'index.jsonl' && !listed.has(f));
  expect(unlisted).toEqual([]);
  const wrong: string[] = [];
  let unwritten = 0;
  for (const e of index) {
    const p = path.join(out, e.file);
    const data = fs.existsSync(p) ? fs.readFileSync(p) : undefined;
    if (e.written === false) unwritten++;
    else if (e.unwritten_bytes !== undefined) wrong.push(`${e.file}: unwritten_bytes without written: false`);
    // No gaps in this capture: a file holds exactly its entry's bytes (none: maybe no file at all).
    if (data === undefined ? e.written !== false || e.bytes !== 0 : data.length !== e.bytes) {
      wrong.push(`${e.file}: ${data?.length ?? 'no file'} on disk, index says ${e.bytes} bytes (written: ${e.written ?? true})`);
      continue;
    }
    if (e.sport === 80 && e.bytes + (e.unwritten_bytes ?? 0) !== 200) wrong.push(`${e.file}: reply of ${e.bytes} + ${e.unwritten_bytes ?? 0} bytes, not 200`);
    const f = flowOf(e);
    for (let o = 0; data && o < data.length; o++) {
      if (data[o] !== PATTERN[(o + f * 7919) % PATTERN.length]) {
        wrong.push(`${e.file}: byte ${o} is not the flow's`);
        break;
      }
    }
  }
  expect(wrong.slice(0, 5)).toEqual([]);
  return unwritten;
}

function summaryUnwritten(stderr: string): number {
  const m = stderr.match(/(\d+) files not fully written when stopped/);
  return m ? Number(m[1]) : 0;
}

describe('podspan streams stopped by signals', () => {
  it('SIGTERM: stops reading, drains for at most 5 s, exits with the index true to the files', async () => {
    const out = path.join(tmp, 'term');
    const r = await streamsStoppedBy(out, ['SIGTERM'], 0);
    expect(r.code, r.stderr).toBe(0);
    expect(r.secondsAfterSignal).toBeLessThan(10);
    expect(r.stderr).toContain('podspan: stopping: writing what is queued (at most 5 s; signal again to stop at once)');
    const unwritten = expectIndexMatchesDisk(out);
    expect(summaryUnwritten(r.stderr)).toBe(unwritten);
  }, 180_000);

  it('a second SIGINT gives up what is queued at once; files and index still agree', async () => {
    const out = path.join(tmp, 'int2');
    const r = await streamsStoppedBy(out, ['SIGINT', 'SIGINT'], 300);
    expect(r.code, r.stderr).toBe(0);
    expect(r.secondsAfterSignal).toBeLessThan(10);
    const unwritten = expectIndexMatchesDisk(out);
    expect(summaryUnwritten(r.stderr)).toBe(unwritten);
  }, 180_000);
});
