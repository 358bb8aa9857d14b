// `podspan agent` in host mode on a "node" made of network namespaces: sessions from a config
// file select interfaces by name and glob; captures land in rotating pcapng per session and
// interface; metrics count them; SIGHUP applies a changed config without restarting the captures
// that did not change; SIGTERM under load leaves valid files and exits within 5 s, and a second
// signal right behind it still lets the agent close them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addNamespaces, addVeth, canUseNetns, removeNamespaces, startInNs, stopProcess, trafgen, trafgenInBackground, type Running, killStarted } from '../helpers/netns';
import { capinfos, podspanBin, run, tsharkWarnings, until } from '../helpers/tools';

if (!canUseNetns) console.log('agent tests skipped: they need root, iproute2 and trafgen (netsniff-ng)');

const tag = `${process.pid % 100000}`;
const pods = `psAP${tag}`, node = `psAN${tag}`;
const devs = [`ap${tag}a`, `ap${tag}b`, `ap${tag}c`].map((d, i) => ({ pod: d, node: `an${tag}${'abc'[i]}` }));

/** A metric's value, fetched inside the node namespace where the agent listens on 127.0.0.1. */
async function metric(r: Running, name: string, labels: string): Promise<number> {
  const url = /metrics on (http:\/\/[^\s,]+)/.exec(r.stderr())![1];
  const got = run('ip', ['netns', 'exec', node, process.execPath, '-e', `fetch(${JSON.stringify(url)}).then((r) => r.text()).then((t) => process.stdout.write(t))`]);
  const text = got.stdout;
  const line = text.split('\n').find((l) => l.startsWith(name) && l.includes(labels));
  return line ? Number(line.split(' ').pop()) : NaN;
}

/** Polls a metric until it equals `want` (counters are refreshed about once a second) or 5 s pass. */
async function metricReaches(r: Running, name: string, labels: string, want: number): Promise<number> {
  const deadline = Date.now() + 5000;
  let v = NaN;
  while (Date.now() < deadline) {
    v = await metric(r, name, labels);
    if (v === want) return v;
    await new Promise((res) => setTimeout(res, 200));
  }
  return v;
}

