// The packet printers on damaged input: every prefix of real frames (as a snap length would cut
// them) and random bytes under every link type give one line and never throw.
import { describe, expect, it } from 'vitest';
import { nearestFlag, withTcpdumpSpellings } from '../../src/cli/main';
import { ipv6 } from '../../src/cli/print/addr';
import { PacketPrinter } from '../../src/cli/print';
import { samplePackets } from '../helpers/craft';

const LINKTYPES = [0, 1, 12, 101, 113, 228, 229, 276];

/** Deterministic bytes (xorshift), so a failure can be replayed. */
function randomBytes(seed: number, n: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

describe('packet printers', () => {
  it('print one line for every prefix of real frames and for random bytes, without throwing', () => {
    const printer = new PacketPrinter();
    const frames = samplePackets(20).map((p) => p.frame);
    let lines = 0;
    for (const frame of frames) {
      for (let len = 0; len <= frame.length; len++) {
        const line = printer.line(1_700_000_000_000_000_000n, 1, frame.subarray(0, len), frame.length);
        expect(line).not.toContain('\n');
        lines++;
      }
    }
    for (let seed = 1; seed <= 4000; seed++) {
      const linktype = LINKTYPES[seed % LINKTYPES.length];
      const b = randomBytes(seed, seed % 120);
      // Random bytes, and the same bytes behind a valid IPv4/IPv6 version nibble so the IP printers run.
      for (const bytes of [b, Buffer.concat([Buffer.from([seed % 2 ? 0x45 : 0x60]), b])]) {
        expect(printer.line(0n, linktype, bytes, bytes.length + (seed % 5))).not.toContain('\n');
        lines++;
      }
    }
    expect(lines).toBeGreaterThan(8000);
  });

  it('prints IPv6 addresses as inet_ntop does', () => {
    const addr = (hex: string) => ipv6(Buffer.from(hex, 'hex'), 0);
    expect(addr('20010db8000000000000000000000001')).toBe('2001:db8::1');
    expect(addr('00000000000000000000000000000001')).toBe('::1');
    expect(addr('00000000000000000000000000000000')).toBe('::');
    expect(addr('20010db8000000010000000000000001')).toBe('2001:db8:0:1::1');
    expect(addr('20010db8000100000001000000000001')).toBe('2001:db8:1:0:1::1');
    expect(addr('00000000000000000000ffffc0000201')).toBe('::ffff:192.0.2.1');
    expect(addr('fe800000000000000000000000000000')).toBe('fe80::');
  });

  it('names the nearest known flag of the same kind', () => {
    const known = ['-c', '-i', '-r', '-w', '--count', '--print', '--snaplen', '-X', '-x'];
    expect(nearestFlag('--prnit', known)).toBe('--print');
    expect(nearestFlag('--snap', known)).toBe('--snaplen');
    expect(nearestFlag('-W', ['-w', '-c'])).toBe('-w');
  });

  it("takes tcpdump's long spellings of flags podspan names otherwise, also as --flag=value, not after --", () => {
    expect(withTcpdumpSpellings(['node', 'podspan', 'capture', '--snapshot-length', '96', '--immediate-mode', '--micro', '-i', 'eth0'])).toEqual(['node', 'podspan', 'capture', '--snaplen', '96', '--immediate', '--time-stamp-precision=micro', '-i', 'eth0']);
    expect(withTcpdumpSpellings(['capture', '--snapshot-length=96'])).toEqual(['capture', '--snaplen=96']);
    expect(withTcpdumpSpellings(['capture', '--', '--micro'])).toEqual(['capture', '--', '--micro']);
  });
});
