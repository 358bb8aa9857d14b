// Numbers past what the inside can hold are refused where they enter, in one line naming the
// flag. Before, `--duration 99999999999999999999` printed Node's TimeoutOverflowWarning and ended
// the capture after 1 ms, `streams --max-flows 99999999999999999999` reached the native flow
// table as a wrapped size_t (9 of 10 flows evicted on a 20-packet file), and `agent
// --metrics-listen x` (or -1, or a port past 65535) ended in "internal error" with Node's
// RangeError: the flag and PODSPAN_METRICS_LISTEN were applied after the file's checks.
// `kubectl podspan capture --ttl` past the longest timer renewed its session every millisecond.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCaptureFlags } from '../../src/config/capture-options';
import { parseCollectorFlags } from '../../src/config/collector-options';
import { loadAgentConfig } from '../../src/config/agent-config';
import { MAX_TIMER_SECONDS } from '../../src/config/number-flags';
import { parseStreamsFlags } from '../../src/config/streams-options';
import { letVitestIn, podspanBin, repoRoot, runAsync } from '../helpers/tools';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-number-flags-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const HUGE = '99999999999999999999';
const pastTimer = String(MAX_TIMER_SECONDS + 1);

describe('numbers past what the inside holds', () => {
  it('the longest timer is 2,147,483 s (24.8 days): Node runs a longer one after 1 ms', () => {
    expect(MAX_TIMER_SECONDS).toBe(2_147_483);
    expect(MAX_TIMER_SECONDS * 1000).toBeLessThanOrEqual(2 ** 31 - 1);
  });

  it('capture and streams flags', () => {
    const read = { read: 'in.pcap' };
    expect(() => parseCaptureFlags({ ...read, duration: HUGE })).toThrow(`--duration must be at most ${MAX_TIMER_SECONDS}`);
    expect(parseCaptureFlags({ ...read, duration: String(MAX_TIMER_SECONDS) }).durationSeconds).toBe(MAX_TIMER_SECONDS);
    expect(() => parseCaptureFlags({ ...read, write: 'x.pcap', rotateSeconds: pastTimer })).toThrow(`-G must be between 1 and ${MAX_TIMER_SECONDS}`);
    expect(() => parseCaptureFlags({ ...read, write: 'x.pcap', fileSize: '1000001' })).toThrow('-C must be at most 1000000');
    const streams = { ...read, outDir: 'out' };
    expect(() => parseStreamsFlags({ ...streams, maxFlows: HUGE })).toThrow('--max-flows must be between 1 and 100000000');
    expect(() => parseStreamsFlags({ ...streams, maxFlows: '0' })).toThrow('--max-flows must be between 1 and 100000000');
    expect(() => parseStreamsFlags({ ...streams, idleTimeout: '1e309' })).toThrow('--idle-timeout takes a positive number');
    expect(() => parseStreamsFlags({ ...streams, idleTimeout: '86401' })).toThrow('--idle-timeout must be at most 86400');
    expect(parseStreamsFlags({ ...streams, maxFlows: '100000000', idleTimeout: '0.5' }).capture.streams).toMatchObject({ maxFlows: 100_000_000, idleTimeoutSeconds: 0.5 });
  });

  it('collector flags', () => {
    const base = { listen: '127.0.0.1:0', out: path.join(tmp, 'collector'), insecure: true };
    const store = { ...base, store: 's3://bucket/prefix' };
    for (const [flags, message] of [
      [{ ...base, shutdownTimeout: pastTimer }, `--shutdown-timeout: at most ${MAX_TIMER_SECONDS} seconds`],
      [{ ...store, storeDrainTimeout: HUGE }, `--store-drain-timeout: at most ${MAX_TIMER_SECONDS} seconds`],
      [{ ...store, storeTimeout: pastTimer }, `--store-timeout: at most ${MAX_TIMER_SECONDS} seconds`],
      [{ ...base, rotateSeconds: pastTimer }, `-G: at most ${MAX_TIMER_SECONDS} seconds`],
      [{ ...base, fileSize: '1000001' }, '-C: at most 1000000 MB'],
      [{ ...base, fileSize: '1', fileCount: '100000' }, '-W: at most 99999 files'],
    ] as const) {
      expect(() => parseCollectorFlags(flags)).toThrow(message);
    }
    expect(parseCollectorFlags({ ...base, shutdownTimeout: String(MAX_TIMER_SECONDS) }).streamLimits?.shutdownTimeoutMs).toBe(MAX_TIMER_SECONDS * 1000);
  });

  it("the agent's metrics address, from the file, the environment and the flag alike", () => {
    const file = path.join(tmp, 'agent.yaml');
    fs.writeFileSync(file, 'metrics: { listen: "127.0.0.1:99999" }\n');
    expect(() => loadAgentConfig(file, {})).toThrow('metrics.listen: the port must be at most 65535');
    fs.writeFileSync(file, 'metrics: { listen: "127.0.0.1:9300" }\n');
    expect(loadAgentConfig(file, {}).config.metrics.listen).toBe('127.0.0.1:9300');
    expect(() => loadAgentConfig(file, { PODSPAN_METRICS_LISTEN: 'x' })).toThrow('PODSPAN_METRICS_LISTEN x: expected HOST:PORT');
    expect(() => loadAgentConfig(file, { PODSPAN_METRICS_LISTEN: '[::1]:70000' })).toThrow('PODSPAN_METRICS_LISTEN [::1]:70000: the port must be at most 65535');
    fs.writeFileSync(file, 'sessions:\n  - name: s\n    sources: { interfaces: [lo] }\n    sampleOneIn: 4294967296\n    targets: [ { pcap: { dir: caps, rotateSeconds: 2147484 } } ]\n');
    expect(() => loadAgentConfig(file, {})).toThrow(/sampleOneIn/);
  });

  it('the CLI: one line naming the flag, exit 2, no warning and no internal error', async () => {
    const fixture = path.join(repoRoot, 'fixtures', 'sample-20.pcapng');
    const cases: [string[], RegExp][] = [
      [['capture', '-r', fixture, '--duration', HUGE], /^podspan: --duration must be at most 2147483\n$/],
      [['analyze', '-r', fixture, '-o', path.join(tmp, 'a'), '--duration', HUGE], /^podspan: --duration must be at most 2147483\n$/],
      [['streams', '-r', fixture, '-o', path.join(tmp, 's'), '--max-flows', HUGE], /^podspan: --max-flows must be between 1 and 100000000\n$/],
      [['agent', '--check-config', '--config', path.join(tmp, 'none.yaml'), '--metrics-listen', '-1'], /^podspan: --metrics-listen -1: expected HOST:PORT\n$/],
    ];
    fs.writeFileSync(path.join(tmp, 'none.yaml'), 'sessions: []\n');
    for (const [args, stderr] of cases) {
      const r = await runAsync(process.execPath, [podspanBin, ...args], { timeoutMs: 30_000 });
      expect([args[0], r.code, r.stderr]).toEqual([args[0], 2, expect.stringMatching(stderr)]);
      await letVitestIn();
    }
    // kubectl podspan: a --ttl past the longest timer renewed the session every millisecond
    // (ttl/3), a --duration past it ended the capture at once.
    const kubectlPodspan = path.join(repoRoot, 'bin', 'kubectl-podspan');
    for (const [flag, value, stderr] of [
      ['--ttl', HUGE, /^kubectl podspan: --ttl must be at most 2147483\n$/],
      ['--duration', pastTimer, /^kubectl podspan: --duration must be at most 2147483\n$/],
      ['-c', '3.5', /^kubectl podspan: -c takes a whole number\n$/],
    ] as const) {
      const r = await runAsync(process.execPath, [kubectlPodspan, 'capture', 'some-pod', '--collector', 'grpc://127.0.0.1:1?insecure=1', flag, value], { timeoutMs: 30_000 });
      expect([flag, r.code, r.stderr]).toEqual([flag, 2, expect.stringMatching(stderr)]);
    }
  });
});
