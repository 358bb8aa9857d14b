#!/usr/bin/env python3
"""Runs a command and reports its CPU per thread, for the benchmarks that split a process's time.

    thread_cpu.py TIME_FILE THREADS_FILE -- COMMAND...

TIME_FILE gets "wall user sys maxrss_kb" of the command (as `/usr/bin/time -f "%e %U %S %M"`
writes it: the command's own rusage, none of this script's). THREADS_FILE gets one line
"capture_s main_s other_s": user+sys seconds of the threads named podspan-capture, of the main
(JavaScript) thread, and of all the others (V8's, libuv's), read from /proc/PID/task/*/stat
every 10 ms while the command runs. A thread's last reading before it exits is what counts, so
each figure may miss up to 10 ms of a thread's CPU; the whole process's total is in TIME_FILE,
in microseconds (wall time from just before the start to the child's exit, from wait4).
"""
import os
import subprocess
import sys
import threading
import time


def task_cpu(pid):
    """{tid: (comm, seconds)} of the process's threads now."""
    tick = os.sysconf('SC_CLK_TCK')
    out = {}
    try:
        tids = os.listdir(f'/proc/{pid}/task')
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f'/proc/{pid}/task/{tid}/stat') as f:
                stat = f.read()
        except OSError:
            continue
        # comm is in parentheses and may hold spaces; the fields after it are space separated.
        comm = stat[stat.index('(') + 1:stat.rindex(')')]
        fields = stat[stat.rindex(')') + 2:].split()
        out[int(tid)] = (comm, (int(fields[11]) + int(fields[12])) / tick)  # utime, stime
    return out


def main():
    if len(sys.argv) < 5 or sys.argv[3] != '--':
        sys.exit('usage: thread_cpu.py TIME_FILE THREADS_FILE -- COMMAND...')
    time_file, threads_file, command = sys.argv[1], sys.argv[2], sys.argv[4:]
    last = {}
    done = threading.Event()
    start = time.perf_counter()
    child = subprocess.Popen(command)

    def sample():  # beside the wait, so the wall time is the child's own, not a poll's multiple
        while not done.is_set():
            for tid, value in task_cpu(child.pid).items():
                last[tid] = value
            done.wait(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    capture = sum(s for comm, s in last.values() if comm == 'podspan-capture')
    main_thread = last.get(child.pid, ('', 0.0))[1]
    other = sum(s for tid, (comm, s) in last.items() if comm != 'podspan-capture' and tid != child.pid)
    with open(time_file, 'w') as f:
        f.write(f'{wall:.6f} {usage.ru_utime:.6f} {usage.ru_stime:.6f} {usage.ru_maxrss}\n')
    with open(threads_file, 'a') as f:
        f.write(f'{capture:.3f} {main_thread:.3f} {other:.3f}\n')
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == '__main__':
    main()
