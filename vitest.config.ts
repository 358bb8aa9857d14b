import { defineConfig } from 'vitest/config';

// NODE_EXTRA_CA_CERTS makes Node parse that file and its own root certificates when a process
// starts, before any code runs (~45-60 ms of CPU on a 2-core machine); the suite starts many
// podspan processes (31 in cli.test.ts alone) that never use them (the TLS tests bring their own
// CAs). Unset for the workers and every process they start.
delete process.env.NODE_EXTRA_CA_CERTS;

// Two projects. "files": tests that read captures, fixtures and configs only (no network
// namespace, no live traffic, no Kubernetes or S3 server, no deadline against the clock); the
// test command runs them two files at a time (package.json, test:js). "live": the rest, one file
// at a time: they create network namespaces and veths, start servers and measure deadlines, and
// must not compete for the two cores or for interface names.
const FILE_TESTS = [
  'test/unit/**/*.test.ts',
  'test/integration/analysis-detect.test.ts',
  'test/integration/analysis-flows.test.ts',
  'test/integration/analysis-http.test.ts',
  'test/integration/collector-records.test.ts',
  'test/integration/collector-windows.test.ts',
  'test/integration/corpus.test.ts',
  'test/integration/detect-files.test.ts',
  'test/integration/shadow-replay.test.ts',
  'test/integration/shadow-report-html.test.ts',
  'test/integration/stream-events.test.ts',
  'test/integration/streams.test.ts',
  'test/integration/streams-tshark.test.ts',
];
// Unit tests that need a network namespace (k8s-watch's real host-interface lookup).
const LIVE_UNIT_TESTS = ['test/unit/k8s-watch.test.ts'];

export default defineConfig({
  test: {
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'build/vitest-results.json' },
    projects: [
      { extends: true, test: { name: 'files', include: FILE_TESTS, exclude: LIVE_UNIT_TESTS } },
      {
        extends: true,
        test: { name: 'live', include: ['test/integration/**/*.test.ts', ...LIVE_UNIT_TESTS], exclude: FILE_TESTS.filter((f) => f.startsWith('test/integration/')) },
      },
    ],
  },
});
