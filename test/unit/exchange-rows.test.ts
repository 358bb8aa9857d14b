// Contract 1's rows read back (src/shadow/exchange-rows.ts): every kind as written, bytes kept
// as they were, and a batch that is not what the native side writes refused with one line naming
// the row, never a TypeError or a RangeError (checked on 3,000 seeded mutations as well).
import { describe, expect, it } from 'vitest';
import { InputFileError } from '../../src/errors';
import { HEADERS_IN_ROW, httpRowHeaders, readRows } from '../../src/shadow/exchange-rows';
import { parseExchangeBatch, type ExchangeLine } from '../../src/shadow/native-exchanges';
import { encodeRows } from '../helpers/exchange-rows';

const lines: ExchangeLine[] = [
  { t: 'open', conn: '7', client: '10.0.0.1', client_port: 40000, server: '2001:db8::2', server_port: 8080, ts_ms: 1700000000000.125 },
  {
    t: 'http', conn: '7', seq: 1, ts_ms: 1700000000001.5, method: 'POST', target: '/items/42?x=1', path: '/items/42', route: '/items/{id}',
    host: 'shop.example', version: '1.1', headers: [['Host', 'shop.example'], ['X-Name', 'caf\u00e9'], ['X-Empty', '']],
    body: Buffer.from('{"a":1}'), body_length: 7, body_truncated: false,
    resp: {
      status: 201, version: '1.1', headers: [['Content-Length', '2']], body: Buffer.from('ok'), body_length: 2, body_truncated: false,
      ts_ms: 1700000000002, latency_ms: 0.5, duration_ms: 0.75,
    },
  },
  {
    t: 'http', conn: '7', seq: 2, ts_ms: 1700000000003, method: 'GET', target: '/', path: '/', route: '/', host: '', version: '1.0',
    headers: [], body: Buffer.alloc(0), body_length: 0, body_truncated: false, resp: null, note: 'no_response',
  },
  {
    t: 'h2', conn: '9', stream: 3, ts_ms: 1700000000004, method: 'POST', path: '/pkg.Svc/Call', route: '/pkg.Svc/Call', authority: 'svc:50051',
    headers: [[':method', 'POST'], ['content-type', 'application/grpc']], body: Buffer.from([0, 0, 0, 0, 1, 8]), body_length: 6, body_truncated: false,
    trailers: [], grpc: true,
    resp: {
      status: 200, headers: [[':status', '200']], body: Buffer.from([0, 0, 0, 0, 0]), body_length: 5, body_truncated: true,
      trailers: [['grpc-status', '5']], grpc_status: 5, ts_ms: 1700000000005, latency_ms: 1, duration_ms: 2,
    },
  },
  {
    t: 'h2', conn: '9', stream: 5, ts_ms: 1700000000006, method: 'GET', path: '/a', route: '/a', authority: '', headers: [], body: Buffer.alloc(0),
    body_length: 0, body_truncated: false, trailers: [], grpc: false, resp: null, note: 'reset',
  },
  { t: 'turn', conn: '11', seq: 1, ts_ms: 1700000000007, request: Buffer.alloc(0), reply: Buffer.from('+OK\r\n'), latency_ms: null, duration_ms: null, reply_truncated: true },
  { t: 'skip', conn: '0', reason: 'queue_full', count: 12 },
  { t: 'close', conn: '7', ts_ms: 1700000000008 },
];

function refusal(meta: Buffer, data: Buffer, headersInRow = false): string {
  try {
    if (headersInRow) readRows(meta, data, 'batch', undefined, true);
    else parseExchangeBatch({ meta, data }, 'batch');
  } catch (err) {
    if (!(err instanceof InputFileError)) throw err;
    return err.message;
  }
  return 'read';
}

