// `podspan streams --console` / -C (tcpflow's -c and -C): byte for byte what tcpflow 1.6.1 prints
// for an in-order connection, in each style (-D hex, -g colors, --binary as -B); where tcpflow
// prints packets as they arrive, the stream as reassembled (in order, once, a gap named). On the
// corpus (streams.test.ts), the printed streams hold exactly the bytes of the stream files.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipv6TcpFrame, tcpConversation, untidyConnection, writePcap, type CraftedPacket } from '../helpers/craft';
import { podspan, podspanBin, readIndex, run } from '../helpers/tools';

const SYN = 0x02, ACK = 0x10, FIN = 0x01, PSH = 0x08;
const hasTcpflow = run('which', ['tcpflow']).code === 0;
if (!hasTcpflow) console.log('streams --console against tcpflow -c: skipped, needs tcpflow');
let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-console-'))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** stdout as bytes (latin1: one char per byte), for output that is not text. */
function bytesOf(cmd: string, args: string[], cwd = tmp): { code: number; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'latin1', cwd, timeout: 60_000, maxBuffer: 256 << 20 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}
const printed = (args: string[]) => bytesOf(process.execPath, [podspanBin, 'streams', ...args]);

function inOrderCapture(): string {
  const { packets, tcp } = tcpConversation();
  const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const next = [101, 901]; // each side's next sequence number
  const send = (fromClient: boolean, payload: string | Buffer, flags = ACK | PSH) => {
    const side = fromClient ? 0 : 1;
    tcp(fromClient, next[side], flags, payload);
    next[side] += Buffer.byteLength(payload) + (flags & FIN ? 1 : 0);
  };
  tcp(true, 100, SYN);
  tcp(false, 900, SYN | ACK);
  send(true, 'GET /items/1 HTTP/1.1\r\nHost: shop\r\n\r\n');
  send(false, 'HTTP/1.1 200 OK\r\n\tx: 1\r\nContent-Length: 256\r\n\r\n');
  send(false, every);
  send(true, Buffer.concat([every, every.subarray(0, 40)]));
  send(true, '', ACK | FIN);
  send(false, '', ACK | FIN);
  const file = path.join(tmp, 'in-order.pcap');
  writePcap(file, packets);
  return file;
}

