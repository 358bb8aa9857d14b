// Capture files compressed with gzip, zstd, xz, bzip2 or lz4 (the real programs from Debian):
// read by capture, streams and analyze as their uncompressed originals are, alone and in a -V
// list; a damaged one is one line naming the file and the decompressor's own words, after the
// packets before the damage; reading stopped early leaves no decompressor and no FIFO behind.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { samplePackets, tcpConversation, untidyConnection, writePcap } from '../helpers/craft';
import { podspan, repoRoot, run } from '../helpers/tools';

const PROGRAMS = ['gzip', 'zstd', 'xz', 'bzip2', 'lz4'].filter((p) => run('which', [p]).code === 0);
if (PROGRAMS.length < 5) console.log(`compressed captures: only ${PROGRAMS.join(', ')} installed; the others' cases skipped`);
let tmp: string;
let plain: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-compressed-'));
  plain = path.join(tmp, 'plain.pcap');
  const { packets, tcp } = tcpConversation();
  untidyConnection(tcp);
  writePcap(plain, [...packets, ...samplePackets(3000)].sort((a, b) => (a.tsNs < b.tsNs ? -1 : 1)));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** `program -c FILE > OUT` (lz4 writes to stdout only with -c too). */
function compress(program: string, file: string, out: string): string {
  const r = spawnSync('sh', ['-c', '"$0" -c "$1" > "$2"', program, file, out], { encoding: 'utf8' });
  expect(r.status, `${program}: ${r.stderr}`).toBe(0);
  return out;
}

const leftovers = () => fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('podspan-input-'));

