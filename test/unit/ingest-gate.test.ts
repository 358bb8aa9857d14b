// Uploads giving way to a busy, contended event loop (src/storage/ingest-gate.ts): when parts hold,
// what ends a hold (the gate opened, the longest hold, an abort), the sampler's decisions over a
// load it is given, and the kernel's schedstat of this thread read for real: busy in a loop, and
// waiting for its CPU while a spinning process shares it. The upload thread and a real S3
// server: test/integration/storage-multipart.test.ts.
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { giveWay, heldMs, LoopSampler, newGate, partsWaiting, setHold, shouldHold, threadSchedStat, type LoopLoad } from '../../src/storage/ingest-gate';
import { shareCpuWithSpinner } from '../helpers/threads';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('uploads giving way to ingest', () => {
  it('holds while the loop is busy and waits for its CPU, with the spool under half its cap; once holding, until the loop is well below', () => {
    const cases: [load: LoopLoad, holding: boolean, spool: number, cap: number, hold: boolean][] = [
      [{ busy: 0.8, waited: 0.1 }, false, 0, 0, true], // no cap: held
      [{ busy: 0.5, waited: 0.05 }, false, 10, 100, true],
      [{ busy: 0.49, waited: 0.2 }, false, 10, 100, false], // room on the loop
      [{ busy: 1, waited: 0.04 }, false, 10, 100, false], // busy, but its core is its own: uploads cost it nothing
      [{ busy: 0.4, waited: 0 }, true, 10, 100, true], // holding already: until below 0.3
      [{ busy: 0.29, waited: 0.3 }, true, 10, 100, false],
      [{ busy: 0.99, waited: 0.2 }, false, 49, 100, true],
      [{ busy: 0.99, waited: 0.2 }, false, 50, 100, false], // half the cap: parts go at nice 19, the spool must not fill
      [{ busy: 1, waited: 0.5 }, true, 99, 100, false],
      [{ busy: 0, waited: 0 }, false, 0, 0, false],
    ];
    for (const [load, holding, spool, cap, hold] of cases) expect([load, holding, spool, cap, shouldHold(load, holding, spool, cap)]).toEqual([load, holding, spool, cap, hold]);
  });

  it('a part waits until the gate opens, counted as waiting meanwhile and as held after', async () => {
    const gate = newGate();
    expect(await Promise.race([giveWay(gate, 5000).then(() => 'went'), sleep(50).then(() => 'waited')])).toBe('went'); // open: at once
    expect(heldMs(gate)).toBe(0);
    setHold(gate, true);
    let went = false;
    const waiting = giveWay(gate, 60_000).then(() => (went = true));
    await sleep(300);
    expect([went, partsWaiting(gate)]).toEqual([false, 1]);
    setHold(gate, false);
    await waiting;
    expect(partsWaiting(gate)).toBe(0);
    expect(heldMs(gate)).toBeGreaterThanOrEqual(290); // the 300 ms above (ms rounding)
  });

  it('no part waits longer than the longest hold, and an abort ends a hold', async () => {
    const gate = newGate();
    setHold(gate, true);
    const t0 = Date.now();
    await giveWay(gate, 200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(195);
    const ac = new AbortController();
    const aborted = giveWay(gate, 60_000, ac.signal).then(() => Date.now());
    await sleep(100);
    const at = Date.now();
    ac.abort();
    expect((await aborted) - at).toBeLessThan(5000); // seen at the next 50 ms slice, not after the minute
    expect(partsWaiting(gate)).toBe(0);
  });

  it('the sampler follows the load it reads, and once stopped leaves the gate open for good', async () => {
    // A thread whose schedstat grows at the shares `load` says, in real time.
    let load: LoopLoad = { busy: 0.9, waited: 0.1 };
    let at = performance.now();
    const acc = { ranNs: 0, waitedNs: 0 };
    const read = () => {
      const now = performance.now();
      const ns = (now - at) * 1e6;
      at = now;
      acc.ranNs += ns * (load.busy - load.waited);
      acc.waitedNs += ns * load.waited;
      return { ...acc };
    };
    const gate = newGate();
    const states: number[] = [];
    let spoolBytes = 0;
    const sampler = new LoopSampler(gate, () => ({ bytes: spoolBytes, capBytes: 100 }), () => states.push(Atomics.load(gate, 0)), 20, read);
    const samples = async (n: number) => {
      const from = states.length;
      while (states.length < from + n) await sleep(5);
      return states.slice(from);
    };
    sampler.start();
    expect(await samples(2)).toEqual([1, 1]);
    load = { busy: 0.4, waited: 0 }; // busy enough to keep holding
    expect(await samples(2)).toEqual([1, 1]);
    load = { busy: 0.2, waited: 0 };
    expect(await samples(2)).toEqual([0, 0]);
    load = { busy: 0.4, waited: 0.3 }; // not enough to start again
    expect(await samples(2)).toEqual([0, 0]);
    load = { busy: 1, waited: 0.3 };
    expect(await samples(2)).toEqual([1, 1]);
    spoolBytes = 60; // past half the cap
    expect(await samples(2)).toEqual([0, 0]);
    spoolBytes = 0;
    expect(await samples(1)).toEqual([1]);
    sampler.stop(); // the drain: open now, however busy
    expect(Atomics.load(gate, 0)).toBe(0);
    await sleep(60);
    expect([Atomics.load(gate, 0), states.length]).toEqual([0, states.length]);
  });

  it("this thread's schedstat: busy while it loops, and waiting for its CPU while a spinning process shares it", async () => {
    const spin = (ms: number) => {
      for (const end = performance.now() + ms; performance.now() < end; );
    };
    const share = (a: { ranNs: number; waitedNs: number }, b: { ranNs: number; waitedNs: number }, wallMs: number) => ({
      busy: (b.ranNs - a.ranNs + b.waitedNs - a.waitedNs) / (wallMs * 1e6),
      waited: (b.waitedNs - a.waitedNs) / (wallMs * 1e6),
    });
    let t0 = performance.now();
    let s0 = threadSchedStat()!;
    spin(300);
    const alone = share(s0, threadSchedStat()!, performance.now() - t0);
    // Ran or waited to run, all along, but for the time a VM's host takes the CPU (steal: 0.2 of
    // it on a shared machine), which counts as neither.
    expect(alone.busy).toBeGreaterThan(0.5);
    const shared = await shareCpuWithSpinner(10_000);
    try {
      t0 = performance.now();
      s0 = threadSchedStat()!;
      spin(500);
      const contended = share(s0, threadSchedStat()!, performance.now() - t0);
      expect(contended.busy).toBeGreaterThan(0.5);
      expect(contended.waited).toBeGreaterThan(0.2); // one CPU for two: about half
    } finally {
      shared.stop();
    }
  });
});
