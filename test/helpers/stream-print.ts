// `podspan streams --console -D` parsed back into bytes, and the stream files hashed alike, to
// check that printing and files hold the same streams (a stream may be a 1 GB sparse file: both
// are hashed as they are read, never held).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { IndexEntry } from './tools';

/** Hashes bytes as they come, a gap's zeros included without holding them (a stream may be a 1 GB sparse file). */
export class Digest {
  private readonly h = createHash('sha256');
  length = 0;
  add(b: Buffer): void {
    this.h.update(b);
    this.length += b.length;
  }
  zeros(n: number): void {
    for (let left = n; left > 0; left -= ZEROS.length) this.add(left >= ZEROS.length ? ZEROS : ZEROS.subarray(0, left));
  }
  value(): string {
    return `${this.length} ${this.h.digest('hex')}`;
  }
}
const ZEROS = Buffer.alloc(1 << 20);
const digestOf = (m: Map<string, Digest>, name: string) => m.get(name) ?? m.set(name, new Digest()).get(name)!;

/**
 * The bytes of one dump line after its offset: n bytes as hex (a space after every second; the
 * last line of a piece longer than a line padded to 80 characters), a space, n characters. The
 * characters may be hex digits themselves, so the line's length tells n, not a pattern.
 */
function dumpLineBytes(rest: string): Buffer {
  const padded = rest.length - 81;
  const hexOf = (s: string) => s.replace(/ /g, '');
  if (padded >= 1 && padded <= 32 && hexOf(rest.slice(0, 80)).length === 2 * padded) return Buffer.from(hexOf(rest.slice(0, 80)), 'hex');
  for (let n = 1; n <= 32; n++) {
    const hexChars = 2 * n + Math.floor(n / 2);
    if (hexChars + 1 + n === rest.length) return Buffer.from(hexOf(rest.slice(0, hexChars)), 'hex');
  }
  throw new Error(`not a dump line: ${rest}`);
}

/** A -D print parsed back: per direction name, the bytes printed (a gap as zeros, as the stream files have it). */
export function parseHexPrint(text: string): Map<string, Digest> {
  const out = new Map<string, Digest>();
  let name = '';
  for (const line of text.split('\n')) {
    const header = /^(\S+): $/.exec(line);
    if (header) name = header[1];
    const gap = /^\[(\d+) bytes not captured\]$/.exec(line);
    if (gap) digestOf(out, name).zeros(Number(gap[1]));
    const dump = /^[0-9a-f]{4,}: (.*)$/.exec(line);
    if (dump) digestOf(out, name).add(dumpLineBytes(dump[1]));
  }
  return out;
}

const CHUNK = Buffer.alloc(1 << 20);

/** The stream files of `dir` hashed per direction: base name first, then c1, c2... (the connections in order), as --console prints them. */
export function digestFiles(dir: string, index: IndexEntry[]): Map<string, Digest> {
  const out = new Map<string, Digest>();
  for (const entry of [...index].sort((a, b) => a.stream - b.stream)) {
    const d = digestOf(out, entry.file.replace(/c\d+$/, ''));
    const fd = fs.openSync(path.join(dir, entry.file), 'r');
    try {
      for (let n; (n = fs.readSync(fd, CHUNK, 0, CHUNK.length, null)) > 0; ) d.add(CHUNK.subarray(0, n));
    } finally {
      fs.closeSync(fd);
    }
  }
  return out;
}

/** name → "length sha256", directions without a byte left out. */
export const digestValues = (m: Map<string, Digest>) => Object.fromEntries([...m].map(([k, v]) => [k, v.value()]).filter(([, v]) => !v.startsWith('0 ')));
