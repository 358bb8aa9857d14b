// Live capture on veth pairs between network namespaces this test creates, with real frames
// from trafgen (netsniff-ng). No addresses are assigned and IPv6 is off, so the kernel adds no
// frames of its own: every count is exact.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addNamespaces, addVeth, canUseNetns, removeNamespaces, startCapture as startIn, startInNs, stopProcess as stopCapture, trafgen, killStarted } from '../helpers/netns';
import { capinfos, readWithPcapParser, run, tsharkFrames, tsharkWarnings, podspanBin } from '../helpers/tools';

if (!canUseNetns) console.log('live capture tests skipped: they need root, iproute2 and trafgen (netsniff-ng)');

const tag = `${process.pid % 100000}`;
const nsA = `psA${tag}`;
const nsB = `psB${tag}`;
const veths = [
  { a: `pa${tag}x`, b: `pb${tag}x` },
  { a: `pa${tag}y`, b: `pb${tag}y` },
];

const teardown = () => removeNamespaces([nsA, nsB]);
function setup() {
  addNamespaces([nsA, nsB]);
  for (const v of veths) addVeth(nsA, v.a, nsB, v.b);
}
const send = (dev: string, count: number, opts: { proto?: 'udp' | 'tcp'; dport?: number; payload?: number } = {}) => trafgen(nsA, dev, count, opts);
const startCapture = (args: string[]) => startIn(nsB, args);

