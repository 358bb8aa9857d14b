// TCP/UDP checksums over the IP pseudo-header, for -v's "(correct)" / "[udp sum ok]", and the
// IPv4 header's, for its "bad cksum", as tcpdump checks them.
import type { Addresses } from './tcp';

function sum16(b: Buffer, from: number, to: number, acc: number): number {
  let i = from;
  for (; i + 1 < to; i += 2) acc += (b[i] << 8) | b[i + 1];
  if (i < to) acc += b[i] << 8;
  return acc;
}

const fold = (acc: number) => {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return acc;
};

/** The one's complement checksum over pseudo-header and segment; 0 when the segment is intact. */
export function transportChecksum(b: Buffer, a: Addresses, proto: number, o: number, length: number): number {
  let acc = sum16(b, a.src, a.src + a.len, 0);
  acc = sum16(b, a.dst, a.dst + a.len, acc);
  acc += proto + (length & 0xffff) + Math.floor(length / 0x10000);
  acc = sum16(b, o, o + length, acc);
  return ~fold(acc) & 0xffff;
}

/** The IPv4 header's checksum over its `hl` bytes; 0 when the header is intact. */
export function headerChecksum(b: Buffer, o: number, hl: number): number {
  return ~fold(sum16(b, o, o + hl, 0)) & 0xffff;
}

/** tcpdump's in_cksum_shouldbe: the value the checksum field should have held. */
export function shouldBe(field: number, computed: number): number {
  return fold(fold(field + computed));
}
