// Detection on a live capture, with real traffic between two network namespaces the test makes:
// a real HTTP server (Node) under a steady load from hey, a SYN flood from trafgen (random
// sources, at the server's own MAC so its kernel answers), then an nmap SYN scan. `podspan
// analyze -i --alerts` in the server's namespace must fire syn_flood naming the server and
// port_scan naming the scanner, each within 5 s of its start, clear each after it stops, raise
// nothing about the steady load, and keep evidence holding packets from before the alert. Then a
// steady hey load recorded for 6 s and laid end to end (editcap, mergecap) into five minutes of
// capture time: a compressed baseline of real traffic, which must raise nothing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addAddressedPair, canUseNetns, inNs, killStarted, removeNamespaces, startInNs, track } from '../helpers/netns';
import { spawn } from 'node:child_process';
import { podspanBin, run } from '../helpers/tools';
import type { AlertRecord } from '../../src/detection/alert-record';

const haveTools = run('which', ['hey', 'nmap', 'tshark']).code === 0;
if (!canUseNetns || !haveTools) console.log('live detection test skipped: it needs root, iproute2, trafgen, hey, nmap and tshark');

const tag = `${process.pid % 100000}`;
const nsC = `pdC${tag}`, nsS = `pdS${tag}`;
const devC = `pdc${tag}`, devS = `pds${tag}`;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!canUseNetns || !haveTools)('detection on a live capture', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-detect-live-'));
    addAddressedPair(nsC, devC, nsS, devS);
    // The server answers every SYN, also those from the flood's made-up sources (their SYN/ACKs go
    // to the client's namespace, which drops them): half-open connections, as in a real flood.
    inNs(nsS, ['ip', 'route', 'add', 'default', 'via', '198.18.0.1']);
  });
  afterAll(() => {
    killStarted();
    removeNamespaces([nsC, nsS]);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('a SYN flood and a port scan under steady load: each fires within 5 s, names its server or source, clears, and keeps evidence', async () => {
    const server = path.join(tmp, 'server.js');
    fs.writeFileSync(server, `require('http').createServer((req, res) => res.end('ok')).listen(8080, '198.18.0.2', 4096, () => console.error('ready'));`);
    await startInNs(nsS, [process.execPath, server], /ready/);
    const out = path.join(tmp, 'out');
    const detect = ['preTriggerSeconds=5', 'postTriggerSeconds=2', 'synFlood.clearSeconds=3', 'portScan.clearSeconds=3'].flatMap((d) => ['--detect', d]);
    const analyzer = await startInNs(nsS, [process.execPath, podspanBin, 'analyze', '-i', devS, '-o', out, '--alerts', '--top', '0', ...detect], /listening on/);

    // Steady load for the whole test: 2 workers at 10 requests/s each, bounded by -z.
    const hey = track(spawn('ip', ['netns', 'exec', nsC, 'hey', '-z', '40s', '-c', '2', '-q', '10', 'http://198.18.0.2:8080/'], { stdio: 'ignore' }));
    await pause(4000);

    const mac = /link\/ether ([0-9a-f:]+)/.exec(inNs(nsS, ['ip', 'link', 'show', devS]))![1];
    const cfg = path.join(tmp, 'flood.cfg');
    fs.writeFileSync(cfg, `{ eth(da=${mac}, sa=02:00:00:00:00:01), ipv4(saddr=drnd(), daddr=198.18.0.2), tcp(sport=drnd(), dport=8080, syn), fill(0x41, 0) }\n`);
    const floodStart = Date.now();
    inNs(nsC, ['trafgen', '--dev', devC, '--conf', cfg, '--num', '20000', '--cpus', '1', '--rate', '5000pps', '-q']); // 4 s
    await pause(6000);

    const scanStart = Date.now();
    const nmap = run('ip', ['netns', 'exec', nsC, 'nmap', '-sS', '-n', '-Pn', '-p', '1-2000', '-T4', '--max-retries', '0', '--host-timeout', '20s', '198.18.0.2'], { timeoutMs: 30_000 });
    expect(nmap.code, nmap.stderr).toBe(0);
    await pause(6000);

    hey.kill('SIGINT');
    analyzer.child.kill('SIGINT');
    expect(await analyzer.exited, analyzer.stderr()).toBe(0);
    const alerts = fs.readFileSync(path.join(out, 'alerts.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AlertRecord);
    const fired = alerts.filter((a) => a.state === 'fired');
    expect(fired.map((a) => a.kind).sort(), JSON.stringify(alerts)).toEqual(['port_scan', 'syn_flood']);

    const flood = fired.find((a) => a.kind === 'syn_flood')!;
    expect(flood).toMatchObject({ server: '198.18.0.2', server_port: 8080 });
    expect(Date.parse(flood.ts) - floodStart).toBeLessThanOrEqual(5000);
    expect(flood.share!).toBeGreaterThanOrEqual(0.5);
    const scan = fired.find((a) => a.kind === 'port_scan')!;
    expect(scan).toMatchObject({ source: '198.18.0.1' });
    expect(Date.parse(scan.ts) - scanStart).toBeLessThanOrEqual(5000);
    for (const a of fired) expect(alerts.some((c) => c.state === 'cleared' && c.alert_id === a.alert_id), `${a.kind} cleared`).toBe(true);

    // The flood's evidence holds the packets from before the alert, the steady load's among them.
    const ev = path.join(out, flood.evidence!);
    const t = run('tshark', ['-r', ev, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'tcp.flags.syn', '-e', 'tcp.dstport', '-e', 'http.request']);
    expect(t.code, t.stderr).toBe(0);
    const rows = t.stdout.trim().split('\n').map((l) => l.split('\t'));
    const alertAt = Date.parse(flood.ts) / 1000;
    expect(Number(rows[0][0])).toBeLessThan(alertAt);
    expect(Number(rows[0][0])).toBeGreaterThanOrEqual(alertAt - 5 - 2 - 0.001); // the ring keeps 2 s more (README)
    expect(rows.some((r) => Number(r[0]) < floodStart / 1000 && r[3] === '1'), 'an HTTP request from before the flood').toBe(true);
    expect(rows.filter((r) => r[1] === '1' && r[2] === '8080').length).toBeGreaterThan(5000);
    expect(analyzer.stderr()).toMatch(/^alert A\d+ syn_flood fired: 198\.18\.0\.2:8080 at \d+ syn\/s/m);
    expect(analyzer.stderr()).toMatch(/^2 alerts \(0 still firing at the end\)/m);
  }, 90_000);

  it('a steady hey load recorded for 6 s and laid end to end into five minutes of capture time (a compressed baseline): no alert', async () => {
    const server = path.join(tmp, 'steady-server.js');
    fs.writeFileSync(server, `require('http').createServer((req, res) => res.end('ok')).listen(8081, '198.18.0.2', () => console.error('ready'));`);
    const srv = await startInNs(nsS, [process.execPath, server], /ready/);
    const piece = path.join(tmp, 'steady-piece.pcap');
    const dump = await startInNs(nsS, ['tcpdump', '-i', devS, '-w', piece, '-U', 'tcp port 8081'], /listening on/);
    // 4 workers at 50 requests/s each (200/s, above the request floor), new connections each run.
    const hey = run('ip', ['netns', 'exec', nsC, 'hey', '-z', '6s', '-c', '4', '-q', '50', 'http://198.18.0.2:8081/steady'], { timeoutMs: 30_000 });
    expect(hey.code, hey.stderr).toBe(0);
    dump.child.kill('SIGINT');
    expect(await dump.exited).toBe(0);
    srv.child.kill('SIGKILL');
    // 43 copies, each 7 s after the one before (the recording lasts a little over 6 s: no
    // connection of one copy overlaps its twin in the next): 300 s of the same steady load.
    const copies: string[] = [];
    for (let i = 0; i < 43; i++) {
      const c = path.join(tmp, `steady-${i}.pcap`);
      const shifted = run('editcap', ['-t', String(i * 7), piece, c]);
      expect(shifted.code, shifted.stderr).toBe(0);
      copies.push(c);
    }
    const long = path.join(tmp, 'steady-long.pcap');
    const merged = run('mergecap', ['-a', '-w', long, ...copies]);
    expect(merged.code, merged.stderr).toBe(0);
    const out = path.join(tmp, 'steady-out');
    const r = run(process.execPath, [podspanBin, 'analyze', '-r', long, '-o', out, '--alerts', '--top', '0'], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const requests = Number(/(\d+) HTTP\/gRPC exchanges/.exec(r.stderr)![1]);
    expect(requests).toBeGreaterThan(35_000); // about 200 a second, 6 s of every 7: above the request floor (100/s)
    expect(fs.readFileSync(path.join(out, 'alerts.jsonl'), 'utf8')).toBe('');
    expect(r.stderr).toMatch(/^0 alerts \(0 still firing at the end\)/m);
  }, 90_000);
});
