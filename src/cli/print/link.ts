// Link layers: where the network header starts, its type, and what tcpdump prints for the link
// (with -e, and always for Linux cooked v2: the interface and direction).
import { mac } from './addr';

export const ETH_IPV4 = 0x0800;
export const ETH_IPV6 = 0x86dd;
export const ETH_ARP = 0x0806;
export const ETH_RARP = 0x8035;
const VLAN_TAGS = new Set([0x8100, 0x88a8, 0x9100]);

const ETHERTYPE_NAMES: Record<number, string> = {
  0x0800: 'IPv4', 0x86dd: 'IPv6', 0x0806: 'ARP', 0x8035: 'Reverse ARP', 0x8100: '802.1Q', 0x88a8: '802.1Q-QinQ',
  0x9100: '802.1Q-9100', 0x8847: 'MPLS unicast', 0x8848: 'MPLS multicast', 0x8863: 'PPPoE D', 0x8864: 'PPPoE S',
  0x88cc: 'LLDP', 0x88e5: 'MACsec', 0x9000: 'Loopback', 0x894f: 'NSH',
};
const PKTTYPES = ['In', 'B', 'M', 'P', 'Out'];

export const ethertypeText = (t: number) => `ethertype ${ETHERTYPE_NAMES[t] ?? 'Unknown'} (0x${t.toString(16).padStart(4, '0')})`;

export interface LinkResult {
  /** Offset of the network header; -1 when the link header is cut or unknown. */
  offset: number;
  ethertype: number;
  /** Printed before the network layer ('' for none). */
  text: string;
  /** 802.3 frame (length field): LLC, not decoded. */
  llc?: boolean;
}

/** The link types whose packets `link` decodes (the others print as tcpdump prints an unknown link). */
export const PRINTED_LINK_TYPES: ReadonlySet<number> = new Set([0, 1, 12, 14, 101, 113, 228, 229, 276]);

/** Interface names by index for cooked v2 headers, read from /sys like tcpdump's if_indextoname. */
export type IfName = (index: number) => string;

export function link(b: Buffer, linktype: number, origlen: number, showLink: boolean, ifName: IfName): LinkResult {
  const fail = (text: string): LinkResult => ({ offset: -1, ethertype: 0, text });
  switch (linktype) {
    case 1: {
      if (b.length < 14) return fail(' [|ether]');
      let type = b.readUInt16BE(12);
      let text = showLink ? `${mac(b, 6)} > ${mac(b, 0)}, ` : '';
      if (type <= 1500) return { offset: 14, ethertype: type, text: showLink ? `${text}802.3, length ${origlen}: ` : '', llc: true };
      if (showLink) text += `${ethertypeText(type)}, length ${origlen}: `;
      let o = 14;
      while (VLAN_TAGS.has(type)) {
        if (b.length < o + 4) return fail(`${text} [|vlan]`);
        const tci = b.readUInt16BE(o);
        type = b.readUInt16BE(o + 2);
        if (showLink) text += `vlan ${tci & 0xfff}, p ${tci >> 13}${tci & 0x1000 ? ', DEI' : ''}, ${ethertypeText(type)}, `;
        o += 4;
      }
      return { offset: o, ethertype: type, text };
    }
    case 113: {
      if (b.length < 16) return fail(' [|sll]');
      const type = b.readUInt16BE(14);
      const text = showLink ? `${(PKTTYPES[b.readUInt16BE(0)] ?? '?').padStart(3)} ${mac(b, 6, Math.min(b.readUInt16BE(4), 8))} ${ethertypeText(type)}, length ${origlen}: ` : '';
      return { offset: 16, ethertype: type, text };
    }
    case 276: {
      if (b.length < 20) return fail(' [|sll2]');
      const type = b.readUInt16BE(0);
      const index = b.readUInt32BE(4);
      let text = `${ifName(index).padEnd(5)} ${(PKTTYPES[b[10]] ?? '?').padEnd(3)} `;
      if (showLink) text += `ifindex ${index} ${mac(b, 12, Math.min(b[11], 8))} ${ethertypeText(type)}, length ${origlen}: `;
      return { offset: 20, ethertype: type, text };
    }
    case 0: {
      if (b.length < 4) return fail(' [|null]');
      const family = b.readUInt32LE(0) > 0xffff ? b.readUInt32BE(0) : b.readUInt32LE(0);
      const ethertype = family === 2 ? ETH_IPV4 : [10, 24, 28, 30].includes(family) ? ETH_IPV6 : 0;
      const text = showLink ? `AF ${ethertype === ETH_IPV4 ? 'IPv4' : ethertype === ETH_IPV6 ? 'IPv6' : 'Unknown'} (${family}), length ${origlen}: ` : '';
      return { offset: 4, ethertype, text };
    }
    case 101:
    case 12:
    case 14:
    case 228:
    case 229:
      if (b.length < 1) return fail(' [|raw]');
      return { offset: 0, ethertype: b[0] >> 4 === 6 ? ETH_IPV6 : ETH_IPV4, text: '' };
    default:
      return fail(`link type ${linktype}`);
  }
}
