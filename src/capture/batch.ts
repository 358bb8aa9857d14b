// A batch of packets as the native side hands it over: one buffer of packet bytes and a table
// of 32-byte records (see native/core/common/packet.h PacketRecord). Accessors read the table in place.

const RECORD_BYTES = 32;
const U32_PER_RECORD = RECORD_BYTES / 4;

export class PacketBatch {
  readonly count: number;
  /** The records in place (RECORD_BYTES/4 words each), for loops that must not allocate per packet. */
  readonly table: Uint32Array;

  constructor(
    readonly data: Buffer,
    records: Buffer,
    count: number,
  ) {
    this.count = count;
    const aligned = records.byteOffset % 4 === 0 ? records : Buffer.from(records);
    this.table = new Uint32Array(aligned.buffer, aligned.byteOffset, count * U32_PER_RECORD);
  }

  /** Capture time in nanoseconds since the Unix epoch. */
  timestampNs(i: number): bigint {
    const base = i * U32_PER_RECORD;
    return (BigInt(this.table[base + 1]) << 32n) | BigInt(this.table[base]);
  }
  caplen(i: number): number {
    return this.table[i * U32_PER_RECORD + 3];
  }
  origlen(i: number): number {
    return this.table[i * U32_PER_RECORD + 4];
  }
  /** Index into the session's interface list. */
  iface(i: number): number {
    return this.table[i * U32_PER_RECORD + 5];
  }
  /** The captured bytes of packet i (a view, not a copy). */
  packet(i: number): Buffer {
    const offset = this.table[i * U32_PER_RECORD + 2];
    return this.data.subarray(offset, offset + this.caplen(i));
  }
}
