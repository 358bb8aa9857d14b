// Wireshark's view of podspan, judged by the real tshark: after `podspan extcap install`,
// `tshark -D` lists this host's interfaces and, through the collector's live tap, all mirrored
// traffic and the node an agent runs on; `tshark -i podspan/node/NODE -c N` captures N frames that
// an agent ("node-b": a podspan capture forwarding over gRPC) mirrors to the collector, and a
// capture filter given in tshark is applied by the collector.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addNamespaces, canUseNetns, inNs, ip, killStarted, removeNamespaces, track, trafgenInBackground, trafgenUntilStopped } from '../helpers/netns';
import { until } from '../helpers/k8s-agent';
import { capinfos, podspanBin, run } from '../helpers/tools';

const hasTshark = run('which', ['tshark']).code === 0;
if (!canUseNetns || !hasTshark) console.log('extcap tests skipped: they need root, iproute2, trafgen and tshark');

const tag = `${process.pid % 100000}`;
const podNs = `psX${tag}`, hostDev = `xh${tag}`;

/** Starts a podspan command in this namespace and waits for `ready` on its stderr. */
async function startPodspan(args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; stderr: () => string }> {
  const child = track(spawn(process.execPath, [podspanBin, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } }));
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  await until(() => ready.test(err) || child.exitCode !== null);
  if (child.exitCode !== null) throw new Error(`podspan ${args.join(' ')} exited: ${err}`);
  return { child, stderr: () => err };
}

function tshark(home: string, args: string[], timeoutMs = 60_000) {
  return run('tshark', args, { timeoutMs, env: { ...process.env, HOME: home } });
}

describe.skipIf(!canUseNetns || !hasTshark)('podspan in Wireshark (extcap) with a collector live tap', () => {
  let tmp: string;
  let home: string;
  let collectorUrl: string;
  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-extcap-'));
    home = path.join(tmp, 'home');
    addNamespaces([podNs]);
    ip('link', 'add', hostDev, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', podNs);
    run('sysctl', ['-qw', `net.ipv6.conf.${hostDev}.disable_ipv6=1`]);
    ip('link', 'set', hostDev, 'up');
    inNs(podNs, ['ip', 'link', 'set', 'eth0', 'up']);
    const collector = await startPodspan(['collector', '--listen', '127.0.0.1:0', '--out', path.join(tmp, 'collector')], /listening on 127\.0\.0\.1:\d+/);
    collectorUrl = `grpc://127.0.0.1:${/listening on 127\.0\.0\.1:(\d+)/.exec(collector.stderr())![1]}`;
    await startPodspan(['capture', '-i', hostDev, '--forward', collectorUrl], /listening on/, { NODE_NAME: 'node-b' });
  });
  afterAll(() => {
    killStarted();
    run('ip', ['link', 'del', hostDev]);
    removeNamespaces([podNs]);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('installs into the folder tshark reads, and tshark -D lists the host and the collector sources', async () => {
    const r = run(process.execPath, [podspanBin, 'extcap', 'install', '--collector', collectorUrl], { env: { ...process.env, HOME: home } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^installed .*\/extcap\/podspan: Wireshark/);
    // The collector knows node-b once its first batch has arrived.
    await trafgenInBackground(podNs, 'eth0', 20, { pps: 1000 });
    await until(() => run(process.execPath, [podspanBin, 'extcap', '--collector', collectorUrl, '--extcap-interfaces']).stdout.includes('podspan/node/node-b'), 15_000);
    const list = tshark(home, ['-D']).stdout;
    expect(list).toMatch(/\d+\. podspan\/local\/lo \(podspan: lo on this host\)/);
    expect(list).toMatch(/\d+\. podspan\/all \(podspan: all mirrored traffic \(collector 127\.0\.0\.1:\d+\)\)/);
    expect(list).toMatch(/\d+\. podspan\/node\/node-b \(podspan: node node-b \(collector 127\.0\.0\.1:\d+\)\)/);
  });

  it('tshark -i podspan/node/node-b -c 30 captures 30 mirrored frames live', async () => {
    const out = path.join(tmp, 'node-b.pcapng');
    // tshark asks every extcap interface for its options before it subscribes: frames keep
    // coming until it has its 30 (at most 12,000 at 200/s), then stop.
    const sending = trafgenUntilStopped(podNs, 'eth0', 12_000, { pps: 200, dport: 5000 });
    const r = tshark(home, ['-i', 'podspan/node/node-b', '-c', '30', '-w', out]);
    await sending.stop();
    expect(r.code, r.stderr).toBe(0);
    expect(capinfos([out]).get(out)?.packets).toBe(30);
    const ports = run('tshark', ['-r', out, '-T', 'fields', '-e', 'udp.dstport']).stdout.trim().split('\n');
    expect(new Set(ports)).toEqual(new Set(['5000']));
  });

  it("applies tshark's capture filter at the collector", async () => {
    const out = path.join(tmp, 'filtered.pcapng');
    const noise = trafgenUntilStopped(podNs, 'eth0', 12_000, { pps: 200, dport: 5000 });
    const wanted = trafgenUntilStopped(podNs, 'eth0', 12_000, { pps: 200, dport: 5001 });
    const r = tshark(home, ['-i', 'podspan/all', '-f', 'udp dst port 5001', '-c', '20', '-w', out]);
    await Promise.all([noise.stop(), wanted.stop()]);
    expect(r.code, r.stderr).toBe(0);
    const ports = run('tshark', ['-r', out, '-T', 'fields', '-e', 'udp.dstport']).stdout.trim().split('\n');
    expect(ports).toHaveLength(20);
    expect(new Set(ports)).toEqual(new Set(['5001']));
    await Promise.all([noise, wanted]);
  });

  it('tshark -i podspan/local/IFACE captures on this host through podspan capture', async () => {
    const out = path.join(tmp, 'local.pcapng');
    const sending = trafgenUntilStopped(podNs, 'eth0', 12_000, { pps: 200, dport: 5002 });
    const r = tshark(home, ['-i', `podspan/local/${hostDev}`, '-c', '10', '-w', out]);
    await sending.stop();
    expect(r.code, r.stderr).toBe(0);
    const ports = run('tshark', ['-r', out, '-T', 'fields', '-e', 'udp.dstport']).stdout.trim().split('\n');
    expect(ports).toHaveLength(10);
    expect(new Set(ports)).toEqual(new Set(['5002']));
  });

  it('refuses what is not a podspan interface in one line', () => {
    const r = run(process.execPath, [podspanBin, 'extcap', '--extcap-interface', 'eth0', '--capture', '--fifo', path.join(tmp, 'nofifo')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^podspan: --extcap-interface eth0: not a podspan interface/);
  });
});
