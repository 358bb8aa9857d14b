// One line per packet in tcpdump's format (and the -x/-X/-A dumps under it). Printers are per
// protocol; this module walks the link layer and hands over to them.
import fs from 'node:fs';
import { arp } from './arp';
import { asciiDump, hexDump } from './hex';
import { IpPrinter } from './ip';
import { ETH_ARP, ETH_RARP, ETH_IPV4, ETH_IPV6, ethertypeText, link } from './link';
import { TcpPrinter } from './tcp';
import { TimestampFormatter, type TimestampMode, type TimestampPrecision } from './time';

export type { TimestampMode, TimestampPrecision };

export interface PrintOptions {
  /** -v count: the IP header's fields. */
  verbose: number;
  /** -e: the link-level header. */
  link: boolean;
  /** -q: less protocol detail. */
  quiet: boolean;
  /** -t count. */
  timestamps: TimestampMode;
  /** -x/-xx (hex), -X/-XX (hex and ASCII), -A (ASCII); withLink for the doubled forms. */
  dump?: { kind: 'hex' | 'hex-ascii' | 'ascii'; withLink: boolean };
  /** -S: TCP sequence and acknowledgement numbers as sent, not relative to the first seen. */
  absoluteSeq?: boolean;
  /** -#: each line starts with the packet's number. */
  numbered?: boolean;
  /** --nano: timestamps with nanoseconds. */
  precision?: TimestampPrecision;
  /** -K: TCP and UDP checksums are not checked with -v. */
  noChecksums?: boolean;
}

export const DEFAULT_PRINT: PrintOptions = { verbose: 0, link: false, quiet: false, timestamps: 0 };

/** Interface names by index from /sys/class/net, re-read when an index is not known yet. */
function interfaceNames(): (index: number) => string {
  let names = new Map<number, string>();
  const load = () => {
    names = new Map();
    try {
      for (const name of fs.readdirSync('/sys/class/net')) {
        const index = Number(fs.readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8'));
        if (Number.isInteger(index)) names.set(index, name);
      }
    } catch {
      // not Linux, or no /sys: indexes print as "?" like tcpdump's when if_indextoname fails
    }
  };
  let loaded = false;
  return (index) => {
    if (!loaded || !names.has(index)) {
      load();
      loaded = true;
    }
    return names.get(index) ?? '?';
  };
}

export class PacketPrinter {
  private readonly time: TimestampFormatter;
  private readonly ip: IpPrinter;
  private readonly ifName = interfaceNames();
  private printed = 0;

  constructor(private readonly opt: PrintOptions = DEFAULT_PRINT) {
    this.time = new TimestampFormatter(opt.timestamps, opt.precision);
    const checksums = opt.noChecksums !== true;
    this.ip = new IpPrinter(new TcpPrinter(opt.verbose, opt.absoluteSeq === true, checksums), { verbose: opt.verbose, quiet: opt.quiet, checksums });
  }

  /** One packet's line (and its dump); `prefix` goes after the number, before the time (an interface's name). */
  line(ts: bigint, linktype: number, b: Buffer, origlen: number, prefix = ''): string {
    const l = link(b, linktype, origlen, this.opt.link, this.ifName);
    this.printed++;
    // tcpdump -#: the number right-aligned in 5 columns, then two spaces.
    let text = (this.opt.numbered ? `${String(this.printed).padStart(5)}  ` : '') + prefix + this.time.format(ts) + l.text;
    try {
      if (l.offset >= 0) text += this.network(b, l.offset, l.ethertype, origlen - l.offset, l.llc === true);
    } catch (err) {
      // A header the printers did not bounds-check ran past the captured bytes: say so, as tcpdump does.
      if (!(err instanceof RangeError)) throw err;
      text += ' [|truncated]';
    }
    const d = this.opt.dump;
    if (d) {
      const from = d.withLink || l.offset < 0 ? 0 : l.offset;
      text += d.kind === 'ascii' ? asciiDump(b, from, b.length) : hexDump(b, from, b.length, d.kind === 'hex-ascii');
    }
    return text;
  }

  private network(b: Buffer, o: number, ethertype: number, length: number, llc: boolean): string {
    const label = (name: string) => (this.opt.link ? '' : name);
    if (llc) return `LLC, length ${length}`;
    switch (ethertype) {
      case ETH_IPV4:
        return label('IP ') + this.ip.ipv4(b, o, b.length, length);
      case ETH_IPV6:
        return label('IP6 ') + this.ip.ipv6(b, o, b.length, length);
      case ETH_ARP:
      case ETH_RARP: {
        const t = arp(b, o, b.length, length, this.opt.verbose > 0);
        return this.opt.link ? t.replace(/^ARP, /, '') : t;
      }
      default:
        return this.opt.link ? `length ${length}` : `${ethertypeText(ethertype)}, length ${length}`;
    }
  }
}
