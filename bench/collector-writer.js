#!/usr/bin/env node
// The collector's pcapng writer alone (NativeWriter.write, as src/collector/agent-file.ts calls it
// once per received batch): 1 MiB batches of 64-byte and of 1500-byte frames into a file on
// tmpfs, CPU per frame (user: the writer's own work; system: the kernel storing the file).
// Several checkouts are interleaved round by round (each run a process of its own), for
// before/after figures; medians at the end.
//   node bench/collector-writer.js [ROUNDS=3] [CHECKOUT...]   (default: this one, built)
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const rounds = Number(process.argv[2] ?? 3);
const checkouts = process.argv.length > 3 ? process.argv.slice(3).map((c) => path.resolve(c)) : [path.resolve(__dirname, '..')];
const dir = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'podspan-writer-bench-'));

/** One batch of `size`-byte frames, ~1 MiB, as decodeFrameBatch hands it over. */
function batch(size) {
  const n = Math.floor((1 << 20) / (size + 20));
  const cols = { frames: Buffer.alloc(n * size, 7), caplen: Buffer.alloc(n * 4), origlen: Buffer.alloc(n * 4), ts: Buffer.alloc(n * 8), source: Buffer.alloc(n * 4), map: Buffer.alloc(4), n };
  for (let i = 0; i < n; i++) {
    cols.caplen.writeUInt32LE(size, i * 4);
    cols.origlen.writeUInt32LE(size, i * 4);
    cols.ts.writeBigUInt64LE(1700000000000000000n + BigInt(i), i * 8);
  }
  return cols;
}

function run(checkout, size, frames) {
  const { NativeWriter } = require(path.join(checkout, 'build', 'Release', 'podspan.node'));
  const file = path.join(dir, `w${size}.pcapng`);
  const w = new NativeWriter({ path: file, format: 'pcapng', rotateByClock: true, interfacesOnFirstUse: true, exclusive: true, bufferBytes: 64 * 1024, application: 'bench' });
  w.addInterface({ name: 'eth0', description: 'bench', linktype: 1, snaplen: 262144 });
  const b = batch(size);
  const c0 = process.cpuUsage();
  let written = 0;
  while (written < frames) written += w.write(b.frames, b.caplen, b.origlen, b.ts, b.source, b.n, b.map);
  w.close();
  const c = process.cpuUsage(c0);
  fs.unlinkSync(file);
  return { user: (c.user * 1000) / written, system: (c.system * 1000) / written };
}

if (process.env.WRITER_BENCH_RUN) {
  const [checkout, size, frames] = JSON.parse(process.env.WRITER_BENCH_RUN);
  try {
    console.log(JSON.stringify(run(checkout, size, frames)));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

const results = new Map();
try {
  for (let r = 1; r <= rounds; r++) {
    for (const size of [64, 1500]) {
      for (const checkout of checkouts) {
        const env = { ...process.env, WRITER_BENCH_RUN: JSON.stringify([checkout, size, size === 64 ? 4_000_000 : 1_000_000]) };
        const x = JSON.parse(execFileSync(process.execPath, [__filename], { env, encoding: 'utf8' }));
        const key = `${checkout} ${size}`;
        results.set(key, [...(results.get(key) ?? []), x]);
        console.log(`${checkout} ${String(size).padStart(4)}-byte frames, round ${r}: ${(x.user + x.system).toFixed(0)} ns/frame (user ${x.user.toFixed(0)}, system ${x.system.toFixed(0)})`);
      }
    }
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(`medians over ${rounds} rounds:`);
for (const [key, xs] of results) {
  const u = median(xs.map((x) => x.user)), s = median(xs.map((x) => x.system)), t = median(xs.map((x) => x.user + x.system));
  console.log(`${key}-byte frames: ${t.toFixed(0)} ns/frame (user ${u.toFixed(0)}, system ${s.toFixed(0)})`);
}
