// Reassembled TCP printed on a console, as tcpflow's -c prints it: "NAME: " (the stream
// direction's file name) and the bytes, each byte outside printable ASCII, CR and LF as '.', one
// newline after each piece. tcpflow prints each packet's payload as it arrives (out of order and
// retransmitted copies too); this prints the stream as reassembled: in order, each byte once, and
// a missing stretch as a piece of its own. A whole batch of stream events becomes one Buffer (no
// string per piece), so standard output gets one write per batch.
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

const COLORS = [Buffer.from('\x1b[0;34m'), Buffer.from('\x1b[0;31m')]; // side 0 (the client when the SYN was seen) blue
const RESET = Buffer.from('\x1b[0m');
const HEX_LINE = 32;
/** Hex of a full line: two bytes a group, each group and a space. */
const HEX_WIDTH = HEX_LINE * 2 + HEX_LINE / 2;
const DOT = 0x2e, SPACE = 0x20, NEWLINE = 0x0a;
const DIGITS = Buffer.from('0123456789abcdef');

/** Byte → what a hex dump's text column shows: printable ASCII as is, the rest '.'. */
const DUMP_TEXT = Uint8Array.from({ length: 256 }, (_, b) => (b >= 0x20 && b <= 0x7e ? b : DOT));

/**
 * The stream events a style needs: for text (tcpflow -c, -C) the native side shows the bytes as
 * text already (payloadAsText, on the capture thread: ~3 ns a byte in JavaScript, a tenth of that there).
 */
export const eventsFor = (style: ConsoleStyle) => ({ payloadAsText: !style.hex && !style.binary });

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

/** One batch's output, grown as needed (one allocation per batch when the estimate holds). */
class Output {
  private buf: Buffer;
  private len = 0;
  constructor(estimate: number) {
    this.buf = Buffer.allocUnsafe(estimate);
  }
  room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(bigger, 0, 0, this.len);
    this.buf = bigger;
  }
  bytes(src: Uint8Array): void {
    this.room(src.length);
    this.buf.set(src, this.len);
    this.len += src.length;
  }
  byte(b: number): void {
    this.room(1);
    this.buf[this.len++] = b;
  }
  mapped(src: Uint8Array, table: Uint8Array): void {
    this.room(src.length);
    const buf = this.buf;
    let at = this.len;
    for (let i = 0; i < src.length; i++) buf[at++] = table[src[i]];
    this.len = at;
  }
  /** `value` in hex, at least `width` digits. */
  hexNumber(value: number, width: number): void {
    let digits = width;
    while (value >= 16 ** digits) digits++;
    this.room(digits);
    for (let d = digits - 1; d >= 0; d--) this.buf[this.len++] = DIGITS[Math.floor(value / 16 ** d) % 16];
  }
  /** tcpflow's -D: a piece longer than a line pads its last line's hex to the full width; a one-line piece is not padded. */
  hexDump(src: Uint8Array): void {
    for (let at = 0; at < src.length; at += HEX_LINE) {
      const line = src.subarray(at, at + HEX_LINE);
      this.hexNumber(at, 4);
      this.room(2 + HEX_WIDTH + 1);
      const buf = this.buf;
      let o = this.len;
      buf[o++] = 0x3a; // ':'
      buf[o++] = SPACE;
      const start = o;
      for (let i = 0; i < line.length; i++) {
        buf[o++] = DIGITS[line[i] >> 4];
        buf[o++] = DIGITS[line[i] & 15];
        if (i % 2) buf[o++] = SPACE;
      }
      if (src.length > HEX_LINE) while (o - start < HEX_WIDTH) buf[o++] = SPACE;
      buf[o++] = SPACE;
      this.len = o;
      this.mapped(line, DUMP_TEXT);
      this.byte(NEWLINE);
    }
  }
  done(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

export class StreamConsole {
  /** Open streams' "NAME: " per direction, until their close event (the flow table bounds how many). */
  private readonly headers = new Map<number, [Buffer, Buffer]>();
  /** Payload bytes printed. */
  printedBytes = 0;

  constructor(private readonly style: ConsoleStyle) {}

  /** The bytes to print for one batch. */
  format(batch: StreamEventBatch): Buffer {
    const out = new Output(batch.data.length * (this.style.hex ? 4 : 1) + batch.count * 64);
    for (let i = 0; i < batch.count; i++) {
      const stream = batch.stream(i);
      switch (batch.type(i)) {
        case 'open': {
          const [a, b] = directionNames(batch.endpoints(i));
          this.headers.set(stream, [Buffer.from(`${a}: `), Buffer.from(`${b}: `)]);
          break;
        }
        case 'close':
          this.headers.delete(stream);
          break;
        case 'data': {
          const bytes = batch.bytes(i);
          this.printedBytes += bytes.length;
          // Text: the bytes came as text (eventsFor); binary: as they are.
          this.startPiece(out, stream, batch.dir(i));
          if (this.style.hex) out.hexDump(bytes);
          else out.bytes(bytes);
          this.endPiece(out);
          break;
        }
        case 'gap': {
          const n = batch.length(i);
          const dropped = batch.queueDrop(i);
          // Without headers the output is the stream's bytes alone: a gap shows only with them.
          if (this.style.headers) {
            const note = Buffer.from(`[${n} bytes ${dropped ? 'dropped: the console fell behind' : 'not captured'}]`);
            this.startPiece(out, stream, batch.dir(i));
            out.bytes(note);
            this.endPiece(out);
          }
          break;
        }
      }
    }
    return out.done();
  }

  /** A piece's colour and "NAME: " (the hex dump starts on the next line). */
  private startPiece(out: Output, stream: number, dir: 0 | 1): void {
    if (this.style.color) out.bytes(COLORS[dir]);
    if (this.style.headers) {
      out.bytes(this.headers.get(stream)?.[dir] ?? Buffer.from(`stream ${stream}: `));
      if (this.style.hex) out.byte(NEWLINE);
    }
  }

  private endPiece(out: Output): void {
    if (this.style.color) out.bytes(RESET);
    out.byte(NEWLINE);
  }
}
