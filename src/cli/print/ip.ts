// IPv4 and IPv6 as tcpdump prints them, handing the payload to the TCP, UDP (DNS) and ICMP
// printers. Lengths come from the IP headers, as tcpdump takes them, not from the frame.
import { endpoints, ipv4, ipv6 } from './addr';
import { dnsSummary } from './dns';
import { icmp, icmp6 } from './icmp';
import { headerChecksum, shouldBe, transportChecksum } from './cksum';
import type { Addresses, TcpPrinter } from './tcp';

export interface IpOptions {
  verbose: number;
  quiet: boolean;
  /** -K off: the IPv4 header's and UDP checksums are not checked (tcpdump -K; it still checks ICMPv6's). */
  checksums?: boolean;
}

const PROTO_NAMES: Record<number, string> = { 0: 'Options', 44: 'Fragment', 1: 'ICMP', 2: 'IGMP', 6: 'TCP', 17: 'UDP', 41: 'IPv6', 47: 'GRE', 50: 'ESP', 51: 'AH', 58: 'ICMPv6', 132: 'SCTP' };
const DNS_PORT = 53;
const MDNS_PORT = 5353;

export class IpPrinter {
  constructor(
    private readonly tcp: TcpPrinter,
    private readonly opt: IpOptions,
  ) {}

  /** `wire`: the bytes from `o` to the end of the frame as sent (its original length). */
  ipv4(b: Buffer, o: number, end: number, wire: number): string {
    if (end < o + 20) return '[|ip]';
    const hl = (b[o] & 0x0f) * 4;
    if ((b[o] >> 4) !== 4) return `[version ${b[o] >> 4}]`;
    if (hl < 20) return `bad-hlen ${hl}`;
    const total = b.readUInt16BE(o + 2);
    if (total < hl) return `bad-len ${total}`;
    let missing = '';
    if (total > wire) {
      // tcpdump says so and still takes the header's length for the payload.
      missing = `truncated-ip - ${total - wire} bytes missing! `;
    }
    const off = b.readUInt16BE(o + 6);
    const proto = b[o + 9];
    const addrs: Addresses = { src: o + 12, dst: o + 16, len: 4 };
    const srcText = ipv4(b, o + 12);
    const dstText = ipv4(b, o + 16);
    let head = '';
    if (this.opt.verbose) {
      const flags = [off & 0x2000 && '+', off & 0x4000 && 'DF', off & 0x8000 && 'rsvd'].filter(Boolean).join(', ');
      head =
        `(tos 0x${b[o + 1].toString(16)}, ttl ${b[o + 8]}, id ${b.readUInt16BE(o + 4)}, offset ${(off & 0x1fff) * 8}, ` +
        `flags [${flags || 'none'}], proto ${PROTO_NAMES[proto] ?? 'unknown'} (${proto}), length ${total}${this.badHeaderChecksum(b, o, hl, end)})\n    `;
    }
    const length = total - hl;
    const payloadEnd = Math.min(end, o + total);
    if ((off & 0x1fff) !== 0) return `${head}${missing}${srcText} > ${dstText}: ip-proto-${proto}`;
    return head + missing + this.transport(b, o + hl, payloadEnd, length, proto, addrs, srcText, dstText, (off & 0x2000) !== 0);
  }

  /** -v: ", bad cksum FIELD (->SHOULD-BE)!" for a damaged IPv4 header captured whole (not with -K). */
  private badHeaderChecksum(b: Buffer, o: number, hl: number, end: number): string {
    if (this.opt.checksums === false || end < o + hl) return '';
    const sum = headerChecksum(b, o, hl);
    if (sum === 0) return '';
    const field = b.readUInt16BE(o + 10);
    return `, bad cksum ${field.toString(16)} (->${shouldBe(field, sum).toString(16)})!`;
  }

  ipv6(b: Buffer, o: number, end: number, wire: number): string {
    if (end < o + 40) return '[|ip6]';
    const plen = b.readUInt16BE(o + 4);
    let missing = '';
    if (plen + 40 > wire) {
      missing = `truncated-ip6 - ${plen + 40 - wire} bytes missing! `;
    }
    let nh = b[o + 6];
    const addrs: Addresses = { src: o + 8, dst: o + 24, len: 16 };
    const srcText = ipv6(b, o + 8);
    const dstText = ipv6(b, o + 24);
    let head = '';
    if (this.opt.verbose) {
      const flow = b.readUInt32BE(o) & 0xfffff;
      const tc = (b.readUInt32BE(o) >> 20) & 0xff;
      head =
        `(${tc ? `class 0x${tc.toString(16)}, ` : ''}${flow ? `flowlabel 0x${flow.toString(16).padStart(5, '0')}, ` : ''}` +
        `hlim ${b[o + 7]}, next-header ${PROTO_NAMES[nh] ?? 'unknown'} (${nh}) payload length: ${plen}) `;
    }
    let p = o + 40;
    const payloadEnd = Math.min(end, o + 40 + plen);
    let length = plen;
    let prefix = '';
    let fragmented = false;
    if (nh !== 6 && nh !== 17) prefix = `${srcText} > ${dstText}: `;
    // Extension headers tcpdump names in the line: hop-by-hop, destination options, fragment.
    for (;;) {
      if (nh === 0 || nh === 60) {
        if (payloadEnd < p + 2) return `${head}${missing}${prefix}[|${nh ? 'DSTOPT' : 'HBH'}]`;
        const len = (b[p + 1] + 1) * 8;
        prefix += nh === 0 ? 'HBH ' : 'DSTOPT ';
        nh = b[p];
        p += len;
        length -= len;
      } else if (nh === 43 && payloadEnd >= p + 8 && b[p + 1] === 0) {
        // A routing header without addresses (tcpdump's rt6_print prints any it holds too).
        const type = b[p + 2];
        prefix += `RT6 (len=0, type=${type}${type === 0 ? ' [Deprecated]' : ''}, segleft=${b[p + 3]}) `;
        nh = b[p];
        p += 8;
        length -= 8;
      } else if (nh === 44) {
        if (payloadEnd < p + 8) return `${head}${missing}${prefix}frag [|frag]`;
        const offset = b.readUInt16BE(p + 2) & 0xfff8;
        const fragLen = plen - (p - (o + 40)) - 8;
        prefix += this.opt.verbose ? `frag (0x${b.readUInt32BE(p + 4).toString(16).padStart(8, '0')}:${offset}|${fragLen})` : `frag (${offset}|${fragLen})`;
        if (offset !== 0) return head + missing + prefix;
        prefix += ' ';
        fragmented = true;
        nh = b[p];
        p += 8;
        length -= 8;
      } else break;
    }
    // Addresses already printed before extension headers are not repeated by TCP and UDP.
    const named = prefix === '';
    return head + missing + prefix + this.transport(b, p, payloadEnd, length, nh, addrs, named ? srcText : '', named ? dstText : '', fragmented);
  }

