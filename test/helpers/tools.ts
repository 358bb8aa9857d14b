// Independent judges: capinfos and tshark (Wireshark) read what podspan writes.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import fs from 'node:fs';
import { expect } from 'vitest';

export const repoRoot = path.resolve(__dirname, '..', '..');
export const podspanBin = path.join(repoRoot, 'bin', 'podspan');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: opts.timeoutMs ?? 60_000, env: opts.env ?? process.env, maxBuffer: 256 << 20 });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/**
 * Lets the test worker's event loop turn. A test that runs many short commands in one loop
 * (spawnSync per corpus file) blocks the worker for the whole loop: at a minute, on a loaded
 * machine, vitest's own calls time out ("Timeout calling onTaskUpdate") and fail the suite
 * although every test passed. Awaited between files, the longest block is one command.
 */
export const letVitestIn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Polls `ok` every 50 ms until it holds; throws after `ms`, naming `what` when given. */
export async function until(ok: () => boolean | Promise<boolean>, ms = 10_000, what?: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(what ? `${what}: not within ${ms} ms` : 'timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Waits until process `pid` uses no CPU for `rounds` checks `everyMs` apart (a process whose
 * output nobody reads has then done all it can and waits on it, not still catching up on its
 * input); false if that did not happen within `deadlineMs`.
 */
export async function untilCpuStill(pid: number, rounds = 4, everyMs = 250, deadlineMs = 60_000): Promise<boolean> {
  const cpu = () => fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ').slice(11, 13).reduce((a, b) => a + Number(b), 0);
  let [last, still] = [-1, 0];
  for (const deadline = Date.now() + deadlineMs; still < rounds && Date.now() < deadline; await new Promise((r) => setTimeout(r, everyMs))) {
    const now = cpu();
    [last, still] = [now, now === last ? still + 1 : 0];
  }
  return still >= rounds;
}

/**
 * run() without blocking the test worker, for commands that take minutes (a compile): a worker
 * blocked for over a minute misses vitest's own calls and the run ends with "Timeout calling
 * onTaskUpdate", an unhandled error that fails the suite although every test passed.
 */
export function runAsync(cmd: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, timeout: opts.timeoutMs ?? 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) => resolve({ code: -1, stdout, stderr: stderr + e.message }));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export function podspan(args: string[], timeoutMs = 60_000): RunResult {
  return run(process.execPath, [podspanBin, ...args], { timeoutMs });
}

export interface FileSummary {
  packets: number;
  dataBytes: number;
  interfaces?: number;
}

/** capinfos -T (table) for many files at once: packets and data size (sum of captured lengths). */
export function capinfos(files: string[]): Map<string, FileSummary & { warning: string }> {
  const r = run('capinfos', ['-T', '-m', '-r', '-c', '-d', ...files]);
  const out = new Map<string, FileSummary & { warning: string }>();
  for (const line of r.stdout.trim().split('\n')) {
    if (!line) continue;
    const cols = line.split(',');
    const file = cols.slice(0, cols.length - 2).join(',');
    out.set(file, { packets: Number(cols[cols.length - 2]), dataBytes: Number(cols[cols.length - 1]), warning: r.stderr });
  }
  return out;
}