describe('podspan reads compressed capture files', () => {
  it.each(PROGRAMS)('%s: capture, streams and analyze give what the uncompressed file gives', (program) => {
    const packed = compress(program, plain, path.join(tmp, `capture.pcap.${program}`));
    const lines = podspan(['capture', '-nn', '-r', plain]);
    const unpacked = podspan(['capture', '-nn', '-r', packed]);
    expect(unpacked.code, unpacked.stderr).toBe(0);
    expect(unpacked.stdout).toBe(lines.stdout);
    expect(unpacked.stdout.split('\n')).toHaveLength(3009 + 1);
    expect(unpacked.stderr).toMatch(new RegExp(`^reading from file ${packed.replace(/[.]/g, '\\.')}, link-type EN10MB`));

    const [a, b] = [path.join(tmp, `streams-${program}-plain`), path.join(tmp, `streams-${program}`)];
    expect(podspan(['streams', '-r', plain, '-o', a]).code).toBe(0);
    expect(podspan(['streams', '-r', packed, '-o', b]).code).toBe(0);
    const files = fs.readdirSync(a).sort();
    expect(fs.readdirSync(b).sort()).toEqual(files);
    for (const f of files) expect(fs.readFileSync(path.join(b, f)), f).toEqual(fs.readFileSync(path.join(a, f)));
  });

  it('a -V list of compressed and plain files is one input, as its uncompressed files are', () => {
    const halves = [path.join(tmp, 'half-1.pcap'), path.join(tmp, 'half-2.pcap')];
    expect(run('editcap', ['-r', plain, halves[0], '1-1500']).code).toBe(0);
    expect(run('editcap', ['-r', plain, halves[1], '1501-3009']).code).toBe(0);
    const list = path.join(tmp, 'mixed.list');
    fs.writeFileSync(list, `${compress('gzip', halves[0], `${halves[0]}.gz`)}\n${halves[1]}\n`);
    const records = (dir: string) => ['flows.jsonl', 'http.jsonl', 'dns.jsonl'].map((f) => fs.readFileSync(path.join(dir, f), 'utf8'));
    const [whole, mixed] = [path.join(tmp, 'analyze-whole'), path.join(tmp, 'analyze-mixed')];
    expect(podspan(['analyze', '-r', plain, '-o', whole, '--top', '0']).code).toBe(0);
    const r = podspan(['analyze', '-V', list, '-o', mixed, '--top', '0']);
    expect(r.code, r.stderr).toBe(0);
    expect(records(mixed)).toEqual(records(whole));
  });

  it('a -V list of 40 compressed files runs at most two decompressors at a time, and reads every file in turn', () => {
    const parts = path.join(tmp, 'parts');
    fs.mkdirSync(parts);
    expect(run('editcap', ['-c', '76', plain, path.join(parts, 'part.pcap')]).code).toBe(0);
    const files = fs.readdirSync(parts).sort().map((f) => compress('gzip', path.join(parts, f), path.join(parts, `${f}.gz`)));
    expect(files).toHaveLength(40);
    // Real gzip, behind a script that notes, as it starts and ends, how many processes podspan
    // has running (the shells waiting to become decompressors, and the decompressors).
    const bin = path.join(tmp, 'observed-bin');
    const log = path.join(tmp, 'observed.log');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'gzip'), `#!/bin/sh\necho "start $(pgrep -c -P $PPID)" >> ${log}\n${run('which', ['gzip']).stdout.trim()} "$@"\ns=$?\necho end >> ${log}\nexit $s\n`, { mode: 0o755 });
    const list = path.join(tmp, 'forty.list');
    fs.writeFileSync(list, `${files.join('\n')}\n`);
    const r = run(process.execPath, [path.join(repoRoot, 'bin', 'podspan'), 'capture', '-nn', '-V', list], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(podspan(['capture', '-nn', '-r', plain]).stdout);
    const events = fs.readFileSync(log, 'utf8').trim().split('\n');
    expect(events.filter((e) => e.startsWith('start'))).toHaveLength(40);
    let decompressing = 0;
    let most = 0;
    let mostChildren = 0;
    for (const e of events) {
      decompressing += e === 'end' ? -1 : 1;
      most = Math.max(most, decompressing);
      if (e.startsWith('start')) mostChildren = Math.max(mostChildren, Number(e.split(' ')[1]));
    }
    expect([most <= 2, mostChildren <= 2], `decompressing at once: ${most}, podspan's processes at once: ${mostChildren}`).toEqual([true, true]);
    expect(leftovers()).toEqual([]);
  });

  it('a file of a -V list reached after compressed ones that is not a capture: the packets before it, then one line naming it', () => {
    const halves = [path.join(tmp, 'first-half.pcap'), path.join(tmp, 'second-half.pcap')];
    expect(run('editcap', ['-r', plain, halves[0], '1-1500']).code).toBe(0);
    expect(run('editcap', ['-r', plain, halves[1], '1501-3009']).code).toBe(0);
    const notCapture = compress('gzip', path.join(repoRoot, 'package.json'), path.join(tmp, 'not-a-capture.pcap.gz'));
    const list = path.join(tmp, 'bad-late.list');
    fs.writeFileSync(list, [compress('gzip', halves[0], `${halves[0]}.gz`), notCapture, halves[1]].join('\n'));
    const r = podspan(['capture', '-nn', '-V', list]);
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n')).toHaveLength(1500);
    expect(r.stderr.trim().split('\n').pop()).toMatch(new RegExp(`^podspan: ${notCapture.replace(/[.]/g, '\\.')}: `));
    expect(r.stderr).not.toMatch(/podspan-input-|\n\s+at /);
    expect(leftovers()).toEqual([]);
  });

  it('a damaged file: its packets before the damage, then one line naming it and gzip\'s own words, exit 1', () => {
    const packed = fs.readFileSync(compress('gzip', plain, path.join(tmp, 'whole.pcap.gz')));
    const cut = path.join(tmp, 'cut.pcap.gz');
    fs.writeFileSync(cut, packed.subarray(0, Math.floor(packed.length / 2)));
    const r = podspan(['capture', '-nn', '-r', cut]);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n').length).toBeGreaterThan(100);
    expect(r.stderr.trim().split('\n').pop()).toBe(`podspan: ${cut}: gzip could not decompress it: gzip: ${cut}: unexpected end of file`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(leftovers()).toEqual([]);
  });

  it('reading stopped early (-c) ends the decompressor and removes its FIFO; exit 0', () => {
    const big = path.join(tmp, 'big.pcap');
    writePcap(big, samplePackets(200_000));
    const packed = compress('gzip', big, `${big}.gz`);
    const r = podspan(['capture', '-nn', '-c', '5', '-r', packed]);
    expect([r.code, r.stdout.trim().split('\n').length]).toEqual([0, 5]);
    expect(r.stderr).not.toMatch(/could not decompress|Broken pipe/);
    expect(leftovers()).toEqual([]);
    const still = run('pgrep', ['-f', `-dc ${packed}`]);
    expect(still.stdout.trim()).toBe('');
  });

  it('a FIFO given with -r is not opened to look for compression: every byte its writer sends reaches the reader', () => {
    const fifo = path.join(tmp, 'named.pipe');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    // The writer blocks until a reader opens; a look at the first bytes would take them, or break its pipe.
    const r = spawnSync('sh', ['-c', 'cat "$1" > "$2" & "$0" "$3" capture -r "$2" --count; wait $!', process.execPath, plain, fifo, path.join(repoRoot, 'bin', 'podspan')], { encoding: 'utf8', timeout: 30_000 });
    expect([r.status, r.stdout.trim()], r.stderr).toEqual([0, '3009 packets']);
    expect(r.stderr).not.toMatch(/Broken pipe|EPIPE/);
  });

  it('a compressed file whose decompressor is not installed: one line saying which program it needs, exit 1', () => {
    // A PATH holding only what podspan needs besides: the shell and mkfifo.
    const bin = path.join(tmp, 'bin');
    fs.mkdirSync(bin);
    for (const p of ['sh', 'mkfifo']) fs.symlinkSync(run('which', [p]).stdout.trim(), path.join(bin, p));
    const packed = compress('gzip', plain, path.join(tmp, 'nogzip.pcap.gz'));
    const r = run(process.execPath, [path.join(repoRoot, 'bin', 'podspan'), 'capture', '-r', packed, '--count'], { env: { ...process.env, PATH: bin } });
    expect([r.code, r.stderr.trim()]).toEqual([1, `podspan: ${packed}: gzip-compressed; reading it needs gzip, which is not installed`]);
  });
});
