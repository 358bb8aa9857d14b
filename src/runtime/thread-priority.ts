// One thread's CPU priority (Linux: a nice value applies to one thread, not the whole process).
// Work that must never slow production's own processes (shadow replay, uploads) runs on a thread
// lowered to nice 19, while podspan's capture threads keep the process's priority so the kernel's
// ring is still drained in time.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { native } from '../capture/native';

/** The calling thread's id (/proc/thread-self is PID/task/TID); undefined off Linux. */
export function threadId(): number | undefined {
  try {
    return Number(path.basename(fs.readlinkSync('/proc/thread-self')));
  } catch {
    return undefined;
  }
}

/** Sets thread `tid` to `nice` unless it is already there or lower (a nice value only goes up here). */
function lowerThread(tid: number, nice: number): void {
  if (os.getPriority(tid) < nice) os.setPriority(tid, nice);
}

/**
 * Lowers the calling thread's priority to `nice` (threads it starts later inherit it). False when
 * the system refuses (then the thread keeps the process's priority).
 */
export function lowerThreadPriority(nice: number): boolean {
  const tid = threadId();
  if (tid === undefined) return false;
  try {
    lowerThread(tid, nice);
    return true;
  } catch {
    return false;
  }
}

/**
 * Calls `change` on every thread of process `pid` (its /proc/PID/task). True when every call
 * returned true or its thread ended meanwhile (ESRCH, ENOENT, or gone from /proc); false when one
 * was refused, or /proc could not be read.
 */
function forEachThread(pid: number | 'self', change: (tid: number) => boolean): boolean {
  let tids: number[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    return false; // gone already, or no /proc
  }
  let ok = true;
  for (const tid of tids) {
    try {
      if (!change(tid) && fs.existsSync(`/proc/${pid}/task/${tid}`)) ok = false;
    } catch (err) {
      const codes = [(err as NodeJS.ErrnoException).code, (err as { info?: { code?: string } }).info?.code];
      if (!codes.includes('ESRCH') && !codes.includes('ENOENT')) ok = false; // a thread that just ended is fine
    }
  }
  return ok;
}

/**
 * Raises back to the main thread's priority every thread of this process at `nice` (a lowered
 * thread that must now finish promptly, e.g. a worker being ended on a saturated machine, and the
 * threads it started). Needs CAP_SYS_NICE (or RLIMIT_NICE): false when refused, the threads left
 * as they were.
 */
export function raiseThreadsAt(nice: number): boolean {
  const to = os.getPriority(process.pid);
  return forEachThread('self', (tid) => {
    if (os.getPriority(tid) === nice) os.setPriority(tid, to);
    return true;
  });
}

/**
 * Raises every thread of process `pid` (a child this process lowered, e.g. shadow replay, or this
 * process itself) back to SCHED_OTHER at nice `to` (default: this process's main thread's). For
 * work that must now end promptly: on a machine with no idle CPU a SCHED_IDLE thread hardly runs.
 * Needs CAP_SYS_NICE (or an RLIMIT_NICE that allows it): false when refused, the threads left as
 * they were.
 */
export function raiseProcess(pid: number, to = os.getPriority(process.pid)): boolean {
  return forEachThread(pid, (tid) => {
    const normal = native().setThreadNormal(tid);
    if (os.getPriority(tid) > to) os.setPriority(tid, to);
    return normal;
  });
}

/** The lowest nice value, where work steps back for everything else; it also puts threads in SCHED_IDLE (see lowerProcessPriorityExcept). */
export const LOWEST_NICE = 19;

/**
 * Lowers every thread of this process to `nice` except those named `keep` (e.g. podspan's capture
 * threads; undefined: none): the JavaScript thread, V8's garbage collection and compiler threads,
 * libuv's pool. At the lowest, 19, they also go to SCHED_IDLE, the kernel's class for work that
 * runs only when nothing else wants the CPU (under plain nice 19 a busy production process still
 * waited behind them now and then: BENCHMARKS.md, shadow live). False when the system refused
 * (or off Linux); threads started later inherit their creator's priority and class.
 */
export function lowerProcessPriorityExcept(keep: string | undefined, nice: number): boolean {
  const idle = nice >= LOWEST_NICE ? native().setThreadIdle : undefined;
  return forEachThread('self', (tid) => {
    if (fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === keep) return true;
    lowerThread(tid, nice);
    return idle ? idle(tid) : true;
  });
}
