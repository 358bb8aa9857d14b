// `podspan capture` against tcpdump itself: the same flags accepted, the same packet lines on the
// corpus (tcpdump -nn -r F vs podspan capture -nn -r F, compared after the timestamp), pipes
// (-w - into tshark, a reader that closes early), and live -i any / -Q / -D in namespaces.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipv4Frame, samplePackets, tcpConversation, writePcap } from '../helpers/craft';
import { addNamespaces, addVeth, canUseNetns, exitStatus, inNs, killStarted, removeNamespaces, startInNs, stopProcess, track, trafgen } from '../helpers/netns';
import { corpusDir, corpusEntries, letVitestIn, podspan, podspanBin, repoRoot, run, untilCpuStill } from '../helpers/tools';

const corpus = corpusDir();
if (!corpus) console.log('tcpdump corpus comparison skipped: no ../shared/corpus (set PODSPAN_CORPUS to its folder)');

const TIMESTAMP = /^\d\d:\d\d:\d\d\.\d{6} /;

/** One entry per packet: tcpdump's continuation lines (no timestamp) joined to their packet. */
function packets(stdout: string): string[] {
  const out: string[] = [];
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    if (TIMESTAMP.test(line) || out.length === 0) out.push(line.replace(TIMESTAMP, ''));
    else out[out.length - 1] += '\n' + line;
  }
  return out;
}