describe('podspan streams --console', () => {
  it.skipIf(!hasTcpflow)('prints an in-order connection byte for byte as tcpflow does, in each of its styles', () => {
    const file = inOrderCapture();
    const styles: [string[], string[]][] = [
      [['--console'], ['-c']],
      [['-C'], ['-C']],
      [['--console', '-D'], ['-c', '-D']],
      [['-C', '-D'], ['-C', '-D']],
      [['--console', '-g'], ['-c', '-g']],
      [['--console', '-D', '-g'], ['-c', '-D', '-g']],
      [['--console', '--binary'], ['-c', '-B']],
      [['-C', '--binary'], ['-C', '-B']],
    ];
    for (const [ours, theirs] of styles) {
      const t = bytesOf('tcpflow', [...theirs, '-r', file]);
      expect(t.code).toBe(0);
      const p = printed([...ours, '-r', file]);
      expect(p.code, p.err).toBe(0);
      expect(p.out.length, ours.join(' ')).toBeGreaterThan(500);
      expect(p.out, ours.join(' ')).toBe(t.out);
    }
    // The judge's own words, as a reader sees them: the request line after its direction's name.
    expect(printed(['--console', '-r', file]).out).toMatch(/^198\.018\.000\.001\.40000-198\.018\.000\.002\.00080: GET \/items\/1 HTTP\/1\.1\r\n/);
  });

  it('prints the stream as reassembled where tcpflow prints packets as they came: in order, each byte once, a gap named', () => {
    const { packets, tcp } = tcpConversation();
    untidyConnection(tcp);
    const file = path.join(tmp, 'reordered.pcap');
    writePcap(file, packets);
    const c2s = '198.018.000.001.40000-198.018.000.002.00080';
    const s2c = '198.018.000.002.00080-198.018.000.001.40000';
    const p = printed(['--console', '-r', file]);
    expect(p.code, p.err).toBe(0);
    expect(p.out).toBe(`${c2s}: hello \n${c2s}: world \n${s2c}: HTTP/1.1 200\n${s2c}: [5 bytes not captured]\n${s2c}: tail\n`);
    expect(p.err).toContain('1 streams, 28 bytes printed');
    // Without headers the output is the bytes alone, gaps left out.
    expect(printed(['-C', '-r', file]).out).toBe('hello \nworld \nHTTP/1.1 200\ntail\n');
  });

  it.skipIf(!hasTcpflow)('-b N keeps each direction up to its first N bytes, in files and on the console, as tcpflow -b', () => {
    const file = inOrderCapture();
    for (const n of ['1', '40', '100', '300', '100000']) {
      const theirs = path.join(tmp, `tcpflow-b${n}`);
      const ours = path.join(tmp, `podspan-b${n}`);
      fs.mkdirSync(theirs);
      expect(bytesOf('tcpflow', ['-b', n, '-r', file, '-o', theirs]).code).toBe(0);
      const r = printed(['-b', n, '-r', file, '-o', ours]);
      expect(r.code, r.err).toBe(0);
      const names = fs.readdirSync(theirs).filter((f) => f !== 'report.xml').sort();
      expect(fs.readdirSync(ours).filter((f) => f !== 'index.jsonl').sort(), `-b ${n}`).toEqual(names);
      for (const name of names) expect(fs.readFileSync(path.join(ours, name)), `-b ${n} ${name}`).toEqual(fs.readFileSync(path.join(theirs, name)));
      // What was cut is counted, per direction in the index and in all in the summary.
      const cut = readIndex(ours).reduce((sum, e) => sum + ((e as { truncated_bytes?: number }).truncated_bytes ?? 0), 0);
      expect(cut, `-b ${n}`).toBe(Math.max(0, 37 + 296 - Number(n)) + Math.max(0, 47 + 256 - Number(n))); // client's stream 333 bytes, server's 303
      if (cut) expect(r.err).toContain(`${cut} bytes beyond -b ${n} of their direction, not written`);
      expect(printed(['--console', '-b', n, '-r', file]).out, `--console -b ${n}`).toBe(bytesOf('tcpflow', ['-c', '-b', n, '-r', file]).out);
    }
    const bad = podspan(['streams', '-b', '0', '-r', file, '-o', path.join(tmp, 'b0')]);
    expect([bad.code, bad.stderr.trim()]).toEqual([2, 'podspan: -b must be between 1 and 9007199254740991']);
  });

  it('names IPv6 streams as the stream files and tcpflow name them, IPv4-mapped and -compatible addresses with their dotted tail', () => {
    const pairs = [
      ['2001:db8::1', '2001:db8::2'],
      ['::ffff:10.0.0.1', '::ffff:10.0.0.2'], // IPv4-mapped
      ['::10.0.0.3', '::10.0.0.4'], // IPv4-compatible (deprecated, still seen)
      ['::ffff:0:10.0.0.5', '64:ff9b::10.0.0.6'], // SIIT and NAT64: hex, as inet_ntop writes them
    ];
    const packets: CraftedPacket[] = [];
    let t = 1_700_000_000_000_000_000n;
    pairs.forEach(([client, server], i) => {
      const hello = Buffer.from(`hello ${i}\n`);
      for (const [src, dst, sport, dport] of [[client, server, 40000 + i, 80], [server, client, 80, 40000 + i]] as const) {
        packets.push({ tsNs: (t += 1_000_000n), frame: ipv6TcpFrame({ src, dst, sport, dport, payload: hello, seq: 1000, flags: ACK | PSH }) });
      }
    });
    const file = path.join(tmp, 'ipv6.pcap');
    writePcap(file, packets);
    const dir = path.join(tmp, 'ipv6-files');
    expect(podspan(['streams', '-r', file, '-o', dir]).code).toBe(0);
    const files = readIndex(dir).map((l) => l.file).sort();
    expect(files).toHaveLength(8);
    expect(files).toContain('::ffff:10.0.0.1.40001-::ffff:10.0.0.2.00080');
    const out = printed(['-r', file, '--console']);
    expect(out.code).toBe(0);
    const names = [...new Set(out.out.split('\n').filter(Boolean).map((l) => l.slice(0, l.indexOf(': '))))].sort();
    expect(names).toEqual(files);
    if (hasTcpflow) {
      const judged = bytesOf('tcpflow', ['-c', '-r', file]);
      expect(judged.code).toBe(0);
      expect([...new Set(judged.out.split('\n').filter((l) => l.includes(': ')).map((l) => l.slice(0, l.indexOf(': '))))].sort()).toEqual(files);
    }
  });

  it('refuses what does not go together, in one line naming the flags', () => {
    const file = inOrderCapture();
    const cases: [string[], string][] = [
      [['--console', '-o', path.join(tmp, 'x')], `--console and -C print the streams instead of writing files: drop -o ${path.join(tmp, 'x')}`],
      [['--console', '-C'], '--console and -C conflict: -C is --console without the "NAME: " headers'],
      [['--console', '-D', '--binary'], '-D and --binary conflict: a hex dump, or the bytes as they are'],
      [['-g'], '-g shapes what --console (or -C) prints: add one of them'],
      [['-c', '-i', 'lo'], "-c takes a whole number, the packets to stop after, as tcpdump's (tcpflow's -c, printing on the console, is --console here)"],
      [[], '-o DIR is required: the folder for the stream files and index.jsonl (or --console to print the streams)'],
    ];
    for (const [args, message] of cases) {
      const r = podspan(['streams', '-r', file, ...args]);
      expect([r.code, r.stderr.trim()], args.join(' ')).toEqual([2, `podspan: ${message}`]);
    }
  });

  it('a closed pipe ends the print quietly, exit 0', () => {
    const { packets, tcp } = tcpConversation();
    tcp(true, 100, SYN);
    tcp(false, 900, SYN | ACK);
    let seq = 101;
    for (let i = 0; i < 2000; i++, seq += 1000) tcp(true, seq, ACK | PSH, `line ${i} `.padEnd(999, 'x') + '\n');
    const file = path.join(tmp, 'long.pcap');
    writePcap(file, packets);
    const r = bytesOf('sh', ['-c', `"${process.execPath}" "${podspanBin}" streams -C -r "${file}" | head -c 100 > /dev/null; echo "status \${PIPESTATUS:-$?}"`]);
    expect(r.err).not.toMatch(/EPIPE|\n\s+at /);
    expect(r.out.trim()).toBe('status 0');
  });
});
