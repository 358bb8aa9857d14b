// src/cli/exit-when-idle.ts: a finished command exits at once when the event loop holds nothing
// (Node's 'beforeExit', emitted only on the way to its normal end, never comes), with the exit
// code the command set; anything still pending (a timer, a file read, standard output's stream)
// runs first and the process ends as it would have.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, run } from '../helpers/tools';

const mod = JSON.stringify(path.join(repoRoot, 'dist', 'cli', 'exit-when-idle.js'));
/**
 * Runs `body` after exitWhenIdle() in a process of its own; it tells what happened on fd 2
 * (`said`), apart from standard output (`out`): a write of its own to a standard output pipe
 * still full of the body's megabyte could fail with EAGAIN (1 run in ~20 beside CPU burners).
 */
function idleExit(body: string): { code: number | null; said: string; out: string } {
  const script = `const fs = require('node:fs'); const say = (s) => fs.writeSync(2, s + '\\n');
process.on('beforeExit', () => say('beforeExit')); process.on('exit', (c) => say('exit ' + c));
require(${mod}).exitWhenIdle(); ${body}`;
  const r = run(process.execPath, ['-e', script]);
  return { code: r.code, said: r.stderr, out: r.stdout };
}

describe('a finished command exits when nothing is left to run', () => {
  it('exits at once, with the exit code set, when the event loop is empty', () => {
    expect(idleExit('process.exitCode = 3;')).toEqual({ code: 3, said: 'exit 3\n', out: '' });
  });

  it('waits for a timer, a file read and promise reactions still pending', () => {
    const r = idleExit(`setTimeout(() => say('timer'), 30);
fs.readFile(__filename, () => say('read'));
Promise.resolve().then(() => say('reaction'));`);
    expect(r.code).toBe(0);
    expect(r.said.split('\n').sort()).toEqual(['', 'beforeExit', 'exit 0', 'reaction', 'read', 'timer'].sort());
  });

  it("waits for standard output's stream", () => {
    const r = idleExit(`process.stdout.write('x'.repeat(1 << 20) + '\\n');`);
    expect(r.code).toBe(0);
    expect(r.out.length).toBe((1 << 20) + 1);
    expect(r.said).toBe('beforeExit\nexit 0\n');
  });
});
