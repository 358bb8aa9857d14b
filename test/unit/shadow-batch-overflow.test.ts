// A batch the agent's replay thread cannot take in time keeps its connections' bookkeeping and
// counts its exchanges as skipped queue_full, in the lines the native queue writes.
import { describe, expect, it } from 'vitest';
import { bookkeepingOnly } from '../../src/shadow/batch-overflow';
import { parseExchangeBatch } from '../../src/shadow/native-exchanges';

describe('bookkeepingOnly', () => {
  it('keeps open, close and skip lines, drops exchanges and turns and counts them', () => {
    const lines = [
      '{"t":"open","conn":"1","ts_ms":1,"server_port":8080}',
      '{"t":"http","conn":"1","method":"GET"}',
      '{"t":"skip","conn":"1","reason":"method","count":2}',
      '{"t":"turn","conn":"2"}',
      '{"t":"h2","conn":"3"}',
      '{"t":"close","conn":"1","ts_ms":2}',
    ];
    const r = bookkeepingOnly(Buffer.from(lines.join('\n') + '\n'));
    expect(r.dropped).toBe(3);
    expect(r.meta.toString()).toBe([lines[0], lines[2], lines[5], '{"t":"skip","conn":"0","reason":"queue_full","count":3}', ''].join('\n'));
    const parsed = parseExchangeBatch({ meta: r.meta, data: Buffer.alloc(0) });
    expect(parsed.map((l) => l.t)).toEqual(['open', 'skip', 'close', 'skip']);
  });

  it('a batch without exchanges comes back whole; a last line without newline counts too', () => {
    const only = '{"t":"open","conn":"1","ts_ms":1,"server_port":80}\n{"t":"close","conn":"1","ts_ms":2}\n';
    expect(bookkeepingOnly(Buffer.from(only))).toEqual({ meta: Buffer.from(only), dropped: 0 });
    expect(bookkeepingOnly(Buffer.from('{"t":"http","conn":"1"}')).dropped).toBe(1);
    const unended = bookkeepingOnly(Buffer.from('{"t":"http","conn":"1"}\n{"t":"close","conn":"1","ts_ms":2}'));
    expect(unended.meta.toString()).toBe('{"t":"close","conn":"1","ts_ms":2}\n{"t":"skip","conn":"0","reason":"queue_full","count":1}\n');
    expect(bookkeepingOnly(Buffer.alloc(0))).toEqual({ meta: Buffer.alloc(0), dropped: 0 });
  });
});