// Packets tcpdump hands to a printer for a protocol outside the brief (Ethernet/VLAN, ARP,
// IPv4/IPv6, TCP, UDP, ICMP/ICMPv6, DNS): they are left out of the comparison, each by name.
const NOT_COMPARED: [RegExp, string][] = [
  [/GREv\d|ip-proto-47/, 'GRE and what it carries'],
  [/VXLAN, /, 'VXLAN and the frame inside'],
  [/Geneve, /, 'Geneve and the frame inside'],
  [/MPLS \(label/, 'MPLS'],
  [/PPPoE /, 'PPPoE'],
  [/STP 802/, 'spanning tree'],
  [/^Loopback, /, 'Ethernet loopback (0x9000)'],
  [/Null Unnumbered|DTPv|CDPv/, 'LLC: CDP, DTP'],
  [/igmp /, 'IGMP'],
  [/BCM-LI-SHIM/, 'Broadcom LI shim (UDP)'],
  [/NFS (request|reply)/, 'NFS over RPC'],
  [/BOOTP\/DHCP|dhcp6 /, 'DHCP, DHCPv6'],
  [/NTPv\d/, 'NTP'],
];

// Every compared packet whose line differs, by file, with the reason. The test fails if a file
// differs in any other count, so this table stays the complete and true list.
const KNOWN_DIFFERENCES: Record<string, { lines: number; reason: string }> = {
  'tcpdump__pptp.pcap': { lines: 7, reason: 'PPTP control messages: tcpdump decodes them after the TCP line (pptp CTRL_MSGTYPE=…); podspan prints the TCP line' },
  'tcpdump__resp_2_inline.pcap': { lines: 4, reason: 'Redis RESP: tcpdump lists the commands after the TCP line (RESP "set test 1"); podspan does not decode RESP' },
  'zeek__redis-null-pcapng.pcapng': { lines: 3, reason: 'Redis RESP, as above' },
  'tcpdump__timestamp_invalid_nano.pcap': {
    lines: 1,
    reason: 'nanosecond fields of 1e9 and more: tcpdump prints them as they are (10.1000000), podspan carries them into the seconds, so the timestamps differ (the rest of each line is identical)',
  },
};

describe.skipIf(!corpus)('packet lines against tcpdump -nn -r on the corpus', () => {
  it('prints at least 95% of the compared packets exactly as tcpdump does, and every difference is in the table', async () => {
    let compared = 0;
    let identical = 0;
    const excluded = new Map<string, number>();
    const differing: Record<string, { lines: number; first: { tcpdump: string; podspan: string } }> = {};
    // The line each prints on stderr as it opens the file ("reading from file F, link-type …").
    const openedDiffer: Record<string, { tcpdump?: string; podspan?: string }> = {};
    let readable = 0;
    for (const e of corpusEntries(corpus!)) {
      await letVitestIn();
      const t = spawnSync('tcpdump', ['-nn', '-r', e.path], { encoding: 'utf8', maxBuffer: 256 << 20, env: { ...process.env, TZ: 'UTC' } });
      const reference = packets(t.stdout ?? '');
      if (reference.length === 0) continue; // tcpdump reads nothing of it (unreadable, or a format it refuses)
      const p = spawnSync(process.execPath, [podspanBin, 'capture', '-nn', '-r', e.path], { encoding: 'utf8', maxBuffer: 256 << 20, env: { ...process.env, TZ: 'UTC' } });
      expect(p.stderr, e.file).not.toMatch(/\n\s+at /);
      const opened = (stderr: string) => /^reading from file .*$/m.exec(stderr)?.[0];
      if (opened(p.stderr) !== opened(t.stderr)) openedDiffer[e.file] = { tcpdump: opened(t.stderr), podspan: opened(p.stderr) };
      readable++;
      const ours = packets(p.stdout);
      reference.forEach((line, i) => {
        const skip = NOT_COMPARED.find(([re]) => re.test(line));
        if (skip) {
          excluded.set(skip[1], (excluded.get(skip[1]) ?? 0) + 1);
          return;
        }
        compared++;
        if (ours[i] === line) identical++;
        else (differing[e.file] ??= { lines: 0, first: { tcpdump: line, podspan: ours[i] ?? '<no line>' } }).lines++;
      });
    }
    const share = identical / compared;
    console.log(
      `tcpdump -nn vs podspan -nn: ${identical} of ${compared} packets identical (${(share * 100).toFixed(2)}%); ` +
        `not compared: ${[...excluded].map(([k, n]) => `${k} ${n}`).join(', ')}`,
    );
    expect(readable).toBeGreaterThan(100);
    // The modified (Kuznetzov) pcap format: tcpdump reports 14 more than the snapshot length of
    // the file's header, podspan the header's.
    expect(Object.keys(openedDiffer), JSON.stringify(openedDiffer, null, 1)).toEqual(['pcapparser__modified-format-kuznetzov.pcap']);
    expect(compared).toBeGreaterThan(10000);
    expect(share).toBeGreaterThanOrEqual(0.95);
    const counts = Object.fromEntries(Object.entries(differing).map(([f, d]) => [f, d.lines]));
    expect(counts, JSON.stringify(differing, null, 1)).toEqual(Object.fromEntries(Object.entries(KNOWN_DIFFERENCES).map(([f, d]) => [f, d.lines])));
  }, 600_000);

  it('-v names a damaged IPv4 header checksum as tcpdump does (bad cksum FIELD (->SHOULD-BE)!), and -K leaves it out', () => {
    const env = { ...process.env, TZ: 'UTC' };
    for (const f of ['suricata__fuzz-bogus-record-length.pcap', 'zeek__pcapng-multi-interface.pcapng']) {
      const file = path.join(corpus!, f);
      for (const flags of [['-v'], ['-v', '-K']]) {
        const reference = spawnSync('tcpdump', ['-nn', ...flags, '-r', file], { encoding: 'utf8', env }).stdout;
        const ours = spawnSync(process.execPath, [podspanBin, 'capture', '-nn', ...flags, '-r', file], { encoding: 'utf8', env }).stdout;
        expect(ours, `${flags.join(' ')} ${f}`).toBe(reference);
        expect(/, bad cksum [0-9a-f]+ \(->[0-9a-f]+\)!\)/.test(ours), `${flags.join(' ')} ${f}`).toBe(!flags.includes('-K'));
      }
    }
  });

  it('-K leaves out the TCP and UDP checksum verdicts of -v and -vv as tcpdump -K does', () => {
    const env = { ...process.env, TZ: 'UTC' };
    for (const f of ['tcpdump__ipv4_tcp_http_xml.pcap', 'suricata__frag-vlan-ipv6-tcp.pcap', 'zeek__ipv6-fragmented-dns.pcap']) {
      const file = path.join(corpus!, f);
      const reference = spawnSync('tcpdump', ['-nn', '-v', '-K', '-r', file], { encoding: 'utf8', env }).stdout;
      const ours = spawnSync(process.execPath, [podspanBin, 'capture', '-nn', '-v', '--dont-verify-checksums', '-r', file], { encoding: 'utf8', env }).stdout;
      expect(ours, f).toBe(reference);
      expect(ours, f).not.toMatch(/cksum 0x[0-9a-f]+ \((in)?correct\)|udp sum ok/);
    }
    expect(spawnSync(process.execPath, [podspanBin, 'capture', '-nn', '-v', '-r', path.join(corpus!, 'tcpdump__ipv4_tcp_http_xml.pcap')], { encoding: 'utf8', env }).stdout).toMatch(/cksum 0x[0-9a-f]+ \(correct\)/);
  });

  it('prints nanosecond timestamps with --nano in every -t form as tcpdump does', () => {
    const env = { ...process.env, TZ: 'UTC' };
    for (const f of ['tcpdump__tcp-handshake-nano.pcap', 'zeek__http-get-to-ssh-nsec.pcap', 'tcpdump__ipv4_tcp_http_xml.pcap']) {
      for (const flags of [['--nano'], ['--time-stamp-precision=nano'], ...['-t', '-tt', '-ttt', '-tttt', '-ttttt'].map((t) => ['--nano', t])]) {
        const file = path.join(corpus!, f);
        const reference = spawnSync('tcpdump', ['-nn', ...flags, '-r', file], { encoding: 'utf8', env }).stdout;
        const ours = spawnSync(process.execPath, [podspanBin, 'capture', '-nn', ...flags, '-r', file], { encoding: 'utf8', env }).stdout;
        if (!flags.includes('-t')) expect(reference, `${flags.join(' ')} ${f}`).toMatch(/\.\d{9} /);
        expect(ours, `${flags.join(' ')} ${f}`).toBe(reference);
      }
    }
  });

  it('prints -v, -e, -q, -x, -xx, -X, -XX, -A, -S, -# and every -t form as tcpdump does', async () => {
    const files = ['suricata__decode-sll2.pcap', 'tcpdump__ipv4_tcp_http_xml.pcap', 'gopacket__test_loopback.pcap', 'suricata__tcp-fastopen-sll.pcap', 'zeek__ipv6-fragmented-dns.pcap', 'suricata__frag-vlan-ipv6-tcp.pcap'];
    for (const flag of ['-v', '-e', '-q', '-x', '-xx', '-X', '-XX', '-A', '-S', '-#', '-t', '-tt', '-ttt', '-tttt', '-ttttt']) {
      for (const f of files) {
        await letVitestIn();
        const file = path.join(corpus!, f);
        const env = { ...process.env, TZ: 'UTC' };
        const reference = spawnSync('tcpdump', ['-nn', flag, '-r', file], { encoding: 'utf8', env }).stdout;
        const ours = spawnSync(process.execPath, [podspanBin, 'capture', '-nn', flag, '-r', file], { encoding: 'utf8', env }).stdout;
        expect(reference.length, `${flag} ${f}`).toBeGreaterThan(0);
        expect(ours, `${flag} ${f}`).toBe(reference);
      }
    }
  }, 300_000);
});

