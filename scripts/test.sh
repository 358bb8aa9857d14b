#!/usr/bin/env bash
# npm test: every test, ordered for a 2-core machine (README, Tests). Stages:
#  1. vitest "live-serial" (deadlines, rates, kernel drops, memory bounds), one file at a time,
#     while the C++ core is compiled beside it at the idle scheduling class (chrt --idle: it gets
#     only the CPU those tests leave unused, so their timing is as on an idle machine): optimised
#     (gcc) and ASan+UBSan (clang, with the fuzz targets). scripts/native-tests.js --build-only;
#     its output follows vitest's. Before them, at the same class, vitest "build": the addon built
#     from scratch against node-api-headers (test/unit/addon-build.test.ts, ~40-60 s of CPU). In
#     turn, not side by side: the idle class splits what CPU is left evenly, so beside the core's
#     builds (~370 s of CPU) on a loaded machine the addon's took past its test's deadline.
#  2. vitest "live" (namespaces and servers: mostly waiting), three files at a time. The builds
#     go on beside it in what CPU it leaves (they need more than live-serial leaves: ~370 s of CPU
#     in all); once they are done, the fuzz targets run one at a time (one core; their output
#     follows the C++ tests').
#  3. the C++ tests, in both builds, once the builds are done (scripts/native-tests.js
#     --skip-fuzz-run --prebuilt).
#  4. vitest "files" (captures, fixtures, the corpus: CPU-bound), two files at a time.
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
# No stale report counted, and no marker of an earlier run taken for this one's.
rm -f build/vitest-files.json build/vitest-live-serial.json build/vitest-live.json build/vitest-build.json build/vitest-build.txt \
  build/vitest-build.status \
  build/native-build.txt build/native-build.status build/fuzz-output.txt build/live-serial.done
vitest=(node_modules/.bin/vitest run)
# The idle class where util-linux's chrt is there, else the lowest nice value.
idle=(nice -n 19)
chrt --idle 0 true 2>/dev/null && idle=(chrt --idle 0 nice -n 19)
# Waits (polling: the job is not this shell's child) until FILE exists; false if this script ($$,
# also in a subshell) ended first, so a job left behind by a killed run does not wait forever.
await_file() { while [ ! -e "$1" ]; do kill -0 $$ 2>/dev/null || return 1; sleep 1; done; }

(
  "${idle[@]}" "${vitest[@]}" --project build --outputFile.json=build/vitest-build.json >build/vitest-build.txt 2>&1
  echo $? >build/vitest-build.status
  [ "$native" = 1 ] || exit 0
  "${idle[@]}" node scripts/native-tests.js --build-only >build/native-build.txt 2>&1
  echo $? >build/native-build.status
  # Not beside live-serial: a core at the normal class would change what its tests measure.
  await_file build/live-serial.done || exit 1
  if [ "$(cat build/native-build.status)" = 0 ]; then
    PODSPAN_FUZZ_JOBS=1 node scripts/native-tests.js --fuzz-only --prebuilt >build/fuzz-output.txt 2>&1
  else
    echo 'fuzz: not run, the build failed (above)' >build/fuzz-output.txt
  fi
) &
background_job=$!
"${vitest[@]}" --project live-serial --outputFile.json=build/vitest-live-serial.json || status=1
touch build/live-serial.done
"${vitest[@]}" --project live --fileParallelism --maxWorkers=3 --outputFile.json=build/vitest-live.json || status=1
await_file build/vitest-build.status
cat build/vitest-build.txt
[ "$(cat build/vitest-build.status)" = 0 ] || status=1
if [ "$native" = 1 ]; then
  await_file build/native-build.status
  cat build/native-build.txt
  [ "$(cat build/native-build.status)" = 0 ] || status=1
  node scripts/native-tests.js --skip-fuzz-run --prebuilt || status=1
fi
"${vitest[@]}" --project files --fileParallelism --maxWorkers=2 --outputFile.json=build/vitest-files.json || status=1
wait "$background_job" || status=1
if [ "$native" = 1 ]; then
  cat build/fuzz-output.txt
fi
exit "$status"
