// `podspan collector` as a child process for tests: started on a free loopback port, its stderr
// kept, tracked so killStarted() ends it if a test fails half-way.
import { spawn } from 'node:child_process';
import { podspanBin } from './tools';
import { exitStatus, track, type Running } from './netns';

export interface CollectorProcess extends Running {
  pid: number;
  port: number;
  /** http://…/metrics when started with --metrics-listen. */
  metricsUrl?: string;
}

export async function startCollector(args: string[], env?: Record<string, string>): Promise<CollectorProcess> {
  const child = track(spawn(process.execPath, [podspanBin, 'collector', '--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } }));
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = exitStatus(child);
  const ready = args.includes('--metrics-listen') ? /metrics on/ : /listening on/;
  const deadline = Date.now() + 15_000;
  while (!ready.test(err)) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`the collector did not start: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    child,
    pid: child.pid!,
    stderr: () => err,
    exited,
    port: Number(/listening on [^\s]*:(\d+)/.exec(err)![1]),
    metricsUrl: /metrics on (http:\S+)/.exec(err)?.[1],
  };
}

/** Sends `signal` and resolves with the exit code and how long the exit took (SIGKILL after `killAfterMs`). */
export async function signalAndTime(c: CollectorProcess, signal: NodeJS.Signals, killAfterMs = 60_000): Promise<{ code: number; ms: number }> {
  const t0 = Date.now();
  c.child.kill(signal);
  const timer = setTimeout(() => c.child.kill('SIGKILL'), killAfterMs);
  const code = await c.exited;
  clearTimeout(timer);
  return { code, ms: Date.now() - t0 };
}
