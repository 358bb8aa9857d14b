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
});
