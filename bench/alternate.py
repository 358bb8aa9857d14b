#!/usr/bin/env python3
"""Two or more commands (two builds, two flag sets) run in alternation, the order reversed every
other round so neither always goes first on a shared, noisy machine; medians of each one's wall
time and CPU (user+sys of the command and what it waited for, from wait4). The before/after
figures of BENCHMARKS.md that name "alternating runs" come from this.
`{out}` in a command is a fresh folder under /dev/shm, removed after each run. Standard output
and error are discarded. NODE_EXTRA_CA_CERTS is removed from the environment (Node parses that
file at every start: BENCHMARKS.md, issue 17), unless KEEP_CA=1.

    python3 bench/alternate.py ROUNDS 'COMMAND A' 'COMMAND B' ...
    python3 bench/alternate.py 21 'node OLD/bin/podspan analyze -r CAP -o {out}' 'node bin/podspan analyze -r CAP -o {out}'
    python3 bench/alternate.py 21 'OLD/build/native-bench/podspan_reassembly_bench --analyze CAP' \\
        'build/native-bench/podspan_reassembly_bench --analyze CAP'
"""
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def run_once(argv, env):
    out = tempfile.mkdtemp(prefix='podspan-alternate-', dir='/dev/shm' if os.path.isdir('/dev/shm') else None)
    shutil.rmtree(out)  # commands create it (podspan -o makes its folder)
    try:
        start = time.perf_counter()
        child = subprocess.Popen([a.replace('{out}', out) for a in argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        return wall, usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main():
    if len(sys.argv) < 4 or not sys.argv[1].isdigit():
        sys.exit("usage: alternate.py ROUNDS 'COMMAND A' 'COMMAND B' ...")
    rounds, commands = int(sys.argv[1]), sys.argv[2:]
    env = dict(os.environ)
    if os.environ.get('KEEP_CA') != '1':
        env.pop('NODE_EXTRA_CA_CERTS', None)
    argvs = [shlex.split(c) for c in commands]
    results = {c: [] for c in commands}
    for r in range(rounds):
        order = list(range(len(commands)))
        if r % 2:
            order.reverse()
        for i in order:
            wall, cpu, code = run_once(argvs[i], env)
            if code != 0:
                sys.exit(f'{commands[i]}: exit status {code}')
            results[commands[i]].append((wall, cpu))
    for c in commands:
        walls = [w for w, _ in results[c]]
        cpus = [u for _, u in results[c]]
        print(f'{1000 * statistics.median(walls):8.1f} ms wall  {1000 * statistics.median(cpus):8.1f} ms CPU  (median of {len(walls)})  {c}')


if __name__ == '__main__':
    main()
