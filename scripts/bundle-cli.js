#!/usr/bin/env node
// Bundles the compiled CLI (dist/cli/main.js, its modules, commander and zod) into one file,
// dist/cli/podspan-cli.js, then runs a few commands on a tiny capture so that V8's code cache of
// what they compiled is written beside it (dist/cli/start.js loads both). Start-up on Node 20 is
// mostly resolving and compiling our modules; from the bundle and its cache it is about a quarter
// shorter (BENCHMARKS.md). The other dependencies stay outside: only some commands load them.
// Without esbuild (an install without dev dependencies) it says so and podspan runs from dist/.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { TcpPcapWriter } = require('./tcp-pcap-writer');

const root = path.resolve(__dirname, '..');
const dir = path.join(root, 'dist', 'cli');
let esbuild;
try {
  esbuild = require('esbuild');
} catch {
  console.log('bundle-cli: esbuild is not installed; podspan runs from dist/ without a bundle');
  process.exit(0);
}
const { BUILD_MARK, BUNDLE, CODE_CACHE, WRITE_CACHE_ENV } = require(path.join(dir, 'start.js'));
const pkg = require(path.join(root, 'package.json'));
const bundled = new Set(['commander', 'zod']);
const external = Object.keys(pkg.dependencies).filter((d) => !bundled.has(d)).flatMap((d) => [d, `${d}/*`]);

fs.rmSync(path.join(dir, CODE_CACHE), { force: true });
esbuild.buildSync({
  entryPoints: [path.join(dir, 'main.js')],
  outfile: path.join(dir, BUNDLE),
  bundle: true,
  platform: 'node',
  target: `node${process.versions.node.split('.')[0]}`,
  format: 'cjs',
  external,
  // Without comments and indentation: a smaller file to read and hash at every start, and pure
  // ASCII (esbuild escapes the rest), which start.js reads as latin1, a byte per character.
  // node:child_process at its first use (scripts/lazy-child-process.js), not at start-up.
  alias: { 'node:child_process': path.join(__dirname, 'lazy-child-process.js') },
  minifyWhitespace: true,
  legalComments: 'none',
  charset: 'ascii',
  logLevel: 'error',
});
// The build's name, which the code cache will carry too (dist/cli/start.js).
fs.appendFileSync(path.join(dir, BUNDLE), `${BUILD_MARK}${require('node:crypto').randomUUID()}\n`);

/** A pcap of one HTTP request on a TCP connection (SYN, SYN-ACK, ACK, the request, FIN). */
function tinyCapture(file) {
  const request = Buffer.from('GET /warm-up HTTP/1.1\r\nHost: podspan\r\n\r\n');
  const [client, server] = [0x0a000001, 0x0a000002];
  const w = new TcpPcapWriter(file);
  const t = 1_700_000_000_000_000;
  w.frame(t, client, server, 40000, 80, 1000, 0, 0x02, 0);
  w.frame(t + 100, server, client, 80, 40000, 5000, 1001, 0x12, 0);
  w.frame(t + 200, client, server, 40000, 80, 1001, 5001, 0x10, 0);
  request.copy(w.buf, w.frame(t + 300, client, server, 40000, 80, 1001, 5001, 0x18, request.length));
  w.frame(t + 400, client, server, 40000, 80, 1001 + request.length, 5001, 0x11, 0);
  w.close();
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-bundle-'));
try {
  const capture = path.join(tmp, 'warm-up.pcap');
  tinyCapture(capture);
  const commands = [
    ['streams', '-r', capture, '-o', path.join(tmp, 'streams')],
    ['capture', '-nn', '-r', capture],
    ['capture', '-r', capture, '-w', path.join(tmp, 'copy.pcapng')],
    ['analyze', '-r', capture, '-o', path.join(tmp, 'analyze'), '--top', '0'],
  ];
  const warmUp = `
    const { cli } = require(${JSON.stringify(path.join(dir, 'start.js'))}).loadCli(${JSON.stringify(dir)});
    (async () => { for (const c of ${JSON.stringify(commands)}) await cli.main([process.execPath, 'podspan', ...c]); })();`;
  // Bounded: a warm-up that hung would hold up npm install.
  const r = spawnSync(process.execPath, ['-e', warmUp], { env: { ...process.env, [WRITE_CACHE_ENV]: '1' }, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 60_000 });
  // The bundle works without its cache; only start-up is longer.
  const why = (r.stderr || r.error?.message || '').trim().split('\n').pop();
  if (r.status !== 0) console.log(`bundle-cli: the warm-up commands failed (exit ${r.status}): ${why}`);
  if (!fs.existsSync(path.join(dir, CODE_CACHE))) console.log('bundle-cli: no code cache written; podspan runs from the bundle without it');
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