  private transport(b: Buffer, o: number, end: number, length: number, proto: number, addrs: Addresses, srcText: string, dstText: string, fragmented: boolean): string {
    switch (proto) {
      case 6:
        if (this.opt.quiet) return `${ports(b, o, end, srcText, dstText)}tcp ${Math.max(0, length - (end >= o + 13 ? (b[o + 12] >> 4) * 4 : 20))}`;
        return this.tcp.print(b, o, length, addrs, srcText, dstText, end, !fragmented && length > 0);
      case 17:
        return udp(b, o, end, fragmented ? undefined : length, srcText, dstText, this.opt, addrs);
      case 1:
        return `${srcText} > ${dstText}: ${icmp(b, o, end, length)}`;
      case 58: {
        if (!this.opt.verbose) return icmp6(b, o, end, length);
        // -v: the checksum verdict first, and no length (tcpdump prints option details instead).
        let check = '';
        if (o + length <= end) {
          const sum = transportChecksum(b, addrs, 58, o, length);
          const field = b.readUInt16BE(o + 2);
          check = sum === 0 ? '[icmp6 sum ok] ' : `[bad icmp6 cksum 0x${field.toString(16).padStart(4, '0')} -> 0x${shouldBe(field, sum).toString(16).padStart(4, '0')}!] `;
        }
        return check + icmp6(b, o, end, length).replace(/, length \d+$/, '');
      }
      default:
        return `${srcText ? `${srcText} > ${dstText}: ` : ''}ip-proto-${proto} ${length}`;
    }
  }
}

function ports(b: Buffer, o: number, end: number, srcText: string, dstText: string): string {
  if (end < o + 4) return srcText ? `${srcText} > ${dstText}: ` : '';
  return endpoints(srcText, dstText, b.readUInt16BE(o), b.readUInt16BE(o + 2));
}

/** `ipLength`: the datagram's length by the IP header; undefined for a first fragment (it is longer). */
function udp(b: Buffer, o: number, end: number, ipLength: number | undefined, srcText: string, dstText: string, opt: IpOptions, addrs: Addresses): string {
  if (end < o + 8) return `${srcText ? `${srcText} > ${dstText}: ` : ''}UDP [|udp]`;
  const sport = b.readUInt16BE(o);
  const dport = b.readUInt16BE(o + 2);
  const ulen = b.readUInt16BE(o + 4);
  const head = endpoints(srcText, dstText, sport, dport).trimEnd();
  if (ulen < 8) return `${head} UDP, bad length ${ulen} < 8`;
  if (ipLength !== undefined && ulen > ipLength) return `${head} UDP, bad length ${ulen - 8} > ${ipLength - 8}`;
  const length = ulen - 8;
  let check = '';
  // tcpdump checks IPv4's optional UDP checksum from -vv on, IPv6's mandatory one from -v.
  if (opt.checksums !== false && (addrs.len === 16 ? opt.verbose : opt.verbose > 1) && ipLength !== undefined && o + ulen <= end) {
    const field = b.readUInt16BE(o + 6);
    const sum = transportChecksum(b, addrs, 17, o, ulen);
    if (field === 0 && addrs.len === 4) check = ' [no cksum]';
    else if (sum === 0) check = ' [udp sum ok]';
    else check = ` [bad udp cksum 0x${field.toString(16).padStart(4, '0')} -> 0x${shouldBe(field, sum).toString(16).padStart(4, '0')}!]`;
  }
  if (!opt.quiet) {
    const dns = sport === DNS_PORT || dport === DNS_PORT;
    const mdns = sport === MDNS_PORT || dport === MDNS_PORT;
    if (dns || mdns) return head + check + dnsSummary(b.subarray(o + 8, Math.min(end, o + ulen)), length, mdns && !dns, opt.verbose > 0);
  }
  return `${head}${check} UDP, length ${length}`;
}