/** Per packet: frame.len, frame.cap_len, epoch time (as tshark prints it), interface id. */
export function tsharkFrames(file: string): { len: number; caplen: number; time: string; iface: number }[] {
  const r = run('tshark', ['-n', '-r', file, '-T', 'fields', '-E', 'separator=/t', '-e', 'frame.len', '-e', 'frame.cap_len', '-e', 'frame.time_epoch', '-e', 'frame.interface_id', '-e', 'frame.encap_type']);
  if (r.code !== 0) throw new Error(`tshark failed on ${file}: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .filter((l) => l.split('\t')[4] !== '') // tshark also lists non-packet pcapng blocks, with no encapsulation
    .map((l) => {
      const [len, caplen, time, iface] = l.split('\t');
      return { len: Number(len), caplen: Number(caplen), time, iface: Number(iface || 0) };
    });
}

/** tshark's stderr when reading a file: empty means it opened with no warning. */
export function tsharkWarnings(file: string): string {
  return run('tshark', ['-n', '-r', file, '-q'])
    .stderr.split('\n')
    .filter((l) => l.trim() && !/^Running as user "root"/.test(l))
    .join('\n');
}

export function corpusDir(): string | undefined {
  const dir = process.env.PODSPAN_CORPUS ?? path.resolve(repoRoot, '..', 'shared', 'corpus');
  return fs.existsSync(path.join(dir, 'MANIFEST.tsv')) ? dir : undefined;
}

export interface CorpusEntry {
  file: string;
  path: string;
  categories: string[];
  corrupt: boolean;
}

export function corpusEntries(dir: string): CorpusEntry[] {
  const lines = fs.readFileSync(path.join(dir, 'MANIFEST.tsv'), 'utf8').trim().split('\n').slice(1);
  return lines.map((line) => {
    const cols = line.split('\t');
    return {
      file: cols[0],
      path: path.join(dir, cols[0]),
      categories: (cols[5] ?? '').split(','),
      corrupt: (cols[7] ?? '').includes('CORRUPT/UNREADABLE per capinfos'),
    };
  });
}

export interface ParsedPcap {
  linktype: number;
  packets: { tsSec: number; tsUsec: number; caplen: number; origlen: number }[];
}

/** Reads a microsecond pcap with the pcap-parser package, a reader independent of ours. */
export function readWithPcapParser(file: string): Promise<ParsedPcap> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pcapp = require('pcap-parser') as { parse(f: string): NodeJS.EventEmitter };
  return new Promise((resolve, reject) => {
    const out: ParsedPcap = { linktype: -1, packets: [] };
    const parser = pcapp.parse(file);
    parser.on('globalHeader', (h: { linkLayerType: number }) => (out.linktype = h.linkLayerType));
    parser.on('packet', (p: { header: { timestampSeconds: number; timestampMicroseconds: number; capturedLength: number; originalLength: number } }) =>
      out.packets.push({ tsSec: p.header.timestampSeconds, tsUsec: p.header.timestampMicroseconds, caplen: p.header.capturedLength, origlen: p.header.originalLength }),
    );
    parser.on('error', reject);
    parser.on('end', () => resolve(out));
  });
}

/**
 * Runs tcpflow and `podspan streams` on one capture into TMP/tf/FILE and TMP/ours/FILE; fails
 * the calling test if podspan does not exit 0.
 */
export function streamsBesideTcpflow(e: CorpusEntry, tmp: string): { theirs: string; ours: string; code: number; stderr: string } {
  const theirs = path.join(tmp, 'tf', e.file);
  const ours = path.join(tmp, 'ours', e.file);
  fs.mkdirSync(theirs, { recursive: true });
  run('tcpflow', ['-r', e.path, '-o', theirs]);
  const r = podspan(['streams', '-r', e.path, '-o', ours]);
  return { theirs, ours, code: r.code, stderr: r.stderr };
}

/** One line of `podspan streams`' DIR/index.jsonl: a stream direction. */
export interface IndexEntry {
  src: string;
  sport: number;
  dst: string;
  dport: number;
  vlan: number;
  stream: number;
  file: string;
  bytes: number;
  gaps: number;
  missing_bytes: number;
  first_ts: string;
  last_ts: string;
  close_reason: string;
}

export function readIndex(dir: string): IndexEntry[] {
  return fs.readFileSync(path.join(dir, 'index.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as IndexEntry);
}

/** The one `podspan: …` line a refused command prints (asserted: exactly one, no stack trace). */
export function oneErrorLine(stderr: string): string {
  expect(stderr).not.toMatch(/\n\s+at /);
  const lines = stderr.trim().split('\n').filter((l) => l.startsWith('podspan: '));
  expect(lines).toHaveLength(1);
  return lines[0];
}
