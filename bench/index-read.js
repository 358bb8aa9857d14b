#!/usr/bin/env node
// What reading a closed capture file for its storage index costs (src/storage/capture-index.ts:
// the collector does it in its upload thread, beside ingest, for every file it uploads): wall
// time and CPU of the whole read, each in a fresh process, per capture, rounds interleaved;
// with BEFORE=DIR (another built tree) that tree's index read in the same rounds, and whether
// both trees made the same index.
//   node bench/index-read.js ROUNDS CAP...
//   BEFORE=/other/tree node bench/index-read.js 6 /var/tmp/podspan-bench/http-keepalive-200000.pcap
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const [roundsArg, ...caps] = process.argv.slice(2);
const rounds = Number(roundsArg);
if (!Number.isInteger(rounds) || rounds < 1 || caps.length === 0) {
  console.error('usage: node bench/index-read.js ROUNDS CAP...');
  process.exit(2);
}
const trees = { after: path.resolve(__dirname, '..') };
if (process.env.BEFORE) trees.before = path.resolve(process.env.BEFORE);

// One index read in a fresh process: prints "wall_ms cpu_ms sha256-of-the-index".
const child = `
const { indexCaptureFile } = require(process.argv[1] + '/dist/storage/capture-index.js');
const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
indexCaptureFile(process.argv[2], 'bench', 0).then((index) => {
  const c = process.cpuUsage(c0);
  const hash = require('node:crypto').createHash('sha256').update(JSON.stringify(index)).digest('hex');
  console.log(Number(process.hrtime.bigint() - t0) / 1e6, (c.user + c.system) / 1000, hash);
});`;

const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS; // parsed at every Node start: not the index read's cost
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const cap of caps) {
  const mb = fs.statSync(cap).size / 1e6;
  const got = Object.fromEntries(Object.keys(trees).map((t) => [t, { wall: [], cpu: [], hashes: new Set() }]));
  for (let r = 0; r < rounds; r++) {
    const order = Object.keys(trees);
    if (r % 2) order.reverse();
    for (const t of order) {
      const out = spawnSync(process.execPath, ['-e', child, trees[t], cap], { env, encoding: 'utf8' });
      if (out.status !== 0) throw new Error(`${t} ${cap}: ${out.stderr.trim()}`);
      const [wall, cpu, hash] = out.stdout.trim().split(' ');
      got[t].wall.push(Number(wall));
      got[t].cpu.push(Number(cpu));
      got[t].hashes.add(hash);
    }
  }
  for (const [t, g] of Object.entries(got)) {
    const cpu = median(g.cpu);
    console.log(
      `${path.basename(cap)} (${mb.toFixed(0)} MB) ${t}: wall ${median(g.wall).toFixed(1)} ms, CPU ${cpu.toFixed(1)} ms ` +
        `[${Math.min(...g.cpu).toFixed(0)}-${Math.max(...g.cpu).toFixed(0)}], ${(cpu / mb).toFixed(2)} ms per MB (medians of ${rounds})`,
    );
  }
  if (got.before) {
    const same = got.before.hashes.size === 1 && [...got.before.hashes][0] === [...got.after.hashes][0];
    console.log(`${path.basename(cap)}: the two trees' indexes are ${same ? 'the same' : 'DIFFERENT'}`);
  }
}
