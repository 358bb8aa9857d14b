// DNS (and mDNS) messages summarised as tcpdump prints them without -v: id and flags, the
// questions of a query, the answers of a response, and the message length.
import { ipv4, ipv6 } from './addr';

const TYPES: Record<number, string> = {
  1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 13: 'HINFO', 15: 'MX', 16: 'TXT', 17: 'RP', 18: 'AFSDB',
  24: 'SIG', 25: 'KEY', 28: 'AAAA', 29: 'LOC', 33: 'SRV', 35: 'NAPTR', 39: 'DNAME', 41: 'OPT', 43: 'DS',
  46: 'RRSIG', 47: 'NSEC', 48: 'DNSKEY', 50: 'NSEC3', 51: 'NSEC3PARAM', 52: 'TLSA', 64: 'SVCB', 65: 'HTTPS',
  99: 'SPF', 249: 'TKEY', 250: 'TSIG', 251: 'IXFR', 252: 'AXFR', 255: 'ANY', 256: 'URI', 257: 'CAA',
};
const CLASSES: Record<number, string> = { 1: 'IN', 3: 'CHAOS', 4: 'HS', 255: 'ANY' };
const OPCODES = ['', ' inv_q', ' stat', ' op3', ' notify', ' update', ' op6', ' op7', ' op8', ' updateA', ' updateD', ' updateDA', ' updateM', ' updateMA', ' zoneInit', ' zoneRef'];
const RCODES = ['', ' FormErr', ' ServFail', ' NXDomain', ' NotImp', ' Refused', ' YXDomain', ' YXRRSet', ' NXRRSet', ' NotAuth', ' NotZone', ' Resp11', ' Resp12', ' Resp13', ' Resp14', ' NoChange'];

class Truncated extends Error {
  /** What was printed of the record before its end was missing. */
  constructor(readonly partial = '') {
    super('truncated');
  }
}

/** A name at `o` (with compression pointers) and where the record continues after it. */
function name(m: Buffer, o: number): { text: string; next: number } {
  let text = '';
  let next = -1;
  let hops = 0;
  for (;;) {
    if (o >= m.length) throw new Truncated();
    const len = m[o];
    if (len === 0) {
      if (next < 0) next = o + 1;
      return { text: text || '.', next };
    }
    if ((len & 0xc0) === 0xc0) {
      if (o + 1 >= m.length || ++hops > 64) throw new Truncated();
      if (next < 0) next = o + 2;
      o = ((len & 0x3f) << 8) | m[o + 1];
      continue;
    }
    if (o + 1 + len > m.length) throw new Truncated();
    text += m.toString('latin1', o + 1, o + 1 + len) + '.';
    o += 1 + len;
  }
}

const typeName = (t: number) => TYPES[t] ?? `Type${t}`;

function question(m: Buffer, o: number, mdns: boolean): { text: string; next: number } {
  const n = name(m, o);
  if (n.next + 4 > m.length) throw new Truncated();
  const type = m.readUInt16BE(n.next);
  let cls = m.readUInt16BE(n.next + 2);
  const qu = mdns && cls & 0x8000;
  if (mdns) cls &= 0x7fff;
  let text = ` ${typeName(type)}`;
  if (cls !== 1) text += ` ${CLASSES[cls] ?? `(Class ${cls})`}`;
  if (mdns) text += qu ? ' (QU)' : ' (QM)';
  return { text: `${text}? ${n.text}`, next: n.next + 4 };
}

