// makeDirs, podspan's `mkdir -p`: what it makes and returns, mkdir's own errors, and an answer
// where Node 20's recursive mkdir never returns (a missing folder under /proc).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeDirs } from '../../src/runtime/make-dirs';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-make-dirs-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as NodeJS.ErrnoException).code;
  }
  return 'none';
};

describe('makeDirs', () => {
  it('makes the missing folders and returns the first it made; undefined when all were there', () => {
    const deep = path.join(tmp, 'a', 'b', 'c');
    expect(makeDirs(deep)).toBe(path.join(tmp, 'a'));
    expect(fs.statSync(deep).isDirectory()).toBe(true);
    expect(makeDirs(deep)).toBeUndefined();
    expect(makeDirs(path.join(tmp, 'a', 'b', 'd'))).toBe(path.join(tmp, 'a', 'b', 'd'));
  });

  it("mkdir's own errors: EEXIST for a file at the path, ENOTDIR for a file on the way", () => {
    const file = path.join(tmp, 'file');
    fs.writeFileSync(file, '');
    expect(code(() => makeDirs(file))).toBe('EEXIST');
    expect(code(() => makeDirs(path.join(file, 'x', 'y')))).toBe('ENOTDIR');
  });

  it.runIf(fs.existsSync('/proc/self'))('a missing folder under /proc is ENOENT at once, not a spin', () => {
    const t0 = Date.now();
    expect(code(() => makeDirs('/proc/podspan-no-such/x'))).toBe('ENOENT');
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
