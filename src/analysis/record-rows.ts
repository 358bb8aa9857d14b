// Fixed rows beside the JSON lines (native/core/analysis/record_rows.h is the layout; the offsets
// below restate it): each flow, HTTP and DNS record of a batch also comes as one little-endian
// row with the numbers the aggregates and metrics need and its strings as spans into the batch's
// JSON bytes. Reading rows fills one reused view object per kind (no object per record) and
// decodes strings through a small cache keyed on their bytes, or not at all where the row says
// the row before had the same text (its value is still in the view), so a batch reaches the
// aggregator and the metrics without JSON.parse; the JSON bytes stay the outputs' bytes.
import { CONN_STATES, type DnsRecord, type Endpoints, type FlowRecord, type HttpRecord } from './records';

export const FLOW_ROW_SIZE = 104;
/** Byte 0's bits above the kind: this string has the same JSON text as in the row before (record_rows.h, RowSame). */
export const SAME_SERVER = 0x10;
export const SAME_CLIENT = 0x20;
export const SAME_A = 0x40;
export const SAME_B = 0x80;
export const HTTP_ROW_SIZE = 88;
export const DNS_ROW_SIZE = 72;
const NO_SPAN = 0xffffffff;
const BACKSLASH = 0x5c;

/** The server side of a record as the aggregates name it (`server_pod` set by the pod index). */
export type ServerFacts = Pick<Endpoints, 'server' | 'server_port' | 'server_pod'>;
export type FlowFacts = ServerFacts & Pick<FlowRecord, 'state' | 'client_packets' | 'server_packets' | 'retransmitted_packets' | 'handshake_rtt_ms'>;
/** A connection as a capture file's storage index keeps it (duration_ms null as the line's). */
export type FlowEnds = Pick<FlowRecord, 'client' | 'client_port' | 'server' | 'server_port' | 'ts' | 'client_packets' | 'server_packets'> & { duration_ms: number | null };
export type HttpFacts = ServerFacts & Pick<HttpRecord, 'method' | 'route' | 'status' | 'grpc_status' | 'latency_ms' | 'duration_ms'>;
export type DnsFacts = ServerFacts & Pick<DnsRecord, 'query' | 'qtype' | 'qtype_name' | 'rcode' | 'rcode_name' | 'latency_ms'>;

/**
 * JSON string values read from spans (offset and length of the value's text, quotes included),
 * each decoded once and then found by its bytes: FNV-1a over the bytes, checked byte for byte.
 * Bounded: past maxEntries distinct strings (paths from the network are unbounded) it starts over.
 */
export class SpanStrings {
  private readonly byHash = new Map<number, { bytes: Buffer; value: string }>();

  constructor(private readonly maxEntries = 4096) {}

  /** Strings held now. */
  get size(): number {
    return this.byHash.size;
  }

  /** The string at the span, or null when the JSON has null there. */
  get(json: Buffer, offset: number, len: number): string | null {
    if (offset === NO_SPAN) return null;
    const end = offset + len;
    let h = 0x811c9dc5 ^ len;
    for (let i = offset; i < end; i++) h = Math.imul(h ^ json[i]!, 0x01000193);
    const hit = this.byHash.get(h);
    if (hit && sameBytes(hit.bytes, json, offset, len)) return hit.value;
    if (this.byHash.size >= this.maxEntries) this.byHash.clear();
    const value = decodeJsonString(json, offset, end);
    this.byHash.set(h, { bytes: Buffer.from(json.subarray(offset, end)), value });
    return value;
  }
}

function sameBytes(a: Buffer, b: Buffer, offset: number, len: number): boolean {
  if (a.length !== len) return false;
  for (let i = 0; i < len; i++) if (a[i] !== b[offset + i]) return false;
  return true;
}

/** A JSON string's text (quotes included) as JSON.parse reads it; without escapes, its UTF-8 inside the quotes. */
function decodeJsonString(json: Buffer, offset: number, end: number): string {
  for (let i = offset + 1; i < end - 1; i++) if (json[i] === BACKSLASH) return JSON.parse(json.toString('utf8', offset, end)) as string;
  return json.toString('utf8', offset + 1, end - 1);
}

/** Microseconds as the row has them (-1: null) to the milliseconds JSON.parse gives for the line. */
const ms = (us: number): number | null => (us < 0 ? null : us / 1000);
const orNull = (v: number): number | null => (v < 0 ? null : v);

/** A batch's rows of one kind with the JSON bytes their spans point into. */
export abstract class Rows {
  /** The kind's row size (record_rows.h). */
  static readonly rowSize: number;
  readonly view: DataView;
  readonly count: number;
  readonly size: number;
  // The row read last and the object it was read into: the next row's same-as-before bits hold
  // only for that object, and only if nothing else was read into it since.
  private lastRow = -1;
  private lastInto: object | undefined;

  constructor(
    rows: Buffer,
    readonly json: Buffer,
    protected readonly strings: SpanStrings,
  ) {
    this.size = (this.constructor as typeof Rows).rowSize;
    this.view = new DataView(rows.buffer, rows.byteOffset, rows.length);
    this.count = Math.floor(rows.length / this.size);
  }

