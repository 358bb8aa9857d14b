// GRE forwarding (RFC 2890, transparent Ethernet bridging) over IPv4, judged by decapsulators that
// are not ours: this kernel has no gretap device, so a "pod" namespace sends frames over a veth to
// the "node" namespace, where podspan captures them (-w, the source record) and forwards them to
// a "collector" namespace; tcpdump records the outer packets there. tshark must decode every one
// as GRE with our key and sequence numbers and flag none as malformed; scapy's GRE layer must
// find, count for count, byte for byte and in capture order, the frames podspan captured.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pcapFrames, setUpEncapFixture, tearDownEncapFixture, type EncapFixture, scapyLines, scapyPython, stopTcpdump, tsharkMalformed } from '../helpers/encap';
import { canUseNetns, startCapture, startInNs, stopProcess, trafgen } from '../helpers/netns';
import { samplePackets, writePcap } from '../helpers/craft';
import { podspanBin, run } from '../helpers/tools';

const usable = canUseNetns && scapyPython !== undefined;
if (!usable) console.log('GRE tests skipped: they need root, iproute2, trafgen (netsniff-ng) and scapy (python3-scapy)');

// Per outer packet: GRE flags as scapy reads them (key present, sequence present, checksum
// present), protocol, key, sequence number, and the inner Ethernet frame.
const dissect = `
for p in rdpcap(sys.argv[1]):
    g = p[GRE]
    print(g.key_present, g.seqnum_present, g.chksum_present, hex(g.proto), g.key, g.sequence_number, bytes(g.payload).hex())
`;

interface Outer {
  header: string; // K S C proto
  key: string;
  seq: string;
  inner: string;
}

function outerPackets(file: string): Outer[] {
  return scapyLines(dissect, file).map((l) => {
    const f = l.split(' ');
    return { header: f.slice(0, 4).join(' '), key: f[4], seq: f[5], inner: f[6] };
  });
}

