#!/usr/bin/env node
// Builds the pure C++ core (native/) with cmake-js and runs its tests: once optimised (gcc), once
// under AddressSanitizer + UndefinedBehaviorSanitizer, then every libFuzzer target for a bounded
// time. Prints one line per stage and a totals line "native: N passed, N failed".
//   node scripts/native-tests.js [--fuzz-seconds N] [--fuzz-budget N] [--no-fuzz | --skip-fuzz-run | --fuzz-only | --build-only] [--prebuilt]
// The sanitizer run uses the clang build the fuzz targets need (ASan+UBSan, and libFuzzer's
// coverage, which only counts): it compiles the tests anyway, so no third build of the core. Only
// without clang are they built with gcc's sanitizers instead (and the fuzz stage fails).
// The optimised tests run while that build compiles (they mostly wait for tshark, the judge).
// --no-fuzz: no fuzz target built or run. --skip-fuzz-run: built, not run; --fuzz-only then runs
// them and nothing else. --build-only: every build, no test run (a later run finds them built).
// --prebuilt: no build at all (a --build-only run made them): npm test's stages run the tests and
// the fuzz targets side by side, and two builds of one folder at once would trip over each other.
// npm test uses all three in its stages (scripts/test.sh); each prints its own totals line, and
// .ci/run adds them up.
// The test command shares one fuzz budget (120 s by default, PODSPAN_FUZZ_BUDGET) among the
// targets, each at least 7 s (-O1: the heavier targets run ~5x the inputs -O0 ran in 10 s), so
// adding a parser does not lengthen the suite by 30 s;
// --fuzz-seconds (PODSPAN_FUZZ_SECONDS) gives every target that long instead (npm run fuzz: 600).
// A libFuzzer run uses one core: targets run one per CPU at a time (PODSPAN_FUZZ_JOBS), each
// for its full time, so the budget's wall time is divided by the jobs and no target gets less.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const argValue = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const perTargetSeconds = Number(argValue('--fuzz-seconds') ?? process.env.PODSPAN_FUZZ_SECONDS ?? 0);
const fuzzBudget = Number(argValue('--fuzz-budget') ?? process.env.PODSPAN_FUZZ_BUDGET ?? 120);
const fuzz = !args.includes('--no-fuzz');
const fuzzRun = fuzz && !args.includes('--skip-fuzz-run');
const fuzzOnly = args.includes('--fuzz-only');
const buildOnly = args.includes('--build-only');
const prebuilt = args.includes('--prebuilt');
const fuzzJobs = Math.max(1, Number(process.env.PODSPAN_FUZZ_JOBS) || os.cpus().length);
const corpus = path.resolve(root, process.env.PODSPAN_CORPUS || '../shared/corpus');
const cmakeJs = path.join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
// Both test runs ask tshark the same questions of the corpus: the first saves its answers here
// and the second reads them (native/tests/judge_cache.h). Emptied at each start, so every run of
// this script asks tshark itself once.
const judgeCache = path.join(root, 'build', 'judge-cache');
// ASan+UBSan with libFuzzer's coverage in the core: the fuzz targets and the sanitizer tests.
const FUZZ_DEFINES = ['CMAKE_BUILD_TYPE=Debug', 'PODSPAN_FUZZ=ON', 'CMAKE_CXX_COMPILER=clang++', 'CMAKE_C_COMPILER=clang'];

let passed = 0;
let failed = 0;

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  return { code: r.status ?? 1, out: (r.stdout || '') + (r.stderr || '') };
}

/** Configures and builds `dir` (only `target` when given); false, with the tail of the log, if it failed. */
async function build(dir, defines, target) {
  if (prebuilt) return true;
  const r = await runAsync(process.execPath, [cmakeJs, 'compile', '-d', 'native', '-O', dir, ...(target ? ['--target', target] : []), ...defines.map((d) => `--CD${d}`)], {
    env: { ...process.env, CMAKE_BUILD_PARALLEL_LEVEL: '2' },
  });
  if (r.code !== 0) {
    process.stdout.write(r.out.split('\n').slice(-40).join('\n') + '\n');
    console.log(`native build ${dir}: FAILED`);
    failed += 1;
    return false;
  }
  return true;
}

function findBinary(dir, name) {
  for (const sub of ['', 'Release', 'Debug']) {
    const p = path.join(root, dir, sub, name);
    if (fs.existsSync(p)) return p;
  }
  return null;
}