describe('exchange rows', () => {
  it('reads back every kind as written, bodies as views of the data, strings a character per byte', () => {
    const batch = encodeRows(lines);
    const read = parseExchangeBatch(batch);
    expect(read).toEqual(lines);
    const http = read[1] as Extract<ExchangeLine, { t: 'http' }>;
    expect(http.body.buffer).toBe(batch.data.buffer);
    // The header's bytes as they were on the wire (é as one byte, not UTF-8's two).
    expect(Buffer.from(http.headers[1][1], 'latin1')).toEqual(Buffer.from([0x63, 0x61, 0x66, 0xe9]));
    expect(parseExchangeBatch({ meta: Buffer.alloc(0), data: Buffer.alloc(0) })).toEqual([]);
  });

  it('HTTP/1 header lists left in their rows are read from them when wanted, as a whole read gives them', () => {
    const batch = encodeRows(lines);
    const starts: number[] = [];
    const lean = readRows(batch.meta, batch.data, 'batch', starts, true);
    const whole = parseExchangeBatch(batch);
    for (let i = 0; i < lines.length; i++) {
      const l = lean[i];
      const w = whole[i];
      if (l.t === 'http' && w.t === 'http') {
        expect(l.headers).toBe(HEADERS_IN_ROW);
        if (l.resp) expect(l.resp.headers).toBe(HEADERS_IN_ROW);
        const h = httpRowHeaders(batch.meta, starts[i], starts[i] + batch.meta.readUInt32LE(starts[i]));
        expect(h).toEqual({ request: w.headers, response: w.resp?.headers ?? [] });
        expect({ ...l, headers: w.headers, resp: l.resp && { ...l.resp, headers: w.resp!.headers } }).toEqual(w);
      } else {
        // HTTP/2 rows keep theirs: their lanes send from the lists.
        expect(l).toEqual(w);
      }
    }
    expect(() => httpRowHeaders(batch.meta, 0, batch.meta.readUInt32LE(0))).toThrow(InputFileError);
  });

  it('refuses what the native side does not write, naming the row', () => {
    const { meta, data } = encodeRows(lines);
    const rowLength = (at: number) => meta.readUInt32LE(at);
    const second = rowLength(0);
    expect(refusal(meta.subarray(0, 5), data)).toBe('batch: row 1 is cut short');
    expect(refusal(meta.subarray(0, second + 20), data)).toMatch(/^batch: row 2 has a length \(\d+\) its batch cannot hold$/);
    const kind = Buffer.from(meta);
    kind[second + 4] = 42;
    expect(refusal(kind, data)).toBe('batch: row 2 is of an unknown kind (42)');
    expect(refusal(meta, data.subarray(0, 3))).toBe("batch: row 2 has a slice outside the batch's data");
    const longer = Buffer.from(meta);
    longer.writeUInt32LE(rowLength(0) + 1, 0);
    expect(refusal(Buffer.concat([longer.subarray(0, rowLength(0)), Buffer.from([0]), longer.subarray(rowLength(0))]), data)).toBe('batch: row 1 has 1 bytes past its fields');
    const close = encodeRows([lines[7]]).meta;
    const short = Buffer.from(close);
    short.writeUInt32LE(close.length - 1, 0);
    expect(refusal(short.subarray(0, close.length - 1), data)).toBe('batch: row 1 is shorter than its fields');
    const note = encodeRows([{ ...(lines[2] as Extract<ExchangeLine, { t: 'http' }>), note: 'reset' as 'no_response' }]);
    expect(refusal(note.meta, note.data)).toBe('batch: row 1 has an unknown note "reset"');
  });

  it('3,000 seeded mutations: every batch is read or refused with an InputFileError', () => {
    const { meta, data } = encodeRows(lines);
    let seed = 0x9e3779b9;
    const next = () => ((seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);
    const outcomes = { read: 0, refused: 0 };
    for (let i = 0; i < 3000; i++) {
      let m = Buffer.from(meta);
      const flips = 1 + Math.floor(next() * 4);
      for (let f = 0; f < flips; f++) m[Math.floor(next() * m.length)] = Math.floor(next() * 256);
      if (next() < 0.3) m = m.subarray(0, Math.floor(next() * m.length));
      outcomes[refusal(m, data) === 'read' ? 'read' : 'refused']++;
      // Stepping over header lists refuses what reading them would, never anything else.
      const lean = refusal(m, data, true);
      if (lean !== 'read') expect(lean).toMatch(/^batch: row \d+ /);
    }
    expect(outcomes.read + outcomes.refused).toBe(3000);
    expect(outcomes.refused).toBeGreaterThan(1000);
  });
});
