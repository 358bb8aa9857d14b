// Reassembled TCP as events, a batch at a time (never a callback per segment): a table of
// 40-byte records (see native/core/reassembly/stream_events.h StreamEventRecord) and one buffer holding
// payload and the endpoints of opened streams. Accessors read the table in place; events()
// builds objects for code that prefers them.

const RECORD_BYTES = 40;
const OPEN_BYTES = 40;

export type StreamEventType = 'open' | 'data' | 'gap' | 'close';
export type CloseReason = 'fin' | 'rst' | 'timeout' | 'evicted' | 'end';

const TYPES: StreamEventType[] = ['open', 'data', 'gap', 'close'];
const REASONS: CloseReason[] = ['fin', 'rst', 'timeout', 'evicted', 'end'];

export interface StreamEndpoints {
  /** side[0] sent the first packet seen (the client when the SYN was seen). */
  side: [{ address: string; port: number }, { address: string; port: number }];
  vlan: number;
  ipVersion: 4 | 6;
}

export type StreamEvent =
  | ({ type: 'open'; stream: number; timestampNs: bigint } & StreamEndpoints)
  | { type: 'data'; stream: number; dir: 0 | 1; offset: number; bytes: Buffer; timestampNs: bigint }
  /** queueDrop: the bytes were captured but dropped because JavaScript fell behind (live only). */
  | { type: 'gap'; stream: number; dir: 0 | 1; offset: number; length: number; queueDrop: boolean; timestampNs: bigint }
  | { type: 'close'; stream: number; reason: CloseReason; timestampNs: bigint };

const dotted = (b: Buffer) => `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;

function address(bytes: Buffer, ipVersion: number): string {
  if (ipVersion === 4) return dotted(bytes);
  // As inet_ntop writes them (the stream files' names, tcpflow's): an IPv4-mapped address, and
  // an IPv4-compatible one that is not :: or ::1, end in their IPv4 address.
  if (bytes.subarray(0, 10).every((b) => b === 0)) {
    const [w5, w6] = [bytes.readUInt16BE(10), bytes.readUInt16BE(12)];
    if (w5 === 0xffff) return `::ffff:${dotted(bytes.subarray(12))}`;
    if (w5 === 0 && w6 !== 0) return `::${dotted(bytes.subarray(12))}`;
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // The shortest form (RFC 5952) via URL's normaliser.
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

export class StreamEventBatch {
  readonly count: number;
  private readonly table: Buffer;

  constructor(
    events: Buffer,
    readonly data: Buffer,
    count: number,
  ) {
    this.table = events;
    this.count = count;
  }

  type(i: number): StreamEventType {
    return TYPES[this.table[i * RECORD_BYTES + 36]];
  }
  stream(i: number): number {
    return Number(this.table.readBigUInt64LE(i * RECORD_BYTES));
  }
  /** 0: bytes sent by side[0] of the open event; 1: by side[1]. */
  dir(i: number): 0 | 1 {
    return this.table[i * RECORD_BYTES + 37] as 0 | 1;
  }
  /** Stream offset of data and gaps. */
  offset(i: number): number {
    return Number(this.table.readBigUInt64LE(i * RECORD_BYTES + 8));
  }
  /** Bytes of data, missing bytes of a gap. */
  length(i: number): number {
    return Number(this.table.readBigUInt64LE(i * RECORD_BYTES + 16));
  }
  timestampNs(i: number): bigint {
    return this.table.readBigUInt64LE(i * RECORD_BYTES + 24);
  }
  /** The payload of a data event (a view, not a copy). */
  bytes(i: number): Buffer {
    const start = this.table.readUInt32LE(i * RECORD_BYTES + 32);
    return this.data.subarray(start, start + this.length(i));
  }
  closeReason(i: number): CloseReason {
    return REASONS[this.table[i * RECORD_BYTES + 38]];
  }
  queueDrop(i: number): boolean {
    return this.table[i * RECORD_BYTES + 38] === 1;
  }
  endpoints(i: number): StreamEndpoints {
    const at = this.table.readUInt32LE(i * RECORD_BYTES + 32);
    const block = this.data.subarray(at, at + OPEN_BYTES);
    const ipVersion = block[38] === 6 ? 6 : 4;
    return {
      side: [
        { address: address(block.subarray(0, 16), ipVersion), port: block.readUInt16LE(32) },
        { address: address(block.subarray(16, 32), ipVersion), port: block.readUInt16LE(34) },
      ],
      vlan: block.readUInt16LE(36),
      ipVersion,
    };
  }

  *events(): IterableIterator<StreamEvent> {
    for (let i = 0; i < this.count; i++) {
      const stream = this.stream(i);
      const timestampNs = this.timestampNs(i);
      switch (this.type(i)) {
        case 'open':
          yield { type: 'open', stream, timestampNs, ...this.endpoints(i) };
          break;
        case 'data':
          yield { type: 'data', stream, dir: this.dir(i), offset: this.offset(i), bytes: this.bytes(i), timestampNs };
          break;
        case 'gap':
          yield { type: 'gap', stream, dir: this.dir(i), offset: this.offset(i), length: this.length(i), queueDrop: this.queueDrop(i), timestampNs };
          break;
        case 'close':
          yield { type: 'close', stream, reason: this.closeReason(i), timestampNs };
          break;
      }
    }
  }
}