describe('tcpdump flags and pipes', () => {
  let tmp: string;
  let sample: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-tcpdump-'));
    sample = path.join(tmp, 'sample.pcap');
    writePcap(sample, samplePackets(2000));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('accepts tcpdump\'s common flags and prints what tcpdump prints with them', () => {
    const env = { ...process.env, TZ: 'UTC' };
    for (const flags of [['-n'], ['-nn'], ['-v'], ['-vv'], ['-vvv'], ['-e'], ['-x'], ['-xx'], ['-X'], ['-XX'], ['-A'], ['-q'], ['-l'], ['-U'], ['-t'], ['-tt'], ['-ttt'], ['-tttt'], ['-ttttt'], ['-S'], ['-#'], ['-nn', '-e', '-l', '-tttt'], ['-#', '-S', '-X', '-tttt'], ['--snapshot-length=60'], ['--micro', '--number']]) {
      const r = spawnSync(process.execPath, [podspanBin, 'capture', ...flags, '-c', '3', '-r', sample], { encoding: 'utf8', env });
      expect(r.stderr, flags.join(' ')).not.toContain('unknown option');
      expect(r.status, flags.join(' ')).toBe(0);
      // podspan never resolves names, so it is compared with tcpdump -nn whatever the flags.
      const reference = spawnSync('tcpdump', ['-nn', ...flags, '-c', '3', '-r', sample], { encoding: 'utf8', env }).stdout;
      // -vv and -vvv: what they add to -v (DNS sections, more options) is not done; the IP header is.
      if (flags[0] === '-vv' || flags[0] === '-vvv') expect(r.stdout.match(/\(tos 0x0, ttl \d+, id \d+, offset 0, flags \[\w+\], proto (TCP|UDP)/g), flags.join(' ')).toHaveLength(3);
      else expect(r.stdout, flags.join(' ')).toBe(reference);
    }
  });

  it('-V reads the files its list names in turn, as tcpdump -V: the same lines, every packet in -w, a missing file one line before anything is written', () => {
    const env = { ...process.env, TZ: 'UTC' };
    const ng = path.join(repoRoot, 'fixtures', 'sample-20.pcapng');
    const list = path.join(tmp, 'files.txt');
    fs.writeFileSync(list, `${sample}\n${ng}\n${sample}\n`);
    const ours = spawnSync(process.execPath, [podspanBin, 'capture', '-nn', '-V', list], { encoding: 'utf8', env, maxBuffer: 64 << 20 });
    // -Z root: as root, tcpdump becomes its own user after the first file and then cannot open this test's folder.
    const reference = spawnSync('tcpdump', ['-nn', '-Z', 'root', '-V', list], { encoding: 'utf8', env, maxBuffer: 64 << 20 });
    expect(ours.status, ours.stderr).toBe(0);
    expect(ours.stdout.split('\n')).toHaveLength(2000 + 20 + 2000 + 1);
    expect(ours.stdout).toBe(reference.stdout);

    const out = path.join(tmp, 'listed.pcapng');
    const written = podspan(['capture', '-V', list, '-w', out]);
    expect(written.code, written.stderr).toBe(0);
    const info = spawnSync('capinfos', ['-c', '-I', out], { encoding: 'utf8' }).stdout;
    expect(info).toMatch(/Number of packets:\s+4,?020\n/);
    expect(info).toMatch(/Number of interfaces in file: 3\n/); // sample.pcap's, sample-20.pcapng's, sample.pcap's again

    fs.writeFileSync(list, `${sample}\n${path.join(tmp, 'missing.pcap')}\n`);
    const refused = podspan(['capture', '-V', list, '-w', path.join(tmp, 'never.pcap')]);
    expect([refused.code, refused.stderr]).toEqual([1, `podspan: ${path.join(tmp, 'missing.pcap')}: cannot open: No such file or directory\n`]);
    expect(fs.existsSync(path.join(tmp, 'never.pcap'))).toBe(false);
  });

  it('names the nearest known flag for an unknown one, in one line, exit 2', () => {
    for (const [flag, nearest] of [['--prnt', '--print'], ['--cuont', '--count'], ['--snaplne', '--snaplen'], ['-H', null]] as const) {
      const r = podspan(['capture', flag, '-r', sample]);
      expect(r.code).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      // -H (tcpdump's 802.11s headers) is one edit from every single-letter flag: any may be named.
      if (nearest === null) expect(lines[0]).toMatch(/^podspan: unknown option '-H' \(nearest known flag: -\S\)$/);
      else expect(lines[0]).toBe(`podspan: unknown option '${flag}' (nearest known flag: ${nearest})`);
    }
  });

  it('--count prints only the number of packets, like tcpdump --count', () => {
    const r = podspan(['capture', '--count', '-r', sample, 'udp']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(run('tcpdump', ['--count', '-r', sample, 'udp']).stdout);
    expect(r.stdout).toBe('1000 packets\n');
  });

  it('--print prints the lines while -w writes the file', () => {
    const out = path.join(tmp, 'printed.pcap');
    const r = podspan(['capture', '-nn', '--print', '-r', sample, '-w', out]);
    expect(r.code).toBe(0);
    expect(packets(r.stdout)).toEqual(packets(run('tcpdump', ['-nn', '-r', sample]).stdout));
    expect(fs.statSync(out).size).toBe(fs.statSync(sample).size);
  });

  it('-w - writes pcap to standard output that tshark reads from the pipe, and pcapng with --format', () => {
    for (const format of ['pcap', 'pcapng']) {
      const r = run('sh', ['-c', `"${process.execPath}" "${podspanBin}" capture -r "${sample}" -w - --format ${format} | tshark -r - -T fields -e frame.len -e udp.dstport -e tcp.dstport`]);
      expect(r.code).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toHaveLength(2000);
      expect(lines.filter((l) => l.includes('5000'))).toHaveLength(1000);
      expect(fs.existsSync(path.join(process.cwd(), '-'))).toBe(false);
    }
  });

  it('a reader that closes the pipe early ends podspan quietly with exit 0 (lines and -w -)', () => {
    for (const args of [`-nn -r "${sample}"`, `-r "${sample}" -w -`, `-r "${sample}" -w - -U`]) {
      const r = run('bash', ['-c', `"${process.execPath}" "${podspanBin}" capture ${args} | head -c 200 > /dev/null; echo "exit=\${PIPESTATUS[0]}" >&2`]);
      expect(r.stderr, args).toContain('exit=0');
      expect(r.stderr, args).not.toMatch(/EPIPE|Broken pipe|\n\s+at |internal error/);
    }
  });

  it('a reader that does not keep up holds the file\'s reading back, as tcpdump\'s blocked output does: bounded memory, every line delivered', async () => {
    const t0 = 1_700_000_000_000_000_000n;
    const udp = ipv4Frame({ proto: 17, src: '198.18.0.1', dst: '198.18.0.2', sport: 40000, dport: 5000, payload: Buffer.alloc(10, 0x41) });
    const small = path.join(tmp, 'many-small.pcap');
    writePcap(small, Array.from({ length: 600_000 }, (_, i) => ({ tsNs: t0 + BigInt(i) * 1000n, frame: udp })));
    const { packets: segments, tcp } = tcpConversation();
    for (let i = 0; i < 300_000; i++) tcp(true, 1 + i * 100, 0x18, Buffer.alloc(100, 0x61));
    const stream = path.join(tmp, 'one-long-stream.pcap');
    writePcap(stream, segments);
    for (const [args, lines] of [[['capture', '-nn', '-r', small], 600_000], [['streams', '-C', '-r', stream], 300_000]] as const) {
      const child = track(spawn(process.execPath, [podspanBin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
      let err = '';
      child.stderr!.on('data', (d: Buffer) => (err += d));
      // Nobody reads its output yet: once its CPU time stops moving, it is waiting, not done.
      expect(await untilCpuStill(child.pid!), args.join(' ')).toBe(true);
      expect(err, `${args.join(' ')}: finished reading while its output was not read`).not.toMatch(/packets read|bytes printed/);
      const anonMiB = Number(/RssAnon:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024;
      expect(anonMiB, args.join(' ')).toBeLessThan(200);
      let newlines = 0;
      child.stdout!.on('data', (d: Buffer) => {
        for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) newlines++;
      });
      expect(await exitStatus(child), err).toBe(0);
      expect(newlines, args.join(' ')).toBe(lines);
    }
  });

  it('standard output that cannot be written (a full disk) ends in one line and exit 1, the output being lost', () => {
    // Before: capture's packet lines exited 0, and version, --help, interfaces and kubectl
    // podspan --help ended in Node's unhandled 'error' event and its stack trace.
    const kubectlPodspan = path.join(path.dirname(podspanBin), 'kubectl-podspan');
    for (const args of [`capture -nn -r "${sample}"`, `capture -r "${sample}" -w -`, `capture -r "${sample}" --count`, 'version', '--help', 'interfaces']) {
      const r = run('bash', ['-c', `"${process.execPath}" "${podspanBin}" ${args} > /dev/full`]);
      expect([args, r.code], r.stderr).toEqual([args, 1]);
      expect(r.stderr, args).toMatch(/^podspan: (standard output: ENOSPC|-: write failed)/m);
      expect(r.stderr, args).not.toMatch(/\n\s+at |internal error/);
    }
    const r = run('bash', ['-c', `"${process.execPath}" "${kubectlPodspan}" --help > /dev/full`]);
    expect([r.code, r.stderr]).toEqual([1, 'kubectl podspan: standard output: ENOSPC: no space left on device, write\n']);
    // analyze writes its top lists straight to the descriptor (stdout-errors.ts' LineWriter): the
    // same one line, once, its files and summary written all the same; a closed pipe is quiet.
    const out = path.join(tmp, 'analyze-full');
    const a = run('bash', ['-c', `"${process.execPath}" "${podspanBin}" analyze -r "${sample}" -o "${out}" > /dev/full`]);
    expect(a.code, a.stderr).toBe(1);
    expect(a.stderr.match(/^podspan: standard output: ENOSPC: no space left on device, write$/gm), a.stderr).toHaveLength(1);
    expect(a.stderr).toMatch(/^records in .*summary\.json$/m);
    expect(fs.statSync(path.join(out, 'summary.json')).size).toBeGreaterThan(0);
    const closed = run('bash', ['-c', `"${process.execPath}" "${podspanBin}" analyze -r "${sample}" -o "${out}-2" | head -c 1 > /dev/null; echo "status \${PIPESTATUS[0]}" >&2`]);
    expect(closed.stderr).toMatch(/^status 0$/m);
    expect(closed.stderr).not.toMatch(/standard output|internal error/);
  });

  it('refuses -w - with rotation, --print with -w -, and -Q with -r, in one line', () => {
    for (const [args, message] of [
      [['-w', '-', '-C', '1'], '-C, -G and -W rotate files and conflict with -w - (standard output)'],
      [['-w', '-', '--print'], '--print and -w - both write to standard output'],
      [['-Q', 'in'], '-Q selects the direction of live capture and conflicts with -r'],
      [['-Q', 'sideways'], '-Q takes in, out or inout'],
    ] as const) {
      const r = podspan(['capture', '-r', sample, ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toBe(`podspan: ${message}`);
    }
  });
});

const tag = `${process.pid % 100000}`;
const nsA = `tdA${tag}`;
const nsB = `tdB${tag}`;
const vethA = `ta${tag}`;
const vethB = `tb${tag}`;

describe.skipIf(!canUseNetns)('live, in network namespaces', () => {
  beforeAll(() => {
    addNamespaces([nsA, nsB]);
    addVeth(nsA, vethA, nsB, vethB);
  });
  afterAll(() => {
    killStarted();
    removeNamespaces([nsA, nsB]);
  });

  /** podspan capture in nsB with stdout collected; resolves once it listens. */
  async function capture(args: string[]) {
    let stdout = '';
    const r = await startInNs(nsB, [process.execPath, podspanBin, 'capture', ...args], /listening on/);
    r.child.stdout!.removeAllListeners('data');
    r.child.stdout!.on('data', (d) => (stdout += d));
    return { ...r, stdout: () => stdout };
  }

  it('-i any prints the real interface and its packet type, as tcpdump -i any does', async () => {
    const cap = await capture(['-nn', '-i', 'any', 'udp']);
    const dump = await startInNs(nsB, ['tcpdump', '-nn', '-l', '-i', 'any', 'udp'], /listening on/);
    let ref = '';
    dump.child.stdout!.removeAllListeners('data');
    dump.child.stdout!.on('data', (d) => (ref += d));
    trafgen(nsA, vethA, 3, { payload: 30 }); // arrives on vethB for another MAC: P (other host)
    trafgen(nsB, vethB, 2, { payload: 20, sport: '41000' }); // leaves from vethB: Out
    expect(await stopProcess(cap)).toBe(0);
    await stopProcess(dump);
    const lines = packets(cap.stdout());
    expect(lines).toEqual([
      ...Array(3).fill(`${vethB.padEnd(5)} P   IP 198.18.0.1.40000 > 198.18.0.2.5000: UDP, length 30`),
      ...Array(2).fill(`${vethB.padEnd(5)} Out IP 198.18.0.1.41000 > 198.18.0.2.5000: UDP, length 20`),
    ]);
    expect(lines).toEqual(packets(ref));
  });

  it('-Q in and -Q out keep only received or only sent packets', async () => {
    const incoming = await startInNs(nsB, [process.execPath, podspanBin, 'capture', '-i', vethB, '-Q', 'in', '-w', '/dev/null'], /listening on/);
    const outgoing = await startInNs(nsB, [process.execPath, podspanBin, 'capture', '-i', vethB, '-Q', 'out', '-w', '/dev/null'], /listening on/);
    trafgen(nsA, vethA, 20);
    trafgen(nsB, vethB, 7);
    expect(await stopProcess(incoming)).toBe(0);
    expect(await stopProcess(outgoing)).toBe(0);
    expect(incoming.stderr()).toContain('20 packets captured');
    expect(outgoing.stderr()).toContain('7 packets captured');
  });

  it('-w - | tshark -r - gets every packet of a live capture through the pipe while it runs', async () => {
    // -c ends podspan by itself once the packets are through, so tshark sees the pipe close.
    const child = track(
      spawn('ip', ['netns', 'exec', nsB, 'sh', '-c', `"${process.execPath}" "${podspanBin}" capture -i ${vethB} -c 25 -w - | tshark -r - -T fields -e frame.len -e udp.dstport`], {
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    const exited = exitStatus(child);
    const deadline = Date.now() + 10_000;
    while (!err.includes('listening on') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    trafgen(nsA, vethA, 25, { payload: 40 });
    expect(await exited).toBe(0);
    expect(out.trim().split('\n')).toEqual(Array(25).fill(`${14 + 20 + 8 + 40}\t5000`));
    expect(err).toContain('25 packets captured');
  });

  it('-D lists the namespace\'s interfaces in tcpdump -D\'s words', () => {
    // In our own namespace: interfaces other tests add and remove meanwhile cannot show up.
    const ours = inNs(nsB, [process.execPath, podspanBin, 'capture', '-D']).trim().split('\n');
    const reference = new Set(inNs(nsB, ['tcpdump', '-D']).trim().split('\n').map((l) => l.replace(/^\d+\./, '')));
    expect(ours.map((l) => l.replace(/^\d+\./, ''))).toEqual(expect.arrayContaining([`${vethB} [Up, Running, Connected]`, 'lo [Up, Running, Loopback]']));
    for (const l of ours) expect(reference, l).toContain(l.replace(/^\d+\./, ''));
  });

  it('-L and -J list link and time stamp types as tcpdump does; -y and -j capture with them (capture, streams, analyze), or say why not', async () => {
    const live = (args: string[]) => spawnSync('ip', ['netns', 'exec', nsB, process.execPath, podspanBin, ...args], { encoding: 'utf8' });
    const ours = (args: string[]) => live(['capture', ...args]);
    // tcpdump 4.99 writes these lists on stderr; podspan on stdout, where `| grep` finds them.
    for (const args of [['-L', '-i', 'any'], ['-L', '-i', vethB], ['-J', '-i', vethB], ['-J', '-i', 'lo']]) {
      const r = ours(args);
      const reference = spawnSync('ip', ['netns', 'exec', nsB, 'tcpdump', ...args], { encoding: 'utf8' });
      expect([r.status, r.stderr]).toEqual([0, '']);
      expect(r.stdout, args.join(' ')).toBe(reference.stderr);
    }
    expect(ours(['-L', '-i', 'any']).stdout).toBe('Data link types for any (use option -y to set):\n  LINUX_SLL (Linux cooked v1)\n  LINUX_SLL2 (Linux cooked v2)\n');

    // "any" in cooked v1 (podspan, as tcpdump, takes v2 unless told): tcpdump reads the file as such.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-linktype-'));
    try {
      const file = path.join(dir, 'any.pcap');
      const cap = await startInNs(nsB, [process.execPath, podspanBin, 'capture', '-i', 'any', '-y', 'linux_sll', '-j', 'host', '-c', '5', '-w', file, 'udp'], /listening on/);
      expect(cap.stderr()).toContain('listening on any, link-type LINUX_SLL (Linux cooked v1)');
      trafgen(nsA, vethA, 5, { payload: 30 });
      expect(await cap.exited).toBe(0);
      const judged = spawnSync('tcpdump', ['-nn', '-r', file], { encoding: 'utf8' });
      expect(judged.stderr).toContain('link-type LINUX_SLL (Linux cooked v1)');
      expect(packets(judged.stdout)).toEqual(Array(5).fill('IP 198.18.0.1.40000 > 198.18.0.2.5000: UDP, length 30'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }

    // A veth has no cooked type and no adapter clock: an error, and a warning that capture outlives.
    const refused = ours(['-i', vethB, '-y', 'LINUX_SLL', '-c', '1']);
    expect([refused.status, refused.stderr]).toEqual([1, `podspan: ${vethB}: LINUX_SLL is not one of the DLTs supported by this device\n`]);
    const warned = ours(['-i', vethB, '-j', 'adapter', '--duration', '0.2', '-w', '/dev/null']);
    expect(warned.status, warned.stderr).toBe(0);
    expect(warned.stderr).toContain(`podspan: warning: ${vethB}: time stamp type adapter: That type of time stamp is not supported by that device\n`);

    // streams and analyze (and shadow, the same source flags) capture live with -y and -j too.
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-linktype-'));
    try {
      const streams = live(['streams', '-i', vethB, '-y', 'LINUX_SLL', '-c', '1', '-o', path.join(out, 'streams')]);
      expect([streams.status, streams.stderr]).toEqual([1, `podspan: ${vethB}: LINUX_SLL is not one of the DLTs supported by this device\n`]);
      const analyze = live(['analyze', '-i', vethB, '-j', 'adapter', '--duration', '0.2', '--top', '0', '-o', path.join(out, 'analyze')]);
      expect(analyze.status, analyze.stderr).toBe(0);
      expect(analyze.stderr).toContain(`podspan: warning: ${vethB}: time stamp type adapter: That type of time stamp is not supported by that device\n`);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  // The kernel's tun driver: without /dev/net/tun the case is skipped, and says so.
  const hasTun = fs.existsSync('/dev/net/tun');
  if (!hasTun) console.log('tun device case skipped: no /dev/net/tun');
  it.skipIf(!hasTun)('a tun device (raw IP): the file says LINKTYPE_RAW (101) as tcpdump\'s does, not DLT_RAW (12), and holds the same packets', async () => {
    // Our own sender writes the packets into the tun device: the kernel sees them arrive on it.
    const sender = track(spawn('ip', ['netns', 'exec', nsB, 'python3', path.join(repoRoot, 'test', 'helpers', 'tun-sender.py'), 'tun0', '5', '12'], { stdio: ['pipe', 'pipe', 'pipe'] }));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-tun-'));
    try {
      let said = '';
      sender.stdout!.on('data', (d) => (said += d));
      const deadline = Date.now() + 10_000;
      while (!said.includes('ready') && Date.now() < deadline && sender.exitCode === null) await new Promise((r) => setTimeout(r, 20));
      expect(said).toContain('ready');
      const [ours, reference] = [path.join(dir, 'ours.pcap'), path.join(dir, 'tcpdump.pcap')];
      const cap = await startInNs(nsB, [process.execPath, podspanBin, 'capture', '-i', 'tun0', '-c', '5', '-w', ours], /listening on/);
      expect(cap.stderr()).toContain('listening on tun0, link-type RAW (Raw IP), snapshot length 262144 bytes');
      // -Z root: as root, tcpdump writes as its own user, which cannot enter this test's folder.
      const dump = await startInNs(nsB, ['tcpdump', '-Z', 'root', '-i', 'tun0', '-c', '5', '-w', reference], /listening on/);
      sender.stdin!.write('go\n');
      expect(await cap.exited).toBe(0);
      expect(await dump.exited).toBe(0);
      const lines = (file: string) => packets(spawnSync('tcpdump', ['-nn', '-r', file], { encoding: 'utf8' }).stdout);
      expect([fs.readFileSync(ours).readUInt32LE(20), fs.readFileSync(reference).readUInt32LE(20)]).toEqual([101, 101]);
      expect(lines(ours)).toEqual(Array(5).fill('IP 10.99.0.2.40000 > 10.99.0.1.5000: UDP, length 12'));
      expect(lines(ours)).toEqual(lines(reference));
    } finally {
      sender.stdin!.end();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prints the same lines as tcpdump for the same live packets', async () => {
    const cap = await capture(['-nn', '-i', vethB, 'udp']);
    const dump = await startInNs(nsB, ['tcpdump', '-nn', '-l', '-i', vethB, 'udp'], /listening on/);
    let ref = '';
    dump.child.stdout!.removeAllListeners('data');
    dump.child.stdout!.on('data', (d) => (ref += d));
    trafgen(nsA, vethA, 10, { payload: 12 });
    expect(await stopProcess(cap)).toBe(0);
    await stopProcess(dump);
    expect(packets(cap.stdout())).toEqual(packets(ref));
    expect(packets(ref)).toHaveLength(10);
  });
});
