// TCP as tcpdump prints it: flags, sequence numbers relative to the first ones seen of the
// conversation (tcpdump's rule: recorded at the first segment with ACK, or on any SYN), ack,
// window, options, payload length, and the first line of text protocols (HTTP, FTP, SMTP, SSH).
import { endpoints } from './addr';
import { shouldBe, transportChecksum } from './cksum';

const FLAG_CHARS: [number, string][] = [
  [0x01, 'F'],
  [0x02, 'S'],
  [0x04, 'R'],
  [0x08, 'P'],
  [0x10, '.'],
  [0x20, 'U'],
  [0x40, 'E'],
  [0x80, 'W'],
];
const ACK = 0x10;
const SYN = 0x02;
const FIN = 0x01;
const RST = 0x04;
const URG = 0x20;

const OPTION_NAMES: Record<number, string> = {
  0: 'eol', 1: 'nop', 2: 'mss', 3: 'wscale', 4: 'sackOK', 5: 'sack', 6: 'echo', 7: 'echoreply', 8: 'TS',
  11: 'cc', 12: 'ccnew', 13: '', 19: 'md5', 20: 'scps', 28: 'uto', 29: 'tcp-ao', 30: 'mptcp', 34: 'tfo', 254: 'exp',
};

const MAX_CONVERSATIONS = 1 << 16;

const FIXED_OPTION_BYTES: Record<number, number> = { 2: 2, 3: 1, 8: 8 };

const HTTP_PORTS = new Set([80, 8080, 3128]);
const HTTP_METHODS = new Set(
  ('GET PUT COPY HEAD LOCK MOVE POLL POST BCOPY BMOVE MKCOL TRACE LABEL MERGE DELETE SEARCH UNLOCK REPORT UPDATE NOTIFY ' +
    'BDELETE CONNECT OPTIONS CHECKIN PROPFIND CHECKOUT CCM_POST SUBSCRIBE PROPPATCH BPROPFIND BPROPPATCH UNCHECKOUT ' +
    'MKACTIVITY MKWORKSPACE UNSUBSCRIBE RPC_CONNECT VERSION-CONTROL BASELINE-CONTROL').split(' '),
);

const u32 = (n: number) => n >>> 0;
const hex = (b: Buffer, from: number, to: number) => b.subarray(from, to).toString('hex');

interface Initial {
  seq: number;
  ack: number;
}

/** Where the IP addresses lie in the packet, to key the conversation in either direction. */
export interface Addresses {
  src: number;
  dst: number;
  len: 4 | 16;
}

/** -1, 0, 1 as the source address compares with the destination (tcpdump's collating order). */
function compareAddresses(b: Buffer, a: Addresses): number {
  for (let i = 0; i < a.len; i++) if (b[a.src + i] !== b[a.dst + i]) return b[a.src + i] < b[a.dst + i] ? -1 : 1;
  return 0;
}

/** IPv4 addresses as numbers (no hex strings per packet); IPv6 as hex. */
function addressKey(b: Buffer, at: number, len: 4 | 16): string | number {
  return len === 4 ? b.readUInt32BE(at) : b.toString('hex', at, at + 16);
}

export class TcpPrinter {
  private readonly conversations = new Map<string, Initial>();

  /** `verbose`: -v count (checksums checked, text protocols in full); `absolute`: -S; `checksums` false: -K. */
  constructor(
    private readonly verbose = 0,
    private readonly absolute = false,
    private readonly checksums = true,
  ) {}

