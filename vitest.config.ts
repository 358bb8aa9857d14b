import { defineConfig } from 'vitest/config';

// NODE_EXTRA_CA_CERTS makes Node parse that file and its own root certificates when a process
// starts, before any code runs (~45-60 ms of CPU on a 2-core machine); the suite starts many
// podspan processes (31 in cli.test.ts alone) that never use them (the TLS tests bring their own
// CAs). Unset for the workers and every process they start.
delete process.env.NODE_EXTRA_CA_CERTS;

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Live tests create network namespaces and veths; run files one at a time so they never
    // compete for the two cores or for interface names.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'build/vitest-results.json' },
  },
});
