// The command line on files: conversion, filters, counts, formats, and every kind of bad input
// ending in one clear line and a non-zero exit.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { samplePackets, writePcap } from '../helpers/craft';
import { capinfos, oneErrorLine, podspan, podspanBin, readWithPcapParser, run, tsharkFrames, tsharkWarnings } from '../helpers/tools';

let tmp: string;
let sample: string;
const N = 200;
const packets = samplePackets(N);

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-cli-'));
  sample = path.join(tmp, 'sample.pcap');
  writePcap(sample, packets);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('podspan capture -r', () => {
  it('converts pcap to pcapng keeping every packet, length and timestamp', () => {
    const out = path.join(tmp, 'out.pcapng');
    const r = podspan(['capture', '-r', sample, '-w', out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${N} packets captured`);
    const frames = tsharkFrames(out);
    expect(frames.map((f) => f.len)).toEqual(packets.map((p) => p.frame.length));
    expect(frames.map((f) => f.time)).toEqual(packets.map((p) => `${p.tsNs / 1_000_000_000n}.${(p.tsNs % 1_000_000_000n).toString().padStart(9, '0')}`));
    expect(tsharkWarnings(out)).toBe('');
  });

  it('writes microsecond pcap that pcap-parser reads with the same counts, lengths and timestamps', async () => {
    const out = path.join(tmp, 'copy.pcap');
    expect(podspan(['capture', '-r', sample, '-w', out]).code).toBe(0);
    const parsed = await readWithPcapParser(out);
    expect(parsed.linktype).toBe(1);
    expect(parsed.packets.map((p) => p.caplen)).toEqual(packets.map((p) => p.frame.length));
    expect(parsed.packets.map((p) => p.tsSec * 1_000_000 + p.tsUsec)).toEqual(packets.map((p) => Number(p.tsNs / 1000n)));
    expect(tsharkFrames(out).map((f) => f.len)).toEqual(parsed.packets.map((p) => p.origlen));
  });

  it('applies a filter given with -f, as trailing words or from a file with -F', () => {
    const a = path.join(tmp, 'udp.pcap');
    const b = path.join(tmp, 'tcp.pcap');
    const c = path.join(tmp, 'tcp-from-file.pcap');
    expect(podspan(['capture', '-r', sample, '-w', a, '-f', 'udp port 5000']).code).toBe(0);
    expect(podspan(['capture', '-r', sample, '-w', b, 'tcp', 'and', 'port', '80']).code).toBe(0);
    const filterFile = path.join(tmp, 'web.bpf');
    fs.writeFileSync(filterFile, '# web traffic only\ntcp\n  and port 80 # the shop\n');
    expect(podspan(['capture', '-r', sample, '-w', c, '-F', filterFile]).code).toBe(0);
    const info = capinfos([a, b, c]);
    expect(info.get(a)!.packets).toBe(N / 2);
    expect(info.get(b)!.packets).toBe(N / 2);
    expect(fs.readFileSync(c)).toEqual(fs.readFileSync(b));
    // A filter libpcap refuses, from a file: one line, exit 1.
    fs.writeFileSync(filterFile, 'tcp port eighty\n');
    const bad = podspan(['capture', '-r', sample, '-w', c, '-F', filterFile]);
    expect(bad.code).not.toBe(0);
    expect(oneErrorLine(bad.stderr)).toMatch(/tcp port eighty/);
  });

  it('filters a raw-IP file (LINKTYPE_RAW 101, which libpcap compiles as DLT_RAW)', () => {
    const tcpSyn = (dport: number) =>
      Buffer.concat([
        Buffer.from([0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]),
        Buffer.from([0x04, 0xd2, dport >> 8, dport & 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]),
      ]);
    const file = path.join(tmp, 'raw-ip.pcap');
    const at = (i: number) => BigInt(1_700_000_000 + i) * 1_000_000_000n;
    writePcap(file, [80, 443, 80].map((port, i) => ({ tsNs: at(i), frame: tcpSyn(port) })), { linktype: 101 });
    const r = podspan(['capture', '-nn', '-r', file, 'tcp', 'dst', 'port', '80']);
    expect(r.stderr).not.toMatch(/unknown data link type/);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(2);
    expect(r.stdout).toContain('10.0.0.1.1234 > 10.0.0.2.80: Flags [S]');
  });

  it('stops after -c packets', () => {
    const out = path.join(tmp, 'count.pcap');
    const r = podspan(['capture', '-r', sample, '-w', out, '-c', '17']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('17 packets captured');
    expect(capinfos([out]).get(out)!.packets).toBe(17);
  });

  it('writes nanosecond pcap with --nano, as tcpdump --nano -w does (pcapng keeps nanoseconds anyway)', () => {
    const out = path.join(tmp, 'nano.pcap');
    expect(podspan(['capture', '-r', sample, '-w', out, '--nano']).code).toBe(0);
    expect(fs.readFileSync(out).readUInt32LE(0)).toBe(0xa1b23c4d);
    expect(podspan(['capture', '-r', sample, '-w', out, '--nano', '--format', 'pcap']).code).toBe(0);
    expect(fs.readFileSync(out).readUInt32LE(0)).toBe(0xa1b2c3d4);
    const conflict = podspan(['capture', '-r', sample, '--nano', '--time-stamp-precision', 'micro']);
    expect(conflict.code).toBe(2);
    expect(oneErrorLine(conflict.stderr)).toBe('podspan: --nano and --time-stamp-precision micro conflict: pick one');
  });

  it('writes nanosecond pcap with --format pcap-ns', () => {
    const out = path.join(tmp, 'ns.cap');
    expect(podspan(['capture', '-r', sample, '-w', out, '--format', 'pcap-ns']).code).toBe(0);
    expect(fs.readFileSync(out).readUInt32LE(0)).toBe(0xa1b23c4d);
    expect(tsharkFrames(out)).toHaveLength(N);
  });

  it('rotates by size into a ring of files that sort in time order', () => {
    const dir = path.join(tmp, 'ring');
    fs.mkdirSync(dir);
    const r = podspan(['capture', '-r', sample, '-w', path.join(dir, 'cap.pcapng'), '-C', '0.01', '-W', '3']);
    expect(r.code).toBe(0);
    const files = fs.readdirSync(dir).sort();
    expect(files).toHaveLength(3);
    expect(files.every((f) => /^cap_\d{5}_\d{14}\.pcapng$/.test(f))).toBe(true);
    const info = capinfos(files.map((f) => path.join(dir, f)));
    for (const f of files) expect(tsharkWarnings(path.join(dir, f))).toBe('');
    // The ring keeps the newest packets: the last file ends with the last packet.
    const last = tsharkFrames(path.join(dir, files[2]));
    expect(last[last.length - 1].len).toBe(packets[N - 1].frame.length);
    expect([...info.values()].every((v) => v.packets > 0)).toBe(true);
  });

  it("names each rotated file by its first packet's time, the first file too (a capture of the past is not named by today)", () => {
    const dir = path.join(tmp, 'named');
    fs.mkdirSync(dir);
    expect(podspan(['capture', '-r', sample, '-w', path.join(dir, 'cap.pcap'), '-C', '0.01']).code).toBe(0);
    const files = fs.readdirSync(dir).sort();
    expect(files.length).toBeGreaterThan(1);
    const stamp = (epoch: string) => new Date(Number(epoch.split('.')[0]) * 1000).toISOString().replace(/[-T:]/g, '').slice(0, 14);
    expect(files.map((f) => f.match(/_(\d{14})\.pcap$/)![1])).toEqual(files.map((f) => stamp(tsharkFrames(path.join(dir, f))[0].time)));
    expect(stamp(String(packets[0].tsNs / 1_000_000_000n))).not.toBe(stamp(String(Math.floor(Date.now() / 1000))));
  });

  it('-G with a % in -w names each file by strftime of its first packet\'s time, as tcpdump; a coarser pattern numbers repeats, nothing overwritten', () => {
    const spread = path.join(tmp, 'spread.pcap'); // six packets a second apart
    writePcap(spread, samplePackets(6).map((p, i) => ({ ...p, tsNs: 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000_000n })));
    const utc = { env: { ...process.env, TZ: 'UTC' } };
    const byTime = path.join(tmp, 'strftime');
    fs.mkdirSync(byTime);
    const r = run(process.execPath, [podspanBin, 'capture', '-r', spread, '-w', path.join(byTime, 'cap-%Y%m%d-%H%M%S.pcap'), '-G', '2'], utc);
    expect(r.code, r.stderr).toBe(0);
    const files = fs.readdirSync(byTime).sort();
    expect(files).toEqual(['cap-20231114-221320.pcap', 'cap-20231114-221322.pcap', 'cap-20231114-221324.pcap']);
    expect(files.map((f) => tsharkFrames(path.join(byTime, f)).length)).toEqual([2, 2, 2]);
    const byDay = path.join(tmp, 'strftime-day');
    fs.mkdirSync(byDay);
    expect(run(process.execPath, [podspanBin, 'capture', '-r', spread, '-w', path.join(byDay, 'day-%Y%m%d.pcap'), '-G', '1'], utc).code).toBe(0);
    const days = fs.readdirSync(byDay).sort();
    expect(days).toEqual(['day-20231114.pcap', ...[2, 3, 4, 5, 6].map((n) => `day-20231114_0000${n}.pcap`)]);
    expect(days.map((f) => tsharkFrames(path.join(byDay, f)).length)).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('-z runs a program on each file closed by rotation, one at a time, in order, at nice 19, as tcpdump -z; a failing run is one line and exit 1', () => {
    const dir = path.join(tmp, 'post-rotate');
    fs.mkdirSync(dir);
    const log = path.join(tmp, 'post-rotate.log');
    const program = path.join(tmp, 'note-file.sh');
    fs.writeFileSync(program, '#!/bin/sh\necho "$1 $(stat -c %s "$1") $(nice)" >> "$ZLOG"\n', { mode: 0o755 });
    const r = run(process.execPath, [podspanBin, 'capture', '-r', sample, '-w', path.join(dir, 'cap.pcap'), '-C', '0.01', '-z', program], { env: { ...process.env, ZLOG: log } });
    expect(r.code, r.stderr).toBe(0);
    const files = fs.readdirSync(dir).sort();
    expect(files.length).toBeGreaterThan(2);
    // Every file but the last (tcpdump's -z runs on rotation only), each closed whole before its run.
    const want = files.slice(0, -1).map((f) => `${path.join(dir, f)} ${fs.statSync(path.join(dir, f)).size} 19`);
    expect(fs.readFileSync(log, 'utf8').trim().split('\n')).toEqual(want);

    const failing = run(process.execPath, [podspanBin, 'capture', '-r', sample, '-w', path.join(dir, 'again.pcap'), '-C', '0.01', '-z', 'false']);
    expect(failing.code).toBe(1);
    expect(failing.stderr).toMatch(/^podspan: -z false again_00001_\d{14}\.pcap: exit 1$/m);
    expect(failing.stderr).not.toMatch(/\n\s+at /);
    const refused = podspan(['capture', '-r', sample, '-w', path.join(dir, 'x.pcap'), '-C', '1', '-z', 'no-such-program-here']);
    expect(refused.code).toBe(2);
    expect(oneErrorLine(refused.stderr)).toBe("podspan: -z no-such-program-here: no such program on PATH (as tcpdump's, -z takes one program, run as PROGRAM FILE)");
    expect(podspan(['capture', '-r', sample, '-w', path.join(dir, 'y.pcap'), '-z', 'gzip']).code).toBe(2);
  });

  it.skipIf(process.getuid?.() !== 0)('-Z USER: capture goes on as that user, every file is its own, -z runs as it too; an unknown user or a refusal is one line, the file left valid', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-runas-'));
    try {
      fs.chmodSync(dir, 0o777); // the user creates the rotated files there
      const nobody = run('getent', ['passwd', 'nobody']).stdout.split(':');
      const [uid, gid] = [Number(nobody[2]), Number(nobody[3])];
      const log = path.join(dir, 'ids.log');
      const program = path.join(dir, 'note-id.sh');
      fs.writeFileSync(program, '#!/bin/sh\necho "$(id -u) $(id -g)" >> "$ZLOG"\n', { mode: 0o755 });
      const r = run(process.execPath, [podspanBin, 'capture', '-r', sample, '-w', path.join(dir, 'cap.pcap'), '-C', '0.01', '-Z', 'nobody', '-z', program], { env: { ...process.env, ZLOG: log } });
      expect(r.code, r.stderr).toBe(0);
      const files = fs.readdirSync(dir).filter((f) => f.startsWith('cap_'));
      expect(files.length).toBeGreaterThan(2);
      for (const f of files) expect([fs.statSync(path.join(dir, f)).uid, fs.statSync(path.join(dir, f)).gid], f).toEqual([uid, gid]);
      expect(capinfos(files.map((f) => path.join(dir, f))).size).toBe(files.length);
      expect(fs.readFileSync(log, 'utf8').trim().split('\n')).toEqual(Array(files.length - 1).fill(`${uid} ${gid}`));

      const unknown = podspan(['capture', '-r', sample, '-w', path.join(dir, 'u.pcap'), '-Z', 'no-such-user-here']);
      expect(unknown.code).toBe(2);
      expect(oneErrorLine(unknown.stderr)).toBe('podspan: -Z no-such-user-here: no such user');
      expect(fs.existsSync(path.join(dir, 'u.pcap'))).toBe(false); // refused before anything was opened
      // Without the capabilities (root with none left, as a container may run it): refused once open, its file closed valid.
      const refused = run('setpriv', ['--bounding-set=-all', '--inh-caps=-all', process.execPath, podspanBin, 'capture', '-r', sample, '-w', path.join(dir, 'r.pcap'), '-Z', 'nobody']);
      expect(refused.code, refused.stderr).toBe(2);
      expect(oneErrorLine(refused.stderr)).toBe('podspan: -Z nobody: cannot become that user: not permitted (it takes root: CAP_SETUID, CAP_SETGID and CAP_CHOWN)');
      expect(tsharkWarnings(path.join(dir, 'r.pcap'))).toBe('');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prints packets to stdout without -w', () => {
    const r = podspan(['capture', '-r', sample, '-c', '4']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/IP 198\.18\.0\.1\.4000\d > 198\.18\.0\.2\.5000: UDP, length \d+/);
    expect(lines[1]).toMatch(/198\.18\.0\.2\.80: Flags \[/); // tcpdump's TCP line (test/integration/tcpdump-compat.test.ts)
  });

  it('-r - streams standard input through bounded memory: 400 MB from a pipe, every packet, RSS far below it', async () => {
    // One 1 MB chunk of records, repeated: a decompressor's output of any size must stream.
    const record = fs.readFileSync(sample).subarray(24, 24 + 16 + packets[0].frame.length);
    const perChunk = Math.floor((1 << 20) / record.length);
    const chunk = Buffer.concat(Array.from({ length: perChunk }, () => record));
    const chunks = 400;
    const child = spawn(process.execPath, [podspanBin, 'capture', '-r', '-', '-w', '/dev/null', '--format', 'pcap'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<number>((res) => child.on('close', (c) => res(c ?? -1))); // after the last of its stderr
    let peakKiB = 0;
    const timer = setInterval(() => {
      try {
        const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peakKiB = Math.max(peakKiB, Number(m[1]));
      } catch {
        // exited
      }
    }, 20);
    const write = (b: Buffer) => new Promise<void>((res) => (child.stdin!.write(b) ? res() : child.stdin!.once('drain', res)));
    await write(fs.readFileSync(sample).subarray(0, 24));
    for (let i = 0; i < chunks; i++) await write(chunk);
    child.stdin!.end();
    const code = await exited;
    clearInterval(timer);
    expect(code, err).toBe(0);
    expect(err).toContain(`${perChunk * chunks} packets captured`);
    expect(peakKiB).toBeGreaterThan(0);
    expect(peakKiB).toBeLessThan(200 * 1024); // the input is 400 MB; read whole, it was all resident
  }, 60_000);
});

describe('bad input', () => {
  it('an unreadable file', () => {
    const r = podspan(['capture', '-r', path.join(tmp, 'missing.pcap')]);
    expect(r.code).not.toBe(0);
    expect(oneErrorLine(r.stderr)).toContain('missing.pcap');
  });

  it('a file that is not a capture', () => {
    const notCapture = path.join(tmp, 'notes.txt');
    fs.writeFileSync(notCapture, 'hello, this is not a capture file at all\n');
    const r = podspan(['capture', '-r', notCapture]);
    expect(r.code).not.toBe(0);
    expect(oneErrorLine(r.stderr)).toMatch(/notes\.txt.*not a pcap or pcapng file/);
  });

  it('a file cut short in a record keeps the packets before it and says where', () => {
    const cut = path.join(tmp, 'cut.pcap');
    const whole = fs.readFileSync(sample);
    fs.writeFileSync(cut, whole.subarray(0, whole.length - 30));
    const out = path.join(tmp, 'cut-out.pcapng');
    const r = podspan(['capture', '-r', cut, '-w', out]);
    expect(r.code).not.toBe(0);
    expect(oneErrorLine(r.stderr)).toContain('cut.pcap');
    expect(r.stderr).toContain(`${N - 1} packets captured`);
    expect(capinfos([out]).get(out)!.packets).toBe(N - 1);
    expect(tsharkWarnings(out)).toBe('');
  });

  it('an unwritable output', () => {
    const r = podspan(['capture', '-r', sample, '-w', '/nonexistent-dir/out.pcap']);
    expect(r.code).not.toBe(0);
    expect(oneErrorLine(r.stderr)).toContain('/nonexistent-dir/out.pcap');
  });

  // Node 20's recursive mkdir spins for ever on these (a parent there, mkdir answering ENOENT):
  // the collector took 100% CPU and never said a word.
  it.runIf(fs.existsSync('/proc/self')).each([
    [['collector', '--listen', '127.0.0.1:0', '--out', '/proc/podspan-no-such/out'], '--out /proc/podspan-no-such/out'],
    [['analyze', '-r', 'SAMPLE', '-o', '/proc/podspan-no-such/out'], '/proc/podspan-no-such/out'],
    [['shadow', '-r', 'SAMPLE', '--target', 'http://127.0.0.1:9', '--report', '/proc/podspan-no-such/out'], '--report /proc/podspan-no-such/out'],
  ])('an output folder that cannot be made under /proc: %j ends with one line', (args, culprit) => {
    const r = podspan(args.map((a) => (a === 'SAMPLE' ? sample : a)), 20_000);
    expect(r.code).not.toBe(0);
    expect(oneErrorLine(r.stderr)).toContain(culprit);
    expect(r.stderr).toContain('ENOENT');
    expect(r.stderr).not.toContain('requests replayed'); // shadow: refused before replaying anything
  });

  it('TLS files that are not PEM: one line naming the file as given, for --forward and the collector', () => {
    const text = path.join(tmp, 'not-pem.txt');
    fs.writeFileSync(text, 'not a certificate\n');
    const url = `grpc://127.0.0.1:1?cert=${text}&key=${text}`;
    const fwd = podspan(['capture', '-r', sample, '--forward', url]);
    expect(fwd.code).not.toBe(0);
    expect(oneErrorLine(fwd.stderr)).toBe(`podspan: ${url}: cert=${text}: not PEM (no -----BEGIN line)`); // was "internal error: error:0480006C:PEM routines::no start line"
    const ca = podspan(['capture', '-r', sample, '--forward', `grpc://127.0.0.1:1?tls=1&ca=${text}`]);
    expect(ca.code).not.toBe(0);
    expect(oneErrorLine(ca.stderr)).toContain(`ca=${text}: no certificate in it`); // was taken, and every handshake failed
    const col = podspan(['collector', '--listen', '127.0.0.1:0', '--out', path.join(tmp, 'tls-out'), '--tls-cert', text, '--tls-key', text]);
    expect(col.code).toBe(2);
    expect(oneErrorLine(col.stderr)).toBe(`podspan: --tls-cert ${text}: not PEM (no -----BEGIN line)`); // was blamed on --listen
  });

  it('a filter that does not compile', () => {
    const r = podspan(['capture', '-r', sample, '-f', 'tcp port eighty']);
    expect(r.code).not.toBe(0);
    expect(oneErrorLine(r.stderr)).toContain("'tcp port eighty'");
  });

  it('export: a filter that does not compile ends the command before the store is asked anything', () => {
    // Before, it was compiled only once a matching file had been fetched: a mistyped filter
    // waited for the listing, and passed unnoticed when nothing matched. Nothing listens here.
    const env = { ...process.env, AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' };
    const out = path.join(tmp, 'export.pcapng');
    const exportWith = (filter: string) => run(process.execPath, [podspanBin, 'export', '--store', 's3://podspan/x', '--since', '-1h', '-w', out, '-f', filter], { env, timeoutMs: 30_000 });
    const bad = exportWith('tcp port');
    expect(bad.code).toBe(1);
    expect(oneErrorLine(bad.stderr)).toBe("podspan: filter 'tcp port' (link type 1): can't parse filter expression: syntax error");
    expect(fs.existsSync(out)).toBe(false);
    const tooBig = exportWith(Array.from({ length: 200 }, (_, i) => `port ${i + 1}`).join(' or '));
    expect(oneErrorLine(tooBig.stderr)).toMatch(/^podspan: -f: filter of 200 terms refused/);
    // An empty name matched nothing and said nothing (`--node "$NODE"` with NODE unset).
    for (const flag of ['--node', '--namespace', '--pod']) {
      const empty = run(process.execPath, [podspanBin, 'export', '--store', 's3://podspan/x', '--since', '-1h', '--list', `${flag}=`], { env, timeoutMs: 30_000 });
      expect([flag, empty.code]).toEqual([flag, 2]);
      expect(oneErrorLine(empty.stderr)).toBe(`podspan: ${flag} needs a name (it was given empty)`);
    }
    const good = exportWith('tcp port 80'); // taken: then the store is asked, and cannot be reached
    expect(good.code).toBe(1);
    expect(oneErrorLine(good.stderr)).toContain('cannot reach the endpoint (http://127.0.0.1:9)');
  });

  it("collector: an address it cannot listen on is one line with the system's reason, without grpc-js's own console line", async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as net.AddressInfo).port;
      const r = podspan(['collector', '--listen', `127.0.0.1:${port}`, '--out', path.join(tmp, 'taken-out')], 20_000);
      expect(r.code).toBe(2);
      // Was "E No address added out of total 1 resolved" on a line of its own, then the same in grpc-js's words.
      expect(oneErrorLine(r.stderr)).toBe(`podspan: --listen 127.0.0.1:${port}: listen EADDRINUSE: address already in use 127.0.0.1:${port}`);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    } finally {
      taken.close();
    }
  });

  it.each([
    // Was "--forward http://x: unknown scheme http (vxlan, geneve, gre, erspan or grpc)": the wrong flag, schemes that cannot be tapped.
    ['http://x', 'podspan: --collector http://x: expected grpc://HOST:PORT (with ?tls=1&ca=FILE&token-file=FILE as --forward takes them)'],
    ['vxlan://10.0.0.9', 'podspan: --collector vxlan://10.0.0.9: expected grpc://HOST:PORT (with ?tls=1&ca=FILE&token-file=FILE as --forward takes them)'],
    ['grpc://x', "podspan: --collector grpc://x: give the collector's port (grpc://HOST:PORT)"],
  ])('extcap install --collector %s: one line naming --collector', (url, line) => {
    const r = podspan(['extcap', 'install', '--collector', url, '--dir', path.join(tmp, 'extcap')]);
    expect(r.code).toBe(2);
    expect(oneErrorLine(r.stderr)).toBe(line);
    expect(fs.existsSync(path.join(tmp, 'extcap'))).toBe(false);
  });

  it('kubectl podspan: no kubeconfig outside a cluster, and a --collector that is not grpc://, each one line naming the culprit', () => {
    const kubectlPodspan = path.join(path.dirname(podspanBin), 'kubectl-podspan');
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: path.join(tmp, 'no-home') };
    delete env.KUBECONFIG;
    delete env.KUBERNETES_SERVICE_HOST;
    const capture = (collector: string) => run(process.execPath, [kubectlPodspan, 'capture', '-n', 'shop', 'web-1', '--collector', collector, '-w', path.join(tmp, 'k.pcapng')], { env, timeoutMs: 30_000 });
    const noConfig = capture('grpc://127.0.0.1:9');
    expect(noConfig.code).toBe(2);
    // Was "cannot list pods in namespace shop: Invalid URL" (a cluster at https://undefined:undefined).
    expect(noConfig.stderr.trim()).toBe(`kubectl podspan: no kubeconfig: ${path.join(tmp, 'no-home', '.kube', 'config')} does not exist and this is not a pod in a cluster (give --kubeconfig, or set KUBECONFIG)`);
    const http = capture('http://x');
    expect(http.code).toBe(2);
    expect(http.stderr.trim()).toBe('kubectl podspan: --collector http://x: expected grpc://HOST:PORT (with ?tls=1&ca=FILE&token-file=FILE as --forward takes them)'); // said --forward
  });

  it('an unknown interface', () => {
    const r = podspan(['capture', '-i', 'nosuchif0', '-c', '1']);
    expect(r.code).not.toBe(0);
    expect(oneErrorLine(r.stderr)).toContain('nosuchif0');
  });

  it.each([
    [['-i', 'lo', '-r', 'x.pcap'], /-i and -r conflict/],
    [['-r', 'x.pcap', '-W', '3', '-w', 'y.pcap'], /-W .* needs -C or -G/],
    [['-r', 'x.pcap', '-C', '1'], /need -w/],
    [['-r', 'x.pcap', '-c', 'ten'], /-c takes a whole number/],
    [['-r', 'x.pcap', '-s', '999999'], /-s must be between/],
    [['-r', 'x.pcap', '-w', 'y', '--format', 'pcapx'], /pcapx/],
    [['-r', 'x.pcap', '-f', 'tcp', 'udp'], /either with -f or after the options/],
    [['--bogus'], /unknown option/],
  ])('conflicting or malformed flags %j', (args, pattern) => {
    const r = podspan(['capture', ...args]);
    expect(r.code).toBe(2);
    expect(oneErrorLine(r.stderr)).toMatch(pattern);
  });
});