  /**
   * `length` is the TCP segment length by the IP header (header + payload); `checkable`: not a
   * fragment (and for IPv6 a non-zero payload length), so -v verifies the checksum.
   */
  print(b: Buffer, o: number, length: number, addrs: Addresses, srcText: string, dstText: string, end: number, checkable = true): string {
    if (end - o < 4) return `${srcText ? `${srcText} > ${dstText}: ` : ''}[|tcp]`;
    const sport = b.readUInt16BE(o);
    const dport = b.readUInt16BE(o + 2);
    const head = endpoints(srcText, dstText, sport, dport);
    if (end - o < 13) return `${head} [|tcp]`;
    const hlen = (b[o + 12] >> 4) * 4;
    if (hlen < 20) return `${head} tcp ${length} [bad hdr length ${hlen} - too short, < 20]`;
    if (end - o < 20) return `${head} [|tcp]`;
    let seq = b.readUInt32BE(o + 4);
    let ack = b.readUInt32BE(o + 8);
    const flags = b[o + 13];
    const win = b.readUInt16BE(o + 14);
    const urp = b.readUInt16BE(o + 18);
    let flagText = '';
    for (const [bit, c] of FLAG_CHARS) if (flags & bit) flagText += c;
    let out = `${head}Flags [${flagText || 'none'}]`;
    if (hlen > length) return `${out} [bad hdr length ${hlen} - too long, > ${length}]`;
    if (this.verbose && this.checksums && checkable && o + length <= end) {
      const field = b.readUInt16BE(o + 16);
      const sum = transportChecksum(b, addrs, 6, o, length);
      out += `, cksum 0x${field.toString(16).padStart(4, '0')} ${sum === 0 ? '(correct)' : `(incorrect -> 0x${shouldBe(field, sum).toString(16).padStart(4, '0')})`}`;
    }

    let rev = false;
    let initial: Initial = { seq: 0, ack: 0 };
    if (flags & ACK && !this.absolute) {
      const cmp = compareAddresses(b, addrs);
      rev = cmp > 0 || (cmp === 0 && sport > dport);
      const src = addressKey(b, addrs.src, addrs.len);
      const dst = addressKey(b, addrs.dst, addrs.len);
      const key = rev ? `${dst}/${src}/${dport}/${sport}` : `${src}/${dst}/${sport}/${dport}`;
      const known = this.conversations.get(key);
      if (!known || flags & SYN) {
        initial = rev ? { seq: u32(ack - 1), ack: seq } : { seq, ack: u32(ack - 1) };
        // Bounded, unlike tcpdump's table: the oldest conversation is forgotten (its later
        // segments then start over from absolute numbers, as a conversation seen mid-way does).
        if (!known && this.conversations.size >= MAX_CONVERSATIONS) this.conversations.delete(this.conversations.keys().next().value as string);
        this.conversations.set(key, initial);
      } else {
        initial = known;
        if (rev) {
          seq = u32(seq - known.ack);
          ack = u32(ack - known.seq);
        } else {
          seq = u32(seq - known.seq);
          ack = u32(ack - known.ack);
        }
      }
    }
    const payload = length - hlen;
    if (payload > 0 || flags & (SYN | FIN | RST)) {
      out += `, seq ${seq}`;
      if (payload > 0) out += `:${u32(seq + payload)}`;
    }
    if (flags & ACK) out += `, ack ${ack}`;
    out += `, win ${win}`;
    if (flags & URG) out += `, urg ${urp}`;
    if (hlen > 20) {
      const opts = options(b, o + 20, o + hlen, end, rev ? initial.seq : initial.ack);
      // Options cut by the snap length end the line as tcpdump ends it.
      if (opts.cut) return `${out}, options [${opts.text} [|tcp]>`;
      out += `, options [${opts.text}]`;
    }
    out += `, length ${payload}`;
    if (payload > 0) out += application(b, o + hlen, o + length, end, sport, dport, this.verbose > 0);
    return out;
  }
}

function options(b: Buffer, o: number, hend: number, end: number, sackBase: number): { text: string; cut: boolean } {
  const parts: string[] = [];
  const cut = (text: string) => ({ text: [...parts, text].join(','), cut: true });
  while (o < hend) {
    if (o >= end) return cut('');
    const kind = b[o];
    let text = OPTION_NAMES[kind] ?? `unknown-${kind}`;
    if (kind === 0 || kind === 1) {
      parts.push(text);
      o += 1;
      if (kind === 0) break;
      continue;
    }
    if (o + 1 >= end) return cut(text);
    const len = b[o + 1];
    if (len < 2 || o + len > hend) {
      parts.push(text);
      return { text: parts.join(',') + '[bad opt]', cut: false };
    }
    const d = o + 2;
    const dlen = len - 2;
    // tcpdump reads fixed-size options by their size, not their length byte.
    const fixed = FIXED_OPTION_BYTES[kind];
    if (fixed !== undefined && d + fixed > hend) {
      parts.push(text);
      return { text: parts.join(',') + '[bad opt]', cut: false };
    }
    if (Math.max(o + len, d + (fixed ?? 0)) > end) return cut(text);
    let expected = dlen;
    switch (kind) {
      case 2:
        expected = 2;
        text += ` ${b.readUInt16BE(d)}`;
        break;
      case 3:
        expected = 1;
        text += ` ${b[d]}`;
        break;
      case 4:
        expected = 0;
        break;
      case 5:
        if (dlen % 8 !== 0) text += ' invalid sack';
        else {
          text += ` ${dlen / 8} `;
          for (let i = 0; i < dlen; i += 8) text += `{${u32(b.readUInt32BE(d + i) - sackBase)}:${u32(b.readUInt32BE(d + i + 4) - sackBase)}}`;
        }
        break;
      case 8:
        expected = 8;
        text += ` val ${b.readUInt32BE(d)} ecr ${b.readUInt32BE(d + 4)}`;
        break;
      case 34:
        text += dlen === 0 ? ' cookiereq' : ` cookie ${hex(b, d, d + dlen)}`;
        break;
      case 254:
      case 253:
        if (dlen >= 2 && b.readUInt16BE(d) === 0xf989) text += `-tfo${dlen === 2 ? ' cookiereq' : ` cookie ${hex(b, d + 2, d + dlen)}`}`;
        else text += dlen ? ` 0x${hex(b, d, d + dlen)}` : '';
        break;
      default:
        if (dlen) text += ` 0x${hex(b, d, d + dlen)}`;
    }
    if (expected !== dlen) text += `[len ${len}]`;
    parts.push(text);
    o += len;
  }
  return { text: parts.join(','), cut: false };
}

