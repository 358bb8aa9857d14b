#!/usr/bin/env bash
# npm test: every test, ordered for a 2-core machine (README, Tests). Stages:
#  1. vitest "live-serial" (deadlines, rates, kernel drops, memory bounds), one file at a time,
#     while the C++ core is compiled beside it at the idle scheduling class (chrt --idle: it gets
#     only the CPU those tests leave unused, so their timing is as on an idle machine): optimised
#     (gcc) and ASan+UBSan (clang, with the fuzz targets). scripts/native-tests.js --build-only;
#     its output follows vitest's. Beside them, at the same class, vitest "build": the addon built
#     from scratch against node-api-headers (test/unit/addon-build.test.ts, ~40-60 s of CPU).
#  2. the C++ tests, in both builds (scripts/native-tests.js --skip-fuzz-run: the builds are
#     already done).
#  3. vitest "files" (captures, fixtures, the corpus: CPU-bound), two files at a time.
#  4. vitest "live" (namespaces and servers: mostly waiting), three files at a time, while the
#     fuzz targets run one at a time beside them (one core; their output follows vitest's).
# Every stage runs even when one before it failed; the exit status is non-zero if any failed.
# Each vitest group writes build/vitest-GROUP.json, which .ci/run adds up with the
# "native: N passed, N failed" lines of the native stages.
#   scripts/test.sh [--no-native]   (--no-native: vitest only, npm run test:js)
set -uo pipefail
cd "$(dirname "$0")/.."
native=1
[ "${1:-}" = "--no-native" ] && native=0
status=0
mkdir -p build
rm -f build/vitest-files.json build/vitest-live-serial.json build/vitest-live.json build/vitest-build.json build/vitest-build.txt build/native-build.txt build/fuzz-output.txt # no stale report counted
vitest=(node_modules/.bin/vitest run)
# The idle class where util-linux's chrt is there, else the lowest nice value.
idle=(nice -n 19)
chrt --idle 0 true 2>/dev/null && idle=(chrt --idle 0 nice -n 19)

if [ "$native" = 1 ]; then
  "${idle[@]}" node scripts/native-tests.js --build-only >build/native-build.txt 2>&1 &
  builds=$!
fi
"${idle[@]}" "${vitest[@]}" --project build --outputFile.json=build/vitest-build.json >build/vitest-build.txt 2>&1 &
addon_build=$!
"${vitest[@]}" --project live-serial --outputFile.json=build/vitest-live-serial.json || status=1
wait "$addon_build" || status=1
cat build/vitest-build.txt
if [ "$native" = 1 ]; then
  wait "$builds" || status=1
  cat build/native-build.txt
  node scripts/native-tests.js --skip-fuzz-run || status=1
fi
"${vitest[@]}" --project files --fileParallelism --maxWorkers=2 --outputFile.json=build/vitest-files.json || status=1
if [ "$native" = 1 ]; then
  PODSPAN_FUZZ_JOBS=1 node scripts/native-tests.js --fuzz-only >build/fuzz-output.txt 2>&1 &
  fuzz=$!
fi
"${vitest[@]}" --project live --fileParallelism --maxWorkers=3 --outputFile.json=build/vitest-live.json || status=1
if [ "$native" = 1 ]; then
  wait "$fuzz" || status=1
  cat build/fuzz-output.txt
fi
exit "$status"
