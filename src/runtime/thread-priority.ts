// One thread's CPU priority (Linux: a nice value applies to one thread, not the whole process).
// Work that must never slow production's own processes (shadow replay, uploads) runs on a thread
// lowered to nice 19, while podspan's capture threads keep the process's priority so the kernel's
// ring is still drained in time.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The calling thread's id (/proc/thread-self is PID/task/TID); undefined off Linux. */
export function threadId(): number | undefined {
  try {
    return Number(path.basename(fs.readlinkSync('/proc/thread-self')));
  } catch {
    return undefined;
  }
}

/**
 * Lowers the calling thread's priority to `nice` (threads it starts later inherit it). False when
 * the system refuses (then the thread keeps the process's priority).
 */
export function lowerThreadPriority(nice: number): boolean {
  const tid = threadId();
  if (tid === undefined) return false;
  try {
    if (os.getPriority(tid) >= nice) return true;
    os.setPriority(tid, nice);
    return true;
  } catch {
    return false;
  }
}
