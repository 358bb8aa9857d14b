// Filters are compiled off the event loop, with a size limit and a time limit. libpcap's compile
// is steeply superlinear in the number of terms (a 1,000-port session took over 100 s), and it
// used to run on the agent's event loop: /healthz went unanswered for as long. Here: opening a
// capture with a big (but allowed) filter leaves the event loop free; a filter over the limit
// is refused at once with one line naming the session and interface; an open slower than its
// time limit is refused; and the agent answers /healthz on every poll while it reloads into such
// sessions.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_FILTER_TERMS, filterTerms } from '../../src/capture/filter-limits';
import { CaptureSession } from '../../src/capture/session';
import { FilterError } from '../../src/errors';
import { addNamespaces, canUseNetns, killStarted, removeNamespaces, startInNs, stopProcess } from '../helpers/netns';
import { podspanBin, repoRoot, run } from '../helpers/tools';

const fixture = path.join(repoRoot, 'fixtures', 'sample-20.pcapng');
const ports = (n: number) => Array.from({ length: n }, (_, i) => `port ${i + 1}`).join(' or ');
/** The costliest kind of term we know of to compile: 128 of them take libpcap ~2 s of CPU. */
const portranges = (n: number) => Array.from({ length: n }, (_, i) => `portrange ${i + 1}-${i + 1}`).join(' or ');
const fileSource = (filter: string) => ({ source: { kind: 'file' as const, path: fixture }, filter, snaplen: 262144, promisc: false, immediate: false, timeoutMs: 100 });

/** Runs `work` while a 10 ms timer ticks; the longest gap between ticks (the event loop's worst stall) and how long work took. */
async function loopStallDuring(work: () => Promise<unknown>): Promise<{ maxGapMs: number; tookMs: number; result: PromiseSettledResult<unknown> }> {
  let last = performance.now();
  let maxGapMs = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
  }, 10);
  const started = performance.now();
  const [result] = await Promise.allSettled([work()]);
  const tookMs = performance.now() - started;
  clearInterval(tick);
  maxGapMs = Math.max(maxGapMs, performance.now() - last);
  return { maxGapMs, tookMs, result };
}

