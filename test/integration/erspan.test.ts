// ERSPAN type II and III over GRE, and GRE over IPv6, judged by decapsulators that are not ours
// (this kernel has no erspan or ip6gretap device): a "pod" namespace sends frames over a veth to
// the "node" namespace, where podspan captures them (-w, the source record) and forwards them to
// a "collector" namespace; tcpdump records the outer packets there. tshark must decode every one
// with our session id, index, hardware id, direction and timestamp and flag none as malformed;
// scapy's ERSPAN and GRE layers must find, count for count, byte for byte and in capture order,
// the frames podspan captured.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pcapFrames, pcapngFrames, setUpEncapFixture, tearDownEncapFixture, type EncapFixture, scapyLines, scapyPython, stopTcpdump, tsharkMalformed } from '../helpers/encap';
import { canUseNetns, inNs, startCapture, startInNs, stopProcess, trafgen, type Running } from '../helpers/netns';
import fs from 'node:fs';
import { podspanBin, run } from '../helpers/tools';

const usable = canUseNetns && scapyPython !== undefined;
if (!usable) console.log('ERSPAN tests skipped: they need root, iproute2, trafgen (netsniff-ng) and scapy (python3-scapy)');

const v6 = `fd0e:${(process.pid % 65536).toString(16)}::`;

// Per outer packet: the GRE sequence number and the inner Ethernet frame behind the ERSPAN header.
const dissect = (layer: string) => `
load_contrib('erspan')
from scapy.contrib.erspan import ERSPAN_II, ERSPAN_III
for p in rdpcap(sys.argv[1]):
    e = p[${layer}]
    print(p[GRE].sequence_number, bytes(e.payload).hex())
`;

/** Microsecond pcap timestamps as ERSPAN III's 100 µs units (32 bits). */
function pcapUnits(file: string): number[] {
  return run('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.time_epoch']).stdout.trim().split('\n').map((t) => {
    const [s, frac] = t.split('.');
    return Number((BigInt(s) * 10_000n + BigInt(frac.padEnd(9, '0').slice(0, 4))) % 2n ** 32n);
  });
}

