// ICMP and ICMPv6 as tcpdump prints them without -v: the message, echo id/seq, what was
// unreachable, neighbour discovery targets, and the ICMP length.
import { ipv4, ipv6 } from './addr';

const ICMP_NAMES: Record<number, string> = {
  0: 'echo reply', 4: 'source quench', 8: 'echo request', 9: 'router advertisement', 10: 'router solicitation',
  13: 'time stamp request', 14: 'time stamp reply', 15: 'information request', 16: 'information reply',
  17: 'address mask request', 18: 'address mask reply',
};
const UNREACH_LATER: Record<number, string> = {
  5: '%s unreachable - source route failed', 6: '%s net unreachable - unknown', 7: '%s host unreachable - unknown',
  8: '%s src host isolated - unreachable', 9: '%s net unreachable - admin prohibited', 10: '%s host unreachable - admin prohibited',
  11: '%s net unreachable - tos prohibited', 12: '%s host unreachable - tos prohibited',
  13: '%s host unreachable - admin prohibited filter', 14: '%s host unreachable - host precedence violation',
  15: '%s host unreachable - precedence cutoff',
};

function unreachable(b: Buffer, o: number, end: number, code: number): string {
  const ip = o + 8;
  if (end < ip + 20) return 'unreachable';
  const dst = ipv4(b, ip + 16);
  const proto = b[ip + 9];
  const inner = ip + (b[ip] & 0x0f) * 4;
  switch (code) {
    case 0:
      return `net ${dst} unreachable`;
    case 1:
      return `host ${dst} unreachable`;
    case 2:
      return `${dst} protocol ${proto} unreachable`;
    case 3: {
      if (end < inner + 4) return `${dst} protocol ${proto} port unreachable`;
      const port = b.readUInt16BE(inner + 2);
      if (proto === 6) return `${dst} tcp port ${port} unreachable`;
      if (proto === 17) return `${dst} udp port ${port} unreachable`;
      return `${dst} protocol ${proto} port ${port} unreachable`;
    }
    case 4: {
      const mtu = b.readUInt16BE(o + 6);
      return mtu ? `${dst} unreachable - need to frag (mtu ${mtu})` : `${dst} unreachable - need to frag`;
    }
    default:
      return (UNREACH_LATER[code] ?? '%s unreachable - #' + code).replace('%s', dst);
  }
}

export function icmp(b: Buffer, o: number, end: number, length: number): string {
  if (end < o + 4) return 'ICMP [|icmp]';
  const type = b[o];
  const code = b[o + 1];
  let text: string;
  if ((type === 0 || type === 8) && end >= o + 8) {
    text = `${ICMP_NAMES[type]}, id ${b.readUInt16BE(o + 4)}, seq ${b.readUInt16BE(o + 6)}`;
  } else if (type === 3) {
    text = unreachable(b, o, end, code);
  } else if (type === 11) {
    text = code === 0 ? 'time exceeded in-transit' : 'ip reassembly time exceeded';
  } else {
    text = ICMP_NAMES[type] ?? `type-#${type}`;
  }
  return `ICMP ${text}, length ${length}`;
}

const ICMP6_NAMES: Record<number, string> = {
  1: 'destination unreachable', 2: 'packet too big', 3: 'time exceeded in-transit', 4: 'parameter problem',
  128: 'echo request', 129: 'echo reply', 130: 'multicast listener query', 131: 'multicast listener report',
  132: 'multicast listener done', 133: 'router solicitation', 134: 'router advertisement',
  135: 'neighbor solicitation', 136: 'neighbor advertisement', 137: 'redirect', 143: 'multicast listener report v2',
};

export function icmp6(b: Buffer, o: number, end: number, length: number): string {
  if (end < o + 4) return 'ICMP6 [|icmp6]';
  const type = b[o];
  let text = ICMP6_NAMES[type] ?? `unknown icmp6 type (${type})`;
  if ((type === 128 || type === 129) && end >= o + 8) {
    text += `, id ${b.readUInt16BE(o + 4)}, seq ${b.readUInt16BE(o + 6)}`;
  } else if (type === 135 && end >= o + 24) {
    text += `, who has ${ipv6(b, o + 8)}`;
  } else if (type === 136 && end >= o + 24) {
    text += `, tgt is ${ipv6(b, o + 8)}`;
  } else if (type === 143 && end >= o + 8) {
    text += `, ${b.readUInt16BE(o + 6)} group record(s)`;
  } else if (type === 2 && end >= o + 8) {
    text += `, mtu ${b.readUInt32BE(o + 4)}`;
  }
  return `ICMP6, ${text}, length ${length}`;
}
