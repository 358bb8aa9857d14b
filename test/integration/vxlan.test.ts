// VXLAN forwarding against the Linux kernel: a "pod" namespace sends frames over a veth to the
// "node" namespace, where podspan captures them (-w, the source record) and forwards them to a
// "collector" namespace holding a kernel vxlan device. What the kernel decapsulates on vx0 must
// equal, frame for frame and byte for byte, what podspan captured; tshark must read the outer
// packets as VXLAN with our VNI; each inner flow keeps one outer source port.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMirrorTopology, pcapFrames, stopTcpdump } from '../helpers/encap';
import { canUseNetns, inNs, removeNamespaces, startCapture, startInNs, stopProcess, trafgen, killStarted } from '../helpers/netns';
import { corpusDir, podspanBin, run } from '../helpers/tools';

if (!canUseNetns) console.log('VXLAN tests skipped: they need root, iproute2 and trafgen (netsniff-ng)');


describe.skipIf(!canUseNetns)('VXLAN forwarding to the kernel vxlan device', () => {
  let tmp: string;
  let pod: string, node: string, coll: string, podDev: string, nodeDev: string, collDev: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-vxlan-'));
    ({ pod, node, coll, podDev, nodeDev, collDev } = addMirrorTopology('v', '10.201.0'));
    inNs(coll, ['ip', 'link', 'add', 'vx0', 'type', 'vxlan', 'id', '42', 'dstport', '4789', 'local', '10.201.0.2', 'nolearning']);
    inNs(coll, ['ip', 'link', 'set', 'vx0', 'up']);
  });
  afterAll(() => {
    killStarted();
    if (pod) removeNamespaces([pod, node, coll]);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('delivers every captured frame to vx0 byte for byte, VNI 42, one outer source port per inner flow', async () => {
    const source = path.join(tmp, 'source.pcap');
    const decap = path.join(tmp, 'vx0.pcap');
    const outer = path.join(tmp, 'outer.pcap');
    const onVx0 = await startInNs(coll, ['tcpdump', '-B', '65536', '-i', 'vx0', '-s', '0', '-U', '-w', decap], /listening on/);
    const onWire = await startInNs(coll, ['tcpdump', '-B', '65536', '-i', collDev, '-s', '0', '-U', '-w', outer, 'udp', 'port', '4789'], /listening on/);
    const cap = await startCapture(node, ['-i', nodeDev, '-w', source, '--forward', 'vxlan://10.201.0.2:4789?vni=42']);
    // 64 inner flows (UDP source ports 40000-40063), frames of several sizes.
    trafgen(pod, podDev, 1500, { sport: 'dinc(40000, 40063)', payload: 58, pps: 50000 });
    trafgen(pod, podDev, 500, { sport: 'dinc(40000, 40063)', payload: 1200, pps: 50000 });
    expect(await stopProcess(cap)).toBe(0);
    expect(await stopTcpdump(onVx0)).toBe(0);
    expect(await stopTcpdump(onWire)).toBe(0);

    expect(cap.stderr()).toContain('2000 packets captured');
    expect(cap.stderr()).toMatch(/vxlan:\/\/10\.201\.0\.2:4789: 2000 frames sent, 0 dropped/);
    const sent = pcapFrames(source);
    const got = pcapFrames(decap);
    expect(sent).toHaveLength(2000);
    expect(got).toHaveLength(2000);
    // Each inner flow keeps its order (one socket per flow); flows interleave differently.
    const hex = (fs: Buffer[]) => fs.map((f) => f.toString('hex')).sort();
    expect(hex(got)).toEqual(hex(sent));
    const byFlow = (fs: Buffer[]) => {
      const m = new Map<number, string[]>();
      for (const f of fs) m.set(f.readUInt16BE(34), [...(m.get(f.readUInt16BE(34)) ?? []), f.toString('hex')]);
      return m;
    };
    expect(byFlow(got)).toEqual(byFlow(sent));

    const fields = run('tshark', ['-r', outer, '-T', 'fields', '-E', 'separator=;', '-e', 'vxlan.vni', '-e', 'udp.srcport']).stdout.trim().split('\n');
    expect(fields).toHaveLength(2000);
    const outerPortsByFlow = new Map<string, Set<string>>();
    for (const line of fields) {
      const [vni, ports] = line.split(';');
      expect(vni).toBe('42');
      const [outerPort, innerPort] = ports.split(',');
      outerPortsByFlow.set(innerPort, (outerPortsByFlow.get(innerPort) ?? new Set()).add(outerPort));
    }
    expect(outerPortsByFlow.size).toBe(64);
    expect([...outerPortsByFlow.values()].every((s) => s.size === 1)).toBe(true);
    expect(new Set([...outerPortsByFlow.values()].map((s) => [...s][0])).size).toBeGreaterThan(4); // spread over the pool
  });

  it('truncates frames on request and counts it', async () => {
    const decap = path.join(tmp, 'vx0-trunc.pcap');
    const onVx0 = await startInNs(coll, ['tcpdump', '-B', '65536', '-i', 'vx0', '-s', '0', '-U', '-w', decap], /listening on/);
    const cap = await startCapture(node, ['-i', nodeDev, '--forward', 'vxlan://10.201.0.2?vni=42&truncate=64']);
    trafgen(pod, podDev, 300, { payload: 500 });
    expect(await stopProcess(cap)).toBe(0);
    expect(await stopTcpdump(onVx0)).toBe(0);
    const got = pcapFrames(decap);
    expect(got).toHaveLength(300);
    expect(new Set(got.map((f) => f.length))).toEqual(new Set([64]));
    expect(cap.stderr()).toMatch(/300 frames sent, 0 dropped \(send failed\), 300 truncated/);
  });

  it('podspan collector --vxlan-listen writes what it decapsulates: the frames captured at the source', async () => {
    const out = path.join(tmp, 'collector');
    const source = path.join(tmp, 'source-c.pcap');
    const c = await startInNs(coll, [process.execPath, podspanBin, 'collector', '--listen', '127.0.0.1:0', '--out', out, '--vxlan-listen', '10.201.0.2:4790'], /listening for VXLAN/);
    const cap = await startCapture(node, ['-i', nodeDev, '-w', source, '--forward', 'vxlan://10.201.0.2:4790?vni=7']);
    trafgen(pod, podDev, 1000, { sport: 'dinc(40000, 40031)', payload: 300, pps: 20000 });
    expect(await stopProcess(cap)).toBe(0);
    expect(await stopProcess(c, 'SIGTERM')).toBe(0);
    expect(c.stderr()).toMatch(/VXLAN: 1000 datagrams, 1000 frames written from 1 sender\/VNI pairs, 0 not VXLAN/);
    const file = fs.readdirSync(out).find((f) => f.startsWith('vxlan_'))!;
    const lines = run('tshark', ['-r', path.join(out, file), '-T', 'fields', '-e', 'frame.interface_name', '-e', 'frame.len', '-e', 'udp.srcport', '-e', 'data.data']).stdout.trim().split('\n');
    expect(new Set(lines.map((l) => l.split('\t')[0]))).toEqual(new Set(['vxlan/10.201.0.1/vni7']));
    expect(lines).toHaveLength(1000);
    expect(lines.map((l) => l.split('\t').slice(1).join(' ')).sort()).toEqual(
      pcapFrames(source).map((f) => `${f.length} ${f.readUInt16BE(34)} ${f.subarray(42).toString('hex')}`).sort(),
    );
  });

  it('sends an ICMP echo and its reply from the same outer source port', async () => {
    // Real pings between the pod and the node namespace, captured on the node's veth. Addresses
    // only for this test (the others count exact frames), removed after.
    inNs(pod, ['ip', 'addr', 'add', '10.202.0.1/24', 'dev', podDev]);
    inNs(node, ['ip', 'addr', 'add', '10.202.0.2/24', 'dev', nodeDev]);
    try {
      const outer = path.join(tmp, 'outer-icmp.pcap');
      const onWire = await startInNs(coll, ['tcpdump', '-B', '65536', '-i', collDev, '-s', '0', '-U', '-w', outer, 'udp', 'port', '4789'], /listening on/);
      const cap = await startCapture(node, ['-i', nodeDev, '--forward', 'vxlan://10.201.0.2:4789?vni=42&ports=64', 'icmp']);
      inNs(pod, ['ping', '-c', '10', '-i', '0.01', '-W', '1', '10.202.0.2']);
      expect(await stopProcess(cap)).toBe(0);
      expect(await stopTcpdump(onWire)).toBe(0);
      const lines = run('tshark', ['-r', outer, '-T', 'fields', '-E', 'separator=;', '-e', 'icmp.type', '-e', 'udp.srcport']).stdout.trim().split('\n');
      const portsByType = new Map<string, Set<string>>();
      for (const line of lines) {
        const [type, ports] = line.split(';');
        portsByType.set(type, (portsByType.get(type) ?? new Set()).add(ports.split(',')[0]));
      }
      expect([...portsByType.keys()].sort()).toEqual(['0', '8']); // replies and requests
      expect(lines).toHaveLength(20);
      const all = new Set([...portsByType.values()].flatMap((s) => [...s]));
      expect(all.size).toBe(1);
    } finally {
      inNs(pod, ['ip', 'addr', 'flush', 'dev', podDev]);
      inNs(node, ['ip', 'addr', 'flush', 'dev', nodeDev]);
    }
  });

  const corpus = corpusDir();
  it.skipIf(!corpus)('gives frames of a cooked (SLL2) capture a synthetic Ethernet header, keeping the rest', async () => {
    const file = path.join(corpus!, 'suricata__decode-sll2.pcap');
    const decap = path.join(tmp, 'vx0-sll2.pcap');
    const onVx0 = await startInNs(coll, ['tcpdump', '-B', '65536', '-i', 'vx0', '-s', '0', '-U', '-w', decap], /listening on/);
    const r = run('ip', ['netns', 'exec', node, process.execPath, podspanBin, 'capture', '-r', file, '--forward', 'vxlan://10.201.0.2:4789?vni=42']);
    expect(r.stderr).toContain('vxlan://10.201.0.2:4789: 5 frames sent, 0 dropped');
    expect(await stopTcpdump(onVx0)).toBe(0);
    const sll2 = pcapFrames(file);
    const got = pcapFrames(decap);
    expect(got).toHaveLength(sll2.length);
    got.forEach((f, i) => {
      expect(f.readUInt16BE(12)).toBe(sll2[i].readUInt16BE(0)); // SLL2's protocol as the ethertype
      expect(f.subarray(14).equals(sll2[i].subarray(20))).toBe(true);
    });
  });
});
