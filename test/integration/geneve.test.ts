// GENEVE forwarding (RFC 8926), judged by decapsulators that are not ours: this kernel has no
// geneve device, so a "pod" namespace sends frames over a veth to the "node" namespace, where
// podspan captures them (-w, the source record) and forwards them to a "collector" namespace;
// tcpdump records the outer packets there. tshark must decode every one as GENEVE with our VNI
// and option and flag none as malformed; scapy's GENEVE layer must find, count for count and byte
// for byte, the frames podspan captured; each inner flow keeps one outer source port.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pcapFrames, pcapngFrames, setUpEncapFixture, tearDownEncapFixture, type EncapFixture, scapyLines, scapyPython, stopTcpdump, tsharkMalformed } from '../helpers/encap';
import { canUseNetns, startCapture, startInNs, stopProcess, trafgen } from '../helpers/netns';
import fs from 'node:fs';
import { podspanBin, run } from '../helpers/tools';

const usable = canUseNetns && scapyPython !== undefined;
if (!usable) console.log('GENEVE tests skipped: they need root, iproute2, trafgen (netsniff-ng) and scapy (python3-scapy)');


// Per outer packet: outer UDP source port, GENEVE version/flags/protocol/VNI, each option as
// class:type:data, and the inner Ethernet frame, all as scapy dissects them.
const dissect = `
load_contrib('geneve')
for p in rdpcap(sys.argv[1]):
    g = p[GENEVE]
    opts = ','.join('%04x:%02x:%s' % (o.classid, o.type, o.data.hex()) for o in g.options)
    print(p[UDP].sport, g.version, g.oam, g.critical, hex(g.proto), g.vni, g.optionlen, opts or '-', bytes(g.payload).hex())
`;

interface Outer {
  sport: number;
  header: string; // version oam critical proto vni optionlen
  options: string;
  inner: string;
}

function outerPackets(file: string): Outer[] {
  return scapyLines(dissect, file).map((l) => {
    const f = l.split(' ');
    return { sport: Number(f[0]), header: f.slice(1, 7).join(' '), options: f[7], inner: f[8] };
  });
}

