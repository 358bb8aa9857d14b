// Judges for mirror encapsulations the kernel here cannot decapsulate (no geneve/gretap device):
// our minimal pcap reader, tshark's expert info, and scapy's layers (Debian's python3-scapy).
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { addNamespaces, addVeth, inNs, killStarted, removeNamespaces, startInNs, stopProcess, type Running } from './netns';
import { run } from './tools';

/** A "pod" namespace with a veth to the "node" namespace (where podspan captures), and the node's uplink to a "collector". */
export interface MirrorTopology {
  pod: string;
  node: string;
  coll: string;
  podDev: string;
  nodeDev: string;
  uplink: string;
  collDev: string;
  nodeIp: string;
  collIp: string;
}

function mirrorTopologyNames(dev: string, subnet: string): MirrorTopology {
  const tag = `${process.pid % 100000}`;
  return {
    pod: `psP${tag}`, node: `psN${tag}`, coll: `psC${tag}`,
    podDev: `${dev}p${tag}`, nodeDev: `${dev}n${tag}`, uplink: `${dev}u${tag}`, collDev: `${dev}c${tag}`,
    nodeIp: `${subnet}.1`, collIp: `${subnet}.2`,
  };
}

/**
 * Builds that topology, named after this process (parallel runs never collide); `dev` starts the
 * device names, `subnet` is the uplink's /24 (node .1, collector .2).
 */
export function addMirrorTopology(dev: string, subnet: string): MirrorTopology {
  const t = mirrorTopologyNames(dev, subnet);
  addNamespaces([t.pod, t.node, t.coll]);
  addVeth(t.pod, t.podDev, t.node, t.nodeDev);
  addVeth(t.node, t.uplink, t.coll, t.collDev);
  inNs(t.node, ['ip', 'addr', 'add', `${t.nodeIp}/24`, 'dev', t.uplink]);
  // The sender batches equal-size datagrams with UDP GSO; a veth passes such super-packets on
  // whole, so segment them before the wire, as a NIC would, for tcpdump on the collector side.
  inNs(t.node, ['ethtool', '-K', t.uplink, 'tx-udp-segmentation', 'off']);
  inNs(t.coll, ['ip', 'addr', 'add', `${t.collIp}/24`, 'dev', t.collDev]);
  return t;
}

/**
 * The topology, a temporary folder, and in the collector namespace a socket that takes what is
 * sent there (a UDP port, or an IP protocol on a raw socket): with no kernel device to receive,
 * the kernel would otherwise answer with ICMP unreachables, which fail the sender's later sends.
 */
export interface EncapFixture extends MirrorTopology {
  tmp: string;
  sink: Running;
}

export async function setUpEncapFixture(dev: string, subnet: string, sink: { udpPort: number } | { ipProto: number }): Promise<EncapFixture> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `podspan-encap-${dev}-`));
  const names = mirrorTopologyNames(dev, subnet);
  const open =
    'udpPort' in sink
      ? `s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('${names.collIp}',${sink.udpPort}))`
      : `s=socket.socket(socket.AF_INET,socket.SOCK_RAW,${sink.ipProto})`;
  const script = `import socket,sys,signal\nsignal.signal(signal.SIGINT, lambda *a: sys.exit(0))\n${open}\nprint('bound',file=sys.stderr,flush=True)\nwhile True: s.recv(70000)`;
  try {
    const t = addMirrorTopology(dev, subnet);
    return { ...t, tmp, sink: await startInNs(t.coll, ['python3', '-c', script], /bound/) };
  } catch (err) {
    killStarted();
    removeNamespaces([names.pod, names.node, names.coll]);
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Ends what setUpEncapFixture started and removes what it made (also after a failed setup). */
export async function tearDownEncapFixture(f: EncapFixture | undefined): Promise<void> {
  if (f) await stopProcess(f.sink);
  killStarted();
  if (f) {
    removeNamespaces([f.pod, f.node, f.coll]);
    fs.rmSync(f.tmp, { recursive: true, force: true });
  }
}

/** tcpdump hands over a ring block when it fills or after 1 s: wait for that before stopping it. */
export async function stopTcpdump(r: Running): Promise<number> {
  await new Promise((res) => setTimeout(res, 1200));
  return stopProcess(r);
}

/** The frames of a classic pcap file, in order (our own minimal reader: a third opinion). */
export function pcapFrames(file: string): Buffer[] {
  const buf = fs.readFileSync(file);
  const le = buf.readUInt32LE(0) === 0xa1b2c3d4 || buf.readUInt32LE(0) === 0xa1b23c4d;
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const out: Buffer[] = [];
  for (let off = 24; off + 16 <= buf.length; ) {
    const caplen = u32(off + 8);
    out.push(buf.subarray(off + 16, off + 16 + caplen));
    off += 16 + caplen;
  }
  return out;
}

/** A pcapng's frames in order (converted to pcap by editcap, then read by pcapFrames), with tshark's interface name of each. */
export function pcapngFrames(file: string): { frames: Buffer[]; interfaces: string[] } {
  const pcap = `${file}.pcap`;
  const r = run('editcap', ['-F', 'pcap', file, pcap]);
  if (r.code !== 0) throw new Error(`editcap failed on ${file}: ${r.stderr}`);
  const frames = pcapFrames(pcap);
  fs.rmSync(pcap, { force: true });
  const interfaces = run('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.interface_name']).stdout.split('\n').filter(Boolean);
  return { frames, interfaces };
}

/** Packets tshark marks malformed or with an error-level expert note (none expected). */
export function tsharkMalformed(file: string): string[] {
  const r = run('tshark', ['-n', '-r', file, '-Y', '_ws.malformed || _ws.expert.severity == error', '-T', 'fields', '-e', 'frame.number', '-e', '_ws.expert.message']);
  if (r.code !== 0) throw new Error(`tshark failed on ${file}: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean);
}

/** A Python that has scapy: Debian's python3-scapy lives in the system interpreter. */
export const scapyPython: string | undefined = ['python3', '/usr/bin/python3'].find(
  (py) => spawnSync(py, ['-c', 'import scapy.all'], { stdio: 'ignore' }).status === 0,
);

/**
 * Runs `script` (Python; scapy imported as `from scapy.all import *`) with the pcap file as
 * sys.argv[1]; returns its stdout lines. scapy's dissectors are the independent decapsulator.
 */
export function scapyLines(script: string, file: string): string[] {
  if (!scapyPython) throw new Error('scapy is not installed (Debian: python3-scapy)');
  const r = spawnSync(scapyPython, ['-c', `import sys\nfrom scapy.all import *\n${script}`, file], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`scapy failed on ${file}: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean);
}