/** Runs the C++ tests of `dir` in one shard per CPU side by side (PODSPAN_TEST_SHARD); adds up their totals. */
async function runUnitTests(dir, label) {
  const bin = findBinary(dir, 'podspan_core_tests');
  if (!bin) {
    console.log(`${label}: test binary missing`);
    failed += 1;
    return;
  }
  const shards = os.cpus().length;
  const env = { ...process.env, PODSPAN_CORPUS: corpus, PODSPAN_JUDGE_CACHE: judgeCache, ASAN_OPTIONS: 'detect_leaks=1', UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1' };
  const results = await Promise.all(Array.from({ length: shards }, (_, i) => runAsync(bin, [], { env: { ...env, PODSPAN_TEST_SHARD: `${i}/${shards}` } })));
  let p = 0, f = 0, crashed = false;
  for (const r of results) {
    const m = r.out.match(/native: (\d+) passed, (\d+) failed/);
    if (m) {
      p += Number(m[1]);
      f += Number(m[2]);
    } else crashed = true;
    if (r.code !== 0 || !m) process.stdout.write(r.out.split('\n').slice(-60).join('\n') + '\n');
  }
  passed += p;
  failed += f + (crashed ? 1 : 0);
  console.log(`${label}: ${p} passed, ${f} failed${crashed ? ', a shard crashed' : ''}`);
}

/** Like run(), without blocking: the fuzz targets run side by side. */
function runAsync(cmd, argv, opts = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (e) => resolve({ code: 1, out: out + e.message }));
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

/** Runs work(item) for every item, at most `jobs` at a time; report(item, result) as each ends. */
async function inPool(items, jobs, work, report) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      report(item, await work(item));
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, items.length) }, worker));
}

async function main() {
  const plain = 'build/native';
  const fuzzDir = 'build/native-fuzz';
  const hasClang = run('clang++', ['--version']).code === 0;
  if (!fuzzOnly) {
    if (!buildOnly) {
      fs.rmSync(judgeCache, { recursive: true, force: true });
      fs.mkdirSync(judgeCache, { recursive: true });
    }
    const unitTests = buildOnly ? async () => {} : runUnitTests;
    const optimised = (await build(plain, ['CMAKE_BUILD_TYPE=Release'])) ? unitTests(plain, 'C++ tests (optimised)') : Promise.resolve();
    if (hasClang) {
      // Beside the optimised tests; the sanitizer run starts once they are done (their judge's
      // answers are then in the cache).
      const built = build(fuzzDir, FUZZ_DEFINES, fuzz ? undefined : 'podspan_core_tests');
      await optimised;
      if (await built) await unitTests(fuzzDir, 'C++ tests (ASan+UBSan)');
    } else {
      await optimised;
      const asan = 'build/native-asan';
      if (await build(asan, ['CMAKE_BUILD_TYPE=Debug', 'PODSPAN_SANITIZE=ON'])) await unitTests(asan, 'C++ tests (ASan+UBSan, gcc)');
    }
  }

  if (fuzzRun && !buildOnly) {
    if (!hasClang) {
      console.log('fuzz: clang++ not installed (apt-get install clang); fuzz targets not run');
      failed += 1;
    } else if (await build(fuzzDir, FUZZ_DEFINES)) {
      const targets = fs.readdirSync(path.join(root, 'native', 'fuzz')).filter((f) => f.endsWith('.cc')).map((f) => f.slice(0, -3));
      const fuzzSeconds = perTargetSeconds > 0 ? perTargetSeconds : Math.max(7, Math.floor(fuzzBudget / targets.length));
      const artifacts = path.join(root, 'build', 'fuzz-artifacts') + path.sep;
      fs.mkdirSync(artifacts, { recursive: true });
      const fuzzTarget = (t) => {
        const bin = findBinary(fuzzDir, t);
        const work = path.join(root, 'build', 'fuzz-corpus', t);
        fs.mkdirSync(work, { recursive: true });
        const seeds = [work, path.join(root, 'fixtures'), corpus].filter((d) => fs.existsSync(d));
        return runAsync(bin, [`-artifact_prefix=${artifacts}`, `-max_total_time=${fuzzSeconds}`, '-max_len=65536', '-timeout=10', '-rss_limit_mb=2048', ...seeds], {
          env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1' },
        });
      };
      const report = (t, r) => {
        const execs = (r.out.match(/Done (\d+) runs/) || [])[1];
        if (r.code === 0) {
          passed += 1;
          console.log(`fuzz ${t}: ${fuzzSeconds}s, ${execs ?? '?'} runs, no findings`);
        } else {
          failed += 1;
          process.stdout.write(r.out.split('\n').slice(-60).join('\n') + '\n');
          console.log(`fuzz ${t}: FAILED (see above; the input is saved in build/fuzz-artifacts/)`);
        }
      };
      await inPool(targets, fuzzJobs, fuzzTarget, report);
    }
  }
  console.log(`native: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main();
