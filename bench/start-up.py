#!/usr/bin/env python3
"""Start-up of podspan commands: from the CLI's bundle with its code cache (bin/podspan, as built
by scripts/bundle-cli.js) against the compiled modules loaded one by one (dist/cli/main.js, as
before the bundle), beside `node -e 0` and tcpdump/tcpflow on the same 20-packet file. Runs
alternate round by round; medians of wall time and of CPU (user+sys, from wait4).
NODE_EXTRA_CA_CERTS is removed from the environment (it costs every Node process ~50 ms before
any JavaScript runs; BENCHMARKS.md, issue 17), unless KEEP_CA=1.

    python3 bench/start-up.py [ROUNDS=40]
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 40
SAMPLE = os.path.join(ROOT, 'fixtures', 'sample-20.pcap')
NODE = shutil.which('node')
FILES = ['-e', 'require(process.argv[1]).main([process.execPath, "podspan", ...process.argv.slice(2)])', os.path.join(ROOT, 'dist', 'cli', 'main.js')]
BIN = [os.path.join(ROOT, 'bin', 'podspan')]

env = dict(os.environ)
if os.environ.get('KEEP_CA') != '1':
    env.pop('NODE_EXTRA_CA_CERTS', None)
out = tempfile.mkdtemp(prefix='podspan-start-up-')


def commands():
    """(name, argv) per tool; output folders are made fresh each round by the caller."""
    work = {
        'streams -r -o': ['streams', '-r', SAMPLE, '-o', os.path.join(out, 'streams')],
        'capture -r (lines)': ['capture', '-nn', '-r', SAMPLE],
        'analyze -r -o': ['analyze', '-r', SAMPLE, '-o', os.path.join(out, 'analyze'), '--top', '0'],
        '--version': ['--version'],
    }
    yield 'node -e 0', [NODE, '-e', '0']
    for name, args in work.items():
        yield f'{name}: bundle', [NODE, *BIN, *args]
        yield f'{name}: files', [NODE, *FILES, *args]
    if shutil.which('tcpdump'):
        yield 'tcpdump -nn -r', ['tcpdump', '-nn', '-r', SAMPLE]
    if shutil.which('tcpflow'):
        yield 'tcpflow -r -o', ['tcpflow', '-r', SAMPLE, '-o', os.path.join(out, 'tcpflow')]


def run_once(argv):
    for d in ('streams', 'analyze', 'tcpflow'):
        shutil.rmtree(os.path.join(out, d), ignore_errors=True)
    os.makedirs(os.path.join(out, 'tcpflow'))
    start = time.perf_counter()
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f'{" ".join(argv)}: exit {os.waitstatus_to_exitcode(status)}')
    return wall * 1000, (usage.ru_utime + usage.ru_stime) * 1000


tools = list(commands())
results = {name: [] for name, _ in tools}
try:
    for r in range(ROUNDS):
        shift = r % len(tools)
        for name, argv in tools[shift:] + tools[:shift]:
            results[name].append(run_once(argv))
finally:
    shutil.rmtree(out, ignore_errors=True)

print(f'{ROUNDS} rounds, medians (NODE_EXTRA_CA_CERTS {"kept" if os.environ.get("KEEP_CA") == "1" else "removed"})')
med = {}
for name, _ in tools:
    walls = [w for w, _ in results[name]]
    cpus = [c for _, c in results[name]]
    med[name] = statistics.median(walls)
    q = statistics.quantiles(walls, n=4)
    print(f'{name:28s} wall {statistics.median(walls):6.1f} ms (quartiles {q[0]:.1f}-{q[2]:.1f})  CPU {statistics.median(cpus):6.1f} ms')
base = med['node -e 0']
for name in (n for n, _ in tools if n.endswith(': bundle')):
    cmd = name[: -len(': bundle')]
    b, f = med[name], med[f'{cmd}: files']
    print(f'{cmd:20s} bundle/files wall {b / f:.2f}; beyond node -e 0: {f - base:.1f} -> {b - base:.1f} ms')
