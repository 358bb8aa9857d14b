// tcpdump's payload dumps: -x (hex), -X (hex and ASCII), -A (ASCII), 16 bytes per line.

const isPrint = (c: number) => c >= 0x20 && c < 0x7f;
const isGraph = (c: number) => c > 0x20 && c < 0x7f; // -X shows a space as '.'

export function hexDump(b: Buffer, from: number, to: number, ascii: boolean): string {
  let out = '';
  for (let line = from; line < to; line += 16) {
    const stop = Math.min(line + 16, to);
    let hex = '';
    let text = '';
    for (let i = line; i < stop; i += 2) {
      hex += i + 1 < stop ? ` ${b[i].toString(16).padStart(2, '0')}${b[i + 1].toString(16).padStart(2, '0')}` : ` ${b[i].toString(16).padStart(2, '0')}`;
    }
    out += `\n\t0x${(line - from).toString(16).padStart(4, '0')}: ${hex}`;
    if (ascii) {
      for (let i = line; i < stop; i++) text += isGraph(b[i]) ? String.fromCharCode(b[i]) : '.';
      out += `${' '.repeat(40 - hex.length)}  ${text}`;
    }
  }
  return out;
}

/** -A: printable bytes as they are, newlines kept, CR before LF dropped, the rest as '.'. */
export function asciiDump(b: Buffer, from: number, to: number): string {
  let out = '\n';
  for (let i = from; i < to; i++) {
    const c = b[i];
    if (c === 0x0d) {
      if (i + 1 >= to || b[i + 1] !== 0x0a) out += '.';
    } else if (c === 0x0a || c === 0x09 || isPrint(c)) out += String.fromCharCode(c);
    else out += '.';
  }
  return out;
}
