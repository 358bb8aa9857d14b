#!/usr/bin/env node
// Builds the addon on `npm install` without downloading anything but npm packages. node-gyp alone
// downloads Node's headers from nodejs.org unless npm's nodedir is set, and fails where that site
// cannot be reached. So:
//  - npm's nodedir, when set, is used as it is (node-gyp, binding.gyp);
//  - else the running Node's own headers (PREFIX/include/node, as Debian and NodeSource packages and
//    the official tarballs install them) are handed to node-gyp as its nodedir;
//  - else cmake-js builds native/CMakeLists.txt's addon target against node-api-headers (an npm
//    package; the addon uses Node-API only, so no other header is needed).
// PODSPAN_ADDON_BUILD=node-gyp|cmake-js forces a route; PODSPAN_ADDON_OUT=DIR puts podspan.node
// in DIR instead of build/Release (the tests build the second route beside the real addon).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

/** A folder node-gyp accepts as nodedir: headers and common.gypi under include/node. */
function isNodeDir(dir) {
  return ['node_api.h', 'common.gypi'].every((f) => fs.existsSync(path.join(dir, 'include', 'node', f)));
}

function nodeGypCommand() {
  // npm names its bundled node-gyp to install scripts; outside npm, find npm's copy beside node.
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((p) => p && fs.existsSync(p));
}

function run(argv, env) {
  const r = spawnSync(process.execPath, argv, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status ?? 1;
}

function place(built, outDir) {
  fs.mkdirSync(outDir, { recursive: true });
  fs.copyFileSync(built, path.join(outDir, 'podspan.node'));
}

function withNodeGyp(nodedir, outDir) {
  const gyp = nodeGypCommand();
  if (!gyp) return fail('node-gyp not found (it comes with npm); install npm or set PODSPAN_ADDON_BUILD=cmake-js');
  console.log(`podspan: building the addon with node-gyp against the Node headers in ${nodedir}`);
  const status = run([gyp, 'rebuild', `--nodedir=${nodedir}`, '-j', 'max'], { npm_config_nodedir: nodedir });
  if (status !== 0) return status;
  const built = path.join(root, 'build', 'Release', 'podspan.node');
  if (path.resolve(outDir) !== path.dirname(built)) place(built, outDir);
  return 0;
}

function withCmakeJs(outDir) {
  let cmakeJs;
  try {
    cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  } catch {
    return fail('cmake-js is not installed (npm install installs it as a dependency)');
  }
  if (spawnSync('cmake', ['--version'], { stdio: 'ignore' }).status !== 0) {
    return fail("Node's headers are not installed and cmake is missing: install cmake (apt-get install cmake) or Node's headers");
  }
  console.log("podspan: Node's own headers are not installed; building the addon with cmake-js against node-api-headers");
  const work = path.join(root, 'build', 'cmake-addon');
  const status = run([cmakeJs, 'compile', '-d', 'native', '-O', work, '--target', 'podspan_addon', '--CDPODSPAN_ADDON=ON', '--CDCMAKE_BUILD_TYPE=Release'], {
    CMAKE_BUILD_PARALLEL_LEVEL: process.env.CMAKE_BUILD_PARALLEL_LEVEL || '2',
  });
  if (status !== 0) return status;
  const built = ['', 'Release'].map((d) => path.join(work, d, 'podspan.node')).find((p) => fs.existsSync(p));
  if (!built) return fail(`cmake-js finished but left no podspan.node in ${path.relative(root, work)}`);
  place(built, outDir);
  return 0;
}

function fail(message) {
  console.error(`podspan: ${message}`);
  return 1;
}

function main() {
  const outDir = path.resolve(root, process.env.PODSPAN_ADDON_OUT || path.join('build', 'Release'));
  const forced = process.env.PODSPAN_ADDON_BUILD;
  if (forced && !['node-gyp', 'cmake-js'].includes(forced)) return fail(`PODSPAN_ADDON_BUILD=${forced}: expected node-gyp or cmake-js`);
  if (forced === 'cmake-js') return withCmakeJs(outDir);
  const configured = process.env.npm_config_nodedir;
  if (configured) return withNodeGyp(configured, outDir);
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  if (isNodeDir(prefix)) return withNodeGyp(prefix, outDir);
  if (forced === 'node-gyp') return fail(`Node's headers are not installed under ${prefix}/include/node; set npm's nodedir or use PODSPAN_ADDON_BUILD=cmake-js`);
  return withCmakeJs(outDir);
}

process.exit(main());
