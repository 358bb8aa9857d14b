// CAP_NET_RAW is all capture needs, promiscuous mode included: libpcap turns promiscuous mode on
// per socket (PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC), which the kernel allows with
// CAP_NET_RAW; no CAP_NET_ADMIN (the DaemonSet, the image and the systemd unit grant none).
// podspan runs here as uid 10001 with every capability gone but CAP_NET_RAW (setpriv: bounding,
// permitted, effective, inheritable and ambient sets), captures real traffic on a veth in a test
// namespace, and the kernel shows the interface in promiscuous mode while it does. Without
// CAP_NET_RAW as well it is refused with one line: the drop really happened.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addNamespaces, addVeth, canUseNetns, inNs, killStarted, removeNamespaces, startInNs, stopProcess, trafgen } from '../helpers/netns';
import { capinfos, podspanBin } from '../helpers/tools';

const tag = `${process.pid % 100000}`;
const nsA = `psCA${tag}`;
const nsB = `psCB${tag}`;
const devA = `ca${tag}a`;
const devB = `ca${tag}b`;
const CAP_NET_RAW = 13;
const hasSetpriv = spawnSync('setpriv', ['--version']).status === 0;

/** `cmd` as uid/gid 10001 holding exactly `caps` (names like net_raw) in every capability set. */
const withOnly = (caps: string[], cmd: string[]) => {
  const set = ['-all', ...caps.map((c) => `+${c}`)].join(',');
  return ['setpriv', '--reuid', '10001', '--regid', '10001', '--clear-groups', `--inh-caps=${set}`, `--ambient-caps=${set}`, `--bounding-set=${set}`, '--', ...cmd];
};
const capSets = (pid: number) =>
  Object.fromEntries(
    fs
      .readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('Cap'))
      .map((l) => l.split(/:\s+/))
      .map(([k, v]) => [k, BigInt(`0x${v}`)]),
  );
const promiscuity = () => Number(/promiscuity (\d+)/.exec(inNs(nsB, ['ip', '-d', 'link', 'show', devB]))![1]);

describe.skipIf(!canUseNetns || !hasSetpriv)('capture with CAP_NET_RAW alone', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-caps-'));
    fs.chownSync(tmp, 10001, 10001);
    addNamespaces([nsA, nsB]);
    addVeth(nsA, devA, nsB, devB);
  });
  afterAll(() => {
    killStarted();
    removeNamespaces([nsA, nsB]);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('captures every frame, in promiscuous mode, as uid 10001 with no other capability', async () => {
    const file = path.join(tmp, 'raw-only.pcapng');
    expect(promiscuity()).toBe(0);
    const cap = await startInNs(nsB, withOnly(['net_raw'], [process.execPath, podspanBin, 'capture', '-i', devB, '-c', '500', '-w', file]), /listening on/);
    const sets = capSets(cap.child.pid!);
    for (const k of ['CapEff', 'CapPrm', 'CapBnd', 'CapAmb']) expect(sets[k], k).toBe(1n << BigInt(CAP_NET_RAW));
    expect(promiscuity()).toBe(1); // PACKET_MR_PROMISC took effect without CAP_NET_ADMIN
    trafgen(nsA, devA, 500);
    expect(await cap.exited).toBe(0); // -c 500 reached
    expect(cap.stderr()).toMatch(/^500 packets captured$/m);
    expect(capinfos([file]).get(file)?.packets).toBe(500);
    expect(fs.statSync(file).uid).toBe(10001);
    expect(promiscuity()).toBe(0); // released with the socket
  }, 60_000);

  it('without CAP_NET_RAW it is refused with one line naming the interface (the drop is real)', async () => {
    const r = spawnSync('ip', ['netns', 'exec', nsB, ...withOnly([], [process.execPath, podspanBin, 'capture', '-i', devB, '-c', '1'])], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^podspan: ${devB}: .*(permission|Operation not permitted)`, 'i'));
  });

  it('stops cleanly when asked (SIGINT) with CAP_NET_RAW alone, file valid', async () => {
    const file = path.join(tmp, 'stopped.pcapng');
    const cap = await startInNs(nsB, withOnly(['net_raw'], [process.execPath, podspanBin, 'capture', '-i', devB, '-w', file]), /listening on/);
    trafgen(nsA, devA, 100);
    expect(await stopProcess(cap)).toBe(0);
    expect(capinfos([file]).get(file)?.packets).toBe(100);
  }, 60_000);
});
