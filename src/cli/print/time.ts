// Packet timestamps in tcpdump's -t forms: 0 (default) time of day, 1 none, 2 epoch seconds,
// 3 delta since the previous packet, 4 date and time, 5 delta since the first packet.
// Microseconds (or nanoseconds: --nano), local time, like tcpdump.

export type TimestampMode = 0 | 1 | 2 | 3 | 4 | 5;
export type TimestampPrecision = 'micro' | 'nano';

const pad = (n: number | bigint, w = 2) => String(n).padStart(w, '0');

export class TimestampFormatter {
  private first?: bigint;
  private previous?: bigint;
  /** Ticks per second and digits of the fraction. */
  private readonly perSecond: bigint;
  private readonly digits: number;
  /** Nanoseconds per tick. */
  private readonly tick: bigint;

  constructor(
    private readonly mode: TimestampMode,
    precision: TimestampPrecision = 'micro',
  ) {
    this.perSecond = precision === 'nano' ? 1_000_000_000n : 1_000_000n;
    this.digits = precision === 'nano' ? 9 : 6;
    this.tick = 1_000_000_000n / this.perSecond;
  }

  private fraction(t: bigint): string {
    return pad(t % this.perSecond, this.digits);
  }

  private clock(t: bigint): string {
    const d = new Date(Number((t * 1000n) / this.perSecond));
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${this.fraction(t)}`;
  }

  private delta(t: bigint): string {
    const sec = t / this.perSecond;
    return `${pad(sec / 3600n)}:${pad((sec / 60n) % 60n)}:${pad(sec % 60n)}.${this.fraction(t)}`;
  }

  /** The timestamp and its trailing space, or '' with -t. */
  format(ns: bigint): string {
    const t = ns / this.tick;
    const first = (this.first ??= t);
    const previous = this.previous ?? t;
    this.previous = t;
    switch (this.mode) {
      case 1:
        return '';
      case 2:
        return `${t / this.perSecond}.${this.fraction(t)} `;
      case 3:
        return ` ${this.delta(t - previous)} `;
      case 4: {
        const d = new Date(Number((t * 1000n) / this.perSecond));
        return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${this.clock(t)} `;
      }
      case 5:
        return ` ${this.delta(t - first)} `;
      default:
        return `${this.clock(t)} `;
    }
  }
}
