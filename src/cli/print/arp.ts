// ARP over Ethernet for IPv4, as tcpdump prints it: who-has/tell, is-at.
import { ipv4, mac } from './addr';

export function arp(b: Buffer, o: number, end: number, length: number, verbose = false): string {
  if (end < o + 8) return `ARP, [|arp]`;
  const htype = b.readUInt16BE(o);
  const ptype = b.readUInt16BE(o + 2);
  const hlen = b[o + 4];
  const plen = b[o + 5];
  const op = b.readUInt16BE(o + 6);
  if (htype !== 1 || ptype !== 0x0800 || hlen !== 6 || plen !== 4 || end < o + 28) {
    return `ARP, htype ${htype}, ptype 0x${ptype.toString(16).padStart(4, '0')}, op ${op}, length ${length}`;
  }
  const sha = o + 8;
  const spa = ipv4(b, o + 14);
  const tha = o + 18;
  const tpa = ipv4(b, o + 24);
  const what = arpOperation(b, op, tha, tpa, sha, spa, length);
  // -v names the hardware and protocol address types first.
  return verbose ? what.replace(/^ARP, /, 'ARP, Ethernet (len 6), IPv4 (len 4), ') : what;
}

function arpOperation(b: Buffer, op: number, tha: number, tpa: string, sha: number, spa: string, length: number): string {
  switch (op) {
    case 1: {
      const known = b.subarray(tha, tha + 6).some((x) => x !== 0);
      return `ARP, Request who-has ${tpa}${known ? ` (${mac(b, tha)})` : ''} tell ${spa}, length ${length}`;
    }
    case 2:
      return `ARP, Reply ${spa} is-at ${mac(b, sha)}, length ${length}`;
    case 3:
      return `ARP, Reverse Request who-is ${mac(b, tha)} tell ${mac(b, sha)}, length ${length}`;
    case 4:
      return `ARP, Reverse Reply ${mac(b, tha)} at ${tpa}, length ${length}`;
    default:
      return `ARP, op ${op}, length ${length}`;
  }
}
