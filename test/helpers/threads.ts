// A process's threads as /proc shows them: id, name (comm) and nice value.
import fs from 'node:fs';

export interface ThreadInfo {
  tid: number;
  comm: string;
  nice: number;
}

export function threadsOf(pid: number): ThreadInfo[] {
  return fs.readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // from the 3rd field (state) on
    return { tid: Number(tid), comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), nice: Number(fields[16]) };
  });
}

/** Polls until `ok` holds for the threads of `pid` (at most `ms`); returns the last look either way. */
export async function threadsWhen(pid: number, ok: (threads: ThreadInfo[]) => boolean, ms = 5000): Promise<ThreadInfo[]> {
  let threads = threadsOf(pid);
  for (const end = Date.now() + ms; !ok(threads) && Date.now() < end; threads = threadsOf(pid)) await new Promise((r) => setTimeout(r, 50));
  return threads;
}
