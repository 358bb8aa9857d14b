// A batch the agent's replay thread cannot take in time keeps its connections' bookkeeping and
// counts its exchanges as skipped queue_full, in the rows the native queue writes.
import { describe, expect, it } from 'vitest';
import { bookkeepingOnly } from '../../src/shadow/batch-overflow';
import { parseExchangeBatch, type ExchangeLine } from '../../src/shadow/native-exchanges';
import { encodeRows } from '../helpers/exchange-rows';

const open: ExchangeLine = { t: 'open', conn: '1', client: '10.0.0.1', client_port: 40000, server: '10.0.0.2', server_port: 8080, ts_ms: 1 };
const close: ExchangeLine = { t: 'close', conn: '1', ts_ms: 2 };
const skip: ExchangeLine = { t: 'skip', conn: '1', reason: 'method', count: 2 };
const turn: ExchangeLine = { t: 'turn', conn: '2', seq: 1, ts_ms: 1, request: Buffer.from('PING\r\n'), reply: Buffer.from('+PONG\r\n'), latency_ms: 1, duration_ms: 1, reply_truncated: false };
const http: ExchangeLine = {
  t: 'http', conn: '1', seq: 1, ts_ms: 1, method: 'GET', target: '/a', path: '/a', route: '/a', host: 'h', version: '1.1',
  headers: [['Host', 'h']], body: Buffer.alloc(0), body_length: 0, body_truncated: false, resp: null, note: 'no_response',
};
const h2: ExchangeLine = {
  t: 'h2', conn: '3', stream: 1, ts_ms: 1, method: 'GET', path: '/b', route: '/b', authority: 'h', headers: [[':method', 'GET']],
  body: Buffer.alloc(0), body_length: 0, body_truncated: false, trailers: [], grpc: false, resp: null, note: 'reset',
};
const rows = (lines: ExchangeLine[]) => encodeRows(lines).meta;

describe('bookkeepingOnly', () => {
  it('keeps open, close and skip rows, drops exchanges and turns and counts them', () => {
    const r = bookkeepingOnly(rows([open, http, skip, turn, h2, close]));
    expect(r.dropped).toBe(3);
    const queueFull: ExchangeLine = { t: 'skip', conn: '0', reason: 'queue_full', count: 3 };
    expect(r.meta).toEqual(rows([open, skip, close, queueFull]));
    const parsed = parseExchangeBatch({ meta: r.meta, data: Buffer.alloc(0) });
    expect(parsed).toEqual([open, skip, close, queueFull]);
  });

  it('a batch without exchanges comes back whole; an empty one too', () => {
    const only = rows([open, close]);
    expect(bookkeepingOnly(only)).toEqual({ meta: only, dropped: 0 });
    expect(bookkeepingOnly(rows([http])).dropped).toBe(1);
    expect(bookkeepingOnly(Buffer.alloc(0))).toEqual({ meta: Buffer.alloc(0), dropped: 0 });
  });

  it('bytes that are not a row are kept for the reader to name', () => {
    const cut = Buffer.concat([rows([http, close]), Buffer.from([9, 0, 0])]);
    const r = bookkeepingOnly(cut);
    expect(r.dropped).toBe(1);
    expect(() => parseExchangeBatch({ meta: r.meta, data: Buffer.alloc(0) }, 'batch 7')).toThrow(/^batch 7: row 2 has a length \(\d+\) its batch cannot hold$/);
  });
});