describe.skipIf(!canUseNetns)('live capture on veth pairs', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-live-'));
    setup();
  });
  afterAll(() => {
    killStarted();
    teardown();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('captures exactly the frames sent, with their lengths, into pcap read by tshark and pcap-parser', async () => {
    const out = path.join(tmp, 'exact.pcap');
    const cap = await startCapture(['-i', veths[0].b, '-w', out]);
    send(veths[0].a, 1000, { payload: 58 });
    expect(await stopCapture(cap)).toBe(0);
    expect(cap.stderr()).toContain('1000 packets captured');
    expect(cap.stderr()).toContain('0 packets dropped by kernel');
    const frames = tsharkFrames(out);
    expect(frames).toHaveLength(1000);
    expect(new Set(frames.map((f) => f.len))).toEqual(new Set([14 + 20 + 8 + 58]));
    const parsed = await readWithPcapParser(out);
    expect(parsed.packets).toHaveLength(1000);
    expect(parsed.packets.map((p) => p.caplen)).toEqual(frames.map((f) => f.caplen));
    expect(parsed.packets.map((p) => `${p.tsSec}.${String(p.tsUsec).padStart(6, '0')}`)).toEqual(frames.map((f) => f.time.slice(0, -3)));
    expect(tsharkWarnings(out)).toBe('');
  });

  it('keeps what the filter keeps and drops the rest', async () => {
    const udp = path.join(tmp, 'udp5000.pcapng');
    const tcp = path.join(tmp, 'tcp.pcapng');
    const a = await startCapture(['-i', veths[0].b, '-w', udp, 'udp', 'port', '5000']);
    send(veths[0].a, 300, { dport: 5000 });
    send(veths[0].a, 200, { dport: 6000 });
    send(veths[0].a, 100, { proto: 'tcp' });
    expect(await stopCapture(a)).toBe(0);
    const b = await startCapture(['-i', veths[0].b, '-w', tcp, '-f', 'tcp']);
    send(veths[0].a, 300, { dport: 5000 });
    send(veths[0].a, 100, { proto: 'tcp' });
    expect(await stopCapture(b)).toBe(0);
    const info = capinfos([udp, tcp]);
    expect(info.get(udp)!.packets).toBe(300);
    expect(info.get(tcp)!.packets).toBe(100);
    expect(a.stderr()).toContain('300 packets received by filter');
  });

  it('writes several interfaces into one pcapng, one interface block each', async () => {
    const out = path.join(tmp, 'two.pcapng');
    const cap = await startCapture(['-i', veths[0].b, '-i', veths[1].b, '-w', out]);
    send(veths[0].a, 400);
    send(veths[1].a, 250);
    expect(await stopCapture(cap)).toBe(0);
    expect(cap.stderr()).toContain('650 packets captured');
    const names = run('tshark', ['-r', out, '-T', 'fields', '-e', 'frame.interface_name']).stdout.trim().split('\n');
    expect(names.filter((n) => n === veths[0].b)).toHaveLength(400);
    expect(names.filter((n) => n === veths[1].b)).toHaveLength(250);
    expect(run('capinfos', ['-I', out]).stdout).toMatch(/Number of interfaces in file: 2/);
    expect(tsharkWarnings(out)).toBe('');
  });

  it('stops by itself at -c', async () => {
    const out = path.join(tmp, 'count.pcapng');
    const cap = await startCapture(['-i', veths[0].b, '-w', out, '-c', '250']);
    send(veths[0].a, 1000);
    const timer = setTimeout(() => cap.child.kill('SIGKILL'), 10_000);
    expect(await cap.exited).toBe(0);
    clearTimeout(timer);
    expect(capinfos([out]).get(out)!.packets).toBe(250);
    expect(cap.stderr()).toContain('250 packets captured');
  });

  it('rotates by size into a ring of valid files', async () => {
    const dir = path.join(tmp, 'ring');
    fs.mkdirSync(dir);
    const cap = await startCapture(['-i', veths[0].b, '-w', path.join(dir, 'r.pcapng'), '-C', '0.05', '-W', '3']);
    send(veths[0].a, 3000, { payload: 200 }); // ~780 kB: 15 files of 50 kB, 3 kept
    expect(await stopCapture(cap)).toBe(0);
    const files = fs.readdirSync(dir).sort();
    expect(files).toHaveLength(3);
    const info = capinfos(files.map((f) => path.join(dir, f)));
    for (const f of files) {
      expect(tsharkWarnings(path.join(dir, f))).toBe('');
      expect(info.get(path.join(dir, f))!.packets).toBeGreaterThan(0);
    }
    expect(cap.stderr()).toContain('3000 packets captured');
  });

  it('rotates by time (-G) with no packet lost across files', async () => {
    const dir = path.join(tmp, 'time');
    fs.mkdirSync(dir);
    const cap = await startCapture(['-i', veths[0].b, '-w', path.join(dir, 't.pcap'), '-G', '1']);
    for (let i = 0; i < 3; i++) {
      send(veths[0].a, 200);
      await new Promise((r) => setTimeout(r, 1100));
    }
    expect(await stopCapture(cap)).toBe(0);
    const files = fs.readdirSync(dir).sort();
    expect(files.length).toBeGreaterThanOrEqual(3);
    const total = [...capinfos(files.map((f) => path.join(dir, f))).values()].reduce((n, v) => n + v.packets, 0);
    expect(total).toBe(600);
  });

  it('leaves a valid file when stopped by SIGTERM', async () => {
    const out = path.join(tmp, 'term.pcapng');
    const cap = await startCapture(['-i', veths[0].b, '-w', out]);
    send(veths[0].a, 500);
    expect(await stopCapture(cap, 'SIGTERM')).toBe(0);
    expect(capinfos([out]).get(out)!.packets).toBe(500);
    expect(tsharkWarnings(out)).toBe('');
  });

  it('keeps every packet that reached the ring before Ctrl-C, signalled without waiting for the block timeout', async () => {
    const out = path.join(tmp, 'at-once.pcap');
    const cap = await startCapture(['-i', veths[0].b, '-w', out]);
    send(veths[0].a, 300);
    // At once: the kernel has not yet retired the ring's block that holds the last packets.
    cap.child.kill('SIGINT');
    expect(await cap.exited).toBe(0);
    expect(cap.stderr()).toContain('300 packets captured');
    expect(capinfos([out]).get(out)!.packets).toBe(300);
  });

  it('podspan streams -i: the progress line counts packets while a quiet interface is captured', async () => {
    const streams = await startInNs(nsB, [process.execPath, podspanBin, 'streams', '-i', veths[1].b, '-o', path.join(tmp, 'streams-progress')], /listening on/);
    send(veths[1].a, 100, { proto: 'tcp' });
    // 100 packets, far fewer than the 4096 between the reassembler's own publications: the
    // progress line (every 2 s) must still say 100 while the capture runs.
    const deadline = Date.now() + 15_000;
    while (!/… 100 packets/.test(streams.stderr()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(streams.stderr()).toMatch(/… 100 packets, \d+ streams/);
    expect(await stopCapture(streams)).toBe(0);
  });
});
