// `podspan extcap install`: puts a small launcher into Wireshark's personal extcap folder, so
// Wireshark and `tshark -D` list podspan's sources. The folder is the one the installed
// Wireshark reads: its "Personal Extcap path" (4.2 and later) or, before that, the personal
// configuration folder's extcap/ (as `tshark -G folders` reports them).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OutputError } from '../errors';
import { makeDirs } from '../runtime/make-dirs';

export function personalExtcapDir(): string {
  const r = spawnSync('tshark', ['-G', 'folders'], { encoding: 'utf8', timeout: 10_000 });
  const folder = (label: string) => r.stdout?.split('\n').find((l) => l.startsWith(`${label}:`))?.slice(label.length + 1).trim();
  const extcap = folder('Personal Extcap path');
  if (extcap) return extcap;
  const config = folder('Personal configuration');
  return path.join(config ?? path.join(os.homedir(), '.config', 'wireshark'), 'extcap');
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Writes DIR/podspan (executable) and returns its path. */
export function installExtcap(opts: { dir?: string; collector?: string }): string {
  const dir = opts.dir ?? personalExtcapDir();
  const file = path.join(dir, 'podspan');
  const bin = path.resolve(__dirname, '..', '..', 'bin', 'podspan');
  const args = [process.execPath, bin, 'extcap', ...(opts.collector ? ['--collector', opts.collector] : [])].map(shellQuote).join(' ');
  const script = `#!/bin/sh\n# Installed by \`podspan extcap install\`: Wireshark runs this to list and capture podspan's sources.\nexec ${args} "$@"\n`;
  try {
    makeDirs(dir);
    fs.writeFileSync(file, script, { mode: 0o755 });
    fs.chmodSync(file, 0o755);
  } catch (err) {
    throw new OutputError(`${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return file;
}
