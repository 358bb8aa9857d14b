// Reassembled TCP printed on a console, as tcpflow's -c prints it: "NAME: " (the stream
// direction's file name) and the bytes, each byte outside printable ASCII, CR and LF as '.', one
// newline after each piece. tcpflow prints each packet's payload as it arrives (out of order and
// retransmitted copies too); this prints the stream as reassembled: in order, each byte once, and
// a missing stretch as a line of its own. Formats a whole batch of stream events into one string
// (latin1), so standard output gets one write per batch.
import type { StreamEndpoints, StreamEventBatch } from './stream-events';

export interface ConsoleStyle {
  /** tcpflow -c: "NAME: " before each piece (false: tcpflow -C). */
  headers: boolean;
  /** tcpflow -D: a hex dump of each piece, 32 bytes a line with their ASCII. */
  hex: boolean;
  /** tcpflow -g: client to server in blue, server to client in red. */
  color: boolean;
  /** tcpflow -B: the bytes as they are, unprintable ones too. */
  binary: boolean;
}

const BLUE = '\x1b[0;34m';
const RED = '\x1b[0;31m';
const RESET = '\x1b[0m';
const HEX_LINE = 32;

/** tcpflow's name of one side: IPv4 octets to three digits and the port to five (the stream files' names). */
function sideName(e: { address: string; port: number }, ipVersion: 4 | 6): string {
  const address = ipVersion === 4 ? e.address.split('.').map((o) => o.padStart(3, '0')).join('.') : e.address;
  return `${address}.${String(e.port).padStart(5, '0')}`;
}

/** The two directions' names: [side 0 to side 1, side 1 to side 0], with the VLAN as the files' `--VLAN`. */
export function directionNames(ends: StreamEndpoints): [string, string] {
  const [a, b] = ends.side.map((s) => sideName(s, ends.ipVersion));
  const vlan = ends.vlan ? `--${ends.vlan}` : '';
  return [`${a}-${b}${vlan}`, `${b}-${a}${vlan}`];
}

/** Bytes tcpflow shows as they are; the rest become '.'. */
const printable = (text: string, keepLines: boolean) => text.replace(keepLines ? /[^\x20-\x7e\r\n]/g : /[^\x20-\x7e]/g, '.');

/** Hex of a full line: two bytes a group, each group and a space. */
const HEX_WIDTH = HEX_LINE * 2 + HEX_LINE / 2;

/** tcpflow's -D: a piece longer than a line pads its last line's hex to the full width; a one-line piece is not padded. */
function hexDump(bytes: Buffer): string {
  let out = '';
  for (let at = 0; at < bytes.length; at += HEX_LINE) {
    const line = bytes.subarray(at, at + HEX_LINE);
    let hex = '';
    for (let i = 0; i < line.length; i++) hex += line[i].toString(16).padStart(2, '0') + (i % 2 ? ' ' : '');
    if (bytes.length > HEX_LINE) hex = hex.padEnd(HEX_WIDTH);
    out += `${at.toString(16).padStart(4, '0')}: ${hex} ${printable(line.toString('latin1'), false)}\n`;
  }
  return out;
}

export class StreamConsole {
  /** Open streams' direction names, until their close event (the flow table bounds how many). */
  private readonly names = new Map<number, [string, string]>();
  /** Bytes printed, and bytes of gaps (never captured, or dropped because the console fell behind). */
  printedBytes = 0;
  gapBytes = 0;
  droppedBytes = 0;

  constructor(private readonly style: ConsoleStyle) {}

  /** The text of one batch, latin1 (one char per byte). */
  format(batch: StreamEventBatch): string {
    let out = '';
    for (let i = 0; i < batch.count; i++) {
      const stream = batch.stream(i);
      switch (batch.type(i)) {
        case 'open':
          this.names.set(stream, directionNames(batch.endpoints(i)));
          break;
        case 'close':
          this.names.delete(stream);
          break;
        case 'data': {
          const bytes = batch.bytes(i);
          this.printedBytes += bytes.length;
          out += this.piece(stream, batch.dir(i), this.body(bytes));
          break;
        }
        case 'gap': {
          const n = batch.length(i);
          const dropped = batch.queueDrop(i);
          if (dropped) this.droppedBytes += n;
          else this.gapBytes += n;
          // Without headers the output is the stream's bytes alone: a gap shows only with them.
          if (this.style.headers) out += this.piece(stream, batch.dir(i), `[${n} bytes ${dropped ? 'dropped: the console fell behind' : 'not captured'}]`);
          break;
        }
      }
    }
    return out;
  }

  private body(bytes: Buffer): string {
    if (this.style.hex) return hexDump(bytes);
    const text = bytes.toString('latin1');
    return this.style.binary ? text : printable(text, true);
  }

  private piece(stream: number, dir: 0 | 1, body: string): string {
    const name = this.names.get(stream)?.[dir] ?? `stream ${stream}`;
    const header = this.style.headers ? `${name}: ${this.style.hex ? '\n' : ''}` : '';
    if (!this.style.color) return `${header}${body}\n`;
    return `${dir === 0 ? BLUE : RED}${header}${body}${RESET}\n`;
  }
}
