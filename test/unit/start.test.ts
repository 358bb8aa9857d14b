// How bin/podspan starts: the CLI's bundle with V8's code cache, when they are there and fit;
// otherwise the compiled modules. A stale bundle or a cache made for other bytes must never run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { BUILD_MARK, BUNDLE, CODE_CACHE, loadCli, WRITE_CACHE_ENV } from '../../src/cli/start';
import { repoRoot, run } from '../helpers/tools';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-start-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const later = (file: string, seconds: number) => {
  const t = new Date(Date.now() + seconds * 1000);
  fs.utimesSync(file, t, t);
};
/** A CLI whose main() says where it came from; a bundle's last line names its build, as scripts/bundle-cli.js writes it. */
function write(name: string, who: string, build = randomUUID()): string {
  const file = path.join(dir, name);
  const mark = name === BUNDLE ? `${BUILD_MARK}${build}\n` : '';
  fs.writeFileSync(file, `'use strict';\nexports.main = () => ${JSON.stringify(who)};\nexports.dir = __dirname;\nexports.sep = require('node:path').sep;\n${mark}`);
  return file;
}
/** Loads the bundle in a process of its own with the cache to be written at its exit. */
function writeCache(): void {
  const start = path.join(repoRoot, 'dist', 'cli', 'start.js');
  const r = run(process.execPath, ['-e', `require(${JSON.stringify(start)}).loadCli(${JSON.stringify(dir)})`], {
    env: { ...process.env, [WRITE_CACHE_ENV]: '1' },
  });
  expect(r.code, r.stderr).toBe(0);
}

describe('podspan starts from its bundle when it can', () => {
  it('no bundle: the compiled modules', () => {
    write('main.js', 'files');
    const s = loadCli(dir);
    expect([s.from, s.cache, s.cli.main([])]).toEqual(['files', 'none', 'files']);
  });

  it('a bundle at least as new as main.js: the bundle, with require and __dirname of its own folder', () => {
    write('main.js', 'files');
    later(write(BUNDLE, 'bundle'), 10);
    const s = loadCli(dir);
    expect([s.from, s.cache, s.cli.main([])]).toEqual(['bundle', 'none', 'bundle']);
    expect((s.cli as unknown as { dir: string; sep: string }).dir).toBe(dir);
    expect((s.cli as unknown as { sep: string }).sep).toBe('/');
  });

  it('main.js newer than the bundle (tsc ran after it): the modules, never the older bundle', () => {
    write(BUNDLE, 'bundle');
    later(write('main.js', 'files'), 10);
    expect(loadCli(dir).from).toBe('files');
  });

  it('uses the cache made for the bundle\'s build, whatever its modification time; another build of the same length ignores it', () => {
    write('main.js', 'files');
    const bundle = write(BUNDLE, 'bundle');
    later(bundle, 10);
    writeCache();
    expect(fs.statSync(path.join(dir, CODE_CACHE)).size).toBeGreaterThan(36);
    expect(loadCli(dir).cache).toBe('used');
    // npm's tarballs give every file the same old time: the cache still fits.
    const old = new Date('1985-10-26T08:15:00Z');
    for (const f of fs.readdirSync(dir)) fs.utimesSync(path.join(dir, f), old, old);
    expect(loadCli(dir)).toMatchObject({ from: 'bundle', cache: 'used' });
    // Same length, other bytes, another build: V8 checks only the length, the build's name tells.
    write(BUNDLE, 'BUNDLE');
    const s = loadCli(dir);
    expect([s.cache, s.cli.main([])]).toEqual(['none', 'BUNDLE']);
  });

  it('a cache V8 refuses (damaged, or another Node\'s): the bundle runs, compiled as usual', () => {
    write('main.js', 'files');
    const bundle = write(BUNDLE, 'bundle');
    later(bundle, 10);
    writeCache();
    const cache = path.join(dir, CODE_CACHE);
    const bytes = fs.readFileSync(cache);
    bytes.fill(0x5a, 36 + 8); // the build's name still fits this bundle; V8's part is garbage
    fs.writeFileSync(cache, bytes);
    const s = loadCli(dir);
    expect([s.from, s.cache, s.cli.main([])]).toEqual(['bundle', 'rejected', 'bundle']);
  });

  it('the built tree: bin/podspan runs the bundle, and V8 takes its cache', () => {
    const dist = path.join(repoRoot, 'dist', 'cli');
    if (!fs.existsSync(path.join(dist, BUNDLE))) return expect.fail('dist/cli has no bundle: npm install runs scripts/bundle-cli.js');
    const r = run(process.execPath, ['-e', `const s = require(${JSON.stringify(path.join(dist, 'start.js'))}).loadCli(${JSON.stringify(dist)}); console.log(s.from, s.cache)`]);
    expect(r.stdout.trim()).toBe('bundle used');
  });
});
