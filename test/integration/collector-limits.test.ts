// The collector's resources stay bounded whatever agents send, and its files stay valid: agent
// ids that sanitise alike get files of their own, agents beyond --max-agents are refused, idle
// agent files are closed valid and a returning agent gets a new file, sources beyond
// --max-interfaces and link types pcapng cannot hold are refused and counted, a rotated file
// holds only the interfaces it uses (so -C bounds its size), -G follows the collector's clock,
// VXLAN sender/VNI pairs are capped, a full disk under the VXLAN listener turns /healthz to
// 503 while SIGTERM still ends the collector, its file valid, and under a gRPC stream ends the
// stream INTERNAL, the file cut back valid. Judges: capinfos and tshark, the metrics, the files.
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ethSource, frameBatch, sendBatches, startCollector } from '../helpers/collector';
import { killStarted, stopProcess } from '../helpers/netns';
import { capinfos, podspanBin, run, tsharkWarnings } from '../helpers/tools';

let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-climits-'))));
afterAll(() => {
  killStarted();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const pcapngs = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith('.pcapng')).sort().map((f) => path.join(dir, f));

/** Interfaces (IDBs) of a pcapng file, as capinfos counts them. */
const interfacesIn = (file: string) => Number(/Number of interfaces in file:\s+(\d+)/.exec(run('capinfos', ['-I', file]).stdout)?.[1]);

async function metric(url: string, pattern: RegExp, deadlineMs = 10_000): Promise<string> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const text = await (await fetch(url)).text();
    if (pattern.test(text) || Date.now() > end) return text;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('collector files: names, agents, idle files', () => {
  it('agent ids that sanitise alike (node/1, node_1, 100 shared characters) get valid files of their own, none hidden', async () => {
    const out = path.join(tmp, 'names');
    const c = await startCollector(['--listen', '127.0.0.1:0', '--out', out]);
    const long = 'n'.repeat(120);
    const agents = ['node/1', 'node_1', `${long}a`, `${long}b`, '.hidden'];
    for (const agent of agents) {
      const r = await sendBatches(c.port, [frameBatch(agent, [ethSource('n', 'eth0')], 500, 1), frameBatch(agent, [ethSource('n', 'eth0')], 500, 2)]);
      expect(r.acked).toBe(1000);
    }
    expect(await stopProcess(c, 'SIGTERM')).toBe(0);
    const files = pcapngs(out);
    expect(files).toHaveLength(5);
    expect(fs.readdirSync(out).filter((f) => f.startsWith('.'))).toEqual([]);
    for (const [file, s] of capinfos(files)) {
      expect(s.packets, file).toBe(1000);
      expect(tsharkWarnings(file), file).toBe('');
    }
  }, 60_000);

  it('--max-agents 2: a third agent is refused (RESOURCE_EXHAUSTED) and counted; the two are written', async () => {
    const out = path.join(tmp, 'agents');
    const c = await startCollector(['--listen', '127.0.0.1:0', '--out', out, '--max-agents', '2', '--metrics-listen', '127.0.0.1:0']);
    expect((await sendBatches(c.port, [frameBatch('a1', [ethSource('a1', 'eth0')], 10)])).acked).toBe(10);
    expect((await sendBatches(c.port, [frameBatch('a2', [ethSource('a2', 'eth0')], 10)])).acked).toBe(10);
    const third = await sendBatches(c.port, [frameBatch('a3', [ethSource('a3', 'eth0')], 10)]);
    expect(third.status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(third.status.details).toMatch(/too many agents \(at most 2 at once, --max-agents\)/);
    const m = await metric(c.metricsUrl!, /streams_refused_total\{reason="agents"\} 1/);
    expect(m).toMatch(/podspan_collector_streams_refused_total\{reason="agents"\} 1/);
    expect(m).toMatch(/podspan_collector_agents 2/);
    expect(await stopProcess(c, 'SIGTERM')).toBe(0);
    expect(c.stderr()).toMatch(/agent refused: too many agents/);
    expect(pcapngs(out)).toHaveLength(2);
  }, 60_000);

  it('--agent-idle-timeout: an idle agent file is closed valid while the collector runs; the agent returning gets a new file', async () => {
    const out = path.join(tmp, 'idle');
    const c = await startCollector(['--listen', '127.0.0.1:0', '--out', out, '--agent-idle-timeout', '1', '--metrics-listen', '127.0.0.1:0']);
    expect((await sendBatches(c.port, [frameBatch('idler', [ethSource('i', 'eth0')], 100)])).acked).toBe(100);
    expect(await metric(c.metricsUrl!, /podspan_collector_agents 0/)).toMatch(/podspan_collector_agents 0/);
    const [first] = pcapngs(out);
    // closed: complete (ISB written) and valid although the collector still runs
    expect(capinfos([first]).get(first)!.packets).toBe(100);
    expect(tsharkWarnings(first)).toBe('');
    const bytes = fs.readFileSync(first);
    expect(bytes.readUInt32LE(bytes.length - bytes.readUInt32LE(bytes.length - 4))).toBe(5); // it ends with its ISB
    expect((await sendBatches(c.port, [frameBatch('idler', [ethSource('i', 'eth0')], 50)])).acked).toBe(50);
    expect(await stopProcess(c, 'SIGTERM')).toBe(0);
    const files = pcapngs(out);
    expect(files).toHaveLength(2);
    expect(capinfos([first]).get(first)!.packets).toBe(100); // never truncated
    expect(capinfos(files.filter((f) => f !== first)).values().next().value!.packets).toBe(50);
  }, 60_000);
});

describe('collector files: interfaces, link types, rotation', () => {
  it('--max-interfaces refuses (and counts) frames of further sources; with -C each file holds only the interfaces it uses', async () => {
    const out = path.join(tmp, 'ifaces');
    const c = await startCollector(['--listen', '127.0.0.1:0', '--out', out, '--max-interfaces', '1000', '-C', '0.05', '--metrics-listen', '127.0.0.1:0']);
    // 40 batches of 50 new sources each (2,000 sources), one frame per source
    const batches = Array.from({ length: 40 }, (_, b) => frameBatch('many', Array.from({ length: 50 }, (_, s) => ethSource('many', `veth${b * 50 + s}`)), 1, b + 1));
    const r = await sendBatches(c.port, batches);
    expect(r.status.code).toBe(grpc.status.OK);
    expect(r.acked).toBe(1000);
    const m = await metric(c.metricsUrl!, /refused_frames_total\{reason="interfaces"\} 1000/);
    expect(m).toMatch(/podspan_collector_refused_frames_total\{reason="interfaces"\} 1000/);
    expect(await stopProcess(c, 'SIGTERM')).toBe(0);
    const files = pcapngs(out);
    const summary = capinfos(files);
    expect([...summary.values()].reduce((n, s) => n + s.packets, 0)).toBe(1000);
    for (const f of files) {
      // each packet here is of a new source: as many interfaces as packets, never all 1,000
      expect(interfacesIn(f), f).toBe(summary.get(f)!.packets);
      expect(fs.statSync(f).size, f).toBeLessThanOrEqual(50_000); // -C holds, the ISBs written at close included
      expect(tsharkWarnings(f), f).toBe('');
    }
  }, 60_000);

  it('a link type above 65535 is refused and counted, never written as another link type', async () => {
    const out = path.join(tmp, 'linktype');
    const c = await startCollector(['--listen', '127.0.0.1:0', '--out', out, '--metrics-listen', '127.0.0.1:0']);
    const r = await sendBatches(c.port, [frameBatch('lt', [ethSource('lt', 'eth0'), ethSource('lt', 'odd0', 65536 + 1)], 10)]);
    expect(r.acked).toBe(10);
    expect(await metric(c.metricsUrl!, /reason="linktype"\} 10/)).toMatch(/podspan_collector_refused_frames_total\{reason="linktype"\} 10/);
    expect(await stopProcess(c, 'SIGTERM')).toBe(0);
    const [file] = pcapngs(out);
    const encaps = run('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.interface_name', '-e', 'frame.encap_type']).stdout.trim().split('\n');
    expect(new Set(encaps)).toEqual(new Set(['lt/eth0\t1']));
    expect(encaps).toHaveLength(10);
  }, 60_000);

  it('-G rotates by the collector clock: a batch whose timestamps span 2,000 s makes one file, not 34', async () => {
    const out = path.join(tmp, 'rotate-g');
    const c = await startCollector(['--listen', '127.0.0.1:0', '--out', out, '-G', '60']);
    expect((await sendBatches(c.port, [frameBatch('g', [ethSource('g', 'eth0')], 200, 1, 10_000_000_000n)])).acked).toBe(200);
    expect(await stopProcess(c, 'SIGTERM')).toBe(0);
    const files = pcapngs(out);
    expect(files).toHaveLength(1);
    expect(capinfos(files).get(files[0])!.packets).toBe(200);
  }, 60_000);

  it('--out naming a file: one line naming it, exit 2', () => {
    const file = path.join(tmp, 'not-a-dir');
    fs.writeFileSync(file, 'x');
    const r = run(process.execPath, [podspanBin, 'collector', '--listen', '127.0.0.1:0', '--out', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`podspan: --out ${file}: exists and is not a folder\n`);
    expect(fs.readFileSync(file, 'utf8')).toBe('x');
  });
});

/** Sends one VXLAN datagram per VNI (60-byte inner frame) to 127.0.0.1:port. */
async function sendVxlan(port: number, vnis: number[], frameBytes = 60): Promise<void> {
  const sock = dgram.createSocket('udp4');
  for (const vni of vnis) {
    const d = Buffer.alloc(8 + frameBytes, 0x42);
    d.writeUInt32BE(0x08000000, 0);
    d.writeUInt32BE(vni << 8, 4);
    await new Promise<void>((res, rej) => sock.send(d, port, '127.0.0.1', (e) => (e ? rej(e) : res())));
  }
  sock.close();
}

describe('collector VXLAN listener', () => {
  it('--max-vxlan-sources: datagrams of further sender/VNI pairs are refused and counted', async () => {
    const out = path.join(tmp, 'vx-sources');
    const c = await startCollector(['--listen', '127.0.0.1:0', '--out', out, '--vxlan-listen', '127.0.0.1:0', '--max-vxlan-sources', '10', '--metrics-listen', '127.0.0.1:0']);
    await sendVxlan(c.vxlanPort!, Array.from({ length: 50 }, (_, i) => i + 1));
    const m = await metric(c.metricsUrl!, /podspan_collector_vxlan\{counter="datagrams"\} 50/);
    expect(m).toMatch(/podspan_collector_vxlan\{counter="refused"\} 40/);
    expect(await metric(c.metricsUrl!, /reason="vxlan_sources"\} 40/)).toMatch(/podspan_collector_refused_frames_total\{reason="vxlan_sources"\} 40/);
    expect(await stopProcess(c, 'SIGTERM')).toBe(0);
    expect(c.stderr()).toMatch(/VXLAN: 50 datagrams, 10 frames written from 10 sender\/VNI pairs, 0 not VXLAN, 40 refused/);
    const [file] = pcapngs(out);
    expect(interfacesIn(file)).toBe(10);
  }, 60_000);

  const root = process.getuid?.() === 0;
  it.skipIf(!root)('disk full: /healthz turns 503, the error is logged once, the first SIGTERM ends the collector', async () => {
    const mnt = path.join(tmp, `tmpfs-${process.pid}`);
    fs.mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    try {
      const c = await startCollector(['--listen', '127.0.0.1:0', '--out', mnt, '--vxlan-listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0']);
      const health = c.metricsUrl!.replace('/metrics', '/healthz');
      expect((await fetch(health)).status).toBe(200);
      // 2,000 frames of 1,400 bytes: 2.8 MB into 1 MiB
      for (let i = 0; i < 20; i++) await sendVxlan(c.vxlanPort!, Array(100).fill(7), 1400);
      let status = 0;
      for (const end = Date.now() + 10_000; Date.now() < end && status !== 503; await new Promise((r) => setTimeout(r, 100))) status = (await fetch(health)).status;
      expect(status).toBe(503);
      expect(await (await fetch(health)).text()).toMatch(/VXLAN listener stopped: .*No space left on device/);
      expect(await metric(c.metricsUrl!, /counter="failed"\} 1/)).toMatch(/podspan_collector_vxlan\{counter="failed"\} 1/);
      await fetch(health);
      const t0 = Date.now();
      c.child.kill('SIGTERM');
      const code = await Promise.race([c.exited, new Promise<number>((r) => setTimeout(() => r(-99), 8000))]);
      expect(code).toBe(1); // ended by the first SIGTERM, saying it lost frames
      expect(Date.now() - t0).toBeLessThan(8000);
      expect(c.stderr().match(/VXLAN listener stopped on a write error/g)).toHaveLength(1);
      expect(c.stderr()).toMatch(/VXLAN: stopped on an error: .*No space left on device/);
      // the file was cut back to its last whole block: valid, holding what was written
      const [file] = pcapngs(mnt);
      expect(tsharkWarnings(file)).toBe('');
      expect(capinfos([file]).get(file)!.packets).toBeGreaterThan(100);
    } finally {
      killStarted();
      execFileSync('umount', [mnt]);
    }
  }, 60_000);

  // Frames below 512 bytes are buffered: acknowledged batches still in the buffer are lost with a
  // failed write, which ends the stream of the batch that found it.
  it.skipIf(!root)('disk full under a gRPC stream: the stream ends INTERNAL naming the error, the file is cut back valid', async () => {
    const mnt = path.join(tmp, `tmpfs-grpc-${process.pid}`);
    fs.mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    try {
      const c = await startCollector(['--listen', '127.0.0.1:0', '--out', mnt]);
      // 40 batches of 1,000 frames of 60 bytes (92 bytes each in pcapng): 3.7 MB into 1 MiB
      const batches = Array.from({ length: 40 }, (_, i) => frameBatch('full', [ethSource('f', 'eth0')], 1000, i + 1));
      const r = await sendBatches(c.port, batches);
      expect(r.status.code).toBe(grpc.status.INTERNAL);
      expect(r.status.details).toMatch(/cannot write: .*write failed: No space left on device/);
      expect(r.acked).toBeGreaterThan(0);
      expect(r.acked).toBeLessThan(40_000);
      expect(await stopProcess(c, 'SIGTERM')).toBe(0);
      expect(c.stderr().match(/"writing a batch failed"/g)).toHaveLength(1);
      expect(c.stderr()).toMatch(/full-[0-9a-f]+_\d+\.pcapng: write failed: No space left on device/);
      const [file] = pcapngs(mnt);
      expect(tsharkWarnings(file)).toBe('');
      const packets = capinfos([file]).get(file)!.packets;
      expect(packets).toBeGreaterThan(10_000); // all but the last 64 KiB buffer made it before the disk filled
      expect(packets).toBeLessThanOrEqual(r.acked); // acknowledged frames still buffered were lost with the failed write
    } finally {
      killStarted();
      execFileSync('umount', [mnt]);
    }
  }, 60_000);
});
