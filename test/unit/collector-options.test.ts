// `podspan collector` limit flags: defaults, values, and one message naming the flag when wrong;
// --out naming a file, or a file flag naming a folder, is refused before anything starts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCollectorFlags } from '../../src/config/collector-options';

const base = { listen: '127.0.0.1:0', out: path.join(os.tmpdir(), `podspan-copt-${process.pid}`) };

describe('collector limit flags', () => {
  it('defaults bound agents, interfaces, VXLAN pairs and idle files', () => {
    const o = parseCollectorFlags(base);
    expect(o.limits).toEqual({ maxAgents: 1024, maxInterfaces: 4096, idleMs: 300_000 });
    expect(o.maxVxlanSources).toBe(4096);
    expect(o.pageCache).toBe(false); // files written around the page cache where the file system allows
  });

  it('takes each flag, 0 turning idle closing off', () => {
    const o = parseCollectorFlags({ ...base, maxAgents: '3', maxInterfaces: '7', maxVxlanSources: '9', agentIdleTimeout: '0' });
    expect(o.limits).toEqual({ maxAgents: 3, maxInterfaces: 7, idleMs: 0 });
    expect(o.maxVxlanSources).toBe(9);
    expect(parseCollectorFlags({ ...base, pageCache: true }).pageCache).toBe(true);
  });

  it.each([
    [{ maxAgents: '0' }, '--max-agents must be at least 1'],
    [{ maxInterfaces: 'many' }, '--max-interfaces takes a whole number'],
    [{ maxVxlanSources: '-1' }, '--max-vxlan-sources takes a whole number'],
    [{ agentIdleTimeout: '1.5' }, '--agent-idle-timeout takes a whole number'],
    // 0 used to be taken and meant "off" without a word; capture refuses it too.
    [{ fileSize: '0' }, '-C must be greater than 0'],
    [{ rotateSeconds: '0' }, '-G must be at least 1'],
    [{ fileSize: '1', fileCount: '0' }, '-W must be at least 1'],
    [{ store: 's3://podspan/x', storeSpoolMb: '0' }, '--store-spool-mb must be greater than 0'],
  ])('%o is refused: %s', (flags, message) => {
    expect(() => parseCollectorFlags({ ...base, ...flags })).toThrow(message);
  });

  it('--out naming a file is refused with its name', () => {
    const file = path.join(os.tmpdir(), `podspan-copt-file-${process.pid}`);
    fs.writeFileSync(file, '');
    try {
      expect(() => parseCollectorFlags({ ...base, out: file })).toThrow(`--out ${file}: exists and is not a folder`);
    } finally {
      fs.rmSync(file);
    }
  });

  it('a folder given as a file (--token-file, --tls-cert) is refused with its name, not read (EISDIR was an internal error)', () => {
    const dir = os.tmpdir();
    expect(() => parseCollectorFlags({ ...base, tokenFile: dir, insecure: true })).toThrow(`--token-file ${dir}: is a folder, not a file`);
    expect(() => parseCollectorFlags({ ...base, tlsCert: dir, tlsKey: dir })).toThrow(`--tls-cert ${dir}: is a folder, not a file`);
  });
});
