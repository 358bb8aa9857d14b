import { defineConfig } from 'vitest/config';

// NODE_EXTRA_CA_CERTS makes Node parse that file and its own root certificates when a process
// starts, before any code runs (~45-60 ms of CPU on a 2-core machine); the suite starts many
// podspan processes (29 in cli.test.ts alone) that never use them (the TLS tests bring their own
// CAs). Unset for the workers and every process they start.
delete process.env.NODE_EXTRA_CA_CERTS;

// Four projects (scripts/test.sh). "build": the addon built from scratch (CPU, no deadline), run
// at the idle scheduling class beside "live-serial", which leaves most of the CPU unused. "files": tests that read captures,
// fixtures and configs only (no network namespace, no live traffic, no Kubernetes or S3 server, no
// deadline against the clock); CPU-bound, two files at a time. "live-serial": live tests that judge
// time, rates, kernel drops or memory (a deadline, a latency, "0 packets dropped by kernel", a
// fixed pause before stopping, a 200 k frames/s flood, RSS bounds): one file at a time, with the
// machine to themselves. "live": the other live tests (network namespaces and veths named after
// the worker's PID, servers on port 0, Kubernetes and S3 servers of their own): they mostly wait,
// so three files run at a time, beside the fuzz targets on one core.
const FILE_TESTS = [
  'test/unit/**/*.test.ts',
  'test/integration/analysis-detect.test.ts',
  'test/integration/analysis-flows.test.ts',
  'test/integration/analysis-http.test.ts',
  'test/integration/collector-records.test.ts',
  'test/integration/collector-windows.test.ts',
  'test/integration/corpus.test.ts',
  'test/integration/compressed-input.test.ts',
  'test/integration/detect-files.test.ts',
  'test/integration/shadow-replay.test.ts',
  'test/integration/shadow-report-html.test.ts',
  'test/integration/stream-events.test.ts',
  'test/integration/streams.test.ts',
  'test/integration/streams-console.test.ts',
  'test/integration/streams-tshark.test.ts',
];
const BUILD_TESTS = ['test/unit/addon-build.test.ts'];
// Unit tests that need a network namespace (k8s-watch's real host-interface lookup).
const LIVE_UNIT_TESTS = ['test/unit/k8s-watch.test.ts'];
const LIVE_SERIAL_TESTS = [
  'agent', // stops within 5.6 s while a flood runs
  'agent-direction', // every frame of a 200 k frames/s flood
  'agent-k8s', // alerts judged on nmap's probes per second and a SYN flood's rate
  'analysis-live', // a fixed pause for the last FINs and ring block
  'analyze', // latency under 200 ms, kernel drops
  'cli', // 29 podspan processes, a peak RSS bound
  'collector-abuse', // RSS bounds under floods, shutdown deadlines
  'collector-limits', // shutdown deadlines
  'detect-live', // alerts within 5 s of a flood or scan
  'filter-compile', // event-loop stalls measured
  'grpc-live', // 0 packets dropped by kernel, fixed pauses around a collector's outage, RSS
  'live', // 0 packets dropped by kernel
  'shadow-h2', // fixed pauses before stopping
  'shadow-live', // 0 packets dropped by kernel, fixed pauses
  'shadow-raw', // fixed pauses before stopping
  'streams-signals', // seconds from a signal to the exit
].map((name) => `test/integration/${name}.test.ts`);
const INTEGRATION_FILE_TESTS = FILE_TESTS.filter((f) => f.startsWith('test/integration/'));

export default defineConfig({
  test: {
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'build/vitest-results.json' },
    projects: [
      { extends: true, test: { name: 'build', include: BUILD_TESTS } },
      { extends: true, test: { name: 'files', include: FILE_TESTS, exclude: [...LIVE_UNIT_TESTS, ...BUILD_TESTS] } },
      { extends: true, test: { name: 'live-serial', include: LIVE_SERIAL_TESTS } },
      {
        extends: true,
        test: { name: 'live', include: ['test/integration/**/*.test.ts', ...LIVE_UNIT_TESTS], exclude: [...INTEGRATION_FILE_TESTS, ...LIVE_SERIAL_TESTS] },
      },
    ],
  },
});