  protected span(at: number): string | null {
    return this.strings.get(this.json, this.view.getUint32(at, true), this.view.getUint32(at + 4, true));
  }

  /** The record's JSON line ('\n' excluded). */
  line(i: number): Buffer {
    return this.json.subarray(this.lineStart(i), this.lineEnd(i));
  }

  /** Where row i's line starts in the batch's JSON, and where it ends ('\n' excluded). */
  lineStart(i: number): number {
    return this.view.getUint32(i * this.size + 8, true);
  }
  lineEnd(i: number): number {
    const at = i * this.size + 8;
    return this.view.getUint32(at, true) + this.view.getUint32(at + 4, true);
  }

  /** The line's client and server addresses. */
  clientAddress(i: number): string {
    return this.span(i * this.size + 24)!;
  }
  serverAddress(i: number): string {
    return this.span(i * this.size + 16)!;
  }

  /**
   * Row i's same-as-before bits (SAME_*) where `into` still holds row i-1's strings, read into it
   * just before; else 0. Reading row by row into one object, a string the row marks is left as
   * it is instead of being read again (the caller must not change those fields in between).
   */
  protected sameAsBefore(i: number, into: object): number {
    const same = i === this.lastRow + 1 && into === this.lastInto ? this.view.getUint8(i * this.size) : 0;
    this.lastRow = i;
    this.lastInto = into;
    return same;
  }

  protected server(at: number, into: ServerFacts, same: number): void {
    if (!(same & SAME_SERVER)) into.server = this.span(at + 16)!;
    into.server_port = this.view.getUint16(at + 2, true);
    into.server_pod = undefined;
  }
}

export class FlowRows extends Rows {
  static override readonly rowSize = FLOW_ROW_SIZE;

  /** Fills `into` with row i's values (the object is the caller's, reused row after row: Rows.sameAsBefore). */
  read(i: number, into: FlowFacts): FlowFacts {
    const at = i * FLOW_ROW_SIZE;
    const v = this.view;
    this.server(at, into, this.sameAsBefore(i, into));
    into.state = CONN_STATES[v.getUint16(at + 6, true)]!;
    into.client_packets = v.getFloat64(at + 32, true);
    into.server_packets = v.getFloat64(at + 40, true);
    into.retransmitted_packets = v.getFloat64(at + 64, true);
    into.handshake_rtt_ms = ms(v.getFloat64(at + 72, true));
    return into;
  }

  /** Row i's two ends, start and length (a new object: the storage index keeps few of them). */
  ends(i: number): FlowEnds {
    const at = i * FLOW_ROW_SIZE;
    const v = this.view;
    return {
      client: this.span(at + 24)!,
      client_port: v.getUint16(at + 96, true),
      server: this.span(at + 16)!,
      server_port: v.getUint16(at + 2, true),
      ts: this.span(at + 88)!,
      duration_ms: ms(v.getFloat64(at + 80, true)),
      client_packets: v.getFloat64(at + 32, true),
      server_packets: v.getFloat64(at + 40, true),
    };
  }
}

export class HttpRows extends Rows {
  static override readonly rowSize = HTTP_ROW_SIZE;

  read(i: number, into: HttpFacts): HttpFacts {
    const at = i * HTTP_ROW_SIZE;
    const v = this.view;
    const same = this.sameAsBefore(i, into);
    this.server(at, into, same);
    // As JSON.parse reads the line: null where the JSON has null, whatever the type says.
    if (!(same & SAME_A)) into.method = this.span(at + 32)!;
    if (!(same & SAME_B)) into.route = this.span(at + 40)!;
    into.status = orNull(v.getInt32(at + 48, true))!;
    into.grpc_status = orNull(v.getInt32(at + 52, true));
    into.latency_ms = ms(v.getFloat64(at + 56, true));
    into.duration_ms = ms(v.getFloat64(at + 64, true));
    return into;
  }
}

export class DnsRows extends Rows {
  static override readonly rowSize = DNS_ROW_SIZE;

  read(i: number, into: DnsFacts): DnsFacts {
    const at = i * DNS_ROW_SIZE;
    const v = this.view;
    const same = this.sameAsBefore(i, into);
    this.server(at, into, same);
    into.qtype = v.getUint16(at + 6, true);
    if (!(same & SAME_A)) into.query = this.span(at + 32)!;
    if (!(same & SAME_B)) into.qtype_name = this.span(at + 40)!;
    into.rcode_name = this.span(at + 48)!;
    into.rcode = orNull(v.getInt32(at + 56, true))!;
    into.latency_ms = ms(v.getFloat64(at + 64, true));
    return into;
  }
}

/** Fresh views to fill (one per kind and pipeline). */
export const flowFacts = (): FlowFacts => ({ server: '', server_port: 0, state: 'midstream', client_packets: 0, server_packets: 0, retransmitted_packets: 0, handshake_rtt_ms: null });
export const httpFacts = (): HttpFacts => ({ server: '', server_port: 0, method: '', route: '', status: 0, grpc_status: null, latency_ms: null, duration_ms: null });
export const dnsFacts = (): DnsFacts => ({ server: '', server_port: 0, query: '', qtype: 0, qtype_name: '', rcode: -1, rcode_name: '', latency_ms: null });
