#!/usr/bin/env bash
# npm test: every test, ordered for a 2-core machine (README, Tests). Stages:
#  1. the C++ core (scripts/native-tests.js --skip-fuzz-run): built optimised and with
#     ASan+UBSan (clang, the fuzz targets' build), its tests run in both; the fuzz targets built.
#  2. vitest "files" (captures, fixtures, the corpus: CPU-bound), two files at a time.
#  3. vitest "live-serial" (deadlines, rates, kernel drops, memory bounds), one file at a time.
#  4. vitest "live" (namespaces and servers: mostly waiting), two files at a time, while the
#     fuzz targets run one at a time beside them (one core; their output follows vitest's).
# Every stage runs even when one before it failed; the exit status is non-zero if any failed.
# Each vitest group writes build/vitest-GROUP.json, which .ci/run adds up with the
# "native: N passed, N failed" lines (one from stage 1, one from the fuzz run).
#   scripts/test.sh [--no-native]   (--no-native: vitest only, npm run test:js)
set -uo pipefail
cd "$(dirname "$0")/.."
native=1
[ "${1:-}" = "--no-native" ] && native=0
status=0
mkdir -p build
rm -f build/vitest-files.json build/vitest-live-serial.json build/vitest-live.json build/fuzz-output.txt  # no stale report counted
vitest=(node_modules/.bin/vitest run)

if [ "$native" = 1 ]; then node scripts/native-tests.js --skip-fuzz-run || status=1; fi
"${vitest[@]}" --project files --fileParallelism --maxWorkers=2 --outputFile.json=build/vitest-files.json || status=1
"${vitest[@]}" --project live-serial --outputFile.json=build/vitest-live-serial.json || status=1
if [ "$native" = 1 ]; then
  PODSPAN_FUZZ_JOBS=1 node scripts/native-tests.js --fuzz-only >build/fuzz-output.txt 2>&1 &
  fuzz=$!
fi
"${vitest[@]}" --project live --fileParallelism --maxWorkers=2 --outputFile.json=build/vitest-live.json || status=1
if [ "$native" = 1 ]; then
  wait "$fuzz" || status=1
  cat build/fuzz-output.txt
fi
exit "$status"