/** `verbose` (-v): each record starts with its owner name, as tcpdump prints it. */
function answer(m: Buffer, o: number, mdns: boolean, verbose: boolean): { text: string; next: number } {
  const n = name(m, o);
  if (n.next + 10 > m.length) throw new Truncated();
  const type = m.readUInt16BE(n.next);
  let cls = m.readUInt16BE(n.next + 2);
  const flush = mdns && cls & 0x8000;
  if (mdns) cls &= 0x7fff;
  const rdlen = m.readUInt16BE(n.next + 8);
  const d = n.next + 10;
  const next = d + rdlen;
  let text = `${verbose ? ` ${n.text}` : ''} ${typeName(type)}`;
  if (type === 41) return { text: `${text} UDPsize=${cls}`, next };
  if (cls !== 1) text += ` ${CLASSES[cls] ?? `(Class ${cls})`}`;
  if (flush) text += ' (Cache flush)';
  if (next > m.length) throw new Truncated(text);
  switch (type) {
    case 1:
      text += ` ${ipv4(m, d)}`;
      break;
    case 28:
      text += ` ${ipv6(m, d)}`;
      break;
    case 2:
    case 5:
    case 12:
    case 39:
      text += ` ${name(m, d).text}`;
      break;
    case 15:
      text += ` ${name(m, d + 2).text} ${m.readUInt16BE(d)}`;
      break;
    case 33:
      text += ` ${name(m, d + 6).text}:${m.readUInt16BE(d + 4)} ${m.readUInt16BE(d)} ${m.readUInt16BE(d + 2)}`;
      break;
    case 16: {
      let p = d;
      while (p < next) {
        const l = m[p];
        text += ` "${m.toString('latin1', p + 1, Math.min(p + 1 + l, next))}"`;
        p += 1 + l;
      }
      break;
    }
    case 6: {
      const mname = name(m, d);
      text += ` ${mname.text} ${name(m, mname.next).text}`;
      break;
    }
  }
  return { text, next };
}

/** `m` is the DNS message (the UDP payload, or a TCP segment's after its 2-byte length). */
export function dnsSummary(m: Buffer, length: number, mdns: boolean, verbose = false): string {
  if (m.length < 12) return ' [|domain]';
  const id = m.readUInt16BE(0);
  const b2 = m.readUInt16BE(2);
  const qd = m.readUInt16BE(4);
  const an = m.readUInt16BE(6);
  const ns = m.readUInt16BE(8);
  const ar = m.readUInt16BE(10);
  const opcode = (b2 >> 11) & 0xf;
  let out = '';
  try {
    if (b2 & 0x8000) {
      out = `${id}${OPCODES[opcode]}${RCODES[b2 & 0xf]}${b2 & 0x400 ? '*' : ''}${b2 & 0x80 ? '' : '-'}${b2 & 0x200 ? '|' : ''}${b2 & 0x20 ? '$' : ''}`;
      if (qd !== 1) out += ` [${qd}q]`;
      let o = 12;
      for (let i = 0; i < qd; i++) {
        const n = name(m, o);
        o = n.next + 4;
      }
      out += ` ${an}/${ns}/${ar}`;
      for (let i = 0; i < an; i++) {
        if (o >= m.length) throw new Truncated();
        try {
          const a = answer(m, o, mdns, verbose);
          out += (i ? ',' : '') + a.text;
          o = a.next;
        } catch (e) {
          if (e instanceof Truncated) out += (i ? ',' : '') + e.partial;
          throw e;
        }
      }
    } else {
      out = `${id}${OPCODES[opcode]}${b2 & 0x100 ? '+' : ''}${b2 & 0x10 ? '%' : ''}`;
      if (b2 & 0x6cf) out += ` [b2&3=0x${b2.toString(16)}]`;
      if (opcode === 1) {
        if (qd) out += ` [${qd}q]`;
        if (an !== 1) out += ` [${an}a]`;
      } else {
        if (an) out += ` [${an}a]`;
        if (qd !== 1) out += ` [${qd}q]`;
      }
      if (ns) out += ` [${ns}n]`;
      if (ar) out += ` [${ar}au]`;
      let o = 12;
      for (let i = 0; i < qd && o < m.length; i++) {
        const q = question(m, o, mdns);
        out += q.text;
        o = q.next;
      }
    }
  } catch (e) {
    if (!(e instanceof Truncated)) throw e;
    return ` ${out} [|domain]`;
  }
  return ` ${out} (${length})`;
}
