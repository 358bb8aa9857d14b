// A process's threads as /proc shows them: id, name (comm) and nice value.
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
