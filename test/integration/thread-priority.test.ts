// Raising a lowered child back from outside (src/runtime/thread-priority.ts raiseProcess), as the
// agent does to its shadow replay process when it stops: on a node with no idle CPU a SCHED_IDLE
// process never runs, and the replay's last report was lost to the agent's exit deadline. The
// child lowers itself as the replay does (every thread nice 19 in SCHED_IDLE); /proc is the judge.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ownThread, SCHED_IDLE, threadsOf } from '../helpers/threads';
import { repoRoot } from '../helpers/tools';

const dist = path.join(repoRoot, 'dist');
const { raiseProcess } = createRequire(__filename)(path.join(dist, 'runtime', 'thread-priority.js')) as typeof import('../../src/runtime/thread-priority');

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.log('thread priority tests skipped: raising a thread back needs root (CAP_SYS_NICE)');

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe.skipIf(!isRoot)('raising a lowered process back', () => {
  it("puts every thread of a child at nice 19 in SCHED_IDLE back in SCHED_OTHER at the caller's nice", async () => {
    const script = `
      const { lowerProcessPriorityExcept } = require(${JSON.stringify(path.join(dist, 'runtime', 'thread-priority.js'))});
      console.log(lowerProcessPriorityExcept(undefined, 19) ? 'lowered' : 'refused');
      process.stdin.resume();`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    cleanups.push(() => void child.kill());
    const said = await new Promise<string>((resolve, reject) => {
      child.stdout.once('data', (d) => resolve(String(d).trim()));
      child.once('exit', () => reject(new Error('the child ended before lowering itself')));
    });
    expect(said).toBe('lowered');
    const lowered = threadsOf(child.pid!);
    expect(lowered.length).toBeGreaterThan(1); // V8's and libuv's threads too, not the main one alone
    expect(lowered.filter((t) => t.nice !== 19 || t.policy !== SCHED_IDLE)).toEqual([]);

    expect(raiseProcess(child.pid!)).toBe(true);
    const own = ownThread();
    expect(threadsOf(child.pid!).filter((t) => t.nice !== own.nice || t.policy !== own.policy)).toEqual([]);
    child.stdin.end();
    expect(await new Promise((r) => child.once('exit', r))).toBe(0);
  });

  it('a process already gone: false, no exception', () => {
    const child = spawn(process.execPath, ['-e', '0']);
    return new Promise<void>((resolve) =>
      child.once('close', () => {
        expect(raiseProcess(child.pid!)).toBe(false);
        resolve();
      }),
    );
  });
});
