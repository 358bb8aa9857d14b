// One tcpdump-like line per packet for `podspan capture` without -w: time, interface, addresses,
// protocol, length. Decodes just enough of the headers to say who talks to whom.

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const ETH_ARP = 0x0806;
const VLAN_TAGS = new Set([0x8100, 0x88a8, 0x9100]);

function ipv4(b: Buffer, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}
function ipv6(b: Buffer, o: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(b.readUInt16BE(o + i).toString(16));
  return parts.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

function transport(b: Buffer, o: number, proto: number, src: string, dst: string): string {
  const names: Record<number, string> = { 6: 'TCP', 17: 'UDP', 1: 'ICMP', 58: 'ICMP6' };
  const name = names[proto] ?? `proto ${proto}`;
  if ((proto === 6 || proto === 17) && b.length >= o + 4) {
    return `${src}.${b.readUInt16BE(o)} > ${dst}.${b.readUInt16BE(o + 2)}: ${name}`;
  }
  return `${src} > ${dst}: ${name}`;
}

function network(b: Buffer, o: number, ethertype: number): string {
  if (ethertype === ETH_IPV4 && b.length >= o + 20) {
    const ihl = (b[o] & 0x0f) * 4;
    return 'IP ' + transport(b, o + ihl, b[o + 9], ipv4(b, o + 12), ipv4(b, o + 16));
  }
  if (ethertype === ETH_IPV6 && b.length >= o + 40) {
    return 'IP6 ' + transport(b, o + 40, b[o + 6], ipv6(b, o + 8), ipv6(b, o + 24));
  }
  if (ethertype === ETH_ARP) return 'ARP';
  return `ethertype 0x${ethertype.toString(16).padStart(4, '0')}`;
}

function describe(b: Buffer, linktype: number): string {
  try {
    switch (linktype) {
      case 1: {
        let o = 12;
        let type = b.readUInt16BE(o);
        while (VLAN_TAGS.has(type)) {
          o += 4;
          type = b.readUInt16BE(o);
        }
        return network(b, o + 2, type);
      }
      case 113:
        return network(b, 16, b.readUInt16BE(14));
      case 276:
        return network(b, 20, b.readUInt16BE(0));
      case 0: {
        const family = b.readUInt32LE(0);
        return network(b, 4, family === 2 ? ETH_IPV4 : ETH_IPV6);
      }
      case 101:
      case 228:
      case 229:
        return network(b, 0, b[0] >> 4 === 6 ? ETH_IPV6 : ETH_IPV4);
      default:
        return `link type ${linktype}`;
    }
  } catch {
    return 'truncated';
  }
}

export function formatTimestamp(ns: bigint): string {
  const d = new Date(Number(ns / 1_000_000n));
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${d.toISOString().slice(11, 19)}.${frac}`;
}

export function packetLine(ts: bigint, iface: string, linktype: number, bytes: Buffer, origlen: number): string {
  return `${formatTimestamp(ts)} ${iface} ${describe(bytes, linktype)}, length ${origlen}`;
}
