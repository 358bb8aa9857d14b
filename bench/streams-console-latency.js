#!/usr/bin/env node
// How soon `podspan streams -C -i lo` prints what a client writes: a TCP client on loopback writes
// a numbered mark every 150-250 ms, and the time from its write to the mark on podspan's standard
// output is taken, ROUNDS times per build. Several builds (bin/podspan paths) take turns.
// Needs the right to capture on lo; sends only on loopback, ROUNDS marks per build.
//   node bench/streams-console-latency.js [ROUNDS=15] [BIN...]     (default BIN: this tree's)
'use strict';
const { spawn } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');

const rounds = Number(process.argv[2] ?? 15);
const bins = process.argv.length > 3 ? process.argv.slice(3) : [path.join(__dirname, '..', 'bin', 'podspan')];
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

async function measure(bin, port) {
  const server = net.createServer((s) => s.resume());
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  const podspan = spawn(process.execPath, [bin, 'streams', '-C', '-i', 'lo', `tcp port ${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let seen = '';
  let waiting;
  podspan.stdout.on('data', (d) => {
    seen += d;
    if (waiting && seen.includes(`MARK${waiting.id}.`)) {
      waiting.done(Number(process.hrtime.bigint() - waiting.t) / 1e6);
      seen = '';
    }
  });
  await new Promise((r, j) => {
    podspan.stderr.on('data', (d) => /listening on/.test(d) && r());
    podspan.once('exit', (code) => j(new Error(`${bin}: exit ${code} before listening`)));
  });
  const client = net.connect(port, '127.0.0.1');
  await new Promise((r) => client.on('connect', r));
  const lat = [];
  for (let i = 0; i < rounds; i++) {
    await pause(150 + Math.random() * 100);
    lat.push(await new Promise((done) => {
      waiting = { id: i, t: process.hrtime.bigint(), done };
      client.write(`MARK${i}.`);
    }));
  }
  client.destroy();
  podspan.kill('SIGINT');
  await new Promise((r) => podspan.once('exit', r));
  server.close();
  return lat.sort((a, b) => a - b);
}

(async () => {
  const results = new Map(bins.map((b) => [b, []]));
  for (let turn = 0; turn < 2; turn++) {
    for (const bin of turn % 2 ? [...bins].reverse() : bins) results.get(bin).push(...(await measure(bin, 18080 + turn)));
  }
  for (const [bin, lat] of results) {
    lat.sort((a, b) => a - b);
    const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(1);
    console.log(`${bin}: ${lat.length} marks, write to print: median ${q(0.5)} ms, p10 ${q(0.1)}, p90 ${q(0.9)}, max ${q(1)}`);
  }
})().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