describe('filter compile', () => {
  it('counts terms joined by and/or', () => {
    expect(filterTerms('tcp')).toBe(1);
    expect(filterTerms('tcp and (port 80 or port 443) && not host 10.0.0.1 || udp')).toBe(5);
    expect(filterTerms(ports(1000))).toBe(1000);
  });

  it(`opens a capture whose filter has ${MAX_FILTER_TERMS} portrange terms on a worker thread: the event loop never stalls`, async () => {
    const { maxGapMs, tookMs, result } = await loopStallDuring(async () => {
      const s = await CaptureSession.openAsync(fileSource(portranges(MAX_FILTER_TERMS)));
      return s.start();
    });
    expect(result.status).toBe('fulfilled');
    expect((result as PromiseFulfilledResult<{ packetsRead: number }>).value.packetsRead).toBe(20);
    // The compile alone takes a second or more; the loop went on ticking meanwhile
    // (synchronously, the stall would be the whole compile).
    expect(tookMs).toBeGreaterThan(300);
    expect(maxGapMs).toBeLessThan(tookMs / 2);
  }, 60_000);

  it('refuses a 1,000-port filter at once, with one line naming the session and the interface', async () => {
    const { tookMs, result } = await loopStallDuring(() => CaptureSession.openAsync({ ...fileSource(ports(1000)), source: { kind: 'live', interfaces: ['eth-nonexistent'] } }, { context: 'session big' }));
    expect(result.status).toBe('rejected');
    const err = (result as PromiseRejectedResult).reason as Error;
    expect(err).toBeInstanceOf(FilterError);
    expect(err.message).toBe(
      `session big, eth-nonexistent: filter of 1000 terms refused: at most ${MAX_FILTER_TERMS} (libpcap's compile time grows steeply with them); use portrange or split the session`,
    );
    expect(tookMs).toBeLessThan(1000); // refused before any compile
  });

  it('refuses an open that takes longer than its time limit, and releases it once the worker is done', async () => {
    const err = await CaptureSession.openAsync(fileSource(portranges(MAX_FILTER_TERMS)), { timeoutMs: 5, context: 'session slow' }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(FilterError);
    expect((err as Error).message).toBe(`session slow, ${fixture}: opening the capture and compiling its filter took longer than 5 ms: refused`);
    // The worker still finishes (libpcap's compile cannot be interrupted); later opens work.
    const s = await CaptureSession.openAsync(fileSource('udp'));
    expect((await s.start()).packetsRead).toBe(20);
  }, 60_000);

  it('a filter that does not compile is refused with libpcap\'s reason, naming the session', async () => {
    const err = await CaptureSession.openAsync(fileSource('tcp port eighty'), { context: 'session typo' }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(FilterError);
    expect((err as Error).message).toBe(`session typo, ${fixture}: filter 'tcp port eighty' (link type 1): unknown port 'eighty'`);
  });
});

const tag = `${process.pid % 100000}`;
const ns = `psFC${tag}`;

describe.skipIf(!canUseNetns)('podspan agent reloading into big filters', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-fc-'));
    addNamespaces([ns]);
  });
  afterAll(() => {
    killStarted();
    removeNamespaces([ns]);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it(`answers /healthz on every poll while a 1,000-port session is refused and a ${MAX_FILTER_TERMS - 1}-port one compiles`, async () => {
    const cfg = path.join(tmp, 'agent.yaml');
    const session = (name: string, n: number) =>
      `  - name: ${name}\n    sources: { interfaces: [lo] }\n    filter: { protocols: [tcp], ports: [${Array.from({ length: n }, (_, i) => i + 1).join(', ')}] }\n    targets: [ { pcap: { dir: ${path.join(tmp, 'caps')} } } ]\n`;
    fs.writeFileSync(cfg, `metrics: { listen: "127.0.0.1:0" }\nsessions:\n${session('small', 1)}`);
    const agent = await startInNs(ns, [process.execPath, podspanBin, 'agent', '--config', cfg], /running 1 captures/);
    const url = /metrics on http:\/\/([^\s/]+)\//.exec(agent.stderr())![1];
    // The new config: one session past the limit (tcp and 1,000 ports: 1,001 terms), one at it.
    fs.writeFileSync(cfg, `metrics: { listen: "127.0.0.1:0" }\nsessions:\n${session('big', 1000)}${session('large', MAX_FILTER_TERMS - 1)}`);
    // A poller in the agent's namespace: /healthz every 50 ms for 6 s, each with a 3 s deadline
    // (generous for a loaded machine; the old synchronous compile held the loop for minutes).
    const poll = `
      const out = []; const end = Date.now() + 6000;
      (async () => { process.kill(${agent.child.pid}, 'SIGHUP');
        while (Date.now() < end) { const t = Date.now();
          try { const r = await fetch('http://${url}/healthz', { signal: AbortSignal.timeout(3000) }); out.push([r.status, Date.now() - t]); }
          catch { out.push([0, Date.now() - t]); }
          await new Promise((r) => setTimeout(r, 50)); }
        process.stdout.write(JSON.stringify(out)); })();`;
    const polled = run('ip', ['netns', 'exec', ns, process.execPath, '-e', poll], { timeoutMs: 30_000 });
    const answers = JSON.parse(polled.stdout) as [number, number][];
    expect(answers.length).toBeGreaterThanOrEqual(5);
    expect(answers.filter(([status]) => status !== 200)).toEqual([]); // every poll answered, within 3 s
    const deadline = Date.now() + 20_000;
    while (!/reloaded .*: 1 captures/.test(agent.stderr()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(agent.stderr()).toMatch(/reloaded .*: 1 captures/); // "large" runs, "big" was refused
    expect(agent.stderr()).toContain(`session big, lo: filter of 1001 terms refused: at most ${MAX_FILTER_TERMS}`);
    expect(await stopProcess(agent, 'SIGTERM')).toBe(0);
  }, 60_000);
});