describe.skipIf(!usable)('GRE forwarding, decoded by tshark and scapy', () => {
  let f: EncapFixture | undefined;
  let tmp: string, pod: string, node: string, coll: string, podDev: string, nodeDev: string, collDev: string;
  beforeAll(async () => {
    f = await setUpEncapFixture('r', '10.204.0', { ipProto: 47 });
    ({ tmp, pod, node, coll, podDev, nodeDev, collDev } = f);
  });
  afterAll(() => tearDownEncapFixture(f));

  it('sends every captured frame as GRE (0x6558, key 42, sequence 0, 1, 2, ...) byte for byte and in capture order', async () => {
    const source = path.join(tmp, 'source.pcap');
    const outer = path.join(tmp, 'outer.pcap');
    const onWire = await startInNs(coll, ['tcpdump', '-B', '65536', '-i', collDev, '-s', '0', '-U', '-w', outer, 'ip', 'proto', '47'], /listening on/);
    const cap = await startCapture(node, ['-i', nodeDev, '-w', source, '--forward', 'gre://10.204.0.2?key=42&seq=1']);
    trafgen(pod, podDev, 1500, { sport: 'dinc(40000, 40063)', payload: 58, pps: 50000 });
    trafgen(pod, podDev, 500, { sport: 'dinc(40000, 40063)', payload: 1200, pps: 50000 });
    expect(await stopProcess(cap)).toBe(0);
    expect(await stopTcpdump(onWire)).toBe(0);

    expect(cap.stderr()).toContain('2000 packets captured');
    expect(cap.stderr()).toMatch(/gre:\/\/10\.204\.0\.2: 2000 frames sent, 0 dropped/);
    expect(tsharkMalformed(outer)).toEqual([]);
    const fields = run('tshark', ['-n', '-r', outer, '-T', 'fields', '-E', 'separator=;', '-E', 'occurrence=f', '-e', 'ip.proto', '-e', 'gre.proto', '-e', 'gre.key', '-e', 'gre.sequence_number']).stdout.trim().split('\n');
    expect(fields).toHaveLength(2000);
    expect(fields).toEqual(fields.map((_, i) => `47;0x6558;0x0000002a;${i}`));

    const sent = pcapFrames(source);
    const got = outerPackets(outer);
    expect(sent).toHaveLength(2000);
    expect(got).toHaveLength(2000);
    expect(new Set(got.map((g) => `${g.header} ${g.key}`))).toEqual(new Set(['1 1 0 0x6558 42']));
    expect(got.map((g) => g.seq)).toEqual(got.map((_, i) => String(i)));
    expect(got.map((g) => g.inner)).toEqual(sent.map((f) => f.toString('hex')));
  });

  it('without key and seq sends the 4-byte header; truncation and the MTU policy count it', async () => {
    const source = path.join(tmp, 'source-t.pcap');
    const outer = path.join(tmp, 'outer-t.pcap');
    const onWire = await startInNs(coll, ['tcpdump', '-B', '65536', '-i', collDev, '-s', '0', '-U', '-w', outer, 'ip', 'proto', '47'], /listening on/);
    const cap = await startCapture(node, ['-i', nodeDev, '-w', source, '--forward', 'gre://10.204.0.2?truncate=100']);
    trafgen(pod, podDev, 300, { payload: 500 });
    expect(await stopProcess(cap)).toBe(0);
    // 200 frames of 1242 bytes cut to fit mtu=600: 600 - 20 IPv4 - 4 GRE = 576 inner bytes.
    const cap2 = await startCapture(node, ['-i', nodeDev, '--forward', 'gre://10.204.0.2?mtu=600&oversize=truncate']);
    trafgen(pod, podDev, 200, { payload: 1200 });
    expect(await stopProcess(cap2)).toBe(0);
    expect(await stopTcpdump(onWire)).toBe(0);
    expect(cap.stderr()).toMatch(/gre:\/\/10\.204\.0\.2: 300 frames sent, 0 dropped \(send failed\), 300 truncated/);
    expect(cap2.stderr()).toMatch(/gre:\/\/10\.204\.0\.2: 200 frames sent, 0 dropped \(send failed\), 200 over the MTU \(truncated\)/);
    // The inner frames are cut (tshark rightly finds their IP lengths short): judge the GRE headers.
    const headers = run('tshark', ['-n', '-r', outer, '-T', 'fields', '-E', 'separator=;', '-e', 'gre.flags_and_version', '-e', 'gre.proto', '-e', 'gre.key', '-e', 'gre.sequence_number']).stdout.trim().split('\n');
    expect(headers).toHaveLength(500);
    expect(new Set(headers)).toEqual(new Set(['0x0000;0x6558;;']));
    const got = outerPackets(outer);
    expect(new Set(got.map((g) => g.header))).toEqual(new Set(['0 0 0 0x6558']));
    expect(got.slice(0, 300).map((g) => g.inner)).toEqual(pcapFrames(source).map((f) => f.subarray(0, 100).toString('hex')));
    expect(new Set(got.slice(300).map((g) => g.inner.length / 2))).toEqual(new Set([576]));
    const wire = run('tshark', ['-n', '-r', outer, '-Y', 'frame.number > 300', '-T', 'fields', '-E', 'occurrence=f', '-e', 'ip.len']).stdout.trim().split('\n');
    expect(new Set(wire)).toEqual(new Set(['600']));
  });

  it('without CAP_NET_RAW says so in one line and exits 1', () => {
    // The capability is dropped from the bounding set, so root's podspan lacks it.
    const file = path.join(tmp, 'one.pcap');
    writePcap(file, samplePackets(1));
    const r = run('setpriv', ['--bounding-set', '-net_raw', process.execPath, podspanBin, 'capture', '-r', file, '--forward', 'gre://127.0.0.1?key=1']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual(['podspan: gre://127.0.0.1: cannot open a raw IP socket for GRE (needs CAP_NET_RAW): Operation not permitted']);
  });
});