describe.skipIf(!canUseNetns)('podspan agent on a node', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-agent-'));
    addNamespaces([pods, node]);
    for (const d of devs) addVeth(pods, d.pod, node, d.node);
  });
  afterAll(() => {
    killStarted();
    removeNamespaces([pods, node]);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const config = (sessions: string) => `metrics: { listen: "127.0.0.1:0" }\nsessions:\n${sessions}`;
  const session = (name: string, ifaces: string, dir: string, extra = '') =>
    `  - name: ${name}\n    sources: { interfaces: [${ifaces}] }\n    targets: [ { pcap: { dir: ${dir} } } ]\n${extra}`;

  it('captures the interfaces its sessions name, reloads on SIGHUP keeping unchanged captures, stops cleanly on SIGTERM', async () => {
    const dir = path.join(tmp, 'caps');
    const cfg = path.join(tmp, 'agent.yaml');
    fs.writeFileSync(cfg, config(session('all-an', `"an${tag}*"`, dir, '    filter: { protocols: [udp] }\n')));
    const agent = await startInNs(node, [process.execPath, podspanBin, 'agent', '--config', cfg], /running \d+ captures/);
    expect(agent.stderr()).toMatch(/running 3 captures/);
    trafgen(pods, devs[0].pod, 300);
    trafgen(pods, devs[1].pod, 200, { proto: 'tcp' }); // filtered out: the session keeps UDP
    await until(() => fs.existsSync(path.join(dir, 'all-an', `${devs[0].node}.pcapng`)), 10_000, 'the first capture file');
    expect(await metricReaches(agent, 'podspan_captured_packets', `interface="${devs[0].node}"`, 300)).toBe(300);
    expect(await metric(agent, 'podspan_captured_packets', `interface="${devs[1].node}"`)).toBe(0);
    // The kernel filter cannot count what it rejects; the interface's counters can.
    expect(await metricReaches(agent, 'podspan_filtered_packets', `interface="${devs[1].node}"`, 200)).toBe(200);
    expect(await metric(agent, 'podspan_filtered_packets', `interface="${devs[0].node}"`)).toBe(0);

    // A second session on one interface; the first session is unchanged and must keep running.
    // A third names an interface that is not there (a typo): said at once, not an error.
    fs.writeFileSync(cfg, config(session('all-an', `"an${tag}*"`, dir, '    filter: { protocols: [udp] }\n') + session('only-c', `"${devs[2].node}"`, dir) + session('typo', `"nosuch${tag}"`, dir)));
    agent.child.kill('SIGHUP');
    await until(() => /reloaded .*: 4 captures/.test(agent.stderr()), 10_000, 'the reload to 4 captures');
    await until(() => agent.stderr().includes(`podspan agent: session typo: no interface matches nosuch${tag} yet\n`), 5_000, 'the idle session named');
    expect(agent.stderr()).not.toMatch(/session (all-an|only-c): no interface/);
    trafgen(pods, devs[0].pod, 100);
    trafgen(pods, devs[2].pod, 50);
    expect(await metricReaches(agent, 'podspan_captured_packets', `session="all-an",interface="${devs[0].node}"`, 400)).toBe(400); // one capture, never restarted
    expect(await metricReaches(agent, 'podspan_captured_packets', `session="only-c",interface="${devs[2].node}"`, 50)).toBe(50);

    // An invalid config is refused on SIGHUP, and the running one stays.
    fs.writeFileSync(cfg, 'sessions: [ { name: BAD } ]\n');
    agent.child.kill('SIGHUP');
    await until(() => /reload refused, keeping the running config: .*sessions\[0\]\.name/.test(agent.stderr()), 10_000, 'the refused reload');

    // A changed file is picked up without a signal (a ConfigMap update): back to one session.
    fs.writeFileSync(cfg, config(session('all-an', `"an${tag}*"`, dir, '    filter: { protocols: [udp] }\n')));
    await until(() => /reloaded .*: 3 captures/.test(agent.stderr()), 10_000, 'the reload to 3 captures').catch((e) => {
      throw new Error(`${(e as Error).message}\n${agent.stderr()}`);
    });

    // SIGTERM while traffic flows: valid files, exit within 5 s.
    const load = trafgenInBackground(pods, devs[0].pod, 20000, { pps: 20000 });
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    const code = await stopProcess(agent, 'SIGTERM');
    console.log(`agent: SIGTERM under a 20 k frames/s load, exit took ${Date.now() - t0} ms`);
    expect(Date.now() - t0).toBeLessThan(5300 + 300);
    await load;
    expect(code).toBe(0);
    expect(agent.stderr()).toContain('podspan agent stopped; files closed');
    expect(agent.stderr()).not.toContain('"msg":"capture ended"'); // stopped on purpose: no warning
    const files = [
      path.join(dir, 'all-an', `${devs[0].node}.pcapng`),
      path.join(dir, 'all-an', `${devs[2].node}.pcapng`),
      path.join(dir, 'only-c', `${devs[2].node}.pcapng`),
    ];
    const info = capinfos(files);
    expect(info.get(files[0])!.packets).toBeGreaterThanOrEqual(400);
    for (const f of files) expect(tsharkWarnings(f)).toBe('');
  }, 60_000);

  it('a session whose interface matches but whose capture cannot start says why, not that nothing matches', async () => {
    const blocker = path.join(tmp, 'a-file');
    fs.writeFileSync(blocker, '');
    const cfg = path.join(tmp, 'cannot-start.yaml');
    fs.writeFileSync(cfg, config(session('blocked', `"${devs[0].node}"`, path.join(blocker, 'caps'))));
    const agent = await startInNs(node, [process.execPath, podspanBin, 'agent', '--config', cfg], /running \d+ captures/);
    await until(() => /session blocked:/.test(agent.stderr()), 5_000, 'the session line');
    expect(agent.stderr()).toContain(`podspan agent: session blocked: capture could not start on ${devs[0].node}: ENOTDIR`);
    expect(agent.stderr()).not.toContain('no interface matches');
    expect(await stopProcess(agent, 'SIGTERM')).toBe(0);
  }, 30_000);

  it('samples whole flows in the kernel and counts what sampling and the filter left out', async () => {
    const dir = path.join(tmp, 'sampled');
    const cfg = path.join(tmp, 'sampled.yaml');
    fs.writeFileSync(cfg, config(session('sampled', `"${devs[1].node}"`, dir, '    filter: { protocols: [udp] }\n    sampleOneIn: 4\n')));
    const agent = await startInNs(node, [process.execPath, podspanBin, 'agent', '--config', cfg], /running \d+ captures/);
    const frames = 2000;
    trafgen(pods, devs[1].pod, frames, { sport: 'dinc(40000, 40063)' }); // 64 UDP flows, round robin
    trafgen(pods, devs[1].pod, 150, { proto: 'tcp' });
    // The flows the agent's sample keeps: (saddr ^ daddr ^ sport ^ dport) % 4 == 0, 198.18.0.1 -> .2, dport 5000.
    let kept = 0;
    for (let i = 0; i < frames; i++) if (((0xc6120001 ^ 0xc6120002 ^ (40000 + (i % 64)) ^ 5000) >>> 0) % 4 === 0) kept++;
    expect(kept).toBeGreaterThan(0);
    const l = `session="sampled",interface="${devs[1].node}"`;
    expect(await metricReaches(agent, 'podspan_captured_packets', l, kept)).toBe(kept);
    expect(await metricReaches(agent, 'podspan_sampled_out_packets', l, frames - kept)).toBe(frames - kept);
    expect(await metricReaches(agent, 'podspan_filtered_packets', l, 150)).toBe(150);
    // Ctrl-C and a SIGTERM right behind it (two signal numbers: never merged into one delivery):
    // the second must not end the agent half-way through closing its files.
    agent.child.kill('SIGINT');
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    expect(agent.stderr()).toContain('podspan agent: second signal: still closing files (nothing to upload)');
    expect(agent.stderr()).toContain('podspan agent stopped; files closed');
    const file = path.join(dir, 'sampled', `${devs[1].node}.pcapng`);
    expect(capinfos([file]).get(file)!.packets).toBe(kept); // no stub reached the file
  }, 30_000);
});
