#!/usr/bin/env python3
"""Runs a command and writes "wall user sys maxrss_kb" to OUT, as GNU time's -f "%e %U %S %M"
does, but in microseconds, not GNU time's hundredths: a 0.18 s run is then not rounded by up to
6%, which is the size of the differences the whole-process benchmarks look for. Wall time runs
from just before the fork to the child's exit (wait4, which also gives its CPU and peak RSS).

    python3 bench/lib/timed.py OUT COMMAND [ARGS...]   (exit status: the command's)
"""
import os
import sys
import time

out, argv = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(out, 'w') as f:
    f.write(f'{wall:.6f} {usage.ru_utime:.6f} {usage.ru_stime:.6f} {usage.ru_maxrss}\n')
sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
