// `npm install` without libpcap headers must stop with one line naming the package to install.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, run } from '../helpers/tools';

describe('install check', () => {
  it('passes where pcap/pcap.h is installed', () => {
    const r = run(process.execPath, [path.join(repoRoot, 'scripts/check-libpcap.js')]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('says which package to install when the header is missing', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-cc-'));
    const fakeCompiler = path.join(dir, 'c++');
    // A compiler that cannot find pcap/pcap.h, as on a machine without libpcap-dev.
    fs.writeFileSync(fakeCompiler, '#!/bin/sh\necho "fatal error: pcap/pcap.h: No such file or directory" >&2\nexit 1\n', { mode: 0o755 });
    const r = run(process.execPath, [path.join(repoRoot, 'scripts/check-libpcap.js')], { env: { ...process.env, CXX: fakeCompiler } });
    fs.rmSync(dir, { recursive: true, force: true });
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^podspan: libpcap headers \(pcap\/pcap\.h\) not found: install libpcap-dev/);
  });

  // A compiler that finds every header but `missing`, as on a machine without its package.
  function checkWithout(missing: string, env: NodeJS.ProcessEnv = {}) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-cc-'));
    const fakeCompiler = path.join(dir, 'c++');
    fs.writeFileSync(fakeCompiler, `#!/bin/sh\nif grep -q '${missing}'; then echo "fatal error: ${missing}: No such file" >&2; exit 1; fi\nexit 0\n`, {
      mode: 0o755,
    });
    const r = run(process.execPath, [path.join(repoRoot, 'scripts/check-libpcap.js')], { env: { ...process.env, CXX: fakeCompiler, ...env } });
    fs.rmSync(dir, { recursive: true, force: true });
    return { code: r.code, lines: r.stderr.trim().split('\n') };
  }

  it('names libnghttp2-dev when nghttp2/nghttp2.h is missing', () => {
    const r = checkWithout('nghttp2/nghttp2.h');
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/^podspan: nghttp2 headers \(nghttp2\/nghttp2\.h.*not found: install libnghttp2-dev/);
  });

  it("names node-llhttp when llhttp's sources are missing", () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-llhttp-'));
    const r = checkWithout('nothing-missing', { LLHTTP_DIR: empty });
    fs.rmSync(empty, { recursive: true, force: true });
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/^podspan: llhttp sources .* not found: install node-llhttp/);
  });
});
