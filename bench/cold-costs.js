#!/usr/bin/env node
// Two small measurements BENCHMARKS.md quotes for issue 13 (a later stop), each in a fresh
// process so that nothing is warm that a run of `podspan analyze` would not have warm:
//   selection  the quantile selection on 180,000 latencies, cold (first call) and warm, in
//              JavaScript (the code before the native one) and through the addon
//   detach     a typed-array and DataView read loop before and after one unrelated ArrayBuffer
//              is detached (V8's detaching protector)
//   node bench/cold-costs.js [ROUNDS=3]
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const rounds = Number(process.argv[2] ?? 3);
const root = path.resolve(__dirname, '..');

const selection = `
const n = 180000, a = new Float64Array(n); let s = 7;
for (let i = 0; i < n; i++) { s = (s * 1103515245 + 12345) & 0x7fffffff; a[i] = 1 + (s % 5000) / 1000; }
const ranks = [0.5, 0.9, 0.99].map((q) => Math.max(0, Math.ceil(q * n) - 1));
function select(v, lo, hi, k) { // the JavaScript selection this stop replaced (Hoare, median of three)
  while (hi > lo) {
    const x = v[lo], y = v[(lo + hi) >>> 1], z = v[hi];
    const p = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo, j = hi;
    while (i <= j) { while (v[i] < p) i++; while (v[j] > p) j--; if (i <= j) { const t = v[i]; v[i++] = v[j]; v[j--] = t; } }
    if (k <= j) hi = j; else if (k >= i) lo = i; else break;
  }
  return v[k];
}
const js = (v) => { let hi = n - 1; for (let r = 2; r >= 0; r--) { select(v, 0, Math.max(hi, ranks[r]), ranks[r]); hi = ranks[r] - 1; } };
const addon = require(${JSON.stringify(path.join(root, 'build', 'Release', 'podspan.node'))});
const time = (f) => { const t = process.hrtime.bigint(); f(); return Number(process.hrtime.bigint() - t) / 1e6; };
const [c1, c2, c3] = [a.slice(), a.slice(), a.slice()];
const cold = time(() => js(c1)), warm = time(() => js(c2));
const native = time(() => addon.valuesAtRanks(c3, n, ranks));
console.log(\`selection of 180,000: JavaScript cold \${cold.toFixed(2)} ms, then warm \${warm.toFixed(2)} ms; native (first call) \${native.toFixed(2)} ms\`);`;

const detach = `
const buf = Buffer.alloc(1 << 20, 7), dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
function sum() { let s = 0; for (let r = 0; r < 20; r++) for (let i = 0; i < buf.length - 4; i += 4) s += dv.getUint32(i, true) + buf[i]; return s; }
const time = () => { for (let i = 0; i < 5; i++) sum(); const t = process.hrtime.bigint(); for (let i = 0; i < 20; i++) sum(); return Number(process.hrtime.bigint() - t) / 1e6; };
const before = time();
const ab = new ArrayBuffer(16); structuredClone(ab, { transfer: [ab] });
const after = time();
console.log(\`typed-array reads: \${before.toFixed(1)} ms before one detach, \${after.toFixed(1)} ms after\`);`;

for (let r = 1; r <= rounds; r++) {
  for (const [name, code] of [['selection', selection], ['detach', detach]]) {
    const out = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
    process.stdout.write(`round ${r} ${name}: ${(out.stdout || out.stderr).trim()}\n`);
  }
}
