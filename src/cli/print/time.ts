// Packet timestamps in tcpdump's -t forms: 0 (default) time of day, 1 none, 2 epoch seconds,
// 3 delta since the previous packet, 4 date and time, 5 delta since the first packet.
// Microseconds, local time, like tcpdump.

export type TimestampMode = 0 | 1 | 2 | 3 | 4 | 5;

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

function clock(us: bigint): string {
  const d = new Date(Number(us / 1000n));
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(Number(us % 1_000_000n), 6)}`;
}

function delta(us: bigint): string {
  const sec = us / 1_000_000n;
  const h = sec / 3600n;
  return `${pad(Number(h))}:${pad(Number((sec / 60n) % 60n))}:${pad(Number(sec % 60n))}.${pad(Number(us % 1_000_000n), 6)}`;
}

export class TimestampFormatter {
  private first?: bigint;
  private previous?: bigint;

  constructor(private readonly mode: TimestampMode) {}

  /** The timestamp and its trailing space, or '' with -t. */
  format(ns: bigint): string {
    const us = ns / 1000n;
    const first = (this.first ??= us);
    const previous = this.previous ?? us;
    this.previous = us;
    switch (this.mode) {
      case 1:
        return '';
      case 2:
        return `${us / 1_000_000n}.${pad(Number(us % 1_000_000n), 6)} `;
      case 3:
        return ` ${delta(us - previous)} `;
      case 4: {
        const d = new Date(Number(us / 1000n));
        return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(us)} `;
      }
      case 5:
        return ` ${delta(us - first)} `;
      default:
        return `${clock(us)} `;
    }
  }
}
