#!/usr/bin/env node
// The agent's record pipeline alone (Prometheus metrics, a pod index naming the capture's server,
// one output), as src/agent/mirror-capture.ts builds it, over every record batch of a capture:
// three passes, milliseconds each. CHECKOUT (default: this one, built) lets another checkout's
// dist/ run the same passes, for before/after figures:
//   [DETACH=1] node bench/agent-records-pipeline.js CAPTURE [SERVER_IP] [CHECKOUT]
'use strict';
const path = require('node:path');

const [capture, serverIp = '198.18.1.2', checkout = path.resolve(__dirname, '..')] = process.argv.slice(2);
if (!capture) {
  console.error('usage: node bench/agent-records-pipeline.js CAPTURE [SERVER_IP] [CHECKOUT]');
  process.exit(2);
}
const dist = (m) => require(path.join(checkout, 'dist', m));
const { CaptureSession, fileCaptureOptions } = dist('capture/session');
const { RecordPipeline } = dist('analysis/pipeline');
const { AnalyticsMetrics } = dist('analysis/metrics');
const { PodIndex } = dist('analysis/pods');
const { Registry } = require(require.resolve('prom-client', { paths: [checkout] }));

(async () => {
  const session = CaptureSession.open({ ...fileCaptureOptions(capture), analysis: {} });
  const batches = [];
  session.onRecords((b) => batches.push(b));
  const result = await session.start();
  if (result.error) throw result.error;
  const pod = { uid: 'u', namespace: 'bench', name: 'server', labels: {}, ips: [serverIp], hostNetwork: false, phase: 'Running', nodeName: 'node-1', containerPorts: [] };
  const pods = new PodIndex([pod]);
  // DETACH=1: one ArrayBuffer detached first (V8's detaching protector; BENCHMARKS.md, issue 13).
  if (process.env.DETACH) {
    const ab = new ArrayBuffer(16);
    structuredClone(ab, { transfer: [ab] });
  }
  const times = [];
  for (let pass = 0; pass < 3; pass++) {
    const metrics = new AnalyticsMetrics(new Registry(), { maxServers: 500, maxRoutesPerServer: 100 });
    const pipeline = new RecordPipeline({ metrics, pods, outputs: [{ write: () => {} }] });
    const t = process.hrtime.bigint();
    for (const b of batches) pipeline.take(b);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  console.log(`${path.basename(capture)} (${checkout}): ${times.map((t) => t.toFixed(0)).join(' ')} ms`);
})().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