describe.skipIf(!usable)('GENEVE forwarding, decoded by tshark and scapy', () => {
  let f: EncapFixture | undefined;
  let tmp: string, pod: string, node: string, coll: string, podDev: string, nodeDev: string, collDev: string;
  beforeAll(async () => {
    f = await setUpEncapFixture('g', '10.203.0', { udpPort: 6081 });
    ({ tmp, pod, node, coll, podDev, nodeDev, collDev } = f);
  });
  afterAll(() => tearDownEncapFixture(f));

  it('sends every captured frame as GENEVE (VNI 42, Ethernet, podspan option with session and interface), byte for byte, one outer port per flow', async () => {
    const source = path.join(tmp, 'source.pcap');
    const outer = path.join(tmp, 'outer.pcap');
    const onWire = await startInNs(coll, ['tcpdump', '-B', '65536', '-i', collDev, '-s', '0', '-U', '-w', outer, 'udp', 'port', '6081'], /listening on/);
    const cap = await startCapture(node, ['-i', nodeDev, '-w', source, '--forward', 'geneve://10.203.0.2?vni=42&session=7']);
    // 64 inner flows (UDP source ports 40000-40063), frames of two sizes.
    trafgen(pod, podDev, 1500, { sport: 'dinc(40000, 40063)', payload: 58, pps: 50000 });
    trafgen(pod, podDev, 500, { sport: 'dinc(40000, 40063)', payload: 1200, pps: 50000 });
    expect(await stopProcess(cap)).toBe(0);
    expect(await stopTcpdump(onWire)).toBe(0);

    expect(cap.stderr()).toContain('2000 packets captured');
    expect(cap.stderr()).toMatch(/geneve:\/\/10\.203\.0\.2:6081: 2000 frames sent, 0 dropped/);
    expect(tsharkMalformed(outer)).toEqual([]);
    const fields = run('tshark', ['-n', '-r', outer, '-T', 'fields', '-E', 'separator=;', '-e', 'geneve.version', '-e', 'geneve.proto_type', '-e', 'geneve.vni', '-e', 'geneve.option.class', '-e', 'geneve.option.type', '-e', 'geneve.option.unknown.data']).stdout.trim().split('\n');
    expect(fields).toHaveLength(2000);
    expect(new Set(fields)).toEqual(new Set(['0;0x6558;0x00002a;0xff50;0x01;0000000700000000']));

    const sent = pcapFrames(source);
    const got = outerPackets(outer);
    expect(sent).toHaveLength(2000);
    expect(got).toHaveLength(2000);
    // version 0, no OAM, no critical options, Ethernet, VNI 42, 3 words of options
    expect(new Set(got.map((g) => `${g.header} ${g.options}`))).toEqual(new Set(['0 0 0 0x6558 42 3 ff50:01:0000000700000000']));
    const hex = (fs: string[]) => [...fs].sort();
    expect(hex(got.map((g) => g.inner))).toEqual(hex(sent.map((f) => f.toString('hex'))));
    const portsByFlow = new Map<number, Set<number>>();
    for (const g of got) {
      const flow = Buffer.from(g.inner, 'hex').readUInt16BE(34);
      portsByFlow.set(flow, (portsByFlow.get(flow) ?? new Set()).add(g.sport));
    }
    expect(portsByFlow.size).toBe(64);
    expect([...portsByFlow.values()].every((s) => s.size === 1)).toBe(true);
    expect(new Set([...portsByFlow.values()].map((s) => [...s][0])).size).toBeGreaterThan(4); // spread over the pool
  });

  it('without session= sends no options; truncation and the MTU policy count the GENEVE header', async () => {
    const source = path.join(tmp, 'source-t.pcap');
    const outer = path.join(tmp, 'outer-t.pcap');
    const onWire = await startInNs(coll, ['tcpdump', '-B', '65536', '-i', collDev, '-s', '0', '-U', '-w', outer, 'udp', 'port', '6081'], /listening on/);
    // 300 frames of 542 bytes: cut to 100; 200 frames of 1242 bytes: cut to fit mtu=600
    // (600 - 20 IPv4 - 8 UDP - 8 GENEVE = 564 inner bytes).
    const cap = await startCapture(node, ['-i', nodeDev, '-w', source, '--forward', 'geneve://10.203.0.2:6081?vni=9&mtu=600&oversize=truncate&truncate=100']);
    trafgen(pod, podDev, 300, { payload: 500 });
    expect(await stopProcess(cap)).toBe(0);
    const cap2 = await startCapture(node, ['-i', nodeDev, '--forward', 'geneve://10.203.0.2:6081?vni=9&mtu=600&oversize=truncate']);
    trafgen(pod, podDev, 200, { payload: 1200 });
    expect(await stopProcess(cap2)).toBe(0);
    expect(await stopTcpdump(onWire)).toBe(0);
    expect(cap.stderr()).toMatch(/geneve:\/\/10\.203\.0\.2:6081: 300 frames sent, 0 dropped \(send failed\), 300 truncated/);
    expect(cap2.stderr()).toMatch(/geneve:\/\/10\.203\.0\.2:6081: 200 frames sent, 0 dropped \(send failed\), 200 over the MTU \(truncated\)/);
    // The inner frames are cut (tshark rightly finds their IP lengths short): judge the GENEVE
    // headers, which tshark must read whole, with no options.
    const headers = run('tshark', ['-n', '-r', outer, '-T', 'fields', '-E', 'separator=;', '-e', 'geneve.proto_type', '-e', 'geneve.vni', '-e', 'geneve.option.class', '-e', 'geneve.option.length.invalid']).stdout.trim().split('\n');
    expect(headers).toHaveLength(500);
    expect(new Set(headers)).toEqual(new Set(['0x6558;0x000009;;']));
    const got = outerPackets(outer);
    expect(got).toHaveLength(500);
    expect(new Set(got.map((g) => `${g.header} ${g.options}`))).toEqual(new Set(['0 0 0 0x6558 9 0 -']));
    const sent = pcapFrames(source);
    expect(got.slice(0, 300).map((g) => g.inner).sort()).toEqual(sent.map((f) => f.subarray(0, 100).toString('hex')).sort());
    expect(new Set(got.slice(300).map((g) => g.inner.length / 2))).toEqual(new Set([564]));
    const wire = run('tshark', ['-n', '-r', outer, '-Y', 'frame.number > 300', '-T', 'fields', '-E', 'occurrence=f', '-e', 'ip.len']).stdout.trim().split('\n');
    expect(new Set(wire)).toEqual(new Set(['600']));
  });

  it('podspan collector --geneve-listen writes what it decapsulates: the frames captured at the source, in order', async () => {
    const out = path.join(tmp, 'collector');
    const source = path.join(tmp, 'source-c.pcap');
    const c = await startInNs(coll, [process.execPath, podspanBin, 'collector', '--listen', '127.0.0.1:0', '--out', out, '--geneve-listen', '10.203.0.2:7081'], /listening for GENEVE on 10\.203\.0\.2:7081\/udp/);
    const cap = await startCapture(node, ['-i', nodeDev, '-w', source, '--forward', 'geneve://10.203.0.2:7081?vni=9&session=3&ports=1']);
    trafgen(pod, podDev, 600, { sport: 'dinc(40000, 40031)', payload: 300, pps: 20000 });
    expect(await stopProcess(cap)).toBe(0);
    expect(await stopProcess(c, 'SIGTERM')).toBe(0);
    expect(c.stderr()).toMatch(/GENEVE: 600 datagrams, 600 frames written from 1 sender\/VNI pairs, 0 not GENEVE, 0 refused/);
    const file = path.join(out, fs.readdirSync(out).find((n) => n.startsWith('geneve_'))!);
    const got = pcapngFrames(file);
    expect(new Set(got.interfaces)).toEqual(new Set(['geneve/10.203.0.1/vni9']));
    expect(got.frames.map((f) => f.toString('hex'))).toEqual(pcapFrames(source).map((f) => f.toString('hex')));
  });
});
