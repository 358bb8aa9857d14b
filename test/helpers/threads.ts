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

export function threadsOf(pid: number): ThreadInfo[] {
  return fs.readdirSync(`/proc/${pid}/task`).map((tid) => parseStat(Number(tid), fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')));
}

/** Polls until `ok` holds for the threads of `pid` (at most `ms`); returns the last look either way. */
export async function threadsWhen(pid: number, ok: (threads: ThreadInfo[]) => boolean, ms = 5000): Promise<ThreadInfo[]> {
  let threads = threadsOf(pid);
  for (const end = Date.now() + ms; !ok(threads) && Date.now() < end; threads = threadsOf(pid)) await new Promise((r) => setTimeout(r, 50));
  return threads;
}
