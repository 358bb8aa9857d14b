// `npm install` must build the addon with nothing downloaded but npm packages. Where Node's own
// headers are missing, scripts/build-addon.js builds it with cmake-js against node-api-headers:
// forced here with npm's nodedir unset and an empty HOME (no cached headers), so a download
// would be needed and fail (this machine reaches no Node.js download site). The addon it makes
// must load and work.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, runAsync } from '../helpers/tools';

const hasCmake = spawnSync('cmake', ['--version']).status === 0;

describe('addon build without Node headers', () => {
  it.skipIf(!hasCmake)('builds podspan.node against node-api-headers and it talks to libpcap', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-home-'));
    const out = path.join(repoRoot, 'build', 'napi-headers-addon');
    fs.rmSync(out, { recursive: true, force: true });
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, PODSPAN_ADDON_BUILD: 'cmake-js', PODSPAN_ADDON_OUT: out };
    delete env.npm_config_nodedir;
    // A first build compiles the whole core (over a minute on two cores): not in a blocking call.
    const r = await runAsync(process.execPath, [path.join(repoRoot, 'scripts', 'build-addon.js')], { cwd: repoRoot, env, timeoutMs: 540_000 });
    fs.rmSync(home, { recursive: true, force: true });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/building the addon with cmake-js against node-api-headers/);
    // The addon loads in a fresh process and asks libpcap for its version and the interfaces.
    const probe = spawnSync(
      process.execPath,
      ['-e', `const a = require(${JSON.stringify(path.join(out, 'podspan.node'))}); console.log(a.libpcapVersion()); console.log(a.listInterfaces().some((d) => d.name === 'lo'))`],
      { encoding: 'utf8' },
    );
    expect(probe.status, probe.stderr).toBe(0);
    expect(probe.stdout).toMatch(/^libpcap version \d/);
    expect(probe.stdout.trim().split('\n')[1]).toBe('true');
  }, 600_000);

  it('refuses an unknown route in one line', () => {
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'scripts', 'build-addon.js')], {
      cwd: repoRoot,
      env: { ...process.env, PODSPAN_ADDON_BUILD: 'make' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('podspan: PODSPAN_ADDON_BUILD=make: expected node-gyp or cmake-js');
  });
});
