// What `npm install -g podspan` and `npx podspan` get: the bin, the compiled CLI, and what the
// install step needs to build the addon on the user's machine.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, run } from '../helpers/tools';

const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
  scripts: Record<string, string>;
};

describe('package', () => {
  it('exposes bin/podspan, an executable node script', () => {
    expect(pkg.bin.podspan).toBe('bin/podspan');
    const bin = path.join(repoRoot, pkg.bin.podspan);
    expect(fs.readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(fs.statSync(bin).mode & 0o111).not.toBe(0);
  });

  it('builds the addon on install, after checking for libpcap headers', () => {
    expect(pkg.scripts.install).toBe('node scripts/check-libpcap.js && node scripts/build-addon.js');
  });

  it('packs what an install from the registry needs', () => {
    const r = run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0].files.map((f) => f.path);
    for (const f of ['bin/podspan', 'dist/cli/main.js', 'dist/cli/start.js', 'dist/cli/podspan-cli.js', 'dist/cli/podspan-cli.js.cache', 'dist/index.js', 'scripts/bundle-cli.js', 'binding.gyp', 'scripts/check-libpcap.js', 'scripts/build-addon.js', 'native/CMakeLists.txt', 'native/package.json', 'scripts/native-sources.js', 'README.md']) {
      expect(files, f).toContain(f);
    }
    // Every source binding.gyp compiles (scripts/native-sources.js lists them) ships in the package.
    const sources = run('node', ['scripts/native-sources.js'], { timeoutMs: 10_000 }).stdout.trim().split(' ');
    expect(sources).toContain('native/addon/module.cc');
    expect(sources).toContain('native/core/capture/capture_session.cc');
    for (const f of sources) expect(files, f).toContain(f);
    expect(files.some((f) => f.startsWith('test/') || f.startsWith('build/'))).toBe(false);
  });

  it("every name the README's library examples import from 'podspan' is exported by the package's main module", async () => {
    const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    // The examples once imported from 'podspan/dist/src/...', a path the build never made.
    expect(readme).not.toMatch(/from 'podspan\//);
    const names = [...readme.matchAll(/import \{([^}]+)\} from 'podspan';/g)].flatMap((m) => m[1].split(',').map((n) => n.trim()).filter(Boolean));
    expect(names).toEqual(expect.arrayContaining(['CaptureSession', 'readRecords', 'readExchanges', 'parseExchangeBatch']));
    const main = (await import(path.join(repoRoot, 'dist', 'index.js'))) as Record<string, unknown>;
    for (const name of names) expect(typeof main[name], name).toBe('function');
  });
});
