// The shadow scheduler's order and limits, with sends the test answers by hand: a connection's
// exchanges go out one at a time in the captured order, connections side by side; --max-in-flight
// bounds them all and the waiting connections take turns; a connection is closed only once its
// last exchange is done; pacing (--speed 1) holds an exchange until its captured offset.
import { describe, expect, it } from 'vitest';
import type { ReplayExchange } from '../../src/shadow/replay/exchange';
import { ShadowScheduler, type SchedulerLimits } from '../../src/shadow/scheduler';

const T0 = 1_700_000_000_000;

const exchange = (conn: string, n: number, tsOffsetMs = n): ReplayExchange => ({
  info: { conn, ts: T0 + tsOffsetMs, method: 'GET', path: `/${conn}/${n}`, route: '/', protocol: 'http' },
  request: { kind: 'http', method: 'GET', target: `/${conn}/${n}`, headers: [], body: Buffer.alloc(0) },
  production: { status: 200, headers: [], body: Buffer.alloc(0), bodyLength: 0, bodyTruncated: false },
});

/** A scheduler whose sends wait until the test answers them; records what went out. */
function harness(limits: Partial<SchedulerLimits> = {}) {
  const sent: string[] = [];
  const pending = new Map<string, () => void>();
  const closed: string[] = [];
  const s = new ShadowScheduler(
    { maxInFlight: 64, speed: 0, queueExchanges: 1000, queueBytes: 1 << 20, ...limits },
    {
      send: (ex) => {
        sent.push(ex.info.path);
        return new Promise<void>((resolve) => pending.set(ex.info.path, resolve));
      },
      closeConnection: (conn) => closed.push(conn),
      dropped: () => undefined,
    },
    'wait',
  );
  /** Answers one request that went out and lets the scheduler's callbacks run. */
  const answer = async (path: string) => {
    pending.get(path)!();
    pending.delete(path);
    await new Promise((r) => setImmediate(r));
  };
  return { s, sent, closed, answer };
}

describe('ShadowScheduler', () => {
  it("one at a time per connection, in the captured order; connections side by side; closed after its last", async () => {
    const h = harness();
    for (let i = 1; i <= 3; i++) h.s.offer(exchange('a', i));
    h.s.offer(exchange('b', 1));
    h.s.close('a');
    h.s.close('b');
    expect(h.sent).toEqual(['/a/1', '/b/1']);
    await h.answer('/b/1');
    expect(h.closed).toEqual(['b']);
    await h.answer('/a/1');
    expect(h.sent).toEqual(['/a/1', '/b/1', '/a/2']);
    await h.answer('/a/2');
    expect(h.closed).toEqual(['b']); // /a/3 still out
    await h.answer('/a/3');
    expect(h.closed).toEqual(['b', 'a']);
    expect(h.s.counts()).toMatchObject({ queued: 0, inFlight: 0, sent: 4 });
  });

  it('--max-in-flight bounds all connections; the waiting ones take turns', async () => {
    const h = harness({ maxInFlight: 2 });
    for (const c of ['a', 'b', 'c']) for (let i = 1; i <= 2; i++) h.s.offer(exchange(c, i));
    expect(h.sent).toEqual(['/a/1', '/b/1']);
    expect(h.s.counts().inFlight).toBe(2);
    await h.answer('/a/1');
    expect(h.sent).toEqual(['/a/1', '/b/1', '/c/1']); // c waited longest, before a's second
    await h.answer('/b/1');
    expect(h.sent).toEqual(['/a/1', '/b/1', '/c/1', '/a/2']);
  });

  it('--speed 1 holds an exchange until its captured offset from the first', async () => {
    const h = harness({ speed: 1 });
    const t0 = performance.now();
    h.s.offer(exchange('a', 1, 0));
    h.s.offer(exchange('b', 1, 120)); // captured 120 ms after the first
    expect(h.sent).toEqual(['/a/1']);
    await new Promise<void>((resolve) => {
      const poll = () => (h.sent.length === 2 ? resolve() : setTimeout(poll, 5));
      poll();
    });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(119);
    expect(h.sent).toEqual(['/a/1', '/b/1']);
  });
});
