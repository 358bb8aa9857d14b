// Test networks in network namespaces the tests create and remove: namespaces with IPv6 off (so
// the kernel adds no frames of its own), veth pairs between them, exact frame counts from
// trafgen, and podspan or tcpdump started inside a namespace. Names carry the test's PID.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { podspanBin, run } from './tools';

export const canUseNetns = process.getuid?.() === 0 && run('which', ['trafgen', 'ip']).code === 0;

export function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

export function inNs(ns: string, cmd: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, ...cmd], { stdio: 'pipe', encoding: 'utf8', timeout: 30_000 });
}

export function addNamespaces(names: string[]): void {
  removeNamespaces(names);
  for (const ns of names) {
    ip('netns', 'add', ns);
    inNs(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
    inNs(ns, ['sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1']);
    inNs(ns, ['ip', 'link', 'set', 'lo', 'up']);
  }
}

export function removeNamespaces(names: string[]): void {
  for (const ns of names) run('ip', ['netns', 'del', ns]);
}

/**
 * A pod as a CNI makes one: namespace `ns` with eth0, whose peer `host` is in this namespace (up,
 * IPv6 off so the host sends nothing of its own on it), and with `podIp` the pod's address routed
 * to `host` (as Calico does) and a default route out of eth0.
 */
export function addPodVeth(ns: string, host: string, podIp?: string): void {
  ip('link', 'add', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
  run('sysctl', ['-qw', `net.ipv6.conf.${host}.disable_ipv6=1`]);
  ip('link', 'set', host, 'up');
  inNs(ns, ['ip', 'link', 'set', 'eth0', 'up']);
  if (!podIp) return;
  inNs(ns, ['ip', 'addr', 'add', `${podIp}/32`, 'dev', 'eth0']);
  ip('route', 'add', `${podIp}/32`, 'dev', host);
  inNs(ns, ['ip', 'route', 'add', 'default', 'dev', 'eth0']);
}

/** A veth pair from namespace A (device a) to namespace B (device b), both up. */
export function addVeth(nsA: string, a: string, nsB: string, b: string): void {
  ip('link', 'add', a, 'netns', nsA, 'type', 'veth', 'peer', 'name', b, 'netns', nsB);
  inNs(nsA, ['ip', 'link', 'set', a, 'up']);
  inNs(nsB, ['ip', 'link', 'set', b, 'up']);
}

/** Two namespaces of a test joined by a veth pair, addressed 198.18.0.1 (A) and 198.18.0.2 (B). */
export function addAddressedPair(nsA: string, a: string, nsB: string, b: string): void {
  addNamespaces([nsA, nsB]);
  addVeth(nsA, a, nsB, b);
  inNs(nsA, ['ip', 'addr', 'add', '198.18.0.1/24', 'dev', a]);
  inNs(nsB, ['ip', 'addr', 'add', '198.18.0.2/24', 'dev', b]);
}

export interface TrafgenOptions {
  proto?: 'udp' | 'tcp';
  dport?: number;
  payload?: number;
  sport?: string;
  pps?: number;
}

function trafgenCommand(dev: string, count: number, opts: TrafgenOptions): { cfg: string; args: string[] } {
  const sport = opts.sport ?? '40000';
  const l4 = opts.proto === 'tcp' ? `tcp(sport=${sport}, dport=${opts.dport ?? 80}, syn)` : `udp(sport=${sport}, dport=${opts.dport ?? 5000})`;
  const cfg = path.join(os.tmpdir(), `podspan-trafgen-${process.pid}-${Math.random().toString(36).slice(2)}.cfg`);
  fs.writeFileSync(
    cfg,
    `{ eth(da=02:00:00:00:00:02, sa=02:00:00:00:00:01), ipv4(saddr=198.18.0.1, daddr=198.18.0.2), ${l4}, fill(0x41, ${opts.payload ?? 58}) }\n`,
  );
  return { cfg, args: ['trafgen', '--dev', dev, '--conf', cfg, '--num', String(count), '--cpus', '1', '--rate', `${opts.pps ?? 100000}pps`, '-q'] };
}

/** Sends exactly `count` frames from `dev` in `ns` with trafgen: UDP (or TCP SYN) of `payload` bytes. */
export function trafgen(ns: string, dev: string, count: number, opts: TrafgenOptions = {}): void {
  const { cfg, args } = trafgenCommand(dev, count, opts);
  try {
    inNs(ns, args);
  } finally {
    fs.rmSync(cfg, { force: true });
  }
}

/** The same, in the background: resolves when trafgen has sent everything. */
export function trafgenInBackground(ns: string, dev: string, count: number, opts: TrafgenOptions = {}): Promise<void> {
  const { cfg, args } = trafgenCommand(dev, count, opts);
  const child = track(spawn('ip', ['netns', 'exec', ns, ...args], { stdio: 'ignore' }));
  return new Promise((resolve) =>
    child.on('exit', () => {
      fs.rmSync(cfg, { force: true });
      resolve();
    }),
  );
}

/**
 * The same, for a consumer that needs frames to keep coming until it has what it wants (a live
 * view starting up): bounded by `count`, and ended early (by its PID) with stop().
 */
export function trafgenUntilStopped(ns: string, dev: string, count: number, opts: TrafgenOptions = {}): { stop(): Promise<void> } {
  const { cfg, args } = trafgenCommand(dev, count, opts);
  // Its own process group: trafgen sends from a forked worker, and stops as on Ctrl-C only when
  // the whole group gets SIGINT.
  const child = track(spawn('ip', ['netns', 'exec', ns, ...args], { stdio: 'ignore', detached: true }));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    async stop() {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGINT');
      await exited;
      fs.rmSync(cfg, { force: true });
    },
  };
}

/** Every process started here, so a failed test can still end them (see killStarted). */
const started = new Set<ChildProcess>();

/** Ends (SIGKILL) every process started through this module that is still running. */
export function killStarted(): void {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  started.clear();
}

/** Remembers a process started elsewhere in a test, for killStarted(). */
export function track(child: ChildProcess): ChildProcess {
  started.add(child);
  child.on('exit', () => started.delete(child));
  return child;
}

/**
 * The exit status of `child` (128 when a signal ended it), once what it wrote to its pipes is read
 * too: 'exit' may come before its last lines ('close' comes after them). A child of its own that
 * keeps the pipes open must not hold a test: at most `graceMs` after 'exit'.
 */
export function exitStatus(child: ChildProcess, graceMs = 2000): Promise<number> {
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      const status = code ?? (signal ? 128 : -1);
      const timer = setTimeout(() => resolve(status), graceMs);
      child.once('close', () => {
        clearTimeout(timer);
        resolve(status);
      });
    }),
  );
}

export interface Running {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number>;
}

/** Starts a command in `ns`; resolves once its stderr has shown `ready` `times` times. */
export async function startInNs(ns: string, cmd: string[], ready: RegExp, times = 1): Promise<Running> {
  const child = track(spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  child.stdout!.resume();
  const exited = exitStatus(child);
  const deadline = Date.now() + 10_000;
  const global = new RegExp(ready.source, 'g');
  while ((err.match(global) ?? []).length < times) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`${cmd.join(' ')} did not start: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, stderr: () => err, exited };
}

/** podspan capture in `ns`, once it listens on every -i. */
export function startCapture(ns: string, args: string[]): Promise<Running> {
  return startInNs(ns, [process.execPath, podspanBin, 'capture', ...args], /listening on/, args.filter((a) => a === '-i').length);
}

/** Ends a process we started (SIGINT by default) after the last ring block timed out. */
export async function stopProcess(r: Running, signal: NodeJS.Signals = 'SIGINT'): Promise<number> {
  await new Promise((res) => setTimeout(res, 300));
  r.child.kill(signal);
  const timer = setTimeout(() => r.child.kill('SIGKILL'), 10_000);
  const code = await r.exited;
  clearTimeout(timer);
  return code;
}