describe('podspan interfaces', () => {
  it('lists loopback with its address and flags', () => {
    const r = podspan(['interfaces', '--json']);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as { name: string; flags: string[]; addresses: { address: string }[] }[];
    const lo = list.find((d) => d.name === 'lo');
    expect(lo).toBeDefined();
    expect(lo!.flags).toContain('loopback');
    expect(lo!.addresses.map((a) => a.address)).toContain('127.0.0.1');
    const text = podspan(['interfaces']);
    expect(text.stdout).toMatch(/\d+\.lo .*\[.*loopback.*\]\n\s+inet 127\.0\.0\.1/);
  });
});

describe('podspan with only the subcommand it runs built', () => {
  it('--help and an unknown command still know every subcommand; each one runs and has its help', () => {
    const names = ['capture', 'streams', 'analyze', 'shadow', 'agent', 'collector', 'export', 'extcap', 'interfaces', 'version'];
    const help = podspan(['--help']);
    expect(help.code).toBe(0);
    for (const n of names) expect(help.stdout).toMatch(new RegExp(`^  ${n} `, 'm'));
    const typo = podspan(['stream', '-r', 'x.pcap']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("unknown command 'stream'");
    expect(typo.stderr).toContain('Did you mean streams?');
    // extcap takes Wireshark's flags as they come, --help among them.
    for (const n of names.filter((n) => n !== 'extcap')) {
      const r = podspan([n, '--help']);
      expect(r.code, n).toBe(0);
      expect(r.stdout, n).toMatch(new RegExp(`^Usage: podspan ${n}`));
    }
    // A flag another subcommand has is still unknown to this one, with its own nearest flag.
    const r = podspan(['streams', '--max-in-flight', '3', '-r', 'x.pcap']);
    expect(r.code).toBe(2);
    expect(oneErrorLine(r.stderr)).toMatch(/unknown option '--max-in-flight' \(nearest known flag: --max-\w+\)/);
  });
});