describe.skipIf(!usable)('ERSPAN and GRE over IPv6, decoded by tshark and scapy', () => {
  let f: EncapFixture | undefined;
  let sink6: Running | undefined;
  let tmp: string, pod: string, node: string, coll: string, podDev: string, nodeDev: string, collDev: string;
  beforeAll(async () => {
    f = await setUpEncapFixture('e', '10.205.0', { ipProto: 47 });
    ({ tmp, pod, node, coll, podDev, nodeDev, collDev } = f);
    // Namespaces start with IPv6 off (no router solicitations of their own on the wire): on for the uplink only.
    inNs(node, ['sysctl', '-qw', `net.ipv6.conf.${f.uplink}.disable_ipv6=0`]);
    inNs(coll, ['sysctl', '-qw', `net.ipv6.conf.${collDev}.disable_ipv6=0`]);
    inNs(node, ['ip', '-6', 'addr', 'add', `${v6}1/64`, 'dev', f.uplink, 'nodad']);
    inNs(coll, ['ip', '-6', 'addr', 'add', `${v6}2/64`, 'dev', collDev, 'nodad']);
    // Takes protocol 47 over IPv6 too, so the collector's kernel answers nothing.
    sink6 = await startInNs(coll, ['python3', '-c', `import socket,sys,signal\nsignal.signal(signal.SIGINT, lambda *a: sys.exit(0))\ns=socket.socket(socket.AF_INET6,socket.SOCK_RAW,47)\nprint('bound',file=sys.stderr,flush=True)\nwhile True: s.recv(70000)`], /bound/);
  });
  afterAll(async () => {
    if (sink6) await stopProcess(sink6);
    await tearDownEncapFixture(f);
  });

  it('type II: GRE 0x88BE with sequence numbers, version 1, our session id and the interface index; every frame byte for byte', async () => {
    const source = path.join(tmp, 'source2.pcap');
    const outer = path.join(tmp, 'outer2.pcap');
    const onWire = await startInNs(coll, ['tcpdump', '-B', '65536', '-i', collDev, '-s', '0', '-U', '-w', outer, 'ip', 'proto', '47'], /listening on/);
    const cap = await startCapture(node, ['-i', nodeDev, '-w', source, '--forward', 'erspan://10.205.0.2?session=777']);
    trafgen(pod, podDev, 400, { sport: 'dinc(40000, 40063)', payload: 58, pps: 50000 });
    trafgen(pod, podDev, 100, { payload: 1200, pps: 50000 });
    expect(await stopProcess(cap)).toBe(0);
    expect(await stopTcpdump(onWire)).toBe(0);
    expect(cap.stderr()).toMatch(/erspan:\/\/10\.205\.0\.2: 500 frames sent, 0 dropped/);
    expect(tsharkMalformed(outer)).toEqual([]);
    const fields = run('tshark', ['-n', '-r', outer, '-T', 'fields', '-E', 'separator=;', '-e', 'gre.proto', '-e', 'gre.sequence_number', '-e', 'erspan.version', '-e', 'erspan.spanid', '-e', 'erspan.index']).stdout.trim().split('\n');
    expect(fields).toEqual(fields.map((_, i) => `0x88be;${i};1;777;0`));
    const sent = pcapFrames(source);
    const got = scapyLines(dissect('ERSPAN_II'), outer).map((l) => l.split(' '));
    expect(sent).toHaveLength(500);
    expect(got.map((g) => g[0])).toEqual(sent.map((_, i) => String(i)));
    expect(got.map((g) => g[1])).toEqual(sent.map((fr) => fr.toString('hex')));
  });

  it('type III over IPv6: GRE 0x22EB, version 2, hardware id, the capture time in 100 µs units, D set for frames the interface sent', async () => {
    const source = path.join(tmp, 'source3.pcap');
    const outer = path.join(tmp, 'outer3.pcap');
    const onWire = await startInNs(coll, ['tcpdump', '-B', '65536', '-i', collDev, '-s', '0', '-U', '-w', outer, 'ip6', 'proto', '47'], /listening on/);
    // -Q out: only what leaves the node's side of the pod's veth (sent from the node towards the pod).
    const cap = await startCapture(node, ['-i', nodeDev, '-Q', 'out', '-w', source, '--forward', `erspan://[${v6}2]?version=3&session=5&hwid=42`]);
    trafgen(node, nodeDev, 300, { payload: 100, pps: 50000 });
    expect(await stopProcess(cap)).toBe(0);
    expect(await stopTcpdump(onWire)).toBe(0);
    expect(cap.stderr()).toMatch(new RegExp(`erspan://\\[${v6}2\\]: 300 frames sent, 0 dropped`));
    expect(tsharkMalformed(outer)).toEqual([]);
    const fields = run('tshark', ['-n', '-r', outer, '-T', 'fields', '-E', 'separator=;', '-e', 'ipv6.nxt', '-e', 'gre.proto', '-e', 'erspan.version', '-e', 'erspan.spanid', '-e', 'erspan.hw', '-e', 'erspan.direction', '-e', 'erspan.gra', '-e', 'erspan.p', '-e', 'erspan.ft', '-e', 'erspan.timestamp']).stdout.trim().split('\n').map((l) => l.split(';'));
    expect(fields).toHaveLength(300);
    expect(new Set(fields.map((x) => x.slice(0, 9).join(';')))).toEqual(new Set(['47;0x22eb;2;5;42;1;0;1;0']));
    expect(fields.map((x) => Number(x[9]))).toEqual(pcapUnits(source));
    const sent = pcapFrames(source);
    const got = scapyLines(dissect('ERSPAN_III'), outer).map((l) => l.split(' '));
    expect(got.map((g) => g[1])).toEqual(sent.map((fr) => fr.toString('hex')));
  });

  it('GRE over IPv6: key and sequence numbers, every frame byte for byte', async () => {
    const source = path.join(tmp, 'source6.pcap');
    const outer = path.join(tmp, 'outer6.pcap');
    const onWire = await startInNs(coll, ['tcpdump', '-B', '65536', '-i', collDev, '-s', '0', '-U', '-w', outer, 'ip6', 'proto', '47'], /listening on/);
    const cap = await startCapture(node, ['-i', nodeDev, '-w', source, '--forward', `gre://[${v6}2]?key=9&seq=1`]);
    trafgen(pod, podDev, 200, { payload: 300, pps: 50000 });
    expect(await stopProcess(cap)).toBe(0);
    expect(await stopTcpdump(onWire)).toBe(0);
    expect(tsharkMalformed(outer)).toEqual([]);
    const fields = run('tshark', ['-n', '-r', outer, '-T', 'fields', '-E', 'separator=;', '-e', 'ipv6.nxt', '-e', 'gre.proto', '-e', 'gre.key', '-e', 'gre.sequence_number']).stdout.trim().split('\n');
    expect(fields).toEqual(fields.map((_, i) => `47;0x6558;0x00000009;${i}`));
    expect(fields).toHaveLength(200);
    const inner = scapyLines(`
for p in rdpcap(sys.argv[1]):
    print(bytes(p[GRE].payload).hex())
`, outer);
    expect(inner).toEqual(pcapFrames(source).map((fr) => fr.toString('hex')));
  });

  it('podspan collector --gre-listen writes what GRE and ERSPAN II/III carry, over IPv4 and IPv6: the frames captured at the source', async () => {
    const collect = async (listen: string, targets: string[], expectInterfaces: string[]) => {
      const out = path.join(tmp, `collector-${targets.length}-${listen.length}`);
      const source = path.join(tmp, `source-c-${listen.length}.pcap`);
      const c = await startInNs(coll, [process.execPath, podspanBin, 'collector', '--listen', '127.0.0.1:0', '--out', out, '--gre-listen', listen], /listening for GRE and ERSPAN/);
      const cap = await startCapture(node, ['-i', nodeDev, '-w', source, ...targets.flatMap((t) => ['--forward', t])]);
      trafgen(pod, podDev, 300, { sport: 'dinc(40000, 40031)', payload: 200, pps: 20000 });
      expect(await stopProcess(cap)).toBe(0);
      expect(await stopProcess(c, 'SIGTERM')).toBe(0);
      const n = 300 * targets.length;
      expect(c.stderr()).toMatch(new RegExp(`GRE/ERSPAN: ${n} datagrams, ${n} frames written from ${targets.length} sender/key pairs, 0 not opened, 0 refused`));
      const got = pcapngFrames(path.join(out, fs.readdirSync(out).find((x) => x.startsWith('gre_'))!));
      const sent = pcapFrames(source).map((fr) => fr.toString('hex'));
      // Per target, in capture order: each interface holds exactly the frames captured.
      for (const name of expectInterfaces) {
        expect(got.frames.filter((_, i) => got.interfaces[i] === name).map((fr) => fr.toString('hex')), name).toEqual(sent);
      }
      expect(new Set(got.interfaces)).toEqual(new Set(expectInterfaces));
    };
    await collect('10.205.0.2', ['erspan://10.205.0.2?session=12', 'gre://10.205.0.2?key=9&seq=1'], ['erspan/10.205.0.1/session12', 'gre/10.205.0.1/key9']);
    await collect(`[${v6}2]`, [`erspan://[${v6}2]?version=3&session=40&hwid=1`], [`erspan/${v6}1/session40`]);
  });
});