// Text protocols tcpdump summarises by port (its txtproto_print): the protocol's name and the
// first line, for HTTP only when it is a request or a response. `to` is the payload's end by
// the IP header, `end` the captured bytes': a line cut by the snap length ends in [|proto].
const TEXT_PROTOCOLS = new Map<number, { name: string; requestsOnly: boolean }>([
  [21, { name: 'FTP', requestsOnly: false }],
  [25, { name: 'SMTP', requestsOnly: false }],
  ...[...HTTP_PORTS].map((p): [number, { name: string; requestsOnly: boolean }] => [p, { name: 'HTTP', requestsOnly: true }]),
]);
const SSH_PORT = 22;

const printable = (c: number) => (c >= 0x20 && c < 0x7f) || c === 0x09;

/**
 * The first line as tcpdump's print_txt_line takes it: undefined when it holds binary or its end
 * is not in the segment; `cut` when the snap length cut it before its end.
 */
function firstLine(b: Buffer, from: number, to: number, end: number): { line?: string; cut?: boolean } {
  for (let i = from; i < to; i++) {
    if (i >= end) return { cut: true };
    const c = b[i];
    if (c === 0x0a) return { line: b.toString('latin1', from, i) };
    if (c === 0x0d) {
      if (i + 1 >= to) return {};
      if (i + 1 >= end) return { cut: true };
      return b[i + 1] === 0x0a ? { line: b.toString('latin1', from, i) } : {};
    }
    if (!printable(c)) return {};
  }
  // All printable but no line end in the segment: printed, then marked as cut.
  return { line: b.toString('latin1', from, to), cut: true };
}

/** -v: every line, each on its own tab-indented line, up to the first that is not text. */
function allLines(b: Buffer, from: number, to: number, end: number, name: string): string {
  let out = '';
  let at = from;
  while (at < to) {
    let i = at;
    let next = -1;
    let lineEnd = -1;
    for (; i < to; i++) {
      if (i >= end) return `${out} [|${name.toLowerCase()}]`;
      const c = b[i];
      if (c === 0x0a) {
        [lineEnd, next] = [i, i + 1];
        break;
      }
      if (c === 0x0d) {
        if (i + 1 >= to) return out;
        if (i + 1 >= end) return `${out} [|${name.toLowerCase()}]`;
        if (b[i + 1] !== 0x0a) return out;
        [lineEnd, next] = [i, i + 2];
        break;
      }
      if (!printable(c)) return out;
    }
    if (lineEnd < 0) return `${out}\n\t${b.toString('latin1', at, to)} [|${name.toLowerCase()}]`;
    out += `\n\t${b.toString('latin1', at, lineEnd)}`;
    at = next;
  }
  return out;
}

function token(b: Buffer, from: number, end: number): { text: string; next: number } | null {
  let i = from;
  while (i < end && b[i] > 0x20 && b[i] < 0x7f) i++;
  if (i === from || (i < end && b[i] !== 0x20 && b[i] !== 0x09)) return null;
  const text = b.toString('latin1', from, i);
  while (i < end && (b[i] === 0x20 || b[i] === 0x09)) i++;
  return { text, next: i };
}

function application(b: Buffer, from: number, to: number, end: number, sport: number, dport: number, verbose: boolean): string {
  const proto = TEXT_PROTOCOLS.get(sport) ?? TEXT_PROTOCOLS.get(dport);
  if (proto) {
    let show = !proto.requestsOnly;
    if (!show) {
      const first = token(b, from, Math.min(to, end));
      const second = first && token(b, first.next, Math.min(to, end));
      show = !!first && (HTTP_METHODS.has(first.text.toUpperCase()) || /^\d{3}$/.test(second?.text ?? ''));
    }
    if (!show) return `: ${proto.name}`;
    if (verbose) return `: ${proto.name}, length: ${to - from}${allLines(b, from, to, end, proto.name)}`;
    const first = firstLine(b, from, to, end);
    return `: ${proto.name}${first.line !== undefined ? `: ${first.line}` : ''}${first.cut ? ` [|${proto.name.toLowerCase()}]` : ''}`;
  }
  if ((sport === SSH_PORT || dport === SSH_PORT) && b.toString('latin1', from, Math.min(from + 4, end)) === 'SSH-') {
    const first = firstLine(b, from, to, end);
    if (first.line !== undefined && !first.cut) return `: SSH: ${first.line}`;
  }
  return '';
}
