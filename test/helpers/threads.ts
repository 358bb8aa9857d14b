// A process's threads as /proc shows them (id, name, nice value, scheduling class), and the
// calling thread made to share its CPU with a spinning process.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';

export interface ThreadInfo {
  tid: number;
  comm: string;
  nice: number;
  /** Scheduling class: 0 SCHED_OTHER, 5 SCHED_IDLE. */
  policy: number;
}

/** SCHED_IDLE's number in /proc's stat. */
export const SCHED_IDLE = 5;

function parseStat(tid: number, stat: string): ThreadInfo {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // from the 3rd field (state) on
  return { tid, comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), nice: Number(fields[16]), policy: Number(fields[38]) };
}

/** The calling thread's own (the test runner's): what a process it starts begins with. */
export function ownThread(): ThreadInfo {
  return parseStat(0, fs.readFileSync('/proc/thread-self/stat', 'utf8'));
}

const gone = (err: unknown) => ['ENOENT', 'ESRCH'].includes((err as NodeJS.ErrnoException).code ?? '');

/**
 * The threads alive now: one that ends between the listing and the read of its stat is left out,
 * and a process that has ended and been reaped has none.
 */
export function threadsOf(pid: number): ThreadInfo[] {
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch (err) {
    if (gone(err)) return [];
    throw err;
  }
  const out: ThreadInfo[] = [];
  for (const tid of tids) {
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch (err) {
      // A fresh CI run failed here: a thread of the stopping replay ended in between.
      if (gone(err)) continue;
      throw err;
    }
    out.push(parseStat(Number(tid), stat));
  }
  return out;
}

/** Polls until `ok` holds for the threads of `pid` (at most `ms`); returns the last look either way. */
export async function threadsWhen(pid: number, ok: (threads: ThreadInfo[]) => boolean, ms = 5000): Promise<ThreadInfo[]> {
  let threads = threadsOf(pid);
  for (const end = Date.now() + ms; !ok(threads) && Date.now() < end; threads = threadsOf(pid)) await new Promise((r) => setTimeout(r, 50));
  return threads;
}

/**
 * The calling thread made to share one CPU with a spinning child process (bounded by `ms`), so
 * that while it is busy it also waits for that CPU, as a collector's event loop does beside its
 * uploads on one core. Resolves once the child spins; stop() ends it (by its PID) and gives the
 * thread its CPUs back.
 */
export async function shareCpuWithSpinner(ms: number): Promise<{ stop: () => void }> {
  const tid = fs.readlinkSync('/proc/thread-self').split('/').pop()!;
  const before = spawnSync('taskset', ['-p', '-c', tid], { encoding: 'utf8' }).stdout.split(':').pop()!.trim();
  const cpu = before.split(/[,-]/)[0];
  const spinner = spawn(process.execPath, ['-e', `process.stdout.write('spinning\\n', () => { for (const end = Date.now() + ${ms}; Date.now() < end; ); });`], { stdio: ['ignore', 'pipe', 'ignore'] });
  const pin = (id: string | number, cpus: string) => {
    const r = spawnSync('taskset', ['-p', '-c', cpus, String(id)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`taskset -p -c ${cpus} ${id}: ${r.stderr.trim()}`);
  };
  try {
    await new Promise<void>((resolve, reject) => {
      spinner.stdout.once('data', () => resolve());
      spinner.once('exit', (code) => reject(new Error(`the spinner exited (${code}) before it spun`)));
    });
    pin(tid, cpu);
    pin(spinner.pid!, cpu);
  } catch (err) {
    spinner.kill();
    pin(tid, before);
    throw err;
  }
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      spinner.kill();
      pin(tid, before);
    },
  };
}
